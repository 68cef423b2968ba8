import DequeModule
import NIOCore
import SPDY

/// The body of a response being sent on one stream (the reference's `wfile`).
///
/// Bytes written before the response headers go out wait here; afterwards they go to the
/// stream's ``SPDYStreamChannel``, which hands them to the session's DATA frames as flow
/// control allows (or, for a request that came over HTTP/1.1, to the connection, as the
/// response's body). ``write(_:)-(ByteBuffer)`` returns a future that succeeds at once while the stream
/// channel is writable and otherwise when it becomes writable again (its queue fell below
/// the low watermark), so a handler streaming a large or slow body can wait on it instead of
/// piling the body up in memory. Methods may be called from any thread; work hops to the
/// connection's event loop.
public final class SPDYResponseWriter: @unchecked Sendable {
    /// Bytes held before the headers are sent above which ``write(_:)-(ByteBuffer)`` futures wait (and,
    /// once the headers are out, the stream channel's low watermark applies).
    public let lowWatermark: Int

    /// The event loop of the stream's connection.
    public let eventLoop: any EventLoop
    let streamID: SPDYStreamID
    /// Where the payloads go: the stream channel, or an HTTP/1.1 connection whose pipeline
    /// turns them into the response. Let go of when the stream closes.
    private var channel: (any Channel)?
    private var pending = Deque<ByteBuffer>()
    private var pendingBytes = 0
    private var finished = false
    private var closed = false
    private var waiters: [EventLoopPromise<Void>] = []
    /// Whether the headers went out: bytes now go straight to the channel.
    private(set) var attached = false

    init(channel: any Channel, streamID: SPDYStreamID, lowWatermark: Int = 256 * 1024) {
        self.channel = channel
        self.eventLoop = channel.eventLoop
        self.streamID = streamID
        self.lowWatermark = lowWatermark
    }

    /// The number of bytes written and held here because the response headers have not
    /// gone out yet.
    public var bufferedBytes: Int {
        eventLoop.preconditionInEventLoop()
        return pendingBytes
    }

    /// Queues bytes of the body.
    ///
    /// - Returns: a future that succeeds when more may be written without piling up (at
    ///   once if the stream can take more), or fails when the stream closed before the bytes
    ///   could be sent.
    @discardableResult
    public func write(_ bytes: ByteBuffer) -> EventLoopFuture<Void> {
        guard eventLoop.inEventLoop else {
            return eventLoop.flatSubmit { self.write(bytes) }
        }
        guard !closed else { return eventLoop.makeFailedFuture(SPDYError(.streamClosed)) }
        guard !finished else { return eventLoop.makeFailedFuture(SPDYError(.streamShutWR, "the body is finished")) }
        if bytes.readableBytes > 0 {
            if attached, let channel {
                channel.writeAndFlush(SPDYStreamPayload.data(bytes, fin: false), promise: nil)
            } else {
                pending.append(bytes)
                pendingBytes += bytes.readableBytes
            }
        }
        return readyFuture()
    }

    /// Queues the UTF-8 bytes of a string.
    @discardableResult
    public func write(_ string: String) -> EventLoopFuture<Void> {
        write(ByteBuffer(string: string))
    }

    /// Queues the last bytes of the body and ends it in one step, so that FIN rides on the
    /// DATA frame carrying them (``write(_:)-(ByteBuffer)`` then ``finish()`` may send them first and FIN
    /// in an empty frame after).
    ///
    /// - Returns: as ``write(_:)-(ByteBuffer)``.
    @discardableResult
    public func finish(with bytes: ByteBuffer) -> EventLoopFuture<Void> {
        guard eventLoop.inEventLoop else {
            return eventLoop.flatSubmit { self.finish(with: bytes) }
        }
        guard !closed else { return eventLoop.makeFailedFuture(SPDYError(.streamClosed)) }
        guard !finished else { return eventLoop.makeFailedFuture(SPDYError(.streamShutWR, "the body is finished")) }
        finished = true
        if attached, let channel {
            channel.writeAndFlush(SPDYStreamPayload.data(bytes, fin: true), promise: nil)
        } else if bytes.readableBytes > 0 {
            pending.append(bytes)
            pendingBytes += bytes.readableBytes
        }
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
        if attached, let channel {
            channel.writeAndFlush(
                SPDYStreamPayload.data(channel.allocator.buffer(capacity: 0), fin: true), promise: nil)
        }
    }

    /// Whether ``finish()`` was called.
    public var isFinished: Bool {
        eventLoop.preconditionInEventLoop()
        return finished
    }

    /// The headers went out another way (a pushed stream's SYN_STREAM): bytes go straight
    /// to the channel.
    func markAttached() {
        attached = true
    }

    /// The response headers go out now, with the body held so far (and FIN when the body is
    /// finished already) in the same flush.
    func attach(headers: SPDYHeaders) {
        guard !attached, !closed, let channel else { return }
        attached = true
        let empty = finished && pending.isEmpty
        channel.write(SPDYStreamPayload.headers(.init(headers: headers, fin: empty)), promise: nil)
        if !empty {
            var body: ByteBuffer
            if pending.count == 1 {
                body = pending.removeFirst()
            } else {
                body = channel.allocator.buffer(capacity: pendingBytes)
                while var chunk = pending.popFirst() { body.writeBuffer(&chunk) }
            }
            pending.removeAll()
            pendingBytes = 0
            if body.readableBytes > 0 || finished {
                channel.write(SPDYStreamPayload.data(body, fin: finished), promise: nil)
            }
        }
        channel.flush()
        wakeWaiters()
    }

    /// The stream channel became writable (or its headers went out): wake waiting writers.
    func writabilityChanged() {
        wakeWaiters()
    }

    /// The stream closed (reset or done): drop what is queued and fail waiting writers.
    func streamClosed() {
        closed = true
        channel = nil
        pending.removeAll()
        pendingBytes = 0
        let waiting = waiters
        waiters = []
        for promise in waiting { promise.fail(SPDYError(.streamClosed)) }
    }

    private var canTakeMore: Bool {
        attached ? (channel?.isWritable ?? false) : pendingBytes <= lowWatermark
    }

    private func readyFuture() -> EventLoopFuture<Void> {
        // Writing to the channel may have closed the stream (the connection failed under it).
        if closed { return eventLoop.makeFailedFuture(SPDYError(.streamClosed)) }
        if canTakeMore { return eventLoop.makeSucceededVoidFuture() }
        let promise = eventLoop.makePromise(of: Void.self)
        waiters.append(promise)
        return promise.futureResult
    }

    private func wakeWaiters() {
        guard !waiters.isEmpty, canTakeMore else { return }
        let waiting = waiters
        waiters = []
        for promise in waiting { promise.succeed(()) }
    }
}
