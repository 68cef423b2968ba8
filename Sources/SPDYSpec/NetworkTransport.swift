import NIOCore
import NIOPosix
import NIOSPDY
import NIOSPDYOpenSSL
import NIOSSL
import NIOTLS
import SPDY

/// How spdyspec reaches a server.
public struct SpecTarget: Sendable {
    /// How the connection is secured and the version agreed.
    public enum Security: Sendable, Hashable {
        /// Plain TCP: the version is the one asked for, without negotiation.
        case none
        /// TLS with ALPN offering only the version under test.
        case alpn
        /// TLS with NPN (the system OpenSSL), offering only the version under test.
        case npn
    }

    /// The server's host name or address.
    public var host: String
    /// The server's port.
    public var port: Int
    /// Plain TCP, or TLS with ALPN or NPN.
    public var security: Security
    /// Accept any certificate (`-k`).
    public var insecure: Bool

    /// A server at `host`:`port`, reached as `security` says.
    public init(host: String, port: Int, security: Security, insecure: Bool) {
        self.host = host
        self.port = port
        self.security = security
        self.insecure = insecure
    }
}

/// A TCP (or TLS) connection to a real server, raw bytes both ways.
final class NetworkTransport: SpecTransport {
    private let channel: any Channel
    private let received: ReceivedBytes

    private init(channel: any Channel, received: ReceivedBytes) {
        self.channel = channel
        self.received = received
    }

    /// Connects to `target`, negotiating `version` when TLS is used (anything else fails).
    static func connect(
        to target: SpecTarget,
        version: SPDYVersion,
        timeout: TimeAmount,
        group: any EventLoopGroup
    ) async throws -> NetworkTransport {
        let received = ReceivedBytes()
        let tlsContext: (any SPDYTLS.ClientContext)?
        var configuration = SPDYClient.Configuration(versions: [version], verifyCertificates: !target.insecure)
        switch target.security {
        case .none:
            tlsContext = nil
        case .alpn:
            tlsContext = try ALPNClientContext(
                context: NIOSSLContext(
                    configuration: SPDYTLS.clientConfiguration(
                        versions: [version], verifyCertificates: !target.insecure)))
        case .npn:
            configuration.tlsProvider = .openSSL(.npnOnly)
            tlsContext = try SPDYOpenSSL.ClientTLS(negotiation: .npnOnly).makeClientContext(
                configuration: configuration)
        }
        let negotiated = group.next().makePromise(of: String?.self)
        let channel: Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tlsContext {
                            try tlsContext.addHandlers(
                                to: channel,
                                for: .init(serverName: target.host, connectionNumber: 1))
                        }
                        try channel.pipeline.syncOperations.addHandler(
                            ByteCollector(received: received, negotiated: tlsContext == nil ? nil : negotiated))
                    }
                }
                .connect(host: target.host, port: target.port).get()
        } catch {
            // The promise must not outlive the attempt unfulfilled.
            negotiated.fail(error)
            throw error
        }
        if tlsContext == nil {
            negotiated.succeed(nil)
        } else {
            // Closing ends the wait: the collector then fails the negotiation.
            let timer = channel.eventLoop.scheduleTask(in: timeout) {
                channel.close(promise: nil)
            }
            defer { timer.cancel() }
            let name = try await negotiated.futureResult.get()
            guard name == version.protocolName else {
                try? await channel.close()
                throw SpecSetupError(
                    "the server negotiated \(name.map { "'\($0)'" } ?? "no protocol") instead of \(version.protocolName)"
                )
            }
        }
        return NetworkTransport(channel: channel, received: received)
    }

    func write(_ bytes: ByteBuffer) async throws {
        try await channel.writeAndFlush(bytes)
    }

    func take() -> (bytes: ByteBuffer, closed: Bool) {
        received.take()
    }

    func setReading(_ reading: Bool) async {
        try? await channel.setOption(ChannelOptions.autoRead, value: reading).get()
    }

    func close() async {
        try? await channel.close()
    }
}

/// Why a connection for a case could not be made; the case is then reported as failed with it.
public struct SpecSetupError: Error, CustomStringConvertible, Sendable {
    /// What went wrong (the connection refused, the TLS handshake, another version chosen…).
    public var description: String
    /// A setup error saying `description`.
    public init(_ description: String) { self.description = description }
}

/// ALPN on swift-nio-ssl for a raw connection.
private struct ALPNClientContext: SPDYTLS.ClientContext {
    let context: NIOSSLContext

    func addHandlers(to channel: any Channel, for attempt: SPDYTLS.ConnectionAttempt) throws {
        let isAddress = (try? SocketAddress(ipAddress: attempt.serverName, port: 0)) != nil
        try channel.pipeline.syncOperations.addHandler(
            NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : attempt.serverName))
    }
}

/// Keeps what the server sends for the case to read, and reports the negotiated protocol.
private final class ByteCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let received: ReceivedBytes
    let negotiated: EventLoopPromise<String?>?
    /// Whether `negotiated` was completed (a promise is completed once).
    private var settled = false

    init(received: ReceivedBytes, negotiated: EventLoopPromise<String?>?) {
        self.received = received
        self.negotiated = negotiated
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received.append(unwrapInboundIn(data))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted(let name) = tls {
            settle(.success(name))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        settle(.failure(error))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        received.markClosed()
        settle(.failure(SpecSetupError("the connection closed during the TLS handshake")))
        context.fireChannelInactive()
    }

    private func settle(_ result: Result<String?, any Error>) {
        guard let negotiated, !settled else { return }
        settled = true
        negotiated.completeWith(result)
    }
}

extension SpecTarget {
    /// A fresh connection to the target for one case.
    public static func connect(to target: SpecTarget, version: SPDYVersion) async throws -> any SpecTransport {
        try await NetworkTransport.connect(
            to: target, version: version, timeout: .seconds(5), group: MultiThreadedEventLoopGroup.singleton)
    }
}
