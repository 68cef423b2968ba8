import Foundation
import NIOConcurrencyHelpers
import NIOCore
import SPDYTestSupport
import Testing

/// What curl printed and how it exited.
private struct HarnessCurlResult {
    /// curl's exit status (0, or 18 for a partial body, 52 for an empty reply, …).
    var status: Int32
    /// The response bodies.
    var body: Data
    /// What `--write-out` printed (one `code=… length=… connects=…` line per transfer) and errors.
    var report: String

    /// The `name=value` words of the `--write-out` lines, one dictionary per transfer.
    var transfers: [[String: String]] {
        report.split(separator: "\n").filter { $0.hasPrefix("code=") }.map { line in
            var fields: [String: String] = [:]
            for word in line.split(separator: " ") {
                let parts = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
            }
            return fields
        }
    }
}

/// curl (`/usr/bin/curl`) as the HTTP/1.1 client that checks the backends directly.
private enum HarnessCurl {
    static let writeOut =
        "%{stderr}code=%{http_code} length=%header{content-length} size=%{size_download} connects=%{num_connects}\n"

    /// Runs curl with `arguments` (after `-sS` and the `--write-out` report), feeding `stdin`.
    static func run(_ arguments: [String], stdin: Data? = nil, timeout: TimeInterval = 60) throws -> HarnessCurlResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sS", "--max-time", String(Int(timeout)), "--write-out", writeOut] + arguments
        let output = Pipe()
        let errors = Pipe()
        let input = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = input
        try process.run()
        let body = NIOLockedValueBox(Data())
        let report = NIOLockedValueBox(Data())
        let group = DispatchGroup()
        // Feed and drain at once: curl echoing a big body must never block on a full pipe.
        group.enter()
        Thread.detachNewThread { [group] in
            defer { group.leave() }
            if let stdin { input.fileHandleForWriting.write(stdin) }
            try? input.fileHandleForWriting.close()
        }
        group.enter()
        Thread.detachNewThread { [group] in
            defer { group.leave() }
            let data = output.fileHandleForReading.readDataToEndOfFile()
            body.withLockedValue { $0 = data }
        }
        group.enter()
        Thread.detachNewThread { [group] in
            defer { group.leave() }
            let data = errors.fileHandleForReading.readDataToEndOfFile()
            report.withLockedValue { $0 = data }
        }
        process.waitUntilExit()
        group.wait()
        return HarnessCurlResult(
            status: process.terminationStatus,
            body: body.withLockedValue { $0 },
            report: String(decoding: report.withLockedValue { $0 }, as: UTF8.self)
        )
    }
}

/// The pattern's first `count` bytes as `Data`.
private func patternData(_ count: Int) -> Data {
    Data(Pattern.body(count: count).readableBytesView)
}

@Suite("Proxy test backends")
struct BackendHarnessTests {
    @Test("nginx serves its files: the right bytes and content-length", .timeLimit(.minutes(1)))
    func nginxServesFiles() throws {
        let nginx = try NginxBackend(bigFileSize: 3 << 20)
        defer { nginx.stop() }
        #expect(nginx.pid > 0)
        #expect(NginxBackend.accepts(port: nginx.port))

        let small = try HarnessCurl.run([nginx.url("/1k.bin")])
        #expect(small.status == 0, "\(small.report)")
        #expect(small.transfers.first?["code"] == "200")
        #expect(small.transfers.first?["length"] == "1024")
        #expect(small.body == patternData(1024))

        let index = try HarnessCurl.run([nginx.url("/")])
        #expect(index.transfers.first?["code"] == "200")
        #expect(String(decoding: index.body, as: UTF8.self) == NginxBackend.indexHTML)

        let big = try HarnessCurl.run([nginx.url("/big.bin")])
        #expect(big.transfers.first?["length"] == String(3 << 20))
        #expect(big.body == patternData(3 << 20))

        let missing = try HarnessCurl.run([nginx.url("/missing")])
        #expect(missing.transfers.first?["code"] == "404")

        // Nothing but the prefix: the pid file is ours.
        let pidFile = try String(contentsOf: nginx.prefix.appendingPathComponent("nginx.pid"), encoding: .utf8)
        #expect(Int32(pidFile.trimmingCharacters(in: .whitespacesAndNewlines)) == nginx.pid)
        nginx.stop()
        #expect(!nginx.isRunning)
        #expect(!FileManager.default.fileExists(atPath: nginx.prefix.path))
    }

    @Test("nginx /upload: read whole by nginx, or proxied to the echo backend's /sink", .timeLimit(.minutes(1)))
    func nginxUpload() async throws {
        let upload = patternData(300_000)

        let alone = try NginxBackend(bigFileSize: 0)
        defer { alone.stop() }
        let read = try HarnessCurl.run(["--data-binary", "@-", alone.url("/upload")], stdin: upload)
        #expect(read.transfers.first?["code"] == "200", "\(read.report) \(alone.errorLog)")
        #expect(String(decoding: read.body, as: UTF8.self).hasPrefix("upload ok"))
        #expect(alone.isRunning)

        let echo = try EchoBackend()
        let nginx = try NginxBackend(bigFileSize: 0, uploadBackendPort: echo.port)
        defer { nginx.stop() }
        let echoed = try HarnessCurl.run(["--data-binary", "@-", nginx.url("/upload")], stdin: upload)
        #expect(echoed.transfers.first?["code"] == "200", "\(echoed.report) \(nginx.errorLog)")
        #expect(String(decoding: echoed.body, as: UTF8.self) == "bytes=300000 mismatch=none\n")
        #expect(echo.requestHeads.first?.uri == "/sink")
        try await echo.close()
    }

    @Test("nginx can be killed: the port stops accepting", .timeLimit(.minutes(1)))
    func nginxKill() throws {
        let nginx = try NginxBackend(bigFileSize: 0)
        defer { nginx.stop() }
        try nginx.waitUntilReady()
        nginx.kill(signal: SIGKILL)
        #expect(nginx.waitForExit())
        #expect(!NginxBackend.accepts(port: nginx.port))
        #expect(throws: NginxBackend.StartError.self) { try nginx.waitUntilReady(timeout: 1) }
    }

    @Test("The echo backend echoes a 1 MiB POST byte for byte; /sink counts and checks one", .timeLimit(.minutes(1)))
    func echoPost() async throws {
        let echo = try EchoBackend()
        let upload = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: ($0 &* 131) ^ ($0 >> 9)) })

        // With a content-length (and curl's Expect: 100-continue).
        let sized = try HarnessCurl.run(["--data-binary", "@-", echo.url("/echo")], stdin: upload)
        #expect(sized.status == 0, "\(sized.report)")
        #expect(sized.transfers.first?["code"] == "200")
        #expect(sized.transfers.first?["length"] == String(1 << 20))
        #expect(sized.body == upload)

        // Chunked, with PUT.
        let chunked = try HarnessCurl.run(
            ["-X", "PUT", "-H", "Transfer-Encoding: chunked", "--data-binary", "@-", echo.url("/echo")], stdin: upload)
        #expect(chunked.status == 0, "\(chunked.report)")
        #expect(chunked.transfers.first?["length"] == "")
        #expect(chunked.body == upload)

        let get = try HarnessCurl.run([echo.url("/echo")])
        #expect(get.transfers.first?["code"] == "405")

        // /sink reads it all and checks it against the pattern.
        let sunk = try HarnessCurl.run(["--data-binary", "@-", echo.url("/sink")], stdin: patternData(1 << 20))
        #expect(String(decoding: sunk.body, as: UTF8.self) == "bytes=1048576 mismatch=none\n")
        let notPattern = try HarnessCurl.run(["--data-binary", "@-", echo.url("/sink")], stdin: upload)
        #expect(String(decoding: notPattern.body, as: UTF8.self).hasPrefix("bytes=1048576 mismatch=0"))
        #expect(echo.requestCount == 5)
        try await echo.close()
    }

    @Test("/headers lists the request head", .timeLimit(.minutes(1)))
    func headers() async throws {
        let echo = try EchoBackend()
        let result = try HarnessCurl.run(["-H", "X-Custom: hello there", echo.url("/headers?a=1")])
        let lines = String(decoding: result.body, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.first == "GET /headers?a=1 HTTP/1.1")
        #expect(lines.contains("X-Custom: hello there"))
        #expect(lines.contains("Host: 127.0.0.1:\(echo.port)"))
        #expect(echo.requestHeads.first?.headers.first(name: "x-custom") == "hello there")
        try await echo.close()
    }

    @Test("/die-after/1000 delivers 1000 bytes, then the connection drops", .timeLimit(.minutes(1)))
    func dieAfter() async throws {
        let echo = try EchoBackend()
        let result = try HarnessCurl.run([echo.url("/die-after/1000")])
        // 18: CURLE_PARTIAL_FILE.
        #expect(result.status == 18, "\(result.report)")
        #expect(result.transfers.first?["length"] == String(1000 + EchoBackend.dieAfterShortfall))
        #expect(result.body == patternData(1000))
        #expect(await eventually { echo.openConnectionCount == 0 })
        try await echo.close()
    }

    @Test("Keep-alive: two requests on one connection", .timeLimit(.minutes(1)))
    func keepAlive() async throws {
        let echo = try EchoBackend()
        let result = try HarnessCurl.run([echo.url("/status/201"), echo.url("/bytes/70000")])
        #expect(result.status == 0, "\(result.report)")
        #expect(result.transfers.map { $0["code"] } == ["201", "200"])
        #expect(result.transfers.map { $0["connects"] } == ["1", "0"])
        #expect(result.body == Data("status 201\n".utf8) + patternData(70000))
        #expect(echo.connectionCount == 1)
        #expect(echo.requestCount == 2)
        try await echo.close()
    }

    @Test("The other routes: bytes, slow, status, close-without-answer, 404", .timeLimit(.minutes(1)))
    func otherRoutes() async throws {
        let echo = try EchoBackend()

        let bytes = try HarnessCurl.run([echo.url("/bytes/5000000")])
        #expect(bytes.transfers.first?["length"] == "5000000")
        #expect(bytes.body == patternData(5_000_000))

        let started = ContinuousClock.now
        let slow = try HarnessCurl.run([echo.url("/slow/300")])
        #expect(ContinuousClock.now - started >= .milliseconds(300))
        #expect(String(decoding: slow.body, as: UTF8.self) == "slow\n")

        let noContent = try HarnessCurl.run([echo.url("/status/204"), echo.url("/status/503")])
        #expect(noContent.transfers.map { $0["code"] } == ["204", "503"])
        #expect(String(decoding: noContent.body, as: UTF8.self) == "status 503\n")

        let head = try HarnessCurl.run(["--head", echo.url("/bytes/1234")])
        #expect(head.transfers.first?["length"] == "1234")

        // 52: CURLE_GOT_NOTHING.
        let nothing = try HarnessCurl.run([echo.url("/close-without-answer")])
        #expect(nothing.status == 52, "\(nothing.report)")

        let missing = try HarnessCurl.run([echo.url("/nowhere")])
        #expect(missing.transfers.first?["code"] == "404")

        await echo.dropConnections()
        #expect(await eventually { echo.openConnectionCount == 0 })
        try await echo.close()
        #expect(!NginxBackend.accepts(port: echo.port))
    }
}
