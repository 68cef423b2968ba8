import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import SPDY
import Testing
import Vapor

/// The root package's `spdyproxy` executable, from `$SPDYPROXY` (`.ci/run` sets it to
/// `.build/debug/spdyproxy`, built by the root `swift test`).
let spdyproxyPath = ProcessInfo.processInfo.environment["SPDYPROXY"]

/// An unchanged Vapor application on Vapor's own HTTP/1.1 server, with `spdyproxy` in front
/// of it terminating SPDY: what an operator does to serve an existing app over SPDY without
/// touching it.
@Suite(
    "A plain Vapor app behind spdyproxy",
    .timeLimit(.minutes(2)),
    .enabled(
        if: spdyproxyPath != nil,
        "SPDYPROXY is not set: give the path of the root package's spdyproxy (swift build --product spdyproxy)")
)
struct SPDYProxyTests {
    @Test("SPDY/3.1 over plain TCP through spdyproxy to Vapor's HTTP/1.1 server")
    func spdyThroughProxy() async throws {
        let backend = try await PlainVaporApp.start()
        do {
            let proxy = try await ProxyProcess.start(
                path: spdyproxyPath ?? "", arguments: ["--no-tls", "--spdy3-1", "-b", "127.0.0.1,\(backend.port)"])
            do {
                try await checkThroughProxy(port: proxy.port)
            } catch {
                proxy.kill()
                throw error
            }
            // Exactly one access-log line per request (six), each complete.
            let status = try await proxy.stop()
            #expect(status == 0, "spdyproxy's exit status after SIGTERM")
            let lines = proxy.output.split(separator: "\n").filter { !$0.hasPrefix("IPv") }
            #expect(lines.count == 6, "access log:\n\(lines.joined(separator: "\n"))")
            #expect(lines.allSatisfy { $0.contains(" spdy/3.1\" ") && $0.contains(" complete ") })
        } catch {
            try await backend.shutdown()
            throw error
        }
        try await backend.shutdown()
    }

    /// Six requests on one SPDY/3.1 connection to the proxy.
    func checkThroughProxy(port: Int) async throws {
        let client = try SPDYClient(configuration: .init(versions: [.v3_1], plainVersion: .v3_1))
        do {
            let connection = try await client.connect(host: "127.0.0.1", port: port, tls: false)
            #expect(connection.version == .v3_1)
            func request(_ method: String, _ path: String, headers: [(name: String, value: String)] = [])
                -> SPDYHeaders
            {
                SPDYClientRequest(
                    method: method, path: path, scheme: "http", authority: "127.0.0.1:\(port)", headers: headers
                ).spdyHeaders
            }

            let hello = try await connection.request(headers: request("GET", "/hello"))
            let helloBody = try await hello.collectBody()
            #expect(hello.statusCode == 200)
            #expect(String(buffer: helloBody) == "Hello from Vapor!")
            #expect(hello.headers.first(name: "content-type")?.hasPrefix("text/plain") == true)
            #expect(hello.headers.first(name: "via") == "1.1 spdyproxy")

            // What Vapor saw of the forwarding headers (and that no hop-by-hop header came).
            let forwarded = try await connection.request(headers: request("GET", "/forwarded"))
            let forwardedBody = try await forwarded.collectBody()
            #expect(forwarded.statusCode == 200)
            #expect(
                String(buffer: forwardedBody)
                    == "x-forwarded-for=127.0.0.1\nx-forwarded-proto=http\nvia=SPDY/3.1 spdyproxy\nconnection=\n")

            // 1 MiB with a content-length, and 1 MiB streamed in 16 KiB DATA frames without
            // one (chunked on the proxy's HTTP/1.1 hop).
            let upload = uploadBody(1 << 20).0
            let echo = try await connection.request(
                headers: request("POST", "/echo", headers: [("content-length", "\(upload.readableBytes)")]),
                body: upload)
            let echoBody = try await echo.collectBody()
            #expect(echo.statusCode == 200)
            #expect(echoBody == upload, "\(echoBody.readableBytes) bytes back")
            let streamed = try await connection.request(
                headers: request("POST", "/echo"), streamingBody: TestApp.chunks(of: upload, size: 16 << 10))
            let streamedBody = try await streamed.collectBody()
            #expect(streamed.statusCode == 200)
            #expect(streamedBody == upload, "\(streamedBody.readableBytes) bytes back")

            // Vapor's own errors pass through as they are.
            let missing = try await connection.request(headers: request("GET", "/no/such/route"))
            _ = try await missing.collectBody()
            #expect(missing.statusCode == 404)
            let tooLarge = try await connection.request(
                headers: request("POST", "/echo", headers: [("content-length", "\(3 << 20)")]),
                body: ByteBuffer(repeating: UInt8(ascii: "x"), count: 3 << 20))
            _ = try await tooLarge.collectBody()
            #expect(tooLarge.statusCode == 413)
            connection.close()
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }
}

/// A Vapor application on Vapor's own HTTP/1.1 server (no SPDY anywhere) on a free loopback
/// port.
struct PlainVaporApp: Sendable {
    let app: Application
    let port: Int

    static func start() async throws -> PlainVaporApp {
        var environment = Environment.testing
        environment.arguments = ["vapor"]
        let app = try await Application.make(environment)
        do {
            app.logger.logLevel = .warning
            app.http.server.configuration.hostname = "127.0.0.1"
            app.http.server.configuration.port = 0
            app.get("hello") { _ in "Hello from Vapor!" }
            app.get("forwarded") { req -> String in
                ["x-forwarded-for", "x-forwarded-proto", "via", "connection"].map {
                    "\($0)=\(req.headers[$0].joined(separator: ", "))\n"
                }.joined()
            }
            app.on(.POST, "echo", body: .collect(maxSize: "2mb")) { req -> Response in
                Response(status: .ok, body: .init(buffer: req.body.data ?? ByteBuffer()))
            }
            try await app.startup()
            guard let port = app.http.server.shared.localAddress?.port else {
                throw TestFailure("Vapor's server has no port")
            }
            return PlainVaporApp(app: app, port: port)
        } catch {
            try? await app.asyncShutdown()
            throw error
        }
    }

    func shutdown() async throws {
        try await app.asyncShutdown()
    }
}

/// A `spdyproxy` child process listening on a free port, its standard output collected.
final class ProxyProcess: Sendable {
    private let process: Process
    private let collected: NIOLockedValueBox<String>
    private let exitStatus: NIOLockedValueBox<Int32?>
    /// The port from its `IPv4: listen on port N` line.
    let port: Int

    private init(
        process: Process, collected: NIOLockedValueBox<String>, exitStatus: NIOLockedValueBox<Int32?>, port: Int
    ) {
        self.process = process
        self.collected = collected
        self.exitStatus = exitStatus
        self.port = port
    }

    /// Starts `path ARGUMENTS 0` and waits up to 60 seconds for its listening line.
    static func start(path: String, arguments: [String]) async throws -> ProxyProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments + ["0"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.standardError
        let collected = NIOLockedValueBox("")
        let exitStatus = NIOLockedValueBox<Int32?>(nil)
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
            } else {
                collected.withLockedValue { $0 += String(decoding: data, as: UTF8.self) }
            }
        }
        process.terminationHandler = { process in
            exitStatus.withLockedValue { $0 = process.terminationStatus }
        }
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let output = collected.withLockedValue { $0 }
            for line in output.split(separator: "\n") where line.hasPrefix("IPv4: listen on port ") {
                if let port = Int(line.dropFirst("IPv4: listen on port ".count)) {
                    return ProxyProcess(process: process, collected: collected, exitStatus: exitStatus, port: port)
                }
            }
            if exitStatus.withLockedValue({ $0 }) != nil {
                throw TestFailure("spdyproxy exited before listening: \(output)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw TestFailure("spdyproxy printed no listening line in 60 s: \(collected.withLockedValue { $0 })")
    }

    /// What it wrote to standard output so far.
    var output: String { collected.withLockedValue { $0 } }

    /// SIGTERM, then its exit status (it has 30 seconds; then it is killed and this throws).
    func stop() async throws -> Int32 {
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let status = exitStatus.withLockedValue({ $0 }) {
                // The last access-log lines may still be in the pipe.
                try await Task.sleep(for: .milliseconds(100))
                return status
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        kill()
        throw TestFailure("spdyproxy did not exit within 30 s of SIGTERM")
    }

    /// SIGTERM without waiting (a failed test).
    func kill() {
        if process.isRunning { process.terminate() }
    }
}
