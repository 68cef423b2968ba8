import NIOCore
import NIOHTTP1

/// What a backend connection tells the exchange that is using it. All calls come on the
/// shared event loop.
protocol BackendConnectionDelegate: AnyObject {
    /// Whether the backend may be read from: the client side can take more.
    var backendMayRead: Bool { get }
    /// A response part arrived.
    func backendReceived(_ part: HTTPClientResponsePart)
    /// The end of a read batch: time to flush towards the client.
    func backendReadComplete()
    /// The backend connection's writability changed.
    func backendWritabilityChanged(isWritable: Bool)
    /// The connection failed or closed while the exchange was using it.
    func backendFailed(_ error: (any Error)?)
}

/// One keep-alive HTTP/1.1 connection to a backend, and the last handler of its pipeline
/// (after NIOHTTP1's client handlers). An exchange borrows it from the ``BackendPool``,
/// becomes its delegate, and gives it back when the response is complete.
///
/// Reads follow the client: a `read()` waits while the delegate says the client side
/// cannot take more (``BackendConnectionDelegate/backendMayRead``), so a slow client stops
/// the backend's TCP window instead of growing a buffer.
///
/// Used only on its channel's event loop (futures carry it between callbacks there).
final class BackendConnection: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    let backend: SPDYProxyConfiguration.Backend
    /// The channel, set when the connection is established.
    private(set) var channel: (any Channel)?
    private var context: ChannelHandlerContext?
    weak var delegate: (any BackendConnectionDelegate)?
    /// Whether this connection served an exchange before (a stale keep-alive connection may
    /// fail a request that a fresh one would serve).
    var isReused = false
    /// Whether it sits idle in the pool.
    var isIdle = false
    /// The idle timer while it sits in the pool.
    var idleTimer: Scheduled<Void>?
    /// Called once when the channel closes (the pool forgets the connection).
    var onClose: ((BackendConnection) -> Void)?
    private var pendingRead = false
    private var closed = false

    init(backend: SPDYProxyConfiguration.Backend) {
        self.backend = backend
    }

    var isActive: Bool { !closed && (channel?.isActive ?? false) }
    var isWritable: Bool { channel?.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.channel = context.channel
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard let delegate else {
            // An idle keep-alive connection has nothing to say; anything it says means it is
            // out of step.
            context.close(promise: nil)
            return
        }
        delegate.backendReceived(part)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.backendReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.backendWritabilityChanged(isWritable: context.channel.isWritable)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let delegate = self.delegate
        self.delegate = nil
        delegate?.backendFailed(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        idleTimer?.cancel()
        idleTimer = nil
        let delegate = self.delegate
        self.delegate = nil
        delegate?.backendFailed(nil)
        onClose?(self)
        onClose = nil
    }

    func read(context: ChannelHandlerContext) {
        if let delegate, !delegate.backendMayRead {
            pendingRead = true
        } else {
            context.read()
        }
    }

    /// Issues a read that was held while the client could take no more.
    func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    /// Writes a request part (flushed by ``flush()``).
    func write(_ part: HTTPClientRequestPart, promise: EventLoopPromise<Void>? = nil) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(wrapOutboundOut(part), promise: promise)
    }

    /// Flushes the request parts written.
    func flush() {
        context?.flush()
    }

    /// Closes the connection (an exchange that cannot give it back whole).
    func close() {
        delegate = nil
        guard !closed else { return }
        closed = true
        channel?.close(promise: nil)
    }
}
