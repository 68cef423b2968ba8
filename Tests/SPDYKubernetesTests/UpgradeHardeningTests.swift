import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSPDY
import NIOSSL
import NIOTLS
import SPDYKubernetes
import SPDYUpgrade
import Testing

@Suite("The HTTP/1.1 upgrade under hostile input, and the client's TLS and credentials")
struct UpgradeHardeningTests {
    /// Sends `bytes`, then reads until the server closes (or `timeout` seconds pass);
    /// returns what came back and whether the server closed.
    static func exchange(_ bytes: [UInt8], port: Int, timeout: Double) async throws -> (String, closed: Bool) {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: bytes))
            let received = NIOLockedValueBox("")
            let closed = try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    for try await chunk in inbound { received.withLockedValue { $0 += String(buffer: chunk) } }
                    return true
                }
                group.addTask {
                    try await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
                    return false
                }
                let first = try await group.next()!
                group.cancelAll()
                return first
            }
            return (received.withLockedValue { $0 }, closed)
        }
    }

    static func startServer(requestTimeout: TimeAmount) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureSPDYUpgradeServer(
                        route: { _ in RemoteCommandServer.supportedProtocols }, requestTimeout: requestTimeout
                    ) { channel, head, chosen in
                        try RemoteCommandServer.start(on: channel, request: head, streamProtocol: chosen) { _ in
                            .success
                        }
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    @Test("A request head over the decoder's limit gets 400 and the connection's close, not silence")
    func oversizedHead() async throws {
        let server = try await Self.startServer(requestTimeout: .seconds(30))
        var bytes = Array("POST /api/v1/namespaces/default/pods/demo/exec HTTP/1.1\r\nHost: x\r\nX-Big: ".utf8)
        bytes += [UInt8](repeating: UInt8(ascii: "a"), count: 200_000)
        let (answer, closed) = try await Self.exchange(bytes, port: server.localAddress!.port!, timeout: 10)
        #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request"), "\(answer.prefix(100))")
        #expect(closed)
        try await server.close()
    }

    @Test("Half a request head: the connection is closed after the request timeout, without an answer")
    func truncatedHead() async throws {
        let server = try await Self.startServer(requestTimeout: .seconds(1))
        let start = ContinuousClock.now
        do {
            let (answer, closed) = try await Self.exchange(
                Array("POST /api/v1/namespaces/default/pods/demo/exec HTTP/1.1\r\nConnection: Upg".utf8),
                port: server.localAddress!.port!, timeout: 20)
            #expect(closed)
            #expect(answer.isEmpty)
        } catch ChannelError.ioOnClosedChannel {
            // On a loaded machine the timeout may close the connection before the client wrote.
        }
        #expect(ContinuousClock.now - start < .seconds(15))
        try await server.close()
    }

    @Test("Garbage instead of HTTP: 400 and close")
    func garbage() async throws {
        let server = try await Self.startServer(requestTimeout: .seconds(30))
        let (answer, closed) = try await Self.exchange(
            [0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0a] + Array("\r\n\r\n".utf8),
            port: server.localAddress!.port!, timeout: 10)
        #expect(answer.hasPrefix("HTTP/1.1 400"), "\(answer.prefix(100))")
        #expect(closed)
        try await server.close()
    }

    @Test("Over TLS: ALPN offers http/1.1 alone, the client certificate and the bearer token reach the server")
    func tlsCredentials() async throws {
        let serverIdentity = try SPDYTLS.Identity.selfSigned(commonName: "localhost")
        let clientIdentity = try SPDYTLS.Identity.selfSigned(commonName: "kube-admin")
        var serverTLS = TLSConfiguration.makeServerConfiguration(
            certificateChain: serverIdentity.certificateChain.map { .certificate($0) },
            privateKey: .privateKey(serverIdentity.privateKey))
        // A server that would pick h2 if it were offered.
        serverTLS.applicationProtocols = ["h2", "http/1.1"]
        serverTLS.certificateVerification = .noHostnameVerification
        serverTLS.trustRoots = .certificates(clientIdentity.certificateChain)
        let serverContext = try NIOSSLContext(configuration: serverTLS)
        let seen = NIOLockedValueBox<(alpn: String?, authorization: String?, peerCertificate: Bool)>((nil, nil, false))

        final class ALPNRecorder: ChannelInboundHandler, Sendable {
            typealias InboundIn = NIOAny
            let seen: NIOLockedValueBox<(alpn: String?, authorization: String?, peerCertificate: Bool)>
            init(_ seen: NIOLockedValueBox<(alpn: String?, authorization: String?, peerCertificate: Bool)>) {
                self.seen = seen
            }
            func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
                if case TLSUserEvent.handshakeCompleted(let negotiated) = event {
                    seen.withLockedValue { $0.alpn = negotiated }
                }
                context.fireUserInboundEventTriggered(event)
            }
        }

        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tls = NIOSSLServerHandler(context: serverContext)
                    try channel.pipeline.syncOperations.addHandler(tls)
                    try channel.pipeline.syncOperations.addHandler(ALPNRecorder(seen))
                    try channel.pipeline.syncOperations.configureSPDYUpgradeServer(
                        supportedProtocols: RemoteCommandServer.supportedProtocols
                    ) { channel, head, chosen in
                        seen.withLockedValue { $0.authorization = head.headers.first(name: "Authorization") }
                        tls.peerCertificate.map { _ in seen.withLockedValue { $0.peerCertificate = true } }
                        try RemoteCommandServer.start(on: channel, request: head, streamProtocol: chosen) { context in
                            try await context.stdout?.write("over tls\n")
                            return .success
                        }
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()

        var clientTLS = TLSConfiguration.makeClientConfiguration()
        clientTLS.trustRoots = .certificates(serverIdentity.certificateChain)
        clientTLS.certificateChain = clientIdentity.certificateChain.map { .certificate($0) }
        clientTLS.privateKey = .privateKey(clientIdentity.privateKey)
        clientTLS.applicationProtocols = ["h2", "http/1.1"]  // replaced by http/1.1 alone
        let endpoint = KubernetesEndpoint(
            host: "127.0.0.1", port: server.localAddress!.port!, tls: clientTLS, serverHostname: "localhost",
            bearerToken: "secret-token")
        let result = try await RemoteCommandClient.run(
            endpoint, namespace: "default", pod: "demo", options: .init(command: ["echo"]))
        #expect(String(buffer: result.stdout) == "over tls\n")
        let observed = seen.withLockedValue { $0 }
        #expect(observed.alpn == "http/1.1")
        #expect(observed.authorization == "Bearer secret-token")
        #expect(observed.peerCertificate)
        try await server.close()
    }
}
