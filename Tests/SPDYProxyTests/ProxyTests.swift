import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import SPDY
import SPDYProxy
import SPDYTestSupport
import Testing

// MARK: - curl

/// An HTTP/1.1 exchange with curl: status line, headers and body.
///
/// The wait for curl runs off the few threads async tests share.
func curl(_ arguments: [String], stdin: Data? = nil) async throws -> (status: Int32, output: Data) {
    try await offCooperativePool { try runCurl(arguments, stdin: stdin) }
}

private func runCurl(_ arguments: [String], stdin: Data?) throws -> (status: Int32, output: Data) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = ["-s", "--max-time", "60"] + arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    let input = Pipe()
    process.standardInput = stdin == nil ? FileHandle.nullDevice : input
    try process.run()
    if let stdin {
        Thread.detachNewThread {
            input.fileHandleForWriting.write(stdin)
            try? input.fileHandleForWriting.close()
        }
    }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, data)
}

// MARK: - Tests

@Suite("spdyproxy: forwarding to real backends", .serialized)
struct ProxyForwardingTests {
    @Test("nginx's files through the proxy over SPDY/2, SPDY/3 and SPDY/3.1", .timeLimit(.minutes(2)))
    func nginxEveryVersion() async throws {
        let nginx = try NginxBackend(bigFileSize: 8 << 20)
        try nginx.waitUntilReady()
        defer { nginx.stop() }
        for version in [SPDYVersion.v2, .v3, .v3_1] {
            let proxy = try ProxyUnderTest(backends: [nginx.port], version: version)
            let (client, connection) = try await proxy.connect()
            let small = try await request(connection, "/1k.bin")
            #expect(small.response.statusCode == 200, "\(version)")
            #expect(small.body == Pattern.body(count: 1024), "\(version)")
            #expect(small.response.headers.first(name: "server")?.hasPrefix("nginx") == true, "\(version)")
            #expect(small.response.headers.first(name: "via") == "1.1 spdyproxy", "\(version)")
            #expect(small.response.headers.first(name: "connection") == nil, "\(version)")
            let big = try await request(connection, "/big.bin")
            var verifier = PatternVerifier()
            verifier.consume(big.body)
            #expect(verifier.count == 8 << 20 && verifier.firstMismatch == nil, "\(version): \(verifier.summary)")
            let missing = try await request(connection, "/nothing-here")
            #expect(missing.response.statusCode == 404, "\(version)")
            try await client.shutdown()
            // The line is written once the response's end is handed to the stream, which may
            // be after the client has it.
            #expect(await eventually { proxy.entries().count == 3 }, "\(version)")
            let entries = proxy.entries()
            #expect(
                entries.first?.line.contains("\"GET /1k.bin \(version.protocolName)\" 200 1024 127.0.0.1:\(nginx.port)")
                    == true, "\(entries.first?.line ?? "")")
            try await proxy.stop()
        }
    }

    @Test(
        "what the backend sees: x-forwarded-for, x-forwarded-proto, via, no hop-by-hop headers", .timeLimit(.minutes(1))
    )
    func forwardedHeaders() async throws {
        let echo = try EchoBackend()
        let proxy = try ProxyUnderTest(backends: [echo.port])
        let (client, connection) = try await proxy.connect()
        let spdy = try await request(
            connection, "/headers",
            headers: [
                ("x-forwarded-for", "192.0.2.7"), ("te", "trailers"), ("upgrade", "websocket"),
                ("x-custom", "kept"),
            ])
        #expect(spdy.response.statusCode == 200)
        let text = String(buffer: spdy.body)
        #expect(text.hasPrefix("GET /headers HTTP/1.1\n"), "\(text)")
        #expect(text.contains("x-forwarded-for: 192.0.2.7, 127.0.0.1\n"), "\(text)")
        #expect(text.contains("x-forwarded-proto: http\n"), "\(text)")
        #expect(text.contains("via: SPDY/3.1 spdyproxy\n"), "\(text)")
        #expect(text.contains("x-custom: kept\n"), "\(text)")
        #expect(text.contains("host: 127.0.0.1\n"), "\(text)")
        for dropped in ["te:", "upgrade:", "connection:", "transfer-encoding:"] {
            #expect(!text.contains("\n\(dropped)"), "\(dropped) forwarded: \(text)")
        }
        try await client.shutdown()

        // HTTP/1.1: the names `connection` lists are dropped too.
        let http = try await curl([
            "-H", "Connection: keep-alive, x-secret", "-H", "x-secret: 1", "-H", "keep-alive: 5",
            "http://127.0.0.1:\(proxy.port)/headers",
        ])
        let httpText = String(decoding: http.output, as: UTF8.self)
        #expect(httpText.contains("via: 1.1 spdyproxy\n"), "\(httpText)")
        #expect(httpText.contains("x-forwarded-for: 127.0.0.1\n"), "\(httpText)")
        #expect(!httpText.contains("x-secret"), "\(httpText)")
        #expect(!httpText.contains("keep-alive"), "\(httpText)")
        try await proxy.stop()
        try await echo.close()
    }

    @Test("backend connections are kept alive and reused", .timeLimit(.minutes(1)))
    func pooling() async throws {
        let echo = try EchoBackend()
        let proxy = try ProxyUnderTest(backends: [echo.port])
        let (client, connection) = try await proxy.connect()
        for index in 0..<20 {
            let answer = try await request(connection, "/status/200?\(index)")
            #expect(answer.response.statusCode == 200)
        }
        #expect(echo.requestCount == 20)
        #expect(echo.connectionCount == 1, "sequential requests should share one backend connection")
        #expect(await proxy.proxy.idleBackendConnections() == 1)
        // 10 at once need 10 connections; they are all kept afterwards.
        try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<10 {
                group.addTask { try await request(connection, "/slow/200?\(index)").response.statusCode }
            }
            for try await status in group { #expect(status == 200) }
        }
        #expect(echo.connectionCount <= 11)
        #expect(await eventually { await proxy.proxy.idleBackendConnections() == echo.openConnectionCount })
        try await client.shutdown()
        try await proxy.stop()
        #expect(
            await eventually { echo.openConnectionCount == 0 }, "the proxy closes its idle connections when it stops")
        try await echo.close()
    }

    @Test("uploads stream to the backend and back, with and without content-length", .timeLimit(.minutes(2)))
    func uploads() async throws {
        let echo = try EchoBackend()
        let proxy = try ProxyUnderTest(backends: [echo.port])
        let (client, connection) = try await proxy.connect()
        let body = Pattern.body(count: 8 << 20)
        let sized = try await request(
            connection, "/echo", method: "POST", body: body, headers: [("content-length", "\(8 << 20)")])
        #expect(sized.response.statusCode == 200)
        #expect(sized.body == body)
        // A streamed upload of unknown length goes chunked to the backend.
        let chunks = (0..<64).map { Pattern.chunk(at: $0 * 65_536, maxLength: 65_536) }
        let streamed = try await connection.request(
            headers: requestHeaders("PUT", "/echo"), streamingBody: chunks.async)
        let echoed = try await streamed.collectBody()
        #expect(streamed.statusCode == 200)
        var sent = ByteBuffer()
        for var chunk in chunks { sent.writeBuffer(&chunk) }
        #expect(echoed == sent)
        #expect(echo.requestHeads.last?.headers.first(name: "transfer-encoding") == "chunked")
        try await client.shutdown()

        // HTTP/1.1 with expect: 100-continue (curl sends it for a body over 1 MiB).
        let upload = Data(Pattern.body(count: 3 << 20).readableBytesView)
        let http = try await curl(
            [
                "--data-binary", "@-", "-H", "content-type: application/octet-stream",
                "http://127.0.0.1:\(proxy.port)/echo",
            ], stdin: upload)
        #expect(http.status == 0)
        #expect(http.output == upload)
        #expect(echo.requestHeads.last?.headers.contains(name: "expect") == false)
        try await proxy.stop()
        try await echo.close()
    }

    @Test("HTTP/1.1: pipelined requests are answered in order on one connection", .timeLimit(.minutes(1)))
    func pipelining() async throws {
        let echo = try EchoBackend()
        let proxy = try ProxyUnderTest(backends: [echo.port])
        // Three requests in one segment; the last asks to close.
        let script = """
            import socket
            s = socket.create_connection(("127.0.0.1", \(proxy.port)))
            s.sendall(b"GET /status/201 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\nGET /headers HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
                      b"GET /status/202 HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
            s.settimeout(20)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            print(data.decode("latin-1"))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // "\r\n" is one Character in Swift: split the scalars.
        let statuses = text.unicodeScalars.split(whereSeparator: { $0 == "\r" || $0 == "\n" })
            .map { String(String.UnicodeScalarView($0)) }.filter { $0.hasPrefix("HTTP/1.1 ") }
        #expect(statuses == ["HTTP/1.1 201 Created", "HTTP/1.1 200 OK", "HTTP/1.1 202 Accepted"], "\(text)")
        #expect(text.contains("GET /headers HTTP/1.1\n"), "\(text)")
        #expect(echo.requestCount == 3)
        try await proxy.stop()
        try await echo.close()
    }

    @Test("round robin over backends; one that refuses connections is skipped", .timeLimit(.minutes(1)))
    func roundRobin() async throws {
        let first = try EchoBackend()
        let second = try EchoBackend()
        let dead = freeLocalPort()
        let proxy = try ProxyUnderTest(backends: [first.port, dead, second.port]) {
            $0.maxIdleConnectionsPerBackend = 0
        }
        let (client, connection) = try await proxy.connect()
        for index in 0..<12 {
            let answer = try await request(connection, "/status/200?\(index)")
            #expect(answer.response.statusCode == 200, "request \(index)")
        }
        #expect(first.requestCount + second.requestCount == 12)
        #expect(first.requestCount >= 4 && second.requestCount >= 4, "\(first.requestCount) / \(second.requestCount)")
        try await client.shutdown()
        try await proxy.stop()
        try await first.close()
        try await second.close()
    }
}

@Suite("spdyproxy: failing backends and clients", .serialized)
struct ProxyFailureTests {
    @Test("no backend: 502 over SPDY and HTTP/1.1", .timeLimit(.minutes(1)))
    func refused() async throws {
        let proxy = try ProxyUnderTest(backends: [freeLocalPort()])
        let (client, connection) = try await proxy.connect()
        let answer = try await request(connection, "/")
        #expect(answer.response.statusCode == 502)
        #expect(String(buffer: answer.body).contains("502 Bad Gateway"))
        let http = try await curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(proxy.port)/"])
        #expect(String(decoding: http.output, as: UTF8.self) == "502")
        try await client.shutdown()
        try await proxy.stop()
    }

    @Test("a backend that closes without answering: 502", .timeLimit(.minutes(1)))
    func closesWithoutAnswer() async throws {
        let echo = try EchoBackend()
        let proxy = try ProxyUnderTest(backends: [echo.port])
        let (client, connection) = try await proxy.connect()
        #expect(try await request(connection, "/close-without-answer").response.statusCode == 502)
        #expect(try await request(connection, "/status/201").response.statusCode == 201, "the proxy serves on")
        try await client.shutdown()
        try await proxy.stop()
        try await echo.close()
    }

    @Test("a backend that answers too late: 504, logged as timed out", .timeLimit(.minutes(1)))
    func timeout() async throws {
        let echo = try EchoBackend()
        let proxy = try ProxyUnderTest(backends: [echo.port]) { $0.timeout = .milliseconds(500) }
        let (client, connection) = try await proxy.connect()
        let start = ContinuousClock.now
        #expect(try await request(connection, "/slow/5000").response.statusCode == 504)
        #expect(ContinuousClock.now - start < .seconds(4))
        #expect(await eventually { proxy.entries().last?.outcome == .timedOut })
        // The late backend connection is not reused.
        #expect(try await request(connection, "/status/200").response.statusCode == 200)
        try await client.shutdown()
        try await proxy.stop()
        try await echo.close()
    }

    @Test(
        "a backend that dies mid-response: the SPDY stream is reset, the HTTP/1.1 connection closed",
        .timeLimit(.minutes(1)))
    func diesMidResponse() async throws {
        let echo = try EchoBackend()
        let proxy = try ProxyUnderTest(backends: [echo.port])
        let (client, connection) = try await proxy.connect()
        let response = try await connection.request(
            SPDYClientRequest(path: "/die-after/100000", scheme: "http", authority: "127.0.0.1"))
        #expect(response.statusCode == 200)
        await #expect(throws: SPDYClientError.streamReset(.internalError)) {
            _ = try await response.collectBody()
        }
        #expect(await eventually { proxy.entries().last?.outcome == .backendFailed })
        #expect(try await request(connection, "/status/200").response.statusCode == 200, "the connection serves on")
        try await client.shutdown()

        let http = try await curl([
            "-o", "/dev/null", "-w", "%{size_download}", "http://127.0.0.1:\(proxy.port)/die-after/100000",
        ])
        #expect(http.status != 0, "curl must see a truncated response")
        try await proxy.stop()
        try await echo.close()
    }

    @Test(
        "nginx killed mid-download: the stream is reset and the proxy answers 502 afterwards", .timeLimit(.minutes(1)))
    func nginxKilled() async throws {
        let nginx = try NginxBackend(bigFileSize: 64 << 20)
        try nginx.waitUntilReady()
        defer { nginx.stop() }
        let proxy = try ProxyUnderTest(backends: [nginx.port])
        let (client, connection) = try await proxy.connect()
        let response = try await connection.request(
            SPDYClientRequest(path: "/big.bin", scheme: "http", authority: "127.0.0.1"))
        #expect(response.statusCode == 200)
        var received = 0
        var failed: (any Error)?
        do {
            for try await chunk in response.body {
                received += chunk.readableBytes
                if received > 1 << 20 && nginx.isRunning {
                    nginx.kill(signal: SIGKILL)
                }
            }
        } catch {
            failed = error
        }
        #expect(
            failed as? SPDYClientError == .streamReset(.internalError),
            "received \(received): \(String(describing: failed))")
        #expect(received < 64 << 20)
        _ = nginx.waitForExit()
        #expect(try await request(connection, "/1k.bin").response.statusCode == 502)
        try await client.shutdown()
        try await proxy.stop()
    }

    @Test("a client that resets its stream closes the backend request", .timeLimit(.minutes(1)))
    func clientReset() async throws {
        let echo = try EchoBackend()
        let proxy = try ProxyUnderTest(backends: [echo.port])
        let (client, connection) = try await proxy.connect()
        let task = Task {
            let response = try await connection.request(
                SPDYClientRequest(path: "/bytes/1073741824", scheme: "http", authority: "127.0.0.1"))
            var received = 0
            for try await chunk in response.body {
                received += chunk.readableBytes
                if received > 1 << 20 { break }  // dropping the body resets the stream
            }
            return received
        }
        _ = try await task.value
        #expect(await eventually { echo.openConnectionCount == 0 }, "the backend connection must be closed")
        #expect(await eventually { proxy.entries().last?.outcome == .clientAborted })
        #expect(try await request(connection, "/status/200").response.statusCode == 200)
        try await client.shutdown()
        try await proxy.stop()
        try await echo.close()
    }

    @Test("a client that does not read stalls nobody else", .timeLimit(.minutes(1)))
    func slowClient() async throws {
        let echo = try EchoBackend()
        let proxy = try ProxyUnderTest(backends: [echo.port])
        let (client, stalled) = try await proxy.connect()
        // Never read: the proxy must stop reading the backend, not buffer 1 GiB.
        let response = try await stalled.request(
            SPDYClientRequest(path: "/bytes/1073741824", scheme: "http", authority: "127.0.0.1"))
        #expect(response.statusCode == 200)
        let (otherClient, other) = try await proxy.connect()
        for index in 0..<20 {
            let start = ContinuousClock.now
            #expect(try await request(other, "/status/200?\(index)").response.statusCode == 200)
            #expect(ContinuousClock.now - start < .seconds(2))
        }
        // Also on the stalled client's own connection.
        #expect(try await request(stalled, "/status/204").response.statusCode == 204)
        try await otherClient.shutdown()
        try await client.shutdown()
        try await proxy.stop()
        try await echo.close()
    }

    @Test("many concurrent clients", .timeLimit(.minutes(2)))
    func manyClients() async throws {
        let nginx = try NginxBackend(bigFileSize: 1 << 20)
        try nginx.waitUntilReady()
        defer { nginx.stop() }
        let proxy = try ProxyUnderTest(backends: [nginx.port], threads: 2)
        let failures = NIOLockedValueBox(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    let (client, connection) = try await proxy.connect()
                    try await withThrowingTaskGroup(of: Void.self) { streams in
                        for index in 0..<10 {
                            streams.addTask {
                                let path = index == 0 ? "/big.bin" : "/1k.bin"
                                let answer = try await request(connection, path)
                                let size = index == 0 ? 1 << 20 : 1024
                                if answer.response.statusCode != 200 || answer.body.readableBytes != size {
                                    failures.withLockedValue { $0 += 1 }
                                }
                            }
                        }
                        try await streams.waitForAll()
                    }
                    try await client.shutdown()
                }
            }
            try await group.waitForAll()
        }
        #expect(failures.withLockedValue { $0 } == 0)
        #expect(await eventually { proxy.entries().count == 500 })
        try await proxy.stop()
    }

    @Test("a graceful shutdown lets the request in flight finish", .timeLimit(.minutes(1)))
    func gracefulShutdown() async throws {
        let echo = try EchoBackend()
        let proxy = try ProxyUnderTest(backends: [echo.port])
        let (client, connection) = try await proxy.connect()
        let inFlight = Task { try await request(connection, "/slow/1000") }
        try await Task.sleep(for: .milliseconds(300))
        try await proxy.stop()
        let answer = try await inFlight.value
        #expect(answer.response.statusCode == 200)
        #expect(String(buffer: answer.body) == "slow\n")
        try await client.shutdown()
        try await echo.close()
    }
}

extension Array where Element: Sendable {
    /// The elements as an async sequence.
    var async: AsyncStream<Element> {
        AsyncStream { continuation in
            for element in self { continuation.yield(element) }
            continuation.finish()
        }
    }
}
