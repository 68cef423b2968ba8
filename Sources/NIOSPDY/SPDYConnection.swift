import NIOCore
import SPDY

/// Drives a ``SPDY/SPDYSession`` over a NIO channel: the channel handler at the
/// end of a SPDY pipeline.
///
/// Bytes read from the channel go to the session; what the session produces is
/// written and flushed. While the channel is not writable the session is told
/// that writing would block, so it stops producing DATA and nothing piles up in
/// memory when the peer reads slowly; it resumes when the channel is writable
/// again. When the session wants neither to read nor to write (after GOAWAY and
/// the last stream, or after a session failure) the connection is closed once
/// everything written has gone out.
///
/// All methods must be called on the channel's event loop.
public final class SPDYConnection: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// The session this connection drives.
    public let session: SPDYSession
    /// Called once the channel is active (and the handler added), before anything is read.
    public var onActive: ((SPDYConnection) -> Void)?
    /// Called once when the connection has closed, with the error that closed it, if any.
    public var onClose: ((SPDYConnection, (any Error)?) -> Void)?
    /// A frame the peer has started sending must be complete within this time; otherwise
    /// the connection gets GOAWAY PROTOCOL_ERROR and is closed at once. This stops a peer
    /// that keeps a connection (and the idle timer) alive by dribbling a control frame, a
    /// header block or a DATA frame a byte at a time. `nil` (the default for a bare
    /// connection) waits forever; ``SPDYServer`` and ``SPDYClient`` set it from their
    /// configurations (30 seconds by default).
    public var frameCompletionTimeout: TimeAmount?
    /// How long the channel may stay unwritable (the peer not reading what we send), and
    /// how long a close may wait for written bytes to go out, before the connection is
    /// closed at once. This stops a peer that asks for data and never reads it from keeping
    /// its connection open forever. `nil` (the default for a bare connection) waits forever;
    /// ``SPDYServer`` and ``SPDYClient`` set it from their configurations (60 seconds by
    /// default).
    public var writeTimeout: TimeAmount?

    private var context: ChannelHandlerContext?
    private var flushing = false
    private var flushAgain = false
    private var pendingFlush = false
    private var closing = false
    private var closed = false
    private var closeError: (any Error)?
    private var activated = false
    private var frameTimer: (frame: Int, task: Scheduled<Void>)?
    private var writeTimer: Scheduled<Void>?

    /// Creates a connection handler for `session`. The session's `send` callback is
    /// replaced by one that writes to the channel.
    public init(session: SPDYSession) {
        self.session = session
        session.callbacks.send = { [unowned self] _, data in self.write(data) }
    }

    /// The channel, once the handler is in a pipeline.
    public var channel: (any Channel)? { context?.channel }

    /// The event loop of the channel.
    public var eventLoop: (any EventLoop)? { context?.eventLoop }

    /// The peer's address.
    public var remoteAddress: SocketAddress? { context?.channel.remoteAddress }

    /// Whether the connection has closed.
    public var isClosed: Bool { closed }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive {
            activate()
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    public func channelActive(context: ChannelHandlerContext) {
        activate()
        context.fireChannelActive()
    }

    private func activate() {
        guard !activated else { return }
        activated = true
        onActive?(self)
        flush()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        do {
            try session.recv(bytes)
        } catch {
            fail(error)
            return
        }
        pendingFlush = true
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        if pendingFlush {
            pendingFlush = false
            flush()
        }
        watchFrameProgress()
        context.fireChannelReadComplete()
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            if !closing {
                writeTimer?.cancel()
                writeTimer = nil
            }
            flush()
        } else {
            startWriteTimer()
        }
        context.fireChannelWritabilityChanged()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        finish(error: closeError)
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .all || idle == .read {
            // Nothing happened for the idle timeout: say goodbye and close.
            if !session.hasSentGoAway {
                session.submitGoAway(status: .ok)
            }
            flush()
            closeAfterPendingWrites()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Starts (or restarts) the frame-completion timer when a new frame is partly received,
    /// stops it at a frame boundary.
    private func watchFrameProgress() {
        guard let timeout = frameCompletionTimeout, let context, !closing else { return }
        let frame = session.receivedFrameInProgress
        guard frame != frameTimer?.frame else { return }
        frameTimer?.task.cancel()
        frameTimer = nil
        guard let frame else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let task = context.eventLoop.scheduleTask(in: timeout) {
            let connection = bound.value
            guard connection.session.receivedFrameInProgress == frame else { return }
            if !connection.session.hasSentGoAway {
                connection.session.failSession(status: .protocolError)
            }
            connection.flush()
            connection.fail(SPDYConnectionTimeout.frameIncomplete)
        }
        frameTimer = (frame, task)
    }

    /// Closes the connection at once if writing stays stuck for ``writeTimeout``.
    private func startWriteTimer() {
        guard let timeout = writeTimeout, let context, writeTimer == nil else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        writeTimer = context.eventLoop.scheduleTask(in: timeout) {
            bound.value.fail(SPDYConnectionTimeout.writeStalled)
        }
    }

    /// The `send` callback: writes while the channel can take more, else reports "would block".
    private func write(_ data: ByteBuffer) -> Int {
        guard let context, !closing, context.channel.isWritable else { return 0 }
        context.write(wrapOutboundOut(data), promise: nil)
        return data.readableBytes
    }

    /// Lets the session send what it has queued, writes it out and closes the connection
    /// when the session is done. Call it after submitting frames from outside a callback.
    public func flush() {
        guard let context, !closed else { return }
        if flushing {
            flushAgain = true
            return
        }
        flushing = true
        defer { flushing = false }
        // Flushing the channel can make it writable again (or run callbacks that submit
        // more), which asks for another round while this one is still running.
        repeat {
            repeat {
                flushAgain = false
                do {
                    try session.send()
                } catch {
                    fail(error)
                    return
                }
            } while flushAgain
            context.flush()
        } while flushAgain
        if !session.wantRead && !session.wantWrite {
            closeAfterPendingWrites()
        }
    }

    /// Sends GOAWAY, lets streams in flight finish, then closes.
    public func shutdownGracefully() {
        if !session.hasSentGoAway {
            session.submitGoAway(status: .ok)
        }
        flush()
    }

    /// Closes the connection once what has been written is out.
    public func closeAfterPendingWrites() {
        guard let context, !closing else { return }
        closing = true
        writeTimer?.cancel()
        writeTimer = nil
        startWriteTimer()
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// Closes the connection at once.
    public func close() {
        guard let context, !closed else { return }
        closing = true
        context.close(promise: nil)
    }

    private func fail(_ error: any Error) {
        if closeError == nil { closeError = error }
        close()
    }

    private func finish(error: (any Error)?) {
        guard !closed else { return }
        closed = true
        closing = true
        frameTimer?.task.cancel()
        frameTimer = nil
        writeTimer?.cancel()
        writeTimer = nil
        onClose?(self, error)
        onClose = nil
        onActive = nil
    }
}

/// Why a ``SPDYConnection`` closed on its own timers: the error passed to
/// ``SPDYConnection/onClose``.
public enum SPDYConnectionTimeout: Error, Sendable, Hashable {
    /// A frame was started and not finished within ``SPDYConnection/frameCompletionTimeout``.
    case frameIncomplete
    /// Nothing could be written for ``SPDYConnection/writeTimeout``.
    case writeStalled
}
