import Foundation
import SPDYTestSupport
import Testing

/// spdyproxy, the executable, in front of spdyd serving HTTP/1.1 (spdyd tells an HTTP/1.1
/// client by its first bytes on plain TCP), fetched with spdycat and curl.
@Suite("spdyproxy: the command", .serialized)
struct SpdyproxyTests {
    /// Starts spdyd (plain TCP, HTTP/1.1 for the proxy) on `folder` and spdyproxy in front.
    private func start(
        _ folder: ServedFolder, proxyArguments: [String]
    ) throws -> (backend: BackgroundTool, proxy: BackgroundTool, port: Int) {
        let backendPort = freeLocalPort()
        let backend = try ToolRunner.start("spdyd", ["--no-tls", "-3", "-d", folder.root.path, "\(backendPort)"])
        #expect(backend.waitForOutput("listen on port"), "spdyd: \(backend.stderr)")
        let proxy = try ToolRunner.start(
            "spdyproxy", proxyArguments + ["-b", "127.0.0.1,\(backendPort)", "-b", "localhost,\(backendPort)", "0"])
        #expect(proxy.waitForOutput("listen on port"), "spdyproxy: \(proxy.stderr)")
        let line = proxy.stdout.split(separator: "\n").first { $0.contains("listen on port") } ?? ""
        let port = Int(line.split(separator: " ").last ?? "") ?? 0
        return (backend, proxy, port)
    }

    @Test(
        "TLS: spdycat over every version, curl over HTTP/1.1, an access-log line each, exit 0 on SIGTERM",
        .timeLimit(.minutes(2)))
    func tls() throws {
        let folder = try ServedFolder()
        let (backend, proxy, port) = try start(folder, proxyArguments: [])
        defer { backend.stop() }
        #expect(proxy.waitForOutput("ephemeral self-signed certificate"))
        for flag in ["-2", "-3", "--spdy3-1"] {
            let fetched = try ToolRunner.run("spdycat", ["-k", flag, "https://127.0.0.1:\(port)/hello.txt"])
            #expect(fetched.status == 0, "\(flag): \(fetched.stderr)")
            #expect(fetched.stdout == ServedFolder.hello, "\(flag)")
        }
        let headers = try ToolRunner.run(
            "/usr/bin/curl", ["-sk", "-D", "-", "-o", "/dev/null", "https://127.0.0.1:\(port)/hello.txt"])
        #expect(headers.stdout.lowercased().contains("via: 1.1 spdyproxy"), "\(headers.stdout)")
        #expect(headers.stdout.lowercased().contains("server: spdyd"), "\(headers.stdout)")
        let missing = try ToolRunner.run("spdycat", ["-k", "-v", "https://127.0.0.1:\(port)/no-such-file"])
        #expect(missing.stdout.contains(":status: 404"), "\(missing.stdout)")
        #expect(proxy.stop() == 0, "spdyproxy must exit 0 on SIGTERM: \(proxy.stderr)")
        let log = proxy.stdout.split(separator: "\n").filter { $0.contains("\" ") && $0.contains(" complete ") }
        #expect(log.count == 5, "\(proxy.stdout)")
        #expect(
            log.contains { $0.contains("\"GET /hello.txt spdy/2\" 200 \(ServedFolder.hello.utf8.count)") }, "\(log)")
        #expect(log.contains { $0.contains("\"GET /hello.txt http/1.1\" 200") }, "\(log)")
        #expect(log.contains { $0.contains("\"GET /no-such-file spdy/3.1\" 404") }, "\(log)")
    }

    @Test("plain TCP with -v: frames on standard output, the access log in a file", .timeLimit(.minutes(1)))
    func plainVerbose() throws {
        let folder = try ServedFolder()
        let logFile = folder.base.appendingPathComponent("access.log")
        let (backend, proxy, port) = try start(
            folder, proxyArguments: ["--no-tls", "--spdy3-1", "-v", "--access-log", logFile.path])
        defer { backend.stop() }
        let fetched = try ToolRunner.run("spdycat", ["--no-tls", "--spdy3-1", "http://127.0.0.1:\(port)/hello.txt"])
        #expect(fetched.stdout == ServedFolder.hello, "\(fetched.stderr)")
        let http = try ToolRunner.run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(port)/hello.txt"])
        #expect(http.stdout == ServedFolder.hello)
        #expect(proxy.stop() == 0)
        #expect(proxy.stdout.contains("recv SYN_STREAM frame"), "\(proxy.stdout)")
        #expect(proxy.stdout.contains("send SYN_REPLY frame"), "\(proxy.stdout)")
        let log = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        #expect(log.split(separator: "\n").count == 2, "\(log)")
    }

    @Test("--npn: an NPN-only client (spdycat --npn, as the original) is served SPDY", .timeLimit(.minutes(1)))
    func npn() throws {
        let folder = try ServedFolder()
        let (backend, proxy, port) = try start(folder, proxyArguments: ["--npn"])
        defer { backend.stop() }
        let fetched = try ToolRunner.run("spdycat", ["-k", "--npn", "-v", "https://127.0.0.1:\(port)/hello.txt"])
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(fetched.stdout.contains(ServedFolder.hello), "\(fetched.stdout)")
        #expect(fetched.stdout.contains("NPN selected the protocol: spdy/3.1"), "\(fetched.stdout)")
        #expect(proxy.stop() == 0)
    }

    @Test(
        "bad arguments: one line and exit status 1",
        arguments: [
            (["8443"], "at least one backend"),
            (["-b", "127.0.0.1", "8443"], "HOST,PORT"),
            (["--no-tls", "-b", "127.0.0.1,80", "8443"], "-2, -3 or --spdy3-1"),
            (["-b", "127.0.0.1,80", "--timeout", "0", "8443"], "--timeout"),
        ])
    func badArguments(arguments: [String], message: String) throws {
        let result = try ToolRunner.run("spdyproxy", arguments)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("spdyproxy: "), "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }
}
