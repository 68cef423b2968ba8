import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP relay on 127.0.0.1 in front of a server that breaks its first connection in a
/// chosen way, and passes every later one through untouched: a network fault that a test can
/// place exactly (after so many bytes), for clients that must survive it.
public final class FaultyRelay: Sendable {
    /// What happens to the first connection.
    public enum Fault: Sendable {
        /// Both sides are reset (RST) once the server has sent this many bytes.
        case resetAfterServerBytes(Int)
        /// Both sides are reset once the client has sent this many bytes.
        case resetAfterClientBytes(Int)
        /// Once the server has sent this many bytes, nothing more passes either way and the
        /// sockets stay open: a link that went silent.
        case silenceAfterServerBytes(Int)
    }

    /// The port clients connect to.
    public let port: Int
    private let channel: any Channel
    private let connections = NIOLockedValueBox(0)

    /// Starts a relay to `127.0.0.1:targetPort` on `group`.
    public init(targetPort: Int, fault: Fault, group: any EventLoopGroup) async throws {
        let counter = connections
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { inbound in
                let number = counter.withLockedValue { count in
                    count += 1
                    return count
                }
                let link = RelayLink(inbound: inbound, fault: number == 1 ? fault : nil)
                return ClientBootstrap(group: inbound.eventLoop)
                    .channelInitializer { outbound in
                        outbound.pipeline.addHandler(RelaySide(link: link, fromServer: true))
                    }
                    .connect(host: "127.0.0.1", port: targetPort)
                    .flatMap { outbound in
                        link.outbound = outbound
                        return inbound.pipeline.addHandler(RelaySide(link: link, fromServer: false)).flatMap {
                            inbound.setOption(.autoRead, value: true)
                        }
                    }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        port = channel.localAddress!.port!
    }

    /// Connections accepted so far.
    public var connectionCount: Int { connections.withLockedValue { $0 } }

    /// Stops accepting (relayed connections close with their peers).
    public func stop() async throws {
        try await channel.close()
    }
}

/// Both channels of one relayed connection; confined to their shared event loop.
private final class RelayLink: @unchecked Sendable {
    let inbound: any Channel
    var outbound: (any Channel)?
    let fault: FaultyRelay.Fault?
    var serverBytes = 0
    var clientBytes = 0
    var silent = false

    init(inbound: any Channel, fault: FaultyRelay.Fault?) {
        self.inbound = inbound
        self.fault = fault
    }

    /// Relays `bytes`, unless the fault strikes first.
    func relay(_ bytes: ByteBuffer, fromServer: Bool) {
        guard !silent else { return }
        if fromServer { serverBytes += bytes.readableBytes } else { clientBytes += bytes.readableBytes }
        switch fault {
        case .resetAfterServerBytes(let limit)? where serverBytes >= limit,
            .resetAfterClientBytes(let limit)? where clientBytes >= limit:
            reset()
            return
        case .silenceAfterServerBytes(let limit)? where serverBytes >= limit:
            silent = true
            return
        default:
            break
        }
        let target = fromServer ? inbound : outbound
        target?.writeAndFlush(bytes, promise: nil)
    }

    /// Closes both sides with RST (SO_LINGER 0) rather than FIN.
    func reset() {
        for channel in [inbound, outbound].compactMap({ $0 }) {
            guard let provider = channel as? any SocketOptionProvider else {
                channel.close(promise: nil)
                continue
            }
            provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func closed() {
        // A silent link stays silent: the client must find out by itself.
        guard !silent else { return }
        inbound.close(promise: nil)
        outbound?.close(promise: nil)
    }
}

private final class RelaySide: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    let link: RelayLink
    let fromServer: Bool

    init(link: RelayLink, fromServer: Bool) {
        self.link = link
        self.fromServer = fromServer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        link.relay(unwrapInboundIn(data), fromServer: fromServer)
    }

    func channelInactive(context: ChannelHandlerContext) {
        link.closed()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
