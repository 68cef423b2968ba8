import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOPosix
import NIOSPDY
import NIOSSL
import SPDY
import SPDYTestSupport
import Testing

/// An HTTP/1 handler written once, with nothing about SPDY in it: it answers every request
/// with its method, target and host.
private final class HelloHTTP1Handler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var head: HTTPRequestHead?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            let text = "hello \(head.method) \(head.uri) host=\(head.headers["host"].first ?? "-")"
            let headers = HTTPHeaders([("content-type", "text/plain"), ("content-length", "\(text.utf8.count)")])
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))),
                promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

/// The same, written once against swift-http-types.
private final class HelloHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    private var request: HTTPRequest?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            self.request = request
        case .body:
            break
        case .end:
            guard let request else { return }
            let text = greeting(request)
            var response = HTTPResponse(status: .ok)
            response.headerFields[.contentLength] = "\(text.utf8.count)"
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.write(wrapOutboundOut(.body(ByteBuffer(string: text))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

private func greeting(_ request: HTTPRequest) -> String {
    "hello \(request.method) \(request.path ?? "-") \(request.scheme ?? "-")://\(request.authority ?? "-")"
}

/// Answers every request of an async HTTP channel (an HTTP/1.1 connection, or one SPDY stream).
private func serve(_ channel: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>) async throws {
    try await channel.executeThenClose { inbound, outbound in
        var request: HTTPRequest?
        for try await part in inbound {
            switch part {
            case .head(let head):
                request = head
            case .body:
                break
            case .end:
                guard let request else { return }
                let text = greeting(request)
                var response = HTTPResponse(status: .ok)
                response.headerFields[.contentLength] = "\(text.utf8.count)"
                try await outbound.write(.head(response))
                try await outbound.write(.body(ByteBuffer(string: text)))
                try await outbound.write(.end(nil))
            }
        }
    }
}

@Suite("One port: pipeline helpers serve SPDY and HTTP/1.1 with one handler", .timeLimit(.minutes(1)))
struct OnePortPipelineTests {
    static let identity = try! SPDYTLS.Identity.selfSigned()

    static func tlsContext() throws -> NIOSSLContext {
        try NIOSSLContext(configuration: SPDYTLS.serverConfiguration(identity: identity, offeringHTTP1: true))
    }

    @Test("One NIOHTTP1 handler answers an HTTP/1.1 request and a SPDY/3.1 stream on one plain port")
    func commonHTTP1() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.configureCommonSPDYServerPipeline(.firstBytes()) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HelloHTTP1Handler())
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = server.localAddress!.port!

        let http = try await HTTP1TestClient.connect(port: port, group: group)
        let answer = try await http.request(.GET, "/one", headers: [("host", "127.0.0.1")])
        #expect(answer.text == "hello GET /one host=127.0.0.1")
        // Keep-alive: the same handler instance sees the next request.
        #expect(try await http.request(.GET, "/two").text == "hello GET /two host=127.0.0.1")
        await http.close()

        let client = try SPDYClient(configuration: .init(plainVersion: .v3_1))
        let connection = try await client.connect(host: "127.0.0.1", port: port, tls: false)
        #expect(connection.version == .v3_1)
        #expect(try await get(connection, "/one") == (200, "hello GET /one host=127.0.0.1"))
        try await client.shutdown()
        try await server.close()
        try await group.shutdownGracefully()
    }

    @Test("One swift-http-types handler answers HTTP/1.1 and SPDY over TLS, the version picked by ALPN")
    func commonHTTPTypesOverTLS() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let context = try Self.tlsContext()
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                }.flatMap {
                    channel.configureCommonSPDYHTTPServerPipeline(.alpn) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(HelloHTTPHandler())
                        }
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = server.localAddress!.port!

        let http = try await HTTP1TestClient.connect(port: port, group: group, alpn: ["http/1.1"])
        #expect(try await http.request(.GET, "/tls").text == "hello GET /tls https://127.0.0.1")
        #expect(http.negotiatedProtocol == .some("http/1.1"))
        await http.close()

        for version in SPDYVersion.negotiationPreference {
            let client = try SPDYClient(configuration: .init(versions: [version], verifyCertificates: false))
            let connection = try await client.connect(host: "127.0.0.1", port: port, tls: true)
            #expect(connection.version == version)
            #expect(try await get(connection, "/tls") == (200, "hello GET /tls http://127.0.0.1"))
            try await client.shutdown()
        }
        try await server.close()
        try await group.shutdownGracefully()
    }

    @Test(
        "Async swift-http-types pipeline: an NIOAsyncChannel per HTTP/1.1 connection and per SPDY stream",
        arguments: [false, true]
    )
    func asyncHTTPTypes(tls: Bool) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let context = try Self.tlsContext()
        let server = try await ServerBootstrap(group: group)
            .bind(host: "127.0.0.1", port: 0) { channel in
                if tls {
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    }.flatMap {
                        channel.configureAsyncSPDYHTTPServerPipeline(.alpn)
                    }
                }
                return channel.configureAsyncSPDYHTTPServerPipeline(.firstBytes())
            }
        let port = server.channel.localAddress!.port!
        let serving = Task {
            try await withThrowingDiscardingTaskGroup { connections in
                try await server.executeThenClose { inbound in
                    for try await negotiated in inbound {
                        connections.addTask {
                            switch try await negotiated.get() {
                            case .http1(let connection):
                                try await serve(connection)
                            case .spdy(_, let multiplexer):
                                try await withThrowingDiscardingTaskGroup { streams in
                                    for try await stream in multiplexer.inbound {
                                        streams.addTask { try await serve(stream) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }

        let http = try await HTTP1TestClient.connect(port: port, group: group, alpn: tls ? ["http/1.1"] : nil)
        http.send(.GET, "/a")
        http.send(.GET, "/b")
        let scheme = tls ? "https" : "http"
        #expect(try await http.response().text == "hello GET /a \(scheme)://127.0.0.1")
        #expect(try await http.response().text == "hello GET /b \(scheme)://127.0.0.1")
        await http.close()

        let client = try SPDYClient(configuration: .init(plainVersion: .v3_1, verifyCertificates: false))
        let connection = try await client.connect(host: "127.0.0.1", port: port, tls: tls)
        async let first = get(connection, "/x")
        async let second = get(connection, "/y")
        #expect(try await first == (200, "hello GET /x http://127.0.0.1"))
        #expect(try await second == (200, "hello GET /y http://127.0.0.1"))
        try await client.shutdown()

        try await server.channel.close()
        _ = try? await serving.value
        try await group.shutdownGracefully()
    }

    @Test("A TLS client that never finishes its handshake is closed at the negotiation timeout")
    func alpnTimeout() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let context = try Self.tlsContext()
        var configuration = SPDYServerPipelineConfiguration()
        configuration.negotiationTimeout = .milliseconds(500)
        let results = AsyncStream.makeStream(of: Result<Void, any Error>.self)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { [configuration] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                }.flatMap {
                    channel.configureAsyncSPDYHTTPServerPipeline(.alpn, configuration: configuration)
                }.map { negotiated in
                    negotiated.whenComplete { results.continuation.yield($0.map { _ in }) }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let clock = ContinuousClock()
        let start = clock.now
        let (silent, _) = try await rawConnect(port: server.localAddress!.port!, group: group, decoding: nil)
        #expect(await closes(silent, within: .seconds(5)))
        #expect(clock.now - start >= .milliseconds(400))
        var iterator = results.stream.makeAsyncIterator()
        let result = await iterator.next()
        #expect(throws: SPDYServerNegotiationError.timedOut) { try result?.get() }
        try await server.close()
        try await group.shutdownGracefully()
    }
}
