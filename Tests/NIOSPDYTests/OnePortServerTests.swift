import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSPDY
import NIOSSL
import SPDY
import SPDYTestSupport
import Testing

/// One handler for both protocols: it reports the fields it was given.
final class OnePortHandler: SPDYRequestHandler {
    override func doGET() {
        switch path {
        case "/push":
            let pushed = push(headers: [(":path", "/pushed.txt")], body: ByteBuffer(string: "pushed"))
            sendResponse(200)
            wfile.write("push=\(pushed == nil ? "nil" : "sent")")
        case "/stream":
            // A body written over time: no content-length is known.
            sendResponse(200)
            sendHeader("content-type", "text/plain")
            let writer = startStreaming()
            let loop = eventLoop
            for index in 0..<5 {
                loop.scheduleTask(in: .milliseconds(20 * Int64(index + 1))) {
                    writer.write("part \(index)\n")
                    if index == 4 { writer.finish() }
                }
            }
        default:
            sendResponse(200)
            sendHeader("content-type", "text/plain")
            let agent = headers.first { $0.name == "user-agent" }?.value ?? "-"
            wfile.write("\(command) \(path) \(requestVersion) \(scheme) \(host) agent=\(agent) stream=\(streamID)")
        }
    }

    override func doHEAD() {
        sendResponse(200)
        sendHeader("content-length", "42")
    }

    override func doPOST() {
        sendResponse(200)
        wfile.write("got \(rfile.readableBytes)")
    }
}

@Suite("One port: SPDYServer serves SPDY and HTTP/1.1", .timeLimit(.minutes(1)))
struct OnePortServerTests {
    static let identity = try! SPDYTLS.Identity.selfSigned()

    static func startServer(
        _ transport: SPDYServer.Transport, _ tweak: (inout SPDYServer.Configuration) -> Void = { _ in }
    ) throws -> SPDYServer {
        var configuration = SPDYServer.Configuration(host: "127.0.0.1", port: 0, transport: transport, threads: 2)
        // 60 s for the handshake or the first bytes: see Harness.start.
        configuration.handshakeTimeout = .seconds(60)
        tweak(&configuration)
        let server = try SPDYServer(configuration: configuration, handler: OnePortHandler.self)
        try server.start()
        return server
    }

    @Test("Plain TCP: a SPDY/3.1 client and an HTTP/1.1 client on one port get the same handler's answer")
    func plainPort() async throws {
        let server = try Self.startServer(.plain(.v3_1))
        let port = server.port!
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

        let client = try SPDYClient(configuration: .init(plainVersion: .v3_1))
        let connection = try await client.connect(host: "127.0.0.1", port: port, tls: false)
        let spdy = try await connection.request(
            SPDYClientRequest(path: "/hello", scheme: "http", authority: "127.0.0.1", headers: [("user-agent", "t")]))
        let spdyBody = String(buffer: try await spdy.collectBody())
        #expect(connection.version == .v3_1)
        #expect(spdy.statusCode == 200)
        #expect(spdyBody.hasPrefix("GET /hello HTTP/1.1 http 127.0.0.1 agent=t stream="))

        let http = try await HTTP1TestClient.connect(port: port, group: group)
        let answer = try await http.request(.GET, "/hello", headers: [("host", "127.0.0.1"), ("user-agent", "t")])
        #expect(answer.status == 200)
        #expect(answer.head.version == .http1_1)
        #expect(answer.text == "GET /hello HTTP/1.1 http 127.0.0.1 agent=t stream=0")
        #expect(answer.head.headers["content-type"] == ["text/plain"])
        #expect(answer.head.headers["content-length"] == [String(answer.body.readableBytes)])
        #expect(server.connectionCount == 2)

        await http.close()
        try await client.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(5))
        try await group.shutdownGracefully()
    }

    @Test("TLS: ALPN picks http/1.1 for an http/1.1-only client, spdy/3.1 for a SPDY client, HTTP/1.1 without ALPN")
    func alpn() async throws {
        let server = try Self.startServer(.tls(Self.identity, versions: SPDYVersion.negotiationPreference))
        let port = server.port!
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

        let http = try await HTTP1TestClient.connect(port: port, group: group, alpn: ["http/1.1"])
        let answer = try await http.request(.GET, "/over-tls")
        #expect(http.negotiatedProtocol == .some("http/1.1"))
        #expect(answer.status == 200)
        #expect(answer.text == "GET /over-tls HTTP/1.1 https 127.0.0.1 agent=- stream=0")
        await http.close()

        // A client that offers both gets SPDY: the server's preference decides.
        let both = try await HTTP1TestClient.connect(port: port, group: group, alpn: ["http/1.1", "spdy/3.1"])
        #expect(await eventually { both.negotiatedProtocol != nil })
        #expect(both.negotiatedProtocol == .some("spdy/3.1"))
        await both.close()

        // No ALPN at all: HTTP/1.1, the one protocol such a client can mean.
        let none = try await HTTP1TestClient.connect(port: port, group: group, alpn: [])
        #expect(try await none.request(.GET, "/plain").status == 200)
        #expect(none.negotiatedProtocol == .some(nil))
        await none.close()

        let client = try SPDYClient(configuration: .init(verifyCertificates: false))
        let connection = try await client.connect(host: "127.0.0.1", port: port, tls: true)
        #expect(connection.version == .v3_1)
        #expect(try await get(connection, "/spdy").status == 200)
        try await client.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(5))
        try await group.shutdownGracefully()
    }

    @Test("servesHTTP1 off: TLS does not offer http/1.1 and plain TCP speaks SPDY only", arguments: [true, false])
    func http1Off(tls: Bool) async throws {
        let server = try Self.startServer(
            tls ? .tls(Self.identity, versions: SPDYVersion.negotiationPreference) : .plain(.v3_1)
        ) { $0.servesHTTP1 = false }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let http = try await HTTP1TestClient.connect(port: server.port!, group: group, alpn: tls ? ["http/1.1"] : nil)
        http.send(.GET, "/refused")
        await #expect(throws: (any Error).self) { try await http.response() }
        #expect(await closes(http.channel))
        try await server.shutdownGracefully(timeout: .seconds(5))
        try await group.shutdownGracefully()
    }

    @Test("Plain TCP: bytes that do not start a SPDY/2 or /3 control frame are HTTP/1.1's, refused with 400")
    func notSPDY() async throws {
        let server = try Self.startServer(.plain(.v3_1))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // A DATA frame first, and a control frame of a version that does not exist.
        for first in [[0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x01, 0x78], [0x80, 0x04, 0x00, 0x06]] as [[UInt8]] {
            let received = NIOLockedValueBox(ByteBuffer())
            let raw = try await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(RawBytesCollector(received))
                    }
                }
                .connect(host: "127.0.0.1", port: server.port!).get()
            try await raw.writeAndFlush(ByteBuffer(bytes: first + Array("\r\n\r\n".utf8)))
            #expect(await closes(raw))
            #expect(String(buffer: received.withLockedValue { $0 }).hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        }
        try await server.shutdownGracefully(timeout: .seconds(5))
        try await group.shutdownGracefully()
    }

    @Test("Keep-alive and pipelining: three requests written at once are answered in order on one connection")
    func pipelining() async throws {
        let server = try Self.startServer(.plain(.v3_1))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let http = try await HTTP1TestClient.connect(port: server.port!, group: group)
        http.send(.GET, "/one")
        http.send(.POST, "/two", body: ByteBuffer(string: "twelve bytes"))
        http.send(.GET, "/stream")
        #expect(try await http.response().text.hasPrefix("GET /one "))
        #expect(try await http.response().text == "got 12")
        let streamed = try await http.response()
        #expect(streamed.text == (0..<5).map { "part \($0)\n" }.joined())
        #expect(streamed.head.headers["transfer-encoding"] == ["chunked"])
        #expect(streamed.head.headers["content-length"].isEmpty)
        // Still open for more.
        #expect(try await http.request(.GET, "/four").status == 200)
        #expect(http.channel.isActive)
        await http.close()
        try await server.shutdownGracefully(timeout: .seconds(5))
        try await group.shutdownGracefully()
    }

    @Test("HTTP/1.0 and Connection: close get their answer, then the server closes")
    func closingRequests() async throws {
        let server = try Self.startServer(.plain(.v3_1))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        for (version, headers) in [
            (HTTPVersion.http1_0, [("host", "127.0.0.1")]),
            (.http1_1, [("host", "127.0.0.1"), ("connection", "close")]),
        ] {
            let http = try await HTTP1TestClient.connect(port: server.port!, group: group)
            let answer = try await http.request(.GET, "/bye", headers: headers, version: version)
            #expect(answer.status == 200)
            #expect(answer.head.version == version)
            #expect(answer.head.headers["connection"] == ["close"])
            #expect(await closes(http.channel))
        }
        // HTTP/1.0 may leave Host out: the server's own address stands in.
        let old = try await HTTP1TestClient.connect(port: server.port!, group: group)
        let answer = try await old.request(.GET, "/nohost", headers: [], version: .http1_0)
        #expect(answer.text.hasPrefix("GET /nohost HTTP/1.0 http 127.0.0.1:\(server.port!) "))
        // HTTP/1.1 may not.
        let bad = try await HTTP1TestClient.connect(port: server.port!, group: group)
        #expect(try await bad.request(.GET, "/nohost", headers: []).status == 400)
        await bad.close()
        try await server.shutdownGracefully(timeout: .seconds(5))
        try await group.shutdownGracefully()
    }

    @Test("HEAD keeps content-length without a body; push gives nil over HTTP/1.1")
    func headAndPush() async throws {
        let server = try Self.startServer(.plain(.v3_1))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let http = try await HTTP1TestClient.connect(port: server.port!, group: group)
        let head = try await http.request(.HEAD, "/file")
        #expect(head.status == 200)
        #expect(head.head.headers["content-length"] == ["42"])
        #expect(head.body.readableBytes == 0)
        // The framing held: the next answer on the connection is read correctly.
        #expect(try await http.request(.GET, "/push").text == "push=nil")
        await http.close()

        let client = try SPDYClient(configuration: .init(plainVersion: .v3_1))
        let connection = try await client.connect(host: "127.0.0.1", port: server.port!, tls: false)
        #expect(try await get(connection, "/push").body == "push=sent")
        try await client.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(5))
        try await group.shutdownGracefully()
    }

    @Test("A body over maxRequestBodySize gets 413 over HTTP/1.1 too, then the connection closes")
    func tooLarge() async throws {
        let server = try Self.startServer(.plain(.v3_1)) { $0.maxRequestBodySize = 1000 }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let http = try await HTTP1TestClient.connect(port: server.port!, group: group)
        #expect(try await http.request(.POST, "/small", body: ByteBuffer(repeating: 1, count: 1000)).text == "got 1000")
        let answer = try await http.request(.POST, "/large", body: ByteBuffer(repeating: 1, count: 200_000))
        #expect(answer.status == 413)
        #expect(answer.head.headers["connection"] == ["close"])
        #expect(await closes(http.channel))
        try await server.shutdownGracefully(timeout: .seconds(5))
        try await group.shutdownGracefully()
    }

    @Test("Expect: 100-continue gets 100 Continue before the body, unless the body announced is over the limit")
    func continueBeforeBody() async throws {
        let server = try Self.startServer(.plain(.v3_1)) { $0.maxRequestBodySize = 1000 }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        for (length, expected) in [(12, "HTTP/1.1 100 Continue\r\n\r\n"), (5000, "")] {
            let received = NIOLockedValueBox(ByteBuffer())
            let raw = try await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(RawBytesCollector(received))
                    }
                }
                .connect(host: "127.0.0.1", port: server.port!).get()
            try await raw.writeAndFlush(
                ByteBuffer(
                    string:
                        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \(length)\r\nExpect: 100-continue\r\n\r\n"
                ))
            try await Task.sleep(for: .milliseconds(300))
            #expect(String(buffer: received.withLockedValue { $0 }) == expected)
            try await raw.writeAndFlush(ByteBuffer(repeating: 0x61, count: length))
            #expect(
                await eventually(timeout: .seconds(5)) {
                    let text = String(buffer: received.withLockedValue { $0 })
                    return text.contains(length == 12 ? "got 12" : "HTTP/1.1 413 ")
                })
            // After the 413 the server has closed already.
            try? await raw.close()
        }
        try await server.shutdownGracefully(timeout: .seconds(5))
        try await group.shutdownGracefully()
    }

    @Test("An async responder answers HTTP/1.1 with content-length and sees the protocol")
    func asyncResponder() async throws {
        let server = try SPDYServer(
            configuration: .init(
                host: "127.0.0.1", port: 0, transport: .plain(.v3), handshakeTimeout: .seconds(60), threads: 1)
        ) { request in
            .text("\(request.method) \(request.path) via \(protocolName(request.negotiatedProtocol))")
        }
        try server.start()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let http = try await HTTP1TestClient.connect(port: server.port!, group: group)
        let answer = try await http.request(.GET, "/async")
        #expect(answer.text == "GET /async via http/1.1")
        #expect(answer.head.headers["content-length"] == [String(answer.body.readableBytes)])
        await http.close()
        // `.plain(.v3)`: the first bytes 0x80 0x03 mean the server's SPDY/3.
        let client = try SPDYClient(configuration: .init(plainVersion: .v3))
        let connection = try await client.connect(host: "127.0.0.1", port: server.port!, tls: false)
        #expect(try await get(connection, "/async").body == "GET /async via spdy/3")
        try await client.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(5))
        try await group.shutdownGracefully()
    }

    @Test("A request head dribbled slower than http1.requestHeadTimeout is cut off; an oversized head gets 400")
    func slowAndLargeHeads() async throws {
        let server = try Self.startServer(.plain(.v3_1)) {
            $0.http1 = .init(maxHeaderSize: 4096, requestHeadTimeout: .milliseconds(800))
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (raw, _) = try await rawConnect(port: server.port!, group: group, decoding: nil)
        let clock = ContinuousClock()
        let start = clock.now
        try await raw.writeAndFlush(ByteBuffer(string: "GET / HTTP/1.1\r\n"))
        // The client would dribble a line every 100 ms for 10 s; the 800 ms head timeout must
        // end it long before (the bound leaves room for a loaded machine).
        var open = true
        for index in 0..<100 where open {
            try? await Task.sleep(for: .milliseconds(100))
            open = raw.isActive
            if open { try? await raw.writeAndFlush(ByteBuffer(string: "x-\(index): y\r\n")) }
        }
        #expect(await closes(raw, within: .seconds(2)))
        #expect(clock.now - start < .seconds(6), "the dribbling client was let in for \(clock.now - start)")

        let http = try await HTTP1TestClient.connect(port: server.port!, group: group)
        let large = try await http.request(
            .GET, "/", headers: [("host", "x"), ("x-big", String(repeating: "a", count: 8000))])
        #expect(large.status == 400)
        #expect(await closes(http.channel))
        try await server.shutdownGracefully(timeout: .seconds(5))
        try await group.shutdownGracefully()
    }

    @Test("A graceful shutdown closes an idle HTTP/1.1 connection and lets one in flight finish")
    func gracefulShutdown() async throws {
        let server = try Self.startServer(.plain(.v3_1))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let idle = try await HTTP1TestClient.connect(port: server.port!, group: group)
        #expect(try await idle.request(.GET, "/first").status == 200)
        let busy = try await HTTP1TestClient.connect(port: server.port!, group: group)
        busy.send(.GET, "/stream")
        #expect(await eventually { server.connectionCount == 2 })
        let clock = ContinuousClock()
        let start = clock.now
        try await server.shutdownGracefully(timeout: .seconds(10))
        #expect(clock.now - start < .seconds(5))
        let streamed = try await busy.response()
        #expect(streamed.text == (0..<5).map { "part \($0)\n" }.joined())
        #expect(await closes(idle.channel, within: .seconds(1)))
        #expect(await closes(busy.channel, within: .seconds(1)))
        try await group.shutdownGracefully()
    }
}

/// Keeps every byte a raw connection receives.
private final class RawBytesCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let received: NIOLockedValueBox<ByteBuffer>

    init(_ received: NIOLockedValueBox<ByteBuffer>) {
        self.received = received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        received.withLockedValue { _ = $0.writeBuffer(&bytes) }
    }
}
