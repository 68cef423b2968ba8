import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import NIOSSL
import NIOTLS
import SPDY
import SPDYTestSupport
import Testing

/// TLS 1.2 as the minimum with modern suites on swift-nio-ssl, `minimumTLSVersion` for
/// SPDY-era peers, and the custom TLS provider extension point.
@Suite("TLS defaults and custom TLS providers")
struct TLSDefaultsTests {
    static let identity = try! SPDYTLS.Identity.selfSigned()

    func startServer(_ transport: SPDYServer.Transport) throws -> SPDYServer {
        let server = try SPDYServer(
            configuration: .init(
                host: "127.0.0.1", port: 0, transport: transport, handshakeTimeout: .seconds(5), threads: 1)
        ) { request in .text("hello \(request.path)") }
        try server.start()
        return server
    }

    /// The handshake of a swift-nio-ssl client offering `spdy/3.1` and TLS 1.0 up to
    /// `maximum` (with `cipherSuites` when given) against `port`: the protocol ALPN
    /// selected, or the error that ended it.
    func handshake(port: Int, maximum: TLSVersion, cipherSuites: String? = nil) async throws -> Result<
        String?, any Error
    > {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        tls.applicationProtocols = ["spdy/3.1"]
        tls.minimumTLSVersion = .tlsv1
        tls.maximumTLSVersion = maximum
        if let cipherSuites { tls.cipherSuites = cipherSuites }
        let context = try NIOSSLContext(configuration: tls)
        let outcome = NIOLockedValueBox<EventLoopPromise<String?>?>(nil)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let promise = channel.eventLoop.makePromise(of: String?.self)
                    outcome.withLockedValue { $0 = promise }
                    try channel.pipeline.syncOperations.addHandler(
                        NIOSSLClientHandler(context: context, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(HandshakeOutcome(promise: promise))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let promise = try #require(outcome.withLockedValue { $0 })
        let result: Result<String?, any Error>
        do {
            result = .success(try await promise.futureResult.get())
        } catch {
            result = .failure(error)
        }
        try? await channel.close()
        return result
    }

    @Test(
        "swift-nio-ssl's server refuses TLS 1.0, 1.1 and CBC suites by default; minimumTLSVersion .tlsv1 lets them in")
    func serverMinimum() async throws {
        let strict = try startServer(.tls(Self.identity, versions: [.v3_1]))
        for maximum in [TLSVersion.tlsv1, .tlsv11] {
            let result = try await handshake(port: strict.port!, maximum: maximum)
            #expect(throws: NIOSSLError.self, "\(maximum)") { try result.get() }
        }
        let cbc = try await handshake(
            port: strict.port!, maximum: .tlsv12, cipherSuites: SPDYTLS.legacyCipherSuites.joined(separator: ":"))
        #expect(throws: NIOSSLError.self) { try cbc.get() }
        #expect(try await handshake(port: strict.port!, maximum: .tlsv12).get() == "spdy/3.1")
        try await strict.shutdownGracefully(timeout: .seconds(5))

        let legacy = try startServer(.tls(Self.identity, versions: [.v3_1], minimumTLSVersion: .tlsv1))
        for maximum in [TLSVersion.tlsv1, .tlsv11, .tlsv13] {
            #expect(try await handshake(port: legacy.port!, maximum: maximum).get() == "spdy/3.1", "\(maximum)")
        }
        try await legacy.shutdownGracefully(timeout: .seconds(5))
    }

    @Test("SPDYClient refuses a TLS 1.1 server by default; minimumTLSVersion .tlsv11 connects (a .custom server)")
    func clientMinimum() async throws {
        var tls = SPDYTLS.serverConfiguration(identity: Self.identity, versions: [.v3_1], minimumTLSVersion: .tlsv1)
        tls.maximumTLSVersion = .tlsv11
        let server = try startServer(.custom(NIOSSLServerTLS(configuration: tls)))
        let strict = try SPDYClient(configuration: .init(verifyCertificates: false))
        await #expect(throws: NIOSSLError.self) {
            _ = try await strict.connect(host: "127.0.0.1", port: server.port!)
        }
        try await strict.shutdown()
        let lenient = try SPDYClient(configuration: .init(verifyCertificates: false, minimumTLSVersion: .tlsv11))
        let connection = try await lenient.connect(host: "127.0.0.1", port: server.port!)
        let response = try await connection.request(SPDYClientRequest(path: "/old", authority: "127.0.0.1"))
        #expect(String(buffer: try await response.collectBody()) == "hello /old")
        try await lenient.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }

    @Test("NoProtocolAtTLS13 from a client provider: connect tries once more, held to TLS 1.2, same number")
    func retryAtTLS12() async throws {
        let server = try startServer(.tls(Self.identity, versions: [.v3_1]))
        let provider = RetryingClientTLS()
        let client = try SPDYClient(configuration: .init(verifyCertificates: false, tlsProvider: provider))
        for number in 1...2 {
            let connection = try await client.connect(host: "127.0.0.1", port: server.port!)
            let response = try await connection.request(SPDYClientRequest(path: "/retried", authority: "127.0.0.1"))
            #expect(String(buffer: try await response.collectBody()) == "hello /retried")
            #expect(
                provider.attempts.withLockedValue { $0.suffix(2) } == [
                    SPDYTLS.ConnectionAttempt(serverName: "127.0.0.1", connectionNumber: number),
                    SPDYTLS.ConnectionAttempt(
                        serverName: "127.0.0.1", connectionNumber: number, maximumTLSVersion: .tlsv12),
                ])
            try await connection.channel.close()
        }
        try await client.shutdown()

        // A second NoProtocolAtTLS13 is not retried.
        let stubborn = RetryingClientTLS(failEveryAttempt: true)
        let failing = try SPDYClient(configuration: .init(verifyCertificates: false, tlsProvider: stubborn))
        await #expect(throws: SPDYTLS.NoProtocolAtTLS13()) {
            _ = try await failing.connect(host: "127.0.0.1", port: server.port!)
        }
        #expect(stubborn.attempts.withLockedValue { $0.map(\.maximumTLSVersion) } == [nil, .tlsv12])
        try await failing.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }
}

/// Completes `promise` with the protocol of `TLSUserEvent.handshakeCompleted`, or fails it
/// with the error or close that came first.
private final class HandshakeOutcome: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let promise: EventLoopPromise<String?>

    init(promise: EventLoopPromise<String?>) {
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let negotiated) = event as? TLSUserEvent {
            promise.succeed(negotiated)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }
}

/// swift-nio-ssl with a configuration of the test's choice, as a custom server provider.
private struct NIOSSLServerTLS: SPDYTLS.ServerProvider, SPDYTLS.ServerContext {
    let configuration: TLSConfiguration
    var context: NIOSSLContext?

    init(configuration: TLSConfiguration) {
        self.configuration = configuration
    }

    func makeServerContext() throws -> any SPDYTLS.ServerContext {
        var made = self
        made.context = try NIOSSLContext(configuration: configuration)
        return made
    }

    func addHandlers(to channel: any Channel) throws {
        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context!))
    }
}

/// A client provider that answers each first attempt with ``SPDYTLS/NoProtocolAtTLS13`` (and,
/// with `failEveryAttempt`, the second too) and does swift-nio-ssl, at most TLS 1.2,
/// otherwise; it records the attempts.
private struct RetryingClientTLS: SPDYTLS.ClientProvider {
    let attempts = NIOLockedValueBox<[SPDYTLS.ConnectionAttempt]>([])
    var failEveryAttempt = false

    func makeClientContext(configuration: SPDYClient.Configuration) throws -> any SPDYTLS.ClientContext {
        var tls = SPDYTLS.clientConfiguration(versions: configuration.versions, verifyCertificates: false)
        tls.maximumTLSVersion = .tlsv12
        return Context(provider: self, ssl: try NIOSSLContext(configuration: tls))
    }

    struct Context: SPDYTLS.ClientContext {
        let provider: RetryingClientTLS
        let ssl: NIOSSLContext

        func addHandlers(to channel: any Channel, for attempt: SPDYTLS.ConnectionAttempt) throws {
            provider.attempts.withLockedValue { $0.append(attempt) }
            if attempt.maximumTLSVersion == nil || provider.failEveryAttempt {
                try channel.pipeline.syncOperations.addHandler(NoProtocolAtTLS13Handler())
            } else {
                try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: ssl, serverHostname: nil))
            }
        }
    }
}

/// Reports ``SPDYTLS/NoProtocolAtTLS13`` as soon as the connection is up, and closes it.
private final class NoProtocolAtTLS13Handler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        context.fireErrorCaught(SPDYTLS.NoProtocolAtTLS13())
        context.close(promise: nil)
    }
}
