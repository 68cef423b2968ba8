import NIOCore
import SPDY

/// Tells SPDY from HTTP/1.1 on a plain-TCP connection by the client's first bytes, then
/// hands the connection to the pipeline for that protocol, in the manner of NIO's
/// `NIOTypedApplicationProtocolNegotiationHandler` (which does the same after TLS ALPN).
///
/// Without TLS there is nothing to negotiate with, but the client speaks first in both
/// protocols and their first bytes differ: every SPDY connection starts with a control frame
/// (SYN_STREAM, or SETTINGS), whose first two bytes are the control bit and the version,
/// `0x80 0x02` for SPDY/2 and `0x80 0x03` for SPDY/3 and 3.1; an HTTP/1.1 request starts with
/// a method name in ASCII. So:
///
/// - a first byte other than `0x80` is HTTP/1.1 at once;
/// - `0x80 0x02` is SPDY/2;
/// - `0x80 0x03` is the SPDY/3 family: SPDY/3 and SPDY/3.1 both write version 3 in every frame
///   (3.1 differs only in the session window, which the wire never names), so the handler
///   reports the version it was given for that case (`spdy3Version`, SPDY/3.1 by default);
/// - anything else after `0x80` is handed to HTTP/1.1, whose parser refuses it.
///
/// Once it has decided, it calls the completion handler with `.spdy(version)` or `.http11`;
/// the handler configures the pipeline after this one and returns a future. When the future
/// completes, this handler passes on every byte it held (the first read may have held a single
/// byte, or a whole request) and removes itself, so the next handlers see the stream from its
/// first byte, in read batches as the socket delivered them. Reads arriving meanwhile are held
/// and passed on in order.
///
/// A client that does not send the two bytes within `timeout` (10 seconds by default) is
/// closed, and so is one that closes its side first: an idle socket must not hold a
/// connection slot.
public final class SPDYFirstBytesNegotiationHandler<NegotiationResult: Sendable>: ChannelInboundHandler,
    RemovableChannelHandler
{
    /// The connection's bytes.
    public typealias InboundIn = ByteBuffer
    /// The same bytes, passed on once the protocol is known.
    public typealias InboundOut = ByteBuffer

    /// What the first bytes decided, when the completion handler's future has completed:
    /// its value, or its error (and ``SPDYServerNegotiationError/timedOut`` when the bytes
    /// did not come in time).
    public var protocolNegotiationResult: EventLoopFuture<NegotiationResult> {
        guard let promise else {
            preconditionFailure("the negotiation result is there once the handler is in a pipeline")
        }
        return promise.futureResult
    }

    private enum State {
        /// Waiting for the first bytes.
        case waiting
        /// Decided; the next handlers are being set up, reads are held.
        case configuring
        /// Set up: the held reads are being passed on.
        case unbuffering
        /// Done, or closed.
        case finished
    }

    private let spdy3Version: SPDYVersion
    private let timeout: TimeAmount?
    private let completionHandler: (SPDYNegotiation.Selection, any Channel) -> EventLoopFuture<NegotiationResult>
    private var promise: EventLoopPromise<NegotiationResult>?
    private var state = State.waiting
    /// Inbound user events that arrived while the pipeline was being set up.
    private var heldEvents: [Any] = []
    private var buffered: [ByteBuffer] = []
    private var timer: Scheduled<Void>?
    /// Inside `channelRead`: a pipeline set up at once gets the held bytes within this read,
    /// and the read batch's own read-complete follows, as it would have without this handler.
    private var reading = false

    /// Creates the handler.
    ///
    /// - Parameters:
    ///   - spdy3Version: the version reported for `0x80 0x03`: `SPDYVersion.v3_1`
    ///     (the default) or `SPDYVersion.v3`, whichever the server speaks; the wire
    ///     cannot tell them apart (`SPDYVersion.v2` is taken as SPDY/3.1).
    ///   - timeout: how long the client has to send its first two bytes; `nil` waits
    ///     forever. Default 10 seconds.
    ///   - completionHandler: sets up the pipeline for the protocol found (it runs on the
    ///     channel's event loop); the bytes held are passed on when its future completes.
    public init(
        spdy3Version: SPDYVersion = .v3_1,
        timeout: TimeAmount? = .seconds(10),
        completionHandler: @escaping (SPDYNegotiation.Selection, any Channel) -> EventLoopFuture<NegotiationResult>
    ) {
        self.spdy3Version = spdy3Version == .v2 ? .v3_1 : spdy3Version
        self.timeout = timeout
        self.completionHandler = completionHandler
    }

    /// What the first bytes of a connection say: `nil` when more bytes are needed (`bytes`
    /// holds only `0x80`, or nothing). `0x80 0x03` gives `spdy3Version` (SPDY/3.1 for
    /// `SPDYVersion.v2`).
    public static func detect(
        _ bytes: some Collection<UInt8>, spdy3Version: SPDYVersion = .v3_1
    ) -> SPDYNegotiation.Selection? {
        guard let first = bytes.first else { return nil }
        guard first == 0x80 else { return .http11 }
        let rest = bytes.dropFirst()
        guard let second = rest.first else { return nil }
        switch second {
        case 0x02: return .spdy(.v2)
        case 0x03: return .spdy(spdy3Version == .v2 ? .v3_1 : spdy3Version)
        default: return .http11
        }
    }

    /// Makes the result's promise and starts the timer on an active channel.
    public func handlerAdded(context: ChannelHandlerContext) {
        promise = context.eventLoop.makePromise()
        if context.channel.isActive {
            startTimer(context: context)
        }
    }

    /// Stops the timer; a result still open fails.
    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if state != .finished {
            state = .finished
            promise?.fail(ChannelError.inappropriateOperationForState)
        }
    }

    /// Starts the timer.
    public func channelActive(context: ChannelHandlerContext) {
        startTimer(context: context)
        context.fireChannelActive()
    }

    /// Holds the bytes until the protocol is known and the pipeline set up; passes them on
    /// after that.
    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .waiting:
            buffered.append(unwrapInboundIn(data))
            reading = true
            decideIfPossible(context: context)
            reading = false
        case .configuring:
            buffered.append(unwrapInboundIn(data))
        case .unbuffering, .finished:
            context.fireChannelRead(data)
        }
    }

    /// Asks for more bytes while undecided (without autoRead); passes the event on once done.
    public func channelReadComplete(context: ChannelHandlerContext) {
        switch state {
        case .waiting:
            // Without autoRead nobody else asks for the bytes we are waiting for.
            let autoRead = (try? context.channel.syncOptions?.getOption(.autoRead)) ?? true
            if !autoRead { context.read() }
        case .configuring:
            break
        case .unbuffering, .finished:
            context.fireChannelReadComplete()
        }
    }

    /// Closes a connection whose client shut its side before the two bytes.
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if state == .waiting, let event = event as? ChannelEvent, event == .inputClosed {
            // The client finished before saying which protocol: nothing can be served.
            fail(SPDYServerNegotiationError.closedBeforeFirstBytes, context: context)
            return
        }
        if state == .configuring {
            // An event that came after the held bytes (a half-close) must reach the new
            // handlers after them, not before.
            heldEvents.append(event)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Fails an open result and drops what was held.
    public func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if state == .waiting || state == .configuring {
            state = .finished
            buffered = []
            promise?.fail(ChannelError.outputClosed)
        }
        context.fireChannelInactive()
    }

    private func startTimer(context: ChannelHandlerContext) {
        guard let timeout, timer == nil, state == .waiting else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: timeout) {
            let (handler, context) = bound.value
            guard handler.state == .waiting else { return }
            handler.fail(SPDYServerNegotiationError.timedOut, context: context)
        }
    }

    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        state = .finished
        buffered = []
        promise?.fail(error)
        context.close(promise: nil)
    }

    private func decideIfPossible(context: ChannelHandlerContext) {
        var head: [UInt8] = []
        for buffer in buffered {
            head += buffer.readableBytesView.prefix(2 - head.count)
            if head.count == 2 { break }
        }
        guard let selection = Self.detect(head, spdy3Version: spdy3Version) else { return }
        timer?.cancel()
        timer = nil
        state = .configuring
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        completionHandler(selection, context.channel)
            .hop(to: context.eventLoop)
            .whenComplete { result in
                let (handler, context) = bound.value
                handler.configured(result, context: context)
            }
    }

    private func configured(_ result: Result<NegotiationResult, any Error>, context: ChannelHandlerContext) {
        guard state == .configuring else { return }
        switch result {
        case .success(let value):
            promise?.succeed(value)
        case .failure(let error):
            promise?.fail(error)
            context.fireErrorCaught(error)
        }
        state = .unbuffering
        while !buffered.isEmpty {
            context.fireChannelRead(wrapInboundOut(buffered.removeFirst()))
        }
        if !reading {
            context.fireChannelReadComplete()
        }
        while !heldEvents.isEmpty {
            context.fireUserInboundEventTriggered(heldEvents.removeFirst())
        }
        state = .finished
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

@available(*, unavailable)
extension SPDYFirstBytesNegotiationHandler: Sendable {}
