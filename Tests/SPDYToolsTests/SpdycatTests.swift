import Foundation
import NIOCore
import NIOPosix
import NIOSPDY
import SPDY
import SPDYTestSupport
import SPDYToolSupport
import Testing

/// An in-process SPDY server for spdycat to talk to.
///
/// - `/headers`: the request's header block, one `name: value` line per header, as the body
/// - `/echo`: `method=M length=L` (L from the content-length header), a newline, then the body
/// - `/gzip`, `/deflate`: a text body with that content-encoding (deflate as raw deflate)
/// - `/binary`: the bytes 0–255, 16 times
/// - `/big`: 2 MiB with a content-length
/// - `/never`: no response at all
/// - anything else: `hello <path>` and a newline
private struct CatServer {
    static let identity = try! SPDYTLS.Identity.selfSigned()
    static let text = String(repeating: "spdycat decodes encoded bodies. ", count: 100)
    static let binary = (0..<16).flatMap { _ in (0...255).map { UInt8($0) } }

    let server: SPDYServer
    let port: Int
    let requests: Recorder<String>
    let settings: Recorder<SPDYFrame.SettingsEntry>

    static func start(tls: Bool = false, version: SPDYVersion = .v3_1) throws -> CatServer {
        let requests = Recorder<String>()
        let settings = Recorder<SPDYFrame.SettingsEntry>()
        let transport: SPDYServer.Transport =
            tls ? .tls(identity, versions: SPDYVersion.negotiationPreference) : .plain(version)
        let configuration = SPDYServer.Configuration(
            host: "127.0.0.1",
            port: 0,
            transport: transport,
            threads: 1,
            frameObserver: { _, event in
                if case .controlReceived(.settings(let frame), _) = event {
                    settings.appendAll(frame.entries)
                }
            }
        )
        let server = try SPDYServer(configuration: configuration) { request in
            requests.appendAll(["\(request.method) \(request.path)"])
            return try await respond(to: request)
        }
        try server.start()
        return CatServer(server: server, port: server.port!, requests: requests, settings: settings)
    }

    static func respond(to request: SPDYServerRequest) async throws -> SPDYServerResponse {
        switch request.path {
        case "/headers":
            let lines = request.headers.map { "\($0.name): \($0.value)\n" }.joined()
            return .text(lines)
        case "/echo":
            var body = request.body
            let length = request.headers["content-length"] ?? "none"
            var out = ByteBuffer(string: "method=\(request.method) length=\(length)\n")
            out.writeBuffer(&body)
            return SPDYServerResponse(body: .buffer(out))
        case "/gzip":
            let compressed = try ContentCoding.gzip(Array(text.utf8))
            return SPDYServerResponse(
                headers: [("content-encoding", "gzip")], body: .buffer(ByteBuffer(bytes: compressed)))
        case "/deflate":
            // A gzip member without its 10-byte header and 8-byte trailer is raw deflate.
            let compressed = try ContentCoding.gzip(Array(text.utf8))
            let raw = compressed[10..<(compressed.count - 8)]
            return SPDYServerResponse(headers: [("content-encoding", "deflate")], body: .buffer(ByteBuffer(bytes: raw)))
        case "/binary":
            return SPDYServerResponse(body: .buffer(ByteBuffer(bytes: binary)))
        case "/big":
            return SPDYServerResponse(
                headers: [("content-length", String(2 << 20))],
                body: .buffer(ByteBuffer(repeating: 0x61, count: 2 << 20)))
        case "/never":
            try await Task.sleep(for: .seconds(3600))
            return .text("too late\n")
        default:
            return .text("hello \(request.path)\n")
        }
    }

    var plain: String { "http://127.0.0.1:\(port)" }
    var secure: String { "https://127.0.0.1:\(port)" }

    func stop() async {
        try? await server.shutdownGracefully(timeout: .milliseconds(200))
    }
}

/// A list appended to from several threads.
private final class Recorder<Element>: @unchecked Sendable {
    private var elements: [Element] = []
    private let lock = NSLock()

    func appendAll(_ more: [Element]) { lock.withLock { elements += more } }
    func get() -> [Element] { lock.withLock { elements } }
}

/// Runs spdycat off the cooperative thread pool (the in-process server's responders need it).
private func spdycat(
    _ arguments: [String],
    stdin: Data? = nil,
    directory: URL? = nil,
    timeout: TimeInterval = 60
) async throws -> ToolResult {
    try await ToolRunner.run("spdycat", arguments, stdin: stdin, directory: directory, timeout: timeout)
}

private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("spdycat-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite("spdycat", .serialized)
struct SpdycatTests {
    @Test("The body goes to stdout byte for byte; -n discards it")
    func bodyToStdout() async throws {
        let server = try CatServer.start()
        let result = try await spdycat(["--no-tls", "--spdy3-1", "\(server.plain)/binary"])
        #expect(result.status == 0)
        #expect(Array(result.stdoutBytes) == CatServer.binary)
        #expect(result.stderr.isEmpty)
        let discarded = try await spdycat(["-n", "--no-tls", "--spdy3-1", "\(server.plain)/binary"])
        #expect(discarded.status == 0)
        #expect(discarded.stdoutBytes.isEmpty)
        #expect(server.requests.get() == ["GET /binary", "GET /binary"])
        await server.stop()
    }

    @Test("gzip and deflate bodies are decoded (TLS with -k)")
    func contentEncodings() async throws {
        let server = try CatServer.start(tls: true)
        for path in ["/gzip", "/deflate"] {
            let result = try await spdycat(["-k", "\(server.secure)\(path)"])
            #expect(result.status == 0, "\(path): \(result.stderr)")
            #expect(result.stdout == CatServer.text, "\(path)")
        }
        await server.stop()
    }

    @Test(
        "Every SPDY version works over plain TCP",
        arguments: [("-2", SPDYVersion.v2), ("-3", .v3), ("--spdy3-1", .v3_1)])
    func versions(flag: String, version: SPDYVersion) async throws {
        let server = try CatServer.start(version: version)
        let result = try await spdycat(["--no-tls", flag, "\(server.plain)/v"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "hello /v\n")
        await server.stop()
    }

    @Test("Exit status: one unreachable URI of three is 1; three unreachable are 3")
    func exitCodes() async throws {
        let server = try CatServer.start()
        let dead = [freeLocalPort(), freeLocalPort(), freeLocalPort()]
        let one = try await spdycat([
            "--no-tls", "--spdy3-1", "\(server.plain)/a", "http://127.0.0.1:\(dead[0])/", "\(server.plain)/b",
        ])
        #expect(one.status == 1)
        #expect(one.stdout == "hello /a\nhello /b\n")
        #expect(one.stderr.contains("Could not connect to the host: 127.0.0.1:\(dead[0])"))
        #expect(one.stderr.split(separator: "\n").count == 1)
        let all = try await spdycat(["--no-tls", "--spdy3-1"] + dead.map { "http://127.0.0.1:\($0)/x" })
        #expect(all.status == 3)
        #expect(all.stderr.split(separator: "\n").count == 3)
        await server.stop()
    }

    @Test("-t: a request that is never answered times out")
    func requestTimeout() async throws {
        let server = try CatServer.start()
        let started = Date()
        let result = try await spdycat(["--no-tls", "--spdy3-1", "-t", "1", "\(server.plain)/never"], timeout: 30)
        let elapsed = Date().timeIntervalSince(started)
        #expect(result.status == 1)
        #expect(result.stderr.contains("Requests to 127.0.0.1:\(server.port) timed out."))
        #expect(result.stderr.contains("Some requests were not processed. total=1, processed=0"))
        #expect(elapsed >= 1 && elapsed < 8, "took \(elapsed) s")
        await server.stop()
    }

    @Test("-t: a server that accepts but never speaks times out in the TLS handshake")
    func handshakeTimeout() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let silent = try await ServerBootstrap(group: group)
            .childChannelInitializer { $0.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = silent.localAddress!.port!
        let started = Date()
        let result = try await spdycat(["-k", "-t", "1", "https://127.0.0.1:\(port)/"], timeout: 30)
        #expect(result.status == 1)
        #expect(result.stderr == "Request to 127.0.0.1:\(port) timed out in SSL/TLS handshake.\n")
        #expect(Date().timeIntervalSince(started) < 8)
        try await silent.close()
        try await group.shutdownGracefully()
    }

    @Test("-v prints the frames in the original's format, with timestamps")
    func verbose() async throws {
        let server = try CatServer.start(tls: true)
        let result = try await spdycat(["-v", "-k", "\(server.secure)/v"])
        #expect(result.status == 0)
        let out = result.stdout
        #expect(out.contains("] ALPN selected the protocol: spdy/3.1\n"))
        #expect(out.contains("] Handshake complete\n"))
        #expect(out.contains("] send SYN_STREAM frame <version=3, flags=1, length="))
        #expect(out.contains(">\n          (stream_id=1, assoc_stream_id=0, pri=3)\n"))
        #expect(out.contains("          :method: GET\n"))
        #expect(out.contains("          :path: /v\n"))
        #expect(out.contains("          :host: 127.0.0.1:\(server.port)\n"))
        #expect(out.contains("          accept-encoding: gzip, deflate\n"))
        #expect(out.contains("          user-agent: spdycat swift-spdy/"))
        #expect(out.contains("] recv SYN_REPLY frame <version=3, flags="))
        #expect(out.contains("] recv DATA frame (stream_id=1, flags="))
        #expect(out.contains("] send GOAWAY frame <version=3, flags=0, length=8>\n          (last_good_stream_id=0)\n"))
        #expect(out.hasPrefix("[  0."))
        #expect(out.contains("hello /v\n"))
        // "Handshake complete" comes before the first frame.
        let handshake = try #require(out.range(of: "Handshake complete"))
        let firstFrame = try #require(out.range(of: "send SETTINGS frame"))
        #expect(handshake.lowerBound < firstFrame.lowerBound)
        await server.stop()
    }

    @Test("-H overrides built-in headers (:method, user-agent) and appends others")
    func headers() async throws {
        let server = try CatServer.start()
        let result = try await spdycat([
            "--no-tls", "--spdy3-1", "-H", ":method: PUT", "-H", "User-Agent:   x", "-H", "x-a: b",
            "\(server.plain)/headers",
        ])
        #expect(result.status == 0)
        let lines = Set(result.stdout.split(separator: "\n").map(String.init))
        #expect(lines.contains(":method: PUT"))
        #expect(lines.contains("user-agent: x"))
        #expect(lines.contains("x-a: b"))
        #expect(lines.contains("accept: */*"))
        #expect(lines.contains(":host: 127.0.0.1:\(server.port)"))
        #expect(!lines.contains { $0.hasPrefix("user-agent: spdycat") })
        #expect(server.requests.get() == ["PUT /headers"])

        let host = try await spdycat(["--no-tls", "--spdy3-1", "-H", "host: example.org", "\(server.plain)/headers"])
        #expect(host.stdout.contains(":host: example.org\n"))
        await server.stop()
    }

    @Test("-H without a colon or a value is refused with one line")
    func badHeaders() async throws {
        for header in ["novalue", "x-a:   ", ":"] {
            let result = try await spdycat(["-H", header, "https://127.0.0.1:1/"])
            #expect(result.status != 0)
            #expect(result.stderr.hasPrefix("spdycat: -H: invalid header"), "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test("-d FILE and -d - POST the data with content-length; the server echoes it")
    func upload() async throws {
        let server = try CatServer.start()
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("upload.bin")
        let payload = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7) })
        try payload.write(to: file)
        let fromFile = try await spdycat(["--no-tls", "--spdy3-1", "-d", file.path, "\(server.plain)/echo"])
        #expect(fromFile.status == 0)
        #expect(fromFile.stdoutBytes == Data("method=POST length=100000\n".utf8) + payload)

        let fromStdin = try await spdycat(
            ["--no-tls", "--spdy3-1", "-d", "-", "\(server.plain)/echo"], stdin: Data("from stdin".utf8))
        #expect(fromStdin.status == 0)
        #expect(fromStdin.stdout == "method=POST length=10\nfrom stdin")

        let missing = try await spdycat(["--no-tls", "--spdy3-1", "-d", "/nonexistent/file", "\(server.plain)/echo"])
        #expect(missing.status == 1)
        #expect(missing.stderr == "spdycat: Could not open file /nonexistent/file\n")
        await server.stop()
    }

    @Test("-O saves under the URI's file name (then name.1), index.html for '/', nothing on stdout")
    func remoteName() async throws {
        let server = try CatServer.start()
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try await spdycat(
            ["--no-tls", "--spdy3-1", "-O", "\(server.plain)/files/page.txt?x=1", "\(server.plain)/dir/"],
            directory: directory)
        #expect(first.status == 0)
        #expect(first.stdoutBytes.isEmpty)
        let second = try await spdycat(
            ["--no-tls", "--spdy3-1", "-O", "\(server.plain)/files/page.txt?x=1"], directory: directory)
        #expect(second.status == 0)
        #expect(second.stdoutBytes.isEmpty)
        let read = { (name: String) in try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8) }
        #expect(try read("page.txt") == "hello /files/page.txt?x=1\n")
        #expect(try read("page.txt.1") == "hello /files/page.txt?x=1\n")
        #expect(try read("index.html") == "hello /dir/\n")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(names == ["index.html", "page.txt", "page.txt.1"])

        // A name that tries to leave the directory stays inside it.
        let sneaky = try await spdycat(
            ["--no-tls", "--spdy3-1", "-O", "\(server.plain)/a/..%2F..%2Fescape"], directory: directory)
        #expect(sneaky.status == 0)
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent(".._.._escape").path))
        await server.stop()
    }

    @Test("-m 3 requests a URI three times on one connection; by default duplicates are requested once")
    func multiply() async throws {
        let server = try CatServer.start()
        let result = try await spdycat(["--no-tls", "--spdy3-1", "-m", "3", "\(server.plain)/m"])
        #expect(result.status == 0)
        #expect(result.stdout == "hello /m\nhello /m\nhello /m\n")
        #expect(server.requests.get() == ["GET /m", "GET /m", "GET /m"])
        let once = try await spdycat(["--no-tls", "--spdy3-1", "\(server.plain)/d", "\(server.plain)/d"])
        #expect(once.stdout == "hello /d\n")
        await server.stop()
    }

    @Test("-w 20 announces INITIAL_WINDOW_SIZE 1048576 in the first SETTINGS")
    func windowBits() async throws {
        let server = try CatServer.start()
        let result = try await spdycat(["--no-tls", "--spdy3-1", "-w", "20", "\(server.plain)/w"])
        #expect(result.status == 0)
        #expect(server.settings.get().contains { $0.id == .initialWindowSize && $0.value == 1_048_576 })
        await server.stop()
    }

    @Test("-s prints the original's statistics block")
    func statistics() async throws {
        let server = try CatServer.start()
        let result = try await spdycat(["--no-tls", "--spdy3-1", "-n", "-s", "\(server.plain)/s"])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "***** Statistics *****")
        #expect(lines.contains("#1: \(server.plain)/s"))
        #expect(lines.contains("    Status: 200 OK"))
        #expect(lines.contains("    Delta (ms) from SSL/TLS handshake(SYN_STREAM):"))
        #expect(lines.contains { $0.hasPrefix("        SYN_REPLY: ") && $0.hasSuffix(")") })
        #expect(lines.contains { $0.hasPrefix("        Completed: ") && $0.hasSuffix(")") })
        await server.stop()
    }

    @Test("No progress bar when stderr is not a terminal, even for a 2 MiB body")
    func noProgressWithoutTerminal() async throws {
        let server = try CatServer.start()
        let result = try await spdycat(["--no-tls", "--spdy3-1", "\(server.plain)/big"])
        #expect(result.status == 0)
        #expect(result.stdoutBytes.count == 2 << 20)
        #expect(result.stderr.isEmpty)
        await server.stop()
    }

    @Test(
        "A progress bar on a terminal for a 2 MiB body (util-linux script provides the terminal)",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"))
    )
    func progressOnTerminal() async throws {
        let server = try CatServer.start()
        let command = "\(ToolRunner.path(of: "spdycat")) -n --no-tls --spdy3-1 \(server.plain)/big"
        let output = try await offCooperativePool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
            process.arguments = ["-q", "-e", "-c", command, "/dev/null"]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        #expect(output.contains("\rbig ["))
        #expect(output.contains("] 100% 2.0 MiB/2.0 MiB"))
        await server.stop()
    }

    @Test("--npn against an NPN-only server that allows TLS 1.3 (the reference spdyd on OpenSSL 3): NPN at TLS 1.2")
    func npnOnlyServer() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spdycat-npn-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = directory.appendingPathComponent("key.pem").path
        let cert = directory.appendingPathComponent("cert.pem").path
        let made = try await ToolRunner.run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", key, "-out", cert, "-subj", "/CN=localhost", "-days", "2",
            ])
        try #require(made.status == 0)
        let port = freeLocalPort()
        let server = try ToolRunner.start(
            "/usr/bin/openssl",
            [
                "s_server", "-4", "-accept", "127.0.0.1:\(port)", "-www", "-cert", cert, "-key", key,
                "-nextprotoneg", "spdy/3.1",
            ])
        // SIGKILL: s_server may have inherited SIGTERM blocked from the test process.
        defer { server.killNow() }
        try #require(server.waitForOutput("ACCEPT"))
        // s_server -www does not speak SPDY: the request times out after the handshake.
        let result = try await spdycat(["--npn", "-v", "-k", "-t", "2", "https://127.0.0.1:\(port)/"])
        #expect(result.stdout.contains("NPN selected the protocol: spdy/3.1"), "\(result.stdout)")
        #expect(result.stdout.contains("Handshake complete"), "\(result.stdout)")
        #expect(!result.stderr.contains("No supported SPDY version"), "\(result.stderr)")
    }

    @Test("A self-signed certificate without -k fails with one line and exit 1")
    func certificateVerification() async throws {
        let server = try CatServer.start(tls: true)
        let result = try await spdycat(["\(server.secure)/"])
        #expect(result.status == 1)
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains("certificate verify failed"), "\(result.stderr)")
        #expect(result.stdoutBytes.isEmpty)
        await server.stop()
    }

    @Test("Argument errors: --no-tls without a version, -w 31, bad URIs; --help")
    func arguments() async throws {
        let noVersion = try await spdycat(["--no-tls", "http://127.0.0.1:1/"])
        #expect(noVersion.status != 0)
        #expect(noVersion.stderr == "spdycat: Specify SPDY protocol version using either -2, -3 or --spdy3-1.\n")

        for bits in ["31", "x", "1.5"] {
            let window = try await spdycat(["-w", bits, "https://127.0.0.1:1/"])
            #expect(window.status != 0)
            #expect(window.stderr == "spdycat: -w: specify the integer in the range [0, 30], inclusive\n")
        }

        for uri in ["ftp://example.org/", "not a uri", "https://"] {
            let bad = try await spdycat([uri])
            #expect(bad.status == 1)
            #expect(bad.stderr == "spdycat: invalid URI: \(uri)\n")
        }

        let unknown = try await spdycat(["--bogus", "https://127.0.0.1:1/"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.split(separator: "\n").count == 1)

        let help = try await spdycat(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.hasPrefix("Usage: spdycat [-Oaknsv23] [-t <SECONDS>] [-w <WINDOW_BITS>]"))
        #expect(help.stdout.contains("NOT SUPPORTED:"))
        #expect(try await spdycat(["-h"]).stdout == help.stdout)
    }
}
