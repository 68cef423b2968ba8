import DequeModule
import NIOConcurrencyHelpers
import NIOCore
import SPDY

/// Channel options of a ``SPDYStreamChannel``.
public enum SPDYStreamChannelOptions {
    /// The stream's ID (`nil` on a client stream until its SYN_STREAM is written and flushed).
    public static let streamID = StreamIDOption()

    /// The option type of ``SPDYStreamChannelOptions/streamID``.
    public struct StreamIDOption: ChannelOption, Sendable {
        /// A stream ID, or `nil` before one is allocated.
        public typealias Value = SPDYStreamID?
        /// Creates the option.
        public init() {}
    }
}

/// One SPDY stream as a NIO channel: the child of the connection's channel, with its own
/// pipeline, reading and writing ``SPDYStreamPayload``s.
///
/// Modelled on swift-nio-http2's `HTTP2StreamChannel`. The ``SPDYConnection`` that owns the
/// session creates them: for every SYN_STREAM a peer sends (running the inbound stream
/// initializer) and for ``SPDYConnection/createStreamChannel(initializer:)``.
///
/// - Reading: payloads wait in the channel until its pipeline asks for them (`read()`,
///   which `autoRead` does after each batch). DATA counts as consumed when it is passed to
///   the pipeline, and only then does the session grant the peer more window: a stream whose
///   reader stops (autoRead off, or an `NIOAsyncChannel` nobody iterates) stops its sender.
/// - Writing: DATA waits in the channel until the session can send it (stream and session
///   windows, the connection's writability). The channel is writable while fewer than the
///   high watermark of bytes wait and the connection is writable; a writer that ignores
///   writability has its writes failed past ``SPDYConnection/StreamConfiguration/maxBufferedOutboundBytes``.
/// - Closing: `close(mode: .output)` ends our side with FIN. A full close before both sides
///   have finished sends RST_STREAM CANCEL. A RST_STREAM from the peer, a GOAWAY that
///   refuses the stream, or the connection closing reaches the pipeline as a
///   ``SPDYStreamError`` in `errorCaught`, then `channelInactive`. A stream both sides
///   finished closes cleanly by itself.
///
/// Everything but `isWritable`, `isActive` and the `Channel` API runs on the event loop.
public final class SPDYStreamChannel: Channel, ChannelCore, @unchecked Sendable {
    /// The stream's lifecycle as the channel sees it.
    enum State {
        /// A client stream whose SYN_STREAM has not been written yet (no ID).
        case idle
        /// The stream exists in the session.
        case open
        /// We sent RST_STREAM CANCEL (a full close); waiting for the session to close it.
        case resetting
        /// Inactive: the close has been reported.
        case closed
    }

    /// What other threads may read, behind one lock.
    private struct Flags {
        var isActive = false
        var isWritable = true
        var streamID: SPDYStreamID?
    }

    /// The parent's allocator.
    public let allocator: ByteBufferAllocator
    /// The parent's event loop: everything of the stream runs there.
    public let eventLoop: any EventLoop
    /// The connection's channel.
    public let parent: (any Channel)?
    /// The connection's local address.
    public let localAddress: SocketAddress?
    /// The connection's remote address (the peer).
    public let remoteAddress: SocketAddress?
    /// Completes when the stream channel has closed and left its pipeline.
    public var closeFuture: EventLoopFuture<Void> { closePromise.futureResult }
    /// The stream's own pipeline.
    public var pipeline: ChannelPipeline { _pipeline }
    /// The channel core (the channel itself).
    public var _channelCore: any ChannelCore { self }
    /// Whether writes can go on without piling up: below the high watermark and the connection writable.
    public var isWritable: Bool { flags.withLockedValue { $0.isWritable } }
    /// Whether the stream is open (from its initializer's end to its close).
    public var isActive: Bool { flags.withLockedValue { $0.isActive } }

    /// The stream's ID; `nil` on a client stream before its SYN_STREAM is flushed. Readable
    /// from any thread.
    public var streamID: SPDYStreamID? { flags.withLockedValue { $0.streamID } }

    /// The stream's ID as the event loop keeps it (``streamID`` for other threads).
    private(set) var ownStreamID: SPDYStreamID?

    let connection: SPDYConnection
    let configuration: SPDYConnection.StreamConfiguration
    private let closePromise: EventLoopPromise<Void>
    private var _pipeline: ChannelPipeline!
    private let flags: NIOLockedValueBox<Flags>

    @exclusivity(unchecked) private(set) var state: State
    @exclusivity(unchecked) private var activated = false
    @exclusivity(unchecked) private var autoRead = true
    @exclusivity(unchecked) private var unsatisfiedRead = false
    /// Payloads received, not yet passed to the pipeline.
    @exclusivity(unchecked) private var pendingReads = Deque<SPDYStreamPayload>()
    /// DATA bytes in `pendingReads`.
    @exclusivity(unchecked) private(set) var pendingReadBytes = 0
    /// Whether the connection listed this channel to be read at its read-complete.
    @exclusivity(unchecked) var scheduledForRead = false
    /// Written, not flushed.
    @exclusivity(unchecked) private var unflushed = Deque<(SPDYStreamPayload, EventLoopPromise<Void>?)>()
    /// Flushed DATA the session has not taken yet.
    @exclusivity(unchecked) private var outbound = Deque<(ByteBuffer, EventLoopPromise<Void>?)>()
    /// Bytes written (flushed or not) that the session has not taken.
    @exclusivity(unchecked) private var bufferedOutboundBytes = 0
    /// Our FIN is queued after `outbound` (or went out with headers).
    @exclusivity(unchecked) private var outboundFinished = false
    /// HEADERS to send once `outbound` has drained (trailers written after DATA).
    private var trailers: (SPDYHeadersPayload, EventLoopPromise<Void>?)?
    @exclusivity(unchecked) private var sentHeaders = false
    @exclusivity(unchecked) private var providerAttached = false
    /// The provider returned `.deferred`: new data must `resumeData`.
    @exclusivity(unchecked) private var providerDeferred = false
    @exclusivity(unchecked) private var watermarkWritable = true
    @exclusivity(unchecked) private var parentWritable: Bool
    /// The peer sent FIN (it may still wait in `pendingReads`).
    @exclusivity(unchecked) private(set) var peerFinished = false
    /// A status from the peer's RST_STREAM, seen before the session closes the stream.
    var peerResetStatus: SPDYStreamStatus?
    private var pendingClosePromise: EventLoopPromise<Void>?

    init(
        connection: SPDYConnection,
        parent: any Channel,
        streamID: SPDYStreamID?,
        configuration: SPDYConnection.StreamConfiguration
    ) {
        self.connection = connection
        self.configuration = configuration
        self.parent = parent
        self.allocator = parent.allocator
        self.eventLoop = parent.eventLoop
        self.localAddress = parent.localAddress
        self.remoteAddress = parent.remoteAddress
        self.closePromise = parent.eventLoop.makePromise()
        self.ownStreamID = streamID
        self.flags = NIOLockedValueBox(Flags(streamID: streamID))
        self.state = streamID == nil ? .idle : .open
        self.parentWritable = parent.isWritable
        self._pipeline = ChannelPipeline(channel: self)
    }

    /// Runs `initializer` on the new channel, then activates it; `promise` gets the result.
    func configure<Output: Sendable>(
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Output>,
        promise: EventLoopPromise<Output>?
    ) {
        if let parent, let sync = parent.syncOptions, let value = try? sync.getOption(ChannelOptions.autoRead) {
            autoRead = value
        }
        initializer(self).hop(to: eventLoop).whenComplete { result in
            switch result {
            case .success(let output):
                self.activate()
                promise?.succeed(output)
            case .failure(let error):
                promise?.fail(error)
                self.initializationFailed(error)
            }
        }
    }

    /// Sets the channel up synchronously, on the event loop, then activates it: the path of
    /// the library's own stream handlers (no futures, no option lookups).
    func configureNow(autoRead: Bool, _ setUp: (SPDYStreamChannel) throws -> Void) {
        self.autoRead = autoRead
        do {
            try setUp(self)
            activate()
        } catch {
            initializationFailed(error)
        }
    }

    private func activate() {
        guard state != .closed, !activated else { return }
        activated = true
        flags.withLockedValue { $0.isActive = true }
        pipeline.fireChannelActive()
        if autoRead { pipeline.read() }
        if !unflushed.isEmpty { flush0() }
    }

    private func initializationFailed(_ error: any Error) {
        if state == .idle {
            finishClose(error: nil)
        } else if state == .open {
            resetStream(.cancel)
        }
    }

    // MARK: Options

    /// Sets `autoRead` (and accepts `allowRemoteHalfClosure`); other options are unsupported.
    public func setOption<Option: ChannelOption>(_ option: Option, value: Option.Value) -> EventLoopFuture<Void> {
        if eventLoop.inEventLoop {
            return eventLoop.makeCompletedFuture { try setOption0(option, value: value) }
        }
        return eventLoop.submit { try self.setOption0(option, value: value) }
    }

    /// Reads `autoRead`, `allowRemoteHalfClosure` (always on) or ``SPDYStreamChannelOptions/streamID``.
    public func getOption<Option: ChannelOption>(_ option: Option) -> EventLoopFuture<Option.Value> {
        if eventLoop.inEventLoop {
            return eventLoop.makeCompletedFuture { try getOption0(option) }
        }
        return eventLoop.submit { try self.getOption0(option) }
    }

    private func setOption0<Option: ChannelOption>(_ option: Option, value: Option.Value) throws {
        eventLoop.preconditionInEventLoop()
        switch option {
        case _ as ChannelOptions.Types.AutoReadOption:
            let newValue = value as! Bool
            let wasOff = !autoRead
            autoRead = newValue
            if newValue && wasOff && activated { read0() }
        case _ as ChannelOptions.Types.AllowRemoteHalfClosureOption:
            // A stream's input ends with the peer's FIN, reported as a payload with `fin`;
            // the channel stays open for writing either way.
            break
        default:
            throw ChannelError.operationUnsupported
        }
    }

    private func getOption0<Option: ChannelOption>(_ option: Option) throws -> Option.Value {
        eventLoop.preconditionInEventLoop()
        switch option {
        case _ as ChannelOptions.Types.AutoReadOption:
            return autoRead as! Option.Value
        case _ as ChannelOptions.Types.AllowRemoteHalfClosureOption:
            return true as! Option.Value
        case _ as SPDYStreamChannelOptions.StreamIDOption:
            return ownStreamID as! Option.Value
        default:
            throw ChannelError.operationUnsupported
        }
    }

    /// Synchronous access to the options, on the event loop.
    public var syncOptions: (any NIOSynchronousChannelOptions)? { SynchronousOptions(channel: self) }

    private struct SynchronousOptions: NIOSynchronousChannelOptions {
        let channel: SPDYStreamChannel
        func setOption<Option: ChannelOption>(_ option: Option, value: Option.Value) throws {
            try channel.setOption0(option, value: value)
        }
        func getOption<Option: ChannelOption>(_ option: Option) throws -> Option.Value {
            try channel.getOption0(option)
        }
    }

    // MARK: ChannelCore

    /// The connection's local address.
    public func localAddress0() throws -> SocketAddress {
        guard let localAddress else { throw ChannelError.operationUnsupported }
        return localAddress
    }

    /// The connection's remote address.
    public func remoteAddress0() throws -> SocketAddress {
        guard let remoteAddress else { throw ChannelError.operationUnsupported }
        return remoteAddress
    }

    /// Unsupported: a stream channel is registered by its connection.
    public func register0(promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    /// Unsupported on a stream.
    public func bind0(to: SocketAddress, promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    /// Unsupported on a stream.
    public func connect0(to: SocketAddress, promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    /// Queues a ``SPDYStreamPayload``; it goes to the session at the next flush.
    public func write0(_ data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard state == .idle || state == .open else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let payload = unwrapData(data, as: SPDYStreamPayload.self)
        if case .data(let bytes, _) = payload {
            let size = bytes.readableBytes
            guard bufferedOutboundBytes + size <= configuration.maxBufferedOutboundBytes || bufferedOutboundBytes == 0
            else {
                promise?.fail(SPDYStreamError.outboundBufferFull(limit: configuration.maxBufferedOutboundBytes))
                return
            }
            bufferedOutboundBytes += size
            updateWritability()
        }
        unflushed.append((payload, promise))
    }

    /// Hands what was written to the session and sends it.
    public func flush0() {
        guard activated || state == .open else { return }
        guard !unflushed.isEmpty else { return }
        connection.streamFlushed(self)
    }

    /// Passes the payloads that arrived to the pipeline (consuming their DATA), or waits for more.
    public func read0() {
        guard !unsatisfiedRead else { return }
        unsatisfiedRead = true
        if !pendingReads.isEmpty {
            deliverPendingReads()
        }
    }

    /// `.output` ends our side with FIN; `.all` resets the stream with RST_STREAM CANCEL unless both sides are done or our FIN is queued.
    public func close0(error: any Error, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch mode {
        case .output:
            guard state == .idle || state == .open else {
                promise?.fail(ChannelError.alreadyClosed)
                return
            }
            if outboundFinished || unflushed.contains(where: { $0.0.fin }) {
                promise?.succeed(())
                return
            }
            write0(NIOAny(SPDYStreamPayload.data(allocator.buffer(capacity: 0), fin: true)), promise: promise)
            flush0()
        case .input:
            promise?.fail(ChannelError.operationUnsupported)
        case .all:
            guard state != .closed else {
                promise?.fail(ChannelError.alreadyClosed)
                return
            }
            if let promise {
                if let pending = pendingClosePromise {
                    pending.futureResult.cascade(to: promise)
                } else {
                    pendingClosePromise = promise
                }
            }
            switch state {
            case .idle:
                finishClose(error: nil)
            case .open where outboundFinished:
                // Our side is complete (FIN queued): what is queued still goes out. A peer
                // that has finished too closes the stream with it; one that has not is
                // refused with RST_STREAM CANCEL once our FIN has left.
                if !peerFinished {
                    if finSent { resetStream(.cancel) } else { resetAfterFin = true }
                }
            case .open:
                resetStream(.cancel)
            case .resetting, .closed:
                break
            }
        }
    }

    /// Handles ``SPDYResetStreamEvent`` (RST_STREAM with its status); other outbound user
    /// events are unsupported.
    public func triggerUserOutboundEvent0(_ event: Any, promise: EventLoopPromise<Void>?) {
        guard let reset = event as? SPDYResetStreamEvent else {
            promise?.fail(ChannelError.operationUnsupported)
            return
        }
        guard state == .open, ownStreamID != nil else {
            promise?.fail(ChannelError.alreadyClosed)
            return
        }
        resetStream(reset.status)
        promise?.succeed(())
    }

    /// Inbound data that reached the tail is dropped.
    public func channelRead0(_ data: NIOAny) {
        // Nothing consumes inbound data past the pipeline's tail.
    }

    /// Errors that reached the tail are dropped.
    public func errorCaught0(error: any Error) {
        // Errors that reach the tail are dropped, as in other channels.
    }

    /// After our side ends (FIN sent), reset the stream with CANCEL if the peer has not
    /// finished: an answer that refuses the rest of a request (413).
    func closeAfterAnswer() {
        resetAfterFin = true
    }

    private var resetAfterFin = false
    /// Our FIN has left the session (on a header block: written by its `send()`; on DATA:
    /// read from our provider).
    private var finSent = false

    private func ourSideEnded() {
        finSent = true
        guard resetAfterFin else { return }
        connection.afterSession { [self] in
            if !peerFinished { resetStream(.cancel) }
        }
    }

    /// Sends RST_STREAM with `status` and waits for the session to close the stream.
    func resetStream(_ status: SPDYStreamStatus) {
        guard state == .open, let streamID = ownStreamID else { return }
        state = .resetting
        failPendingWrites(ChannelError.ioOnClosedChannel)
        connection.resetStream(streamID, status: status)
    }

    // MARK: Outbound: into the session

    /// Hands flushed writes to the session. Called by the connection outside session calls.
    func submitFlushed() {
        while let (payload, promise) = unflushed.popFirst() {
            guard state == .open || state == .idle else {
                promise?.fail(ChannelError.ioOnClosedChannel)
                continue
            }
            switch payload {
            case .headers(let headers):
                submitHeaders(headers, promise: promise)
            case .data(let bytes, let fin):
                submitData(bytes, fin: fin, promise: promise)
            }
        }
    }

    private func submitHeaders(_ payload: SPDYHeadersPayload, promise: EventLoopPromise<Void>?) {
        guard !outboundFinished else {
            promise?.fail(SPDYStreamError.invalidWrite("headers after FIN"))
            return
        }
        let session = connection.session
        if !sentHeaders {
            let provider = payload.fin ? nil : dataProvider()
            do {
                if let streamID = ownStreamID, !session.isLocallyInitiated(streamID) {
                    try session.submitResponse(streamID: streamID, headers: payload.headers, dataProvider: provider)
                } else {
                    guard ownStreamID == nil else {
                        throw SPDYError(.invalidArgument, "the stream has its SYN_STREAM already")
                    }
                    var priority: UInt8 = 3
                    var associated = SPDYStreamID.zero
                    var unidirectional = false
                    if case .synStream(let p, let a, let u) = payload.kind {
                        priority = p
                        associated = a
                        unidirectional = u
                    }
                    var flags: SPDYControlFlags = payload.fin ? .fin : []
                    if unidirectional { flags.insert(.unidirectional) }
                    let id = try session.submitSynStream(
                        flags: flags,
                        priority: min(priority, session.lowestPriority),
                        headers: payload.headers,
                        associatedStreamID: associated,
                        dataProvider: provider
                    )
                    ownStreamID = id
                    self.flags.withLockedValue { $0.streamID = id }
                    state = .open
                    connection.registerLocalStream(self, id: id)
                }
            } catch {
                promise?.fail(SPDYStreamError.cannotOpen("\(error)"))
                if state == .idle {
                    finishClose(error: SPDYStreamError.cannotOpen("\(error)"))
                } else {
                    resetStream(.internalError)
                }
                return
            }
            sentHeaders = true
            providerAttached = provider != nil
            if payload.fin {
                outboundFinished = true
                // The FIN rides on a frame still queued in the session: a reset of ours must
                // wait until it is written, or it would overtake (and discard) the reply.
                connection.afterNextSend { [self] in ourSideEnded() }
            }
            promise?.succeed(())
            return
        }
        if !outbound.isEmpty {
            // Trailers after DATA the session has not sent yet: they must follow it.
            guard trailers == nil else {
                promise?.fail(SPDYStreamError.invalidWrite("two header blocks wait for DATA"))
                return
            }
            trailers = (payload, promise)
            if payload.fin { outboundFinished = true }
            return
        }
        sendHeadersFrame(payload, promise: promise)
    }

    private func sendHeadersFrame(_ payload: SPDYHeadersPayload, promise: EventLoopPromise<Void>?) {
        guard let streamID = ownStreamID else { return }
        do {
            try connection.session.submitHeaders(
                flags: payload.fin ? .fin : [], streamID: streamID, headers: payload.headers)
            if payload.fin {
                outboundFinished = true
                connection.afterNextSend { [self] in ourSideEnded() }
            }
            promise?.succeed(())
        } catch {
            promise?.fail(SPDYStreamError.invalidWrite("\(error)"))
        }
    }

    private func submitData(_ bytes: ByteBuffer, fin: Bool, promise: EventLoopPromise<Void>?) {
        guard sentHeaders else {
            bufferedOutboundBytes -= bytes.readableBytes
            promise?.fail(SPDYStreamError.invalidWrite("DATA before the stream's first header block"))
            return
        }
        guard !outboundFinished else {
            bufferedOutboundBytes -= bytes.readableBytes
            promise?.fail(SPDYStreamError.invalidWrite("DATA after FIN"))
            return
        }
        if fin { outboundFinished = true }
        if bytes.readableBytes > 0 || promise != nil {
            outbound.append((bytes, promise))
        }
        guard let streamID = ownStreamID else { return }
        if !providerAttached {
            // Headers went out with a provider only when they did not end the stream, so a
            // body after headers without one cannot happen; a stream whose header block had
            // no FIN always has the provider.
            providerAttached = true
            connection.session.submitData(streamID: streamID, flags: .fin, dataProvider: dataProvider())
        } else if providerDeferred {
            providerDeferred = false
            connection.session.resumeData(streamID: streamID)
        }
    }

    /// The provider the session reads this stream's DATA from: it takes from `outbound`.
    private func dataProvider() -> SPDYDataProvider {
        // Unowned: the channel stays in the connection's table until the session has closed
        // the stream (and dropped this provider), and a weak reference would put every retain
        // of the channel on the runtime's slow path.
        SPDYDataProvider { [unowned self] _, _, length in
            readOutbound(length)
        }
    }

    private func readOutbound(_ length: Int) -> SPDYDataReadResult {
        guard !outbound.isEmpty else {
            if outboundFinished && trailers == nil {
                ourSideEnded()
                return .data(allocator.buffer(capacity: 0), endOfData: true)
            }
            if trailers != nil {
                connection.afterSession { [self] in
                    guard let (headers, promise) = trailers else { return }
                    trailers = nil
                    sendHeadersFrame(headers, promise: promise)
                }
            }
            providerDeferred = true
            return .deferred
        }
        var (chunk, promise) = outbound.removeFirst()
        var out: ByteBuffer
        if chunk.readableBytes > length {
            out = chunk.readSlice(length: length)!
            outbound.prepend((chunk, promise))
            promise = nil
        } else {
            out = chunk
        }
        // Coalesce small writes into one frame when the next ones fit.
        while out.readableBytes < length, let next = outbound.first, next.0.readableBytes <= length - out.readableBytes
        {
            var (more, nextPromise) = outbound.removeFirst()
            if out.readableBytes == 0 {
                out = more
            } else {
                out.writeBuffer(&more)
            }
            if let nextPromise {
                if let promise { connection.completeLater(promise) }
                promise = nextPromise
            }
        }
        bufferedOutboundBytes -= out.readableBytes
        if let promise { connection.completeLater(promise) }
        if !watermarkWritable && bufferedOutboundBytes <= configuration.outboundLowWatermark {
            connection.afterSession { [self] in updateWritability() }
        }
        let end = outbound.isEmpty && outboundFinished && trailers == nil
        if end { ourSideEnded() }
        return .data(out, endOfData: end)
    }

    // MARK: Writability

    func parentWritabilityChanged(_ writable: Bool) {
        parentWritable = writable
        updateWritability()
    }

    private func updateWritability() {
        if watermarkWritable && bufferedOutboundBytes >= configuration.outboundHighWatermark {
            watermarkWritable = false
        } else if !watermarkWritable && bufferedOutboundBytes <= configuration.outboundLowWatermark {
            watermarkWritable = true
        }
        let writable = watermarkWritable && parentWritable
        let changed = flags.withLockedValue { flags -> Bool in
            guard flags.isWritable != writable else { return false }
            flags.isWritable = writable
            return true
        }
        if changed && activated && state != .closed {
            pipeline.fireChannelWritabilityChanged()
        }
    }

    // MARK: Inbound: from the session

    /// A payload from the peer; passed on when the pipeline reads.
    func receive(_ payload: SPDYStreamPayload) {
        guard state != .closed else { return }
        if case .data(let bytes, _) = payload {
            pendingReadBytes += bytes.readableBytes
        }
        if payload.fin { peerFinished = true }
        pendingReads.append(payload)
    }

    /// The peer's FIN on a DATA frame: it rides on the last payload if that is still waiting.
    func receiveFin() {
        guard state != .closed else { return }
        peerFinished = true
        if case .data(let bytes, false) = pendingReads.last {
            pendingReads[pendingReads.count - 1] = .data(bytes, fin: true)
        } else {
            pendingReads.append(.data(allocator.buffer(capacity: 0), fin: true))
        }
    }

    /// The connection finished a read: deliver what the pipeline asked for.
    func parentReadComplete() {
        if unsatisfiedRead && !pendingReads.isEmpty {
            deliverPendingReads()
        }
    }

    private func deliverPendingReads() {
        guard activated, state != .closed else { return }
        unsatisfiedRead = false
        var consumed = 0
        while let payload = pendingReads.popFirst() {
            if case .data(let bytes, _) = payload {
                consumed += bytes.readableBytes
            }
            pipeline.fireChannelRead(payload)
        }
        pendingReadBytes -= consumed
        if consumed > 0 {
            connection.consumed(self, bytes: consumed)
        }
        pipeline.fireChannelReadComplete()
        if autoRead && state != .closed {
            pipeline.read()
        }
    }

    /// The session closed the stream with `status`; `error` says why, or `nil` for a clean end.
    func streamClosed(error: (any Error)?) {
        guard state != .closed else { return }
        // Whatever arrived before the close reaches the pipeline before channelInactive.
        if activated && !pendingReads.isEmpty {
            deliverPendingReads()
        }
        finishClose(error: state == .resetting ? nil : error)
    }

    private func finishClose(error: (any Error)?) {
        guard state != .closed else { return }
        state = .closed
        let dropped = pendingReadBytes
        pendingReads.removeAll()
        pendingReadBytes = 0
        if dropped > 0 {
            connection.consumed(self, bytes: dropped)
        }
        failPendingWrites(error ?? ChannelError.ioOnClosedChannel)
        flags.withLockedValue { $0.isActive = false }
        if let error, activated {
            pipeline.fireErrorCaught(error)
        }
        if let promise = pendingClosePromise {
            pendingClosePromise = nil
            promise.succeed(())
        }
        if activated {
            pipeline.fireChannelInactive()
        }
        connection.streamChannelClosed(self)
        // Once the handlers' close callbacks have returned.
        connection.afterClose { [self] in
            removeHandlers(pipeline: pipeline)
            closePromise.succeed(())
        }
    }

    private func failPendingWrites(_ error: any Error) {
        while let (_, promise) = unflushed.popFirst() {
            promise?.fail(error)
        }
        while let (_, promise) = outbound.popFirst() {
            promise?.fail(error)
        }
        if let (_, promise) = trailers {
            trailers = nil
            promise?.fail(error)
        }
        bufferedOutboundBytes = 0
    }
}

extension SPDYStreamChannel: CustomStringConvertible {
    /// The stream ID and whether the channel is active.
    public var description: String {
        "SPDYStreamChannel(streamID: \(ownStreamID.map { "\($0)" } ?? "none"), isActive: \(isActive))"
    }
}
