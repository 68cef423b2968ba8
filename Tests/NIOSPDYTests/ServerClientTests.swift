import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import SPDY
import SPDYTestSupport
import Testing

@Suite("Server and client over real sockets")
struct ServerClientTests {
    static let identity = try! SPDYTLS.Identity.selfSigned()

    func get(_ connection: SPDYClientConnection, _ path: String) async throws -> (Int, String, SPDYHeaders) {
        let response = try await connection.request(
            SPDYClientRequest(path: path, scheme: "https", authority: "127.0.0.1")
        )
        let body = try await response.collectBody()
        return (response.statusCode, String(buffer: body), response.headers)
    }

    @Test("Plain TCP: every version serves pages, 404s and POST bodies", arguments: SPDYVersion.allCases)
    func plain(version: SPDYVersion) async throws {
        let harness = try Harness.start(.plain(version), client: .init(plainVersion: version))
        let connection = try await harness.connect(tls: false)
        #expect(connection.version == version)
        let (status, body, headers) = try await get(connection, "/index.html")
        #expect(status == 200)
        #expect(body == "<html><body>hello /index.html</body></html>")
        #expect(headers["content-type"] == "text/html; charset=UTF-8")
        #expect(headers[":version"] == "HTTP/1.1")
        #expect(headers["server"]?.hasPrefix("swift-spdy/") == true)
        #expect(headers["date"]?.hasSuffix(" GMT") == true)
        let (missing, page, errorHeaders) = try await get(connection, "/notfound")
        #expect(missing == 404)
        #expect(page.contains("<p>Error code: 404</p>"))
        #expect(errorHeaders["content-type"] == "text/html; charset=UTF-8")
        #expect(errorHeaders["content-length"] == String(page.utf8.count))
        let post = try await connection.request(
            SPDYClientRequest(method: "POST", path: "/upload", authority: "x", body: ByteBuffer(string: "payload"))
        )
        #expect(post.status == "201 Stored")
        #expect(String(buffer: try await post.collectBody()) == "payload")
        try await harness.stop()
    }

    @Test(
        "TLS: ALPN negotiates the best common version",
        arguments: [
            [SPDYVersion.v3_1, .v3, .v2], [.v3, .v2], [.v2],
        ])
    func tls(offered: [SPDYVersion]) async throws {
        let harness = try Harness.start(
            .tls(Self.identity, versions: SPDYVersion.negotiationPreference),
            client: .init(versions: offered, verifyCertificates: false)
        )
        let connection = try await harness.connect(tls: true)
        #expect(connection.version == offered.first)
        let (status, body, _) = try await get(connection, "/")
        #expect(status == 200)
        #expect(body.contains("hello /"))
        try await harness.stop()
    }

    @Test("TLS: a client that verifies certificates refuses the self-signed one; trusting it works")
    func certificateVerification() async throws {
        let harness = try Harness.start(.tls(Self.identity, versions: SPDYVersion.negotiationPreference))
        let strict = try SPDYClient(configuration: .init(verifyCertificates: true))
        await #expect(throws: (any Error).self) {
            _ = try await strict.connect(host: "localhost", port: harness.port)
        }
        try await strict.shutdown()
        let trusting = try SPDYClient(configuration: .init(trustRoots: Self.identity.certificateChain))
        let connection = try await trusting.connect(host: "localhost", port: harness.port)
        #expect(try await get(connection, "/").0 == 200)
        try await trusting.shutdown()
        try await harness.stop()
    }

    @Test("Handler dispatch: 501 for a method without a handler, 400 without required headers, 500 without a response")
    func dispatch() async throws {
        let harness = try Harness.start(.plain(.v3), client: .init(plainVersion: .v3))
        let connection = try await harness.connect(tls: false)
        let put = try await connection.request(SPDYClientRequest(method: "PUT", path: "/", authority: "x"))
        #expect(put.statusCode == 501)
        #expect(String(buffer: try await put.collectBody()).contains("Unsupported method (PUT)"))
        let brew = try await connection.request(SPDYClientRequest(method: "BREW", path: "/", authority: "x"))
        #expect(brew.statusCode == 501)
        let noHost = try await connection.request(
            headers: [(":method", "GET"), (":path", "/"), (":version", "HTTP/1.1"), (":scheme", "https")]
        )
        #expect(noHost.statusCode == 400)
        #expect(String(buffer: try await noHost.collectBody()).contains("Error code: 400"))
        let nothing = try await connection.request(SPDYClientRequest(path: "/nothing", authority: "x"))
        #expect(nothing.statusCode == 500)
        let head = try await get(connection, "/headers")
        #expect(head.1.hasPrefix("GET /headers HTTP/1.1 https 127.0.0.1\n"))
        try await harness.stop()
    }

    @Test("Server push from a handler reaches a client that accepts it")
    func push() async throws {
        let harness = try Harness.start(.plain(.v3_1), client: .init(plainVersion: .v3_1))
        let connection = try await harness.connect(tls: false)
        final class Collector: SPDYStreamHandler, @unchecked Sendable {
            var headers = SPDYHeaders()
            var body = ""
            var closed: SPDYStreamStatus?
            override func onHeader(_ headers: SPDYHeaders) { self.headers = headers }
            override func onData(_ data: ByteBuffer) { body += String(buffer: data) }
            override func onClose(_ status: SPDYStreamStatus) { closed = status }
        }
        let pushed = Collector()
        try await connection.eventLoop.submit {
            connection.onPush = { _, associated, _ in associated == 1 ? pushed : nil }
        }.get()
        let (status, body, _) = try await get(connection, "/push")
        #expect(status == 200)
        #expect(body == "page with a push")
        try await connection.eventLoop.submit {}.get()
        try await connection.eventLoop.submit {
            #expect(pushed.headers[":path"] == "/pushed.css")
            #expect(pushed.body == "body{}")
            #expect(pushed.closed == .ok)
        }.get()
        try await harness.stop()
    }

    @Test("A streamed 5 MiB response flows under flow control, every version", arguments: SPDYVersion.allCases)
    func streamedBody(version: SPDYVersion) async throws {
        let harness = try Harness.start(.plain(version), client: .init(plainVersion: version))
        let connection = try await harness.connect(tls: false)
        let response = try await connection.request(SPDYClientRequest(path: "/big", authority: "x"))
        var total = 0
        var firstBytesOK = true
        for try await chunk in response.body {
            let expected = UInt8(truncatingIfNeeded: total / 65536)
            if chunk.readableBytesView.first != expected { firstBytesOK = false }
            total += chunk.readableBytes
        }
        #expect(total == 5 << 20)
        #expect(firstBytesOK)
        try await harness.stop()
    }

    @Test("The server announces MAX_CONCURRENT_STREAMS=100 and serves many streams at once")
    func concurrentStreams() async throws {
        let harness = try Harness.start(.plain(.v3), client: .init(plainVersion: .v3))
        let connection = try await harness.connect(tls: false)
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<300 {
                group.addTask {
                    let response = try await connection.request(SPDYClientRequest(path: "/\(i)", authority: "x"))
                    _ = try await response.collectBody()
                    return response.statusCode
                }
            }
            var ok = 0
            for try await status in group where status == 200 { ok += 1 }
            #expect(ok == 300)
        }
        try await harness.stop()
    }

    @Test("Garbage instead of a TLS handshake closes only that connection")
    func garbage() async throws {
        let harness = try Harness.start(.tls(Self.identity, versions: SPDYVersion.negotiationPreference))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let raw = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: harness.port).get()
        // The server may close before the write completes on a loaded machine; the close is what counts.
        try? await raw.writeAndFlush(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        try await raw.closeFuture.get()
        let connection = try await harness.connect(tls: true)
        #expect(try await get(connection, "/").0 == 200)
        try await group.shutdownGracefully()
        try await harness.stop()
    }
}

@Suite("Async responder and urlfetch")
struct AsyncAndFetchTests {
    @Test("An async responder answers with buffers, streams, and 500 when it throws")
    func asyncResponder() async throws {
        struct Oops: Error {}
        let server = try SPDYServer(
            configuration: .init(host: "127.0.0.1", port: 0, transport: .plain(.v3_1), threads: 1)
        ) {
            request in
            switch request.path {
            case "/stream":
                return SPDYServerResponse(
                    headers: [("content-type", "text/plain")],
                    body: .stream { writer in
                        for i in 0..<5 {
                            try await writer.write("part \(i)\n").get()
                            try await Task.sleep(for: .milliseconds(5))
                        }
                    }
                )
            case "/fail":
                throw Oops()
            default:
                return .text("\(request.method) \(request.path) \(request.body.readableBytes)\n")
            }
        }
        try server.start()
        let client = try SPDYClient(configuration: .init(plainVersion: .v3_1))
        let connection = try await client.connect(host: "127.0.0.1", port: server.port!, tls: false)
        let plain = try await connection.request(
            SPDYClientRequest(method: "POST", path: "/echo", authority: "x", body: ByteBuffer(string: "12345"))
        )
        #expect(plain.statusCode == 200)
        #expect(String(buffer: try await plain.collectBody()) == "POST /echo 5\n")
        let streamed = try await connection.request(SPDYClientRequest(path: "/stream", authority: "x"))
        #expect(String(buffer: try await streamed.collectBody()) == "part 0\npart 1\npart 2\npart 3\npart 4\n")
        let failed = try await connection.request(SPDYClientRequest(path: "/fail", authority: "x"))
        #expect(failed.statusCode == 500)
        try await client.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }

    @Test("urlfetch: URLs to the same host share a session; each stream reports to its handler")
    func urlfetch() async throws {
        let harness = try Harness.start(.tls(ServerClientTests.identity, versions: SPDYVersion.negotiationPreference))
        final class Recorder: SPDYStreamHandler, @unchecked Sendable {
            let url: SPDYURL
            let log: LineLog
            init(url: SPDYURL, log: LineLog) {
                self.url = url
                self.log = log
            }
            var body = ""
            var status = ""
            override func onHeader(_ headers: SPDYHeaders) { status = headers[":status"] ?? "" }
            override func onData(_ data: ByteBuffer) { body += String(buffer: data) }
            override func onClose(_ status: SPDYStreamStatus) {
                log.append(
                    "\(url.path) \(self.status) \(status) \(body.count) stream=\(streamID.map { "\($0)" } ?? "-")")
            }
        }
        let log = LineLog()
        let base = "https://127.0.0.1:\(harness.port)"
        try await harness.client.fetch(["\(base)/a", "\(base)/notfound", "\(base)/c?x=1"]) { url in
            Recorder(url: url, log: log)
        }
        #expect(
            log.lines.sorted()
                == [
                    "/a 200 OK OK 34 stream=1", "/c?x=1 200 OK OK 38 stream=5",
                    "/notfound 404 Not Found OK 375 stream=3",
                ].sorted()
        )
        #expect(throws: SPDYClientError.self) { _ = try SPDYURL("ftp://example.org/") }
        #expect(try SPDYURL("https://[::1]:8443/x").authority == "[::1]:8443")
        #expect(try SPDYURL("http://example.org").path == "/")
        try await harness.stop()
    }
}

/// A thread-safe list of lines for tests.
final class LineLog: Sendable {
    private let storage = NIOLockedValueBox<[String]>([])
    func append(_ line: String) { storage.withLockedValue { $0.append(line) } }
    var lines: [String] { storage.withLockedValue { $0 } }
}
