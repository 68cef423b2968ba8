import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import NIOSSL
import SPDY
import SPDYTestSupport
import Testing

/// The client options spdycat needs: a client certificate, an SNI name, a hook when a
/// connection is established, and the TLS error of a failed handshake.
@Suite("Client connect options")
struct ClientConnectOptionsTests {
    static let serverIdentity = try! SPDYTLS.Identity.selfSigned(commonName: "spdy.example")

    @Test("establishedObserver runs once per connection before the first frame, with the ALPN protocol")
    func establishedObserver() async throws {
        for tls in [true, false] {
            let transport: SPDYServer.Transport =
                tls ? .tls(Self.serverIdentity, versions: [.v3]) : .plain(.v3_1)
            let server = try SPDYServer(
                configuration: .init(host: "127.0.0.1", port: 0, transport: transport, threads: 1)
            ) { _ in .text("ok") }
            try server.start()
            let log = NIOLockedValueBox<[String]>([])
            var configuration = SPDYClient.Configuration(plainVersion: .v3_1, verifyCertificates: false)
            configuration.establishedObserver = { number, version, alpn in
                log.withLockedValue { $0.append("established \(number) \(version.protocolName) \(alpn ?? "-")") }
            }
            configuration.frameObserver = { _, event in
                if case .controlSent(let frame, _) = event {
                    log.withLockedValue { $0.append("sent \(frame.type.map { "\($0)" } ?? "?")") }
                }
            }
            let client = try SPDYClient(configuration: configuration)
            let connection = try await client.connect(host: "127.0.0.1", port: server.port!, tls: tls)
            let response = try await connection.request(SPDYClientRequest(path: "/", authority: "x"))
            #expect(String(buffer: try await response.collectBody()) == "ok")
            let lines = log.withLockedValue { $0 }
            #expect(lines.first == (tls ? "established 1 spdy/3 spdy/3" : "established 1 spdy/3.1 -"))
            #expect(lines.filter { $0.hasPrefix("established") }.count == 1)
            #expect(lines.dropFirst().first == "sent SETTINGS")
            try await client.shutdown()
            try await server.shutdownGracefully(timeout: .seconds(1))
        }
    }

    @Test(
        "A SPDY/3.1 client opens its session window to its streams' windows together, or as configured",
        arguments: [(nil, nil, 100 * 65_536), (UInt32(1 << 20), nil, 100 << 20), (nil, UInt32(65_536), 65_536)]
            as [(UInt32?, UInt32?, Int)])
    func sessionWindow(streamWindow: UInt32?, sessionWindow: UInt32?, expected: Int) async throws {
        let server = try SPDYServer(
            configuration: .init(host: "127.0.0.1", port: 0, transport: .plain(.v3_1), threads: 1)
        ) { _ in .text("ok") }
        try server.start()
        let updates = NIOLockedValueBox<[Int]>([])
        var configuration = SPDYClient.Configuration(plainVersion: .v3_1, initialWindowSize: streamWindow)
        configuration.sessionWindowSize = sessionWindow
        configuration.frameObserver = { _, event in
            if case .controlSent(.windowUpdate(let update), _) = event, update.streamID == .zero {
                updates.withLockedValue { $0.append(Int(update.deltaWindowSize)) }
            }
        }
        let client = try SPDYClient(configuration: configuration)
        let connection = try await client.connect(host: "127.0.0.1", port: server.port!, tls: false)
        let response = try await connection.request(SPDYClientRequest(path: "/", authority: "x"))
        #expect(String(buffer: try await response.collectBody()) == "ok")
        // The first update (later ones give back what arrived) raises the window from 64 KiB.
        let first = updates.withLockedValue { $0.first }
        #expect(first.map { $0 + 65_536 } == (expected > 65_536 ? expected : nil))
        try await client.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(1))
    }

    @Test("A certificate that does not verify fails the connect with the TLS error itself")
    func handshakeError() async throws {
        let server = try SPDYServer(
            configuration: .init(
                host: "127.0.0.1", port: 0, transport: .tls(Self.serverIdentity, versions: [.v3_1]), threads: 1)
        ) { _ in .text("ok") }
        try server.start()
        let client = try SPDYClient(configuration: .init(verifyCertificates: true))
        do {
            _ = try await client.connect(host: "127.0.0.1", port: server.port!)
            Issue.record("connected to a server whose certificate does not verify")
        } catch {
            #expect(error is NIOSSLError, "\(error)")
            #expect("\(error)".contains("CERTIFICATE_VERIFY_FAILED"))
        }
        try await client.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(1))
    }

    @Test("serverName is sent by SNI instead of the host")
    func serverName() async throws {
        let names = NIOLockedValueBox<[String?]>([])
        var tls = SPDYTLS.serverConfiguration(identity: Self.serverIdentity, versions: [.v3_1])
        tls.sslContextCallback = { values, promise in
            names.withLockedValue { $0.append(values.serverHostname) }
            promise.succeed(NIOSSLContextConfigurationOverride())
        }
        let (listener, group) = try await Self.rawTLSServer(tls) { NIOSSLServerHandler(context: $0) }
        let client = try SPDYClient(configuration: .init(trustRoots: Self.serverIdentity.certificateChain))
        let port = listener.localAddress!.port!
        let named = try await client.connect(host: "127.0.0.1", port: port, serverName: "spdy.example")
        #expect(named.version == .v3_1)
        named.channel.close(promise: nil)
        let plain = try await client.connect(host: "127.0.0.1", port: port)
        plain.channel.close(promise: nil)
        // An address is never sent by SNI.
        #expect(names.withLockedValue { $0 } == ["spdy.example", nil])
        try await client.shutdown()
        try await listener.close()
        try await group.shutdownGracefully()
    }

    /// A TLS server that only does the handshake (and ALPN): what the client needs to connect.
    static func rawTLSServer(
        _ tls: TLSConfiguration,
        handler: @escaping @Sendable (NIOSSLContext) -> NIOSSLServerHandler
    ) async throws -> (any Channel, MultiThreadedEventLoopGroup) {
        let context = try NIOSSLContext(configuration: tls)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listener = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(handler(context))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return (listener, group)
    }

    @Test("clientIdentity is presented to a server that asks for a client certificate")
    func clientCertificate() async throws {
        let clientIdentity = try SPDYTLS.Identity.selfSigned(commonName: "client.example")
        let presented = NIOLockedValueBox<[NIOSSLCertificate]>([])
        var tls = SPDYTLS.serverConfiguration(identity: Self.serverIdentity, versions: [.v3_1])
        tls.certificateVerification = .noHostnameVerification
        let (listener, group) = try await Self.rawTLSServer(tls) { context in
            NIOSSLServerHandler(context: context) { chain, promise in
                presented.withLockedValue { $0 = chain }
                promise.succeed(.certificateVerified)
            }
        }
        let port = listener.localAddress!.port!
        let client = try SPDYClient(configuration: .init(verifyCertificates: false, clientIdentity: clientIdentity))
        let connection = try await client.connect(host: "127.0.0.1", port: port)
        let deadline = Date().addingTimeInterval(5)
        while presented.withLockedValue({ $0.isEmpty }) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(presented.withLockedValue { $0.first } == clientIdentity.certificateChain.first)
        connection.channel.close(promise: nil)
        try await client.shutdown()
        try await listener.close()
        try await group.shutdownGracefully()
    }
}
