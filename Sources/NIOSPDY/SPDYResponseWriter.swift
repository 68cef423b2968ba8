import DequeModule
import NIOCore
import SPDY

/// The body of a response being sent on one stream (the reference's `wfile`).
///
/// Bytes written are queued and handed to the session's DATA frames as flow
/// control allows, without copying. ``write(_:)`` returns a future that
/// succeeds once the queued bytes have fallen below ``lowWatermark`` again, so
/// a handler streaming a large or slow body can wait on it instead of piling the
/// whole body up in memory. Methods may be called from any thread; work hops to
/// the connection's event loop.
public final class SPDYResponseWriter: @unchecked Sendable {
    /// Queued bytes above which ``write(_:)`` futures wait.
    public let lowWatermark: Int

    let eventLoop: any EventLoop
    let streamID: SPDYStreamID
    private weak var connection: SPDYConnection?
    private var pending = Deque<ByteBuffer>()
    private var pendingBytes = 0
    private var finished = false
    private var closed = false
    private var waiters: [EventLoopPromise<Void>] = []
    /// Whether the session has been handed a data provider for this writer.
    var attached = false

    init(connection: SPDYConnection, eventLoop: any EventLoop, streamID: SPDYStreamID, lowWatermark: Int = 256 * 1024) {
        self.connection = connection
        self.eventLoop = eventLoop
        self.streamID = streamID
        self.lowWatermark = lowWatermark
    }

    /// The number of bytes written but not yet handed to the session.
    public var bufferedBytes: Int {
        eventLoop.preconditionInEventLoop()
        return pendingBytes
    }

    /// Queues bytes of the body.
    ///
    /// - Returns: a future that succeeds when the queue is below ``lowWatermark`` (at once
    ///   if it already is), or fails when the stream closed before the bytes could be sent.
    @discardableResult
    public func write(_ bytes: ByteBuffer) -> EventLoopFuture<Void> {
        guard eventLoop.inEventLoop else {
            return eventLoop.flatSubmit { self.write(bytes) }
        }
        guard !closed else { return eventLoop.makeFailedFuture(SPDYError(.streamClosed)) }
        guard !finished else { return eventLoop.makeFailedFuture(SPDYError(.streamShutWR, "the body is finished")) }
        if bytes.readableBytes > 0 {
            pending.append(bytes)
            pendingBytes += bytes.readableBytes
            wake()
        }
        if pendingBytes <= lowWatermark {
            return eventLoop.makeSucceededVoidFuture()
        }
        let promise = eventLoop.makePromise(of: Void.self)
        waiters.append(promise)
        return promise.futureResult
    }

    /// Queues the UTF-8 bytes of a string.
    @discardableResult
    public func write(_ string: String) -> EventLoopFuture<Void> {
        write(ByteBuffer(string: string))
    }

    /// Queues the last bytes of the body and ends it in one step, so that FIN rides on the
    /// DATA frame carrying them (``write(_:)`` then ``finish()`` may send them first and FIN
    /// in an empty frame after).
    ///
    /// - Returns: as ``write(_:)``.
    @discardableResult
    public func finish(with bytes: ByteBuffer) -> EventLoopFuture<Void> {
        guard eventLoop.inEventLoop else {
            return eventLoop.flatSubmit { self.finish(with: bytes) }
        }
        guard !closed else { return eventLoop.makeFailedFuture(SPDYError(.streamClosed)) }
        guard !finished else { return eventLoop.makeFailedFuture(SPDYError(.streamShutWR, "the body is finished")) }
        if bytes.readableBytes > 0 {
            pending.append(bytes)
            pendingBytes += bytes.readableBytes
        }
        finished = true
        wake()
        return eventLoop.makeSucceededVoidFuture()
    }

    /// Ends the body: the last DATA frame carries FIN once the queue is sent.
    public func finish() {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { self.finish() }
            return
        }
        guard !finished, !closed else { return }
        finished = true
        wake()
    }

    /// Whether ``finish()`` was called.
    public var isFinished: Bool {
        eventLoop.preconditionInEventLoop()
        return finished
    }

    /// The stream closed (reset or done): drop what is queued and fail waiting writers.
    func streamClosed() {
        closed = true
        pending.removeAll()
        pendingBytes = 0
        let waiting = waiters
        waiters = []
        for promise in waiting { promise.fail(SPDYError(.streamClosed)) }
    }

    private func wake() {
        guard attached, !closed, let connection else { return }
        connection.session.resumeData(streamID: streamID)
        connection.flush()
    }

    /// The data provider the session reads the body from.
    var dataProvider: SPDYDataProvider {
        SPDYDataProvider(source: self) { [self] _, _, length in
            guard !pending.isEmpty else {
                return finished ? .data(ByteBuffer(), endOfData: true) : .deferred
            }
            var out = pending.removeFirst()
            if out.readableBytes > length {
                let head = out.readSlice(length: length)!
                pending.prepend(out)
                out = head
            }
            pendingBytes -= out.readableBytes
            if pendingBytes <= lowWatermark && !waiters.isEmpty {
                let waiting = waiters
                waiters = []
                for promise in waiting { promise.succeed(()) }
            }
            return .data(out, endOfData: finished && pending.isEmpty)
        }
    }
}
