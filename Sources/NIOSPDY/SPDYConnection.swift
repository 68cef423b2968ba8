import DequeModule
import NIOCore
import SPDY

/// The one owner of a connection's `SPDYSession`: the channel handler at the end of a
/// SPDY pipeline, and the multiplexer of its streams.
///
/// It installs the session's callbacks once, and nothing else assigns them. Bytes read from
/// the channel go to the session; what the session produces is written and flushed. Each
/// stream is a ``SPDYStreamChannel`` with its own pipeline: a SYN_STREAM from the peer runs
/// the inbound stream initializer (on a client, pushed streams run the push initializer;
/// without one they are refused with RST_STREAM CANCEL), and ``createStreamChannel(initializer:)``
/// opens a stream of ours. Other code watches the connection through observers
/// (``addObserver(_:)``), which are added and removed with tokens.
///
/// Backpressure goes both ways:
/// - Receiving: with `SPDYSession.Configuration.manualDataConsumption`
///   (which ``SPDYServer`` and ``SPDYClient`` always set), a stream's window is granted only
///   when its channel has passed DATA to its pipeline. The SPDY/3.1 session window is given
///   back as DATA arrives, so that a stream nobody reads does not stop the others (the stream
///   windows and the caps below bound what waits). Bytes waiting in stream channels are
///   capped per stream and per connection (``StreamConfiguration``); over a cap the
///   connection stops reading from the socket until they are read. SPDY/2, which has no
///   windows, relies on these caps alone.
/// - Sending: while the channel is not writable the session is told that writing would
///   block, so it stops producing DATA; the stream channels' writability follows.
///
/// When the session wants neither to read nor to write (after GOAWAY and the last stream, or
/// after a session failure) the connection closes once everything written has gone out. A
/// `ChannelShouldQuiesceEvent` starts a graceful shutdown.
///
/// All methods must be called on the channel's event loop.
public final class SPDYConnection: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// Limits and watermarks of the stream channels.
    public struct StreamConfiguration: Sendable, Hashable {
        /// A stream channel becomes unwritable when this many bytes it was given wait to be
        /// sent. Default 256 KiB.
        public var outboundHighWatermark: Int
        /// An unwritable stream channel becomes writable again when the bytes waiting fall
        /// to this. Default 128 KiB.
        public var outboundLowWatermark: Int
        /// Writes that would make more than this many bytes wait in one stream channel fail
        /// with ``SPDYStreamError/outboundBufferFull(limit:)``. Default 4 MiB.
        public var maxBufferedOutboundBytes: Int
        /// Received DATA bytes one stream channel holds before its pipeline reads them;
        /// above this the connection stops reading. Windows keep SPDY/3 streams below it
        /// unless the application grants more; on SPDY/2 it is the only bound. Default 1 MiB.
        public var maxBufferedInboundBytesPerStream: Int
        /// Received DATA bytes all stream channels of the connection hold together before
        /// their pipelines read them; above this the connection stops reading. Default 4 MiB.
        public var maxBufferedInboundBytes: Int

        /// Creates a configuration.
        public init(
            outboundHighWatermark: Int = 256 * 1024,
            outboundLowWatermark: Int = 128 * 1024,
            maxBufferedOutboundBytes: Int = 4 << 20,
            maxBufferedInboundBytesPerStream: Int = 1 << 20,
            maxBufferedInboundBytes: Int = 4 << 20
        ) {
            self.outboundHighWatermark = outboundHighWatermark
            self.outboundLowWatermark = min(outboundLowWatermark, outboundHighWatermark)
            self.maxBufferedOutboundBytes = max(maxBufferedOutboundBytes, outboundHighWatermark)
            self.maxBufferedInboundBytesPerStream = maxBufferedInboundBytesPerStream
            self.maxBufferedInboundBytes = maxBufferedInboundBytes
        }
    }

    /// Something that happened to the connection, as observers see it.
    public enum Event {
        /// The connection became active; the session is about to send its first frames.
        case active
        /// A frame was sent or received (the frame log of spdycat's and spdyd's `-v`).
        case frame(SPDYFrameEvent)
        /// The connection closed, with the error that closed it, if any.
        case closed((any Error)?)
    }

    /// Identifies an observer for ``removeObserver(_:)``.
    public struct ObserverToken: Hashable, Sendable {
        fileprivate let id: Int
    }

    /// Initializes a stream channel: adds its handlers.
    public typealias StreamInitializer = @Sendable (any Channel) -> EventLoopFuture<Void>

    /// How a new stream channel is set up: a public initializer, or the library's own
    /// synchronous one (no futures on the per-request path).
    enum StreamSetUp {
        case initializer(StreamInitializer)
        case synchronous(autoRead: Bool, (SPDYStreamChannel) throws -> Void)

        func run(on stream: SPDYStreamChannel) {
            switch self {
            case .initializer(let initializer): stream.configure(initializer: initializer, promise: nil)
            case .synchronous(let autoRead, let setUp): stream.configureNow(autoRead: autoRead, setUp)
            }
        }
    }

    /// The session this connection drives. Submit frames on it only through the stream
    /// channels, or for connection-level frames (SETTINGS, PING, GOAWAY) followed by ``flush()``.
    public let session: SPDYSession
    /// The stream channels' limits.
    public let streamConfiguration: StreamConfiguration
    /// A frame the peer has started sending must be complete within this time; otherwise
    /// the connection gets GOAWAY PROTOCOL_ERROR and is closed at once. This stops a peer
    /// that keeps a connection (and the idle timer) alive by dribbling a control frame, a
    /// header block or a DATA frame a byte at a time. `nil` (the default for a bare
    /// connection) waits forever; ``SPDYServer`` and ``SPDYClient`` set it from their
    /// configurations (30 seconds by default).
    public var frameCompletionTimeout: TimeAmount?
    /// How long the channel may stay unwritable (the peer not reading what we send), and
    /// how long a close may wait for written bytes to go out, before the connection is
    /// closed at once. `nil` (the default for a bare connection) waits forever; ``SPDYServer``
    /// and ``SPDYClient`` set it from their configurations (60 seconds by default).
    public var writeTimeout: TimeAmount?
    /// Detects a peer that went silent while streams are open (see ``SPDYKeepAlive``).
    /// `nil` (the default for a bare connection) never pings; ``SPDYClient`` sets it from its
    /// configuration (a PING after 30 seconds without a byte, 15 seconds to answer). Set it
    /// at any time.
    public var keepAlive: SPDYKeepAlive? {
        didSet {
            if activated, keepAliveTimer == nil, let keepAlive { scheduleKeepAliveCheck(in: keepAlive.interval) }
        }
    }

    private let inboundStreamSetUp: StreamSetUp?
    private let pushStreamSetUp: StreamSetUp?
    private let consumesManually: Bool
    /// Whether the SPDY/3.1 session window is given back as DATA arrives (with manual
    /// consumption; stream windows wait for the stream channels' readers).
    private let consumesSessionOnReceipt: Bool
    /// DATA bytes received in the current `recv` whose session window is given back after it.
    @exclusivity(unchecked) private var receivedSessionBytes = 0

    @exclusivity(unchecked) private var context: ChannelHandlerContext?
    /// The small frames of one flush, gathered so that they go to the channel as one write
    /// (see ``write(_:)``). ``noOutputBatch`` between flushes.
    @exclusivity(unchecked) private var outputBatch: ByteBuffer
    /// An empty buffer with no capacity, shared by every flush.
    private let noOutputBatch = ByteBuffer()
    /// The event loop, kept after the handler leaves the pipeline for failed futures.
    private var loop: (any EventLoop)?
    @exclusivity(unchecked) private var flushing = false
    @exclusivity(unchecked) private var flushAgain = false
    @exclusivity(unchecked) private var pendingFlush = false
    @exclusivity(unchecked) private var inReadBatch = false
    @exclusivity(unchecked) private var closing = false
    @exclusivity(unchecked) private var closed = false
    /// The error that closed (or is closing) the connection, if any.
    public private(set) var closeError: (any Error)?
    private var activated = false
    private var frameTimer: (frame: Int, task: Scheduled<Void>)?
    private var writeTimer: Scheduled<Void>?
    /// The keep-alive check that runs next (see ``keepAlive``).
    private var keepAliveTimer: Scheduled<Void>?
    /// Reads seen so far, and their number at the last keep-alive check: counting reads
    /// keeps the clock off the read path.
    @exclusivity(unchecked) private var readCount = 0
    private var readCountAtCheck = 0

    @exclusivity(unchecked) private var observers: [(id: Int, observe: (Event) -> Void)] = []
    private var nextObserverID = 0
    private var pings: [UInt32: EventLoopPromise<Void>] = [:]

    /// Stream channels with a stream ID.
    @exclusivity(unchecked) private var streams: [SPDYStreamID: SPDYStreamChannel] = [:]
    /// Client stream channels whose SYN_STREAM has not been written yet.
    private var idleStreams: [ObjectIdentifier: SPDYStreamChannel] = [:]
    /// Work that has to wait until the session call in progress returns.
    @exclusivity(unchecked) private var inSession = false
    @exclusivity(unchecked) private var openedStreams: [(SPDYStreamChannel, StreamSetUp)] = []
    /// Work that waits until a stream channel's close callbacks have returned.
    @exclusivity(unchecked) private var closeWork: [() -> Void] = []
    @exclusivity(unchecked) private var closedStreams: [(SPDYStreamChannel, (any Error)?)] = []
    @exclusivity(unchecked) private var flushedStreams: [SPDYStreamChannel] = []
    @exclusivity(unchecked) private var completedWrites: [EventLoopPromise<Void>] = []
    @exclusivity(unchecked) private var deferredWork: [() -> Void] = []
    /// Work that waits for the session's next `send()` (``afterNextSend(_:)``).
    @exclusivity(unchecked) private var afterSendWork: [() -> Void] = []
    /// Stream channels that received payloads during the current read.
    @exclusivity(unchecked) private var streamsToRead: [SPDYStreamChannel] = []
    /// Received DATA bytes waiting in stream channels.
    @exclusivity(unchecked) private var bufferedInboundBytes = 0
    /// Stream channels holding more than the per-stream cap.
    @exclusivity(unchecked) private var streamsOverCap = Set<ObjectIdentifier>()
    @exclusivity(unchecked) private var readPending = false
    /// What the connection counted and has not yet handed to ``metrics``.
    @exclusivity(unchecked) private var counts = SPDYConnectionCounts()
    /// Whether this connection was counted as active in ``metrics``.
    private var countedActive = false

    /// Where the connection's counters go (``SPDYMetrics``), or nowhere. Set it before the
    /// connection becomes active; ``SPDYServer`` and ``SPDYClient`` set theirs.
    public var metrics: SPDYMetrics?

    /// Creates the connection handler for `session` and installs the session's callbacks.
    ///
    /// - Parameters:
    ///   - session: The session; its callbacks are replaced.
    ///   - streamConfiguration: Watermarks and caps of the stream channels.
    ///   - inboundStreamInitializer: Sets up the channel of each stream the peer opens (on a
    ///     server, each request). Without one, such streams are refused with RST_STREAM
    ///     REFUSED_STREAM.
    ///   - pushStreamInitializer: On a client, sets up the channel of each stream the server
    ///     pushes. Without one, pushed streams are refused with RST_STREAM CANCEL.
    public convenience init(
        session: SPDYSession,
        streamConfiguration: StreamConfiguration = .init(),
        inboundStreamInitializer: StreamInitializer? = nil,
        pushStreamInitializer: StreamInitializer? = nil
    ) {
        self.init(
            session: session,
            streamConfiguration: streamConfiguration,
            inbound: inboundStreamInitializer.map { .initializer($0) },
            push: pushStreamInitializer.map { .initializer($0) }
        )
    }

    init(
        session: SPDYSession,
        streamConfiguration: StreamConfiguration,
        inbound: StreamSetUp?,
        push: StreamSetUp?
    ) {
        self.session = session
        self.streamConfiguration = streamConfiguration
        self.inboundStreamSetUp = inbound
        self.pushStreamSetUp = push
        self.consumesManually = session.configuration.manualDataConsumption
        self.consumesSessionOnReceipt =
            consumesManually && session.usesFlowControl && session.version.hasSessionFlowControl
        self.outputBatch = noOutputBatch
        installCallbacks()
    }

    deinit {
        // The callbacks hold this object unowned (a weak reference would put every retain of
        // the connection on the runtime's slow path): the session must not call them once it
        // is gone, should someone keep the session and drive it.
        session.callbacks = SPDYSessionCallbacks()
    }

    /// The channel, once the handler is in a pipeline.
    public var channel: (any Channel)? { context?.channel }

    /// The event loop of the channel.
    public var eventLoop: (any EventLoop)? { context?.eventLoop }

    /// The peer's address.
    public var remoteAddress: SocketAddress? { context?.channel.remoteAddress }

    /// Whether the connection has closed.
    public var isClosed: Bool { closed }

    /// The number of open stream channels (streams with an ID and not yet closed).
    public var streamChannelCount: Int { streams.count }

    // MARK: Observers

    /// Adds an observer of the connection's events; it is called on the event loop until
    /// ``removeObserver(_:)``. An observer added after the connection became active does not
    /// see ``Event/active``.
    @discardableResult
    public func addObserver(_ observer: @escaping (Event) -> Void) -> ObserverToken {
        nextObserverID += 1
        observers.append((nextObserverID, observer))
        return ObserverToken(id: nextObserverID)
    }

    /// Removes an observer.
    public func removeObserver(_ token: ObserverToken) {
        observers.removeAll { $0.id == token.id }
    }

    private func notifyObservers(_ event: Event) {
        for observer in observers { observer.observe(event) }
    }

    private func notifyFrame(_ event: @autoclosure () -> SPDYFrameEvent) {
        guard !observers.isEmpty else { return }
        notifyObservers(.frame(event()))
    }

    // MARK: Session callbacks

    private func installCallbacks() {
        var callbacks = SPDYSessionCallbacks()
        callbacks.send = { [unowned self] _, data in write(data) }
        callbacks.onControlFrameReceived = { [unowned self] session, frame, header in
            if let metrics { count(frame, direction: 1, metrics) }
            notifyFrame(.controlReceived(frame, header))
            controlFrameReceived(frame)
        }
        callbacks.onDataChunkReceived = { [unowned self] _, _, id, chunk in
            if consumesSessionOnReceipt { receivedSessionBytes += chunk.readableBytes }
            guard let stream = streams[id] else { return }
            stream.receive(.data(chunk, fin: false))
            inboundBytesAdded(stream, chunk.readableBytes)
        }
        callbacks.onDataReceived = { [unowned self] _, flags, id, length in
            if metrics != nil { counts.frame(1, 0) }
            notifyFrame(.dataReceived(id, flags, length: length))
            if flags.contains(.fin), let stream = streams[id] {
                stream.receiveFin()
                scheduleRead(stream)
            }
        }
        callbacks.onStreamClosed = { [unowned self] session, id, status in
            if let metrics {
                metrics.streamsClosed[metrics.statusIndex(status)].increment(by: 1)
                if counts.openStreams > 0 {
                    counts.openStreams -= 1
                    metrics.activeStreams.decrement(by: 1)
                }
            }
            notifyFrame(.streamClosed(id, status))
            guard let stream = streams[id] else { return }
            closedStreams.append((stream, streamError(id, status, stream)))
        }
        callbacks.onControlFrameSent = { [unowned self] session, frame in
            if let metrics { count(frame, direction: 0, metrics) }
            guard !observers.isEmpty else { return }
            let header = session.reportedHeader(session.sentControlFrameHeader, of: frame)
            notifyObservers(.frame(.controlSent(frame, header)))
        }
        callbacks.onInvalidControlFrameReceived = { [unowned self] session, frame, status in
            if let metrics { counts.frame(1, metrics.frameTypeIndex(frame)) }
            guard !observers.isEmpty else { return }
            let header = session.reportedHeader(session.receivedControlFrameHeader, of: frame)
            notifyObservers(.frame(.invalidControlReceived(frame, header, status)))
        }
        callbacks.onDataSent = { [unowned self] _, flags, id, length in
            if metrics != nil { counts.frame(0, 0) }
            notifyFrame(.dataSent(id, flags, length: length))
        }
        callbacks.onControlFrameParseError = { [unowned self] _, type, header, _, code in
            notifyFrame(.parseError(type, header: header, code))
        }
        callbacks.onUnknownControlFrameReceived = { [unowned self] _, header, _ in
            if metrics != nil { counts.frame(1, SPDYMetrics.unknownFrameType) }
            notifyFrame(.unknownReceived(header: header))
        }
        session.callbacks = callbacks
    }

    // MARK: Metrics

    /// Counts a control frame sent (`direction` 0) or received (1). A SYN_STREAM sent opens
    /// a local stream, one received a remote stream: the initiator's index is the direction's.
    private func count(_ frame: SPDYFrame, direction: Int, _ metrics: SPDYMetrics) {
        counts.frame(direction, metrics.frameTypeIndex(frame))
        switch frame {
        case .synStream: streamOpened(initiator: direction, metrics)
        case .rstStream(let rst): metrics.resets[direction][metrics.statusIndex(rst.status)].increment(by: 1)
        default: break
        }
    }

    private func streamOpened(initiator: Int, _ metrics: SPDYMetrics) {
        metrics.streamsOpened[initiator].increment(by: 1)
        metrics.activeStreams.increment(by: 1)
        counts.openStreams += 1
    }

    /// Hands the counts gathered since the last report to ``metrics``.
    private func reportCounts() {
        guard let metrics else { return }
        counts.report(to: metrics, session: session)
    }

    private func controlFrameReceived(_ frame: SPDYFrame) {
        switch frame {
        case .synStream(let syn):
            openInbound(syn)
        case .synReply(let reply):
            guard let stream = streams[reply.streamID] else { return }
            stream.receive(
                .headers(.init(kind: .synReply, headers: reply.headers, fin: reply.flags.contains(.fin))))
            scheduleRead(stream)
        case .headers(let more):
            guard let stream = streams[more.streamID] else { return }
            stream.receive(.headers(.init(kind: .headers, headers: more.headers, fin: more.flags.contains(.fin))))
            scheduleRead(stream)
        case .rstStream(let rst):
            streams[rst.streamID]?.peerResetStatus = rst.status
        case .ping(let ping):
            pings.removeValue(forKey: ping.id)?.succeed(())
        default:
            break
        }
    }

    private func openInbound(_ syn: SPDYFrame.SynStream) {
        let unidirectional = syn.flags.contains(.unidirectional)
        let fin = syn.flags.contains(.fin)
        // A SYN_STREAM with both FIN and UNIDIRECTIONAL never opens a stream.
        guard !(fin && unidirectional), let parent = context?.channel else { return }
        let setUp = session.role == .server ? inboundStreamSetUp : pushStreamSetUp
        guard let setUp else {
            try? session.submitRstStream(
                streamID: syn.streamID, status: session.role == .server ? .refusedStream : .cancel)
            return
        }
        let stream = SPDYStreamChannel(
            connection: self, parent: parent, streamID: syn.streamID, configuration: streamConfiguration)
        streams[syn.streamID] = stream
        stream.receive(
            .headers(
                .init(
                    kind: .synStream(
                        priority: syn.priority, associatedStreamID: syn.associatedStreamID,
                        unidirectional: unidirectional),
                    headers: syn.headers,
                    fin: fin
                )))
        openedStreams.append((stream, setUp))
        scheduleRead(stream)
    }

    private func streamError(_ id: SPDYStreamID, _ status: SPDYStreamStatus, _ stream: SPDYStreamChannel)
        -> (any Error)?
    {
        if status == .ok { return nil }
        if let peer = stream.peerResetStatus { return SPDYStreamError.resetByPeer(peer) }
        if status == .refusedStream, session.hasReceivedGoAway, session.isLocallyInitiated(id),
            let lastGood = session.peerLastGoodStreamID, id > lastGood
        {
            return SPDYStreamError.refusedByGoAway(lastGoodStreamID: lastGood)
        }
        if closed { return SPDYStreamError.connectionClosed }
        return SPDYStreamError.resetLocally(status)
    }

    // MARK: What stream channels ask of the connection

    /// A stream channel flushed writes: hand them to the session and send.
    func streamFlushed(_ stream: SPDYStreamChannel) {
        if inSession || flushing {
            flushedStreams.append(stream)
            flushAgain = true
            return
        }
        stream.submitFlushed()
        if inReadBatch {
            pendingFlush = true
        } else {
            flush()
        }
    }

    /// A client stream channel wrote its SYN_STREAM and got its ID.
    func registerLocalStream(_ stream: SPDYStreamChannel, id: SPDYStreamID) {
        idleStreams.removeValue(forKey: ObjectIdentifier(stream))
        streams[id] = stream
    }

    /// A stream channel passed `bytes` of DATA to its pipeline (or dropped them on close).
    func consumed(_ stream: SPDYStreamChannel, bytes: Int) {
        bufferedInboundBytes -= bytes
        if stream.pendingReadBytes <= streamConfiguration.maxBufferedInboundBytesPerStream {
            streamsOverCap.remove(ObjectIdentifier(stream))
        }
        // After the peer's FIN a WINDOW_UPDATE would be for nothing.
        if consumesManually, !stream.peerFinished, let id = stream.ownStreamID {
            let consume = { [self] in
                try? session.consumeStream(streamID: id, size: bytes)
                pendingFlush = true
            }
            if inSession { deferredWork.append(consume) } else { consume() }
        }
        resumeReadingIfPossible()
        if !inReadBatch && !inSession && !flushing && pendingFlush {
            pendingFlush = false
            flush()
        }
    }

    /// Sends RST_STREAM for a stream channel that closed early.
    func resetStream(_ id: SPDYStreamID, status: SPDYStreamStatus) {
        let reset = { [self] in
            _ = try? session.submitRstStream(streamID: id, status: status)
        }
        if inSession {
            deferredWork.append(reset)
        } else {
            reset()
            if inReadBatch { pendingFlush = true } else { flush() }
        }
    }

    /// Runs `work` once the session call in progress has returned (at once if none is).
    func afterSession(_ work: @escaping () -> Void) {
        if inSession { deferredWork.append(work) } else { work() }
    }

    /// Runs `work` after the session's next `send()`, once the frames queued so far are
    /// written: a reset that must follow a SYN_REPLY with FIN, which a reset submitted
    /// while the reply waits in the session would discard.
    func afterNextSend(_ work: @escaping () -> Void) {
        afterSendWork.append(work)
    }

    /// Succeeds a write promise once the session call in progress has returned.
    func completeLater(_ promise: EventLoopPromise<Void>) {
        completedWrites.append(promise)
    }

    /// A stream channel closed: forget it.
    func streamChannelClosed(_ stream: SPDYStreamChannel) {
        if let id = stream.ownStreamID, streams[id] === stream {
            streams.removeValue(forKey: id)
        }
        idleStreams.removeValue(forKey: ObjectIdentifier(stream))
        streamsOverCap.remove(ObjectIdentifier(stream))
        resumeReadingIfPossible()
    }

    private func scheduleRead(_ stream: SPDYStreamChannel) {
        if !stream.scheduledForRead {
            stream.scheduledForRead = true
            streamsToRead.append(stream)
        }
    }

    private func inboundBytesAdded(_ stream: SPDYStreamChannel, _ count: Int) {
        bufferedInboundBytes += count
        if stream.pendingReadBytes > streamConfiguration.maxBufferedInboundBytesPerStream {
            streamsOverCap.insert(ObjectIdentifier(stream))
        }
        scheduleRead(stream)
    }

    private var readingPaused: Bool {
        bufferedInboundBytes > inboundCap || !streamsOverCap.isEmpty
    }

    /// The connection's cap on unread DATA. With flow control it is at least what the windows
    /// we advertise let the peer send (our INITIAL_WINDOW_SIZE × our MAX_CONCURRENT_STREAMS):
    /// below that, streams that wait (a request past the server's body budget) could hold
    /// the connection's reading back while the stream that may read waits for DATA queued
    /// behind theirs. Those bytes are bounded by our own settings all the same.
    private var inboundCap: Int {
        let configured = streamConfiguration.maxBufferedInboundBytes
        guard session.usesFlowControl, let streams = session.localSetting(.maxConcurrentStreams) else {
            return configured
        }
        let window = Int(session.localSetting(.initialWindowSize) ?? UInt32(SPDYProtocol.defaultInitialWindowSize))
        return max(configured, window * Int(streams))
    }

    private func resumeReadingIfPossible() {
        if readPending && !readingPaused, let context {
            readPending = false
            context.read()
            // The peer gets the whole frame-completion time again for a frame we left unread.
            frameTimer?.task.cancel()
            frameTimer = nil
            watchFrameProgress()
        }
    }

    /// Runs what the session's callbacks recorded: new streams, closed streams, completed
    /// writes, flushes of stream channels.
    private func processSessionEvents() {
        while !openedStreams.isEmpty || !closedStreams.isEmpty || !completedWrites.isEmpty
            || !deferredWork.isEmpty || !flushedStreams.isEmpty
        {
            if !openedStreams.isEmpty {
                let opened = openedStreams
                openedStreams.removeAll(keepingCapacity: true)
                for (stream, setUp) in opened { setUp.run(on: stream) }
            }
            if !closedStreams.isEmpty {
                let closedNow = closedStreams
                closedStreams.removeAll(keepingCapacity: true)
                for (stream, error) in closedNow { stream.streamClosed(error: error) }
            }
            if !completedWrites.isEmpty {
                let completed = completedWrites
                completedWrites.removeAll(keepingCapacity: true)
                for promise in completed { promise.succeed(()) }
            }
            if !deferredWork.isEmpty {
                let work = deferredWork
                deferredWork.removeAll(keepingCapacity: true)
                for item in work { item() }
                // What they submitted must be sent: by the flush in progress, if any, or by
                // the next one.
                pendingFlush = true
                flushAgain = true
            }
            if !flushedStreams.isEmpty {
                let flushed = flushedStreams
                flushedStreams.removeAll(keepingCapacity: true)
                for stream in flushed { stream.submitFlushed() }
                pendingFlush = true
                flushAgain = true
            }
        }
    }

    /// Runs `work` once the close callbacks of a stream channel have returned: in one task
    /// on the event loop for all the streams that closed meanwhile.
    func afterClose(_ work: @escaping () -> Void) {
        closeWork.append(work)
        if closeWork.count == 1, let loop {
            let bound = NIOLoopBound(self, eventLoop: loop)
            loop.execute { bound.value.runCloseWork() }
        }
    }

    private func runCloseWork() {
        let work = closeWork
        closeWork.removeAll(keepingCapacity: true)
        for item in work { item() }
    }

    // MARK: Opening streams

    /// Opens a stream of ours: creates a stream channel, runs `initializer` on it, and
    /// completes `promise` with the channel. The stream gets its ID (and its SYN_STREAM goes
    /// out) when the channel first writes and flushes a header block: a request on a
    /// client, a pushed resource on a server (``SPDYHeadersPayload/Kind/synStream(priority:associatedStreamID:unidirectional:)``
    /// with the associated stream and `unidirectional`).
    public func createStreamChannel(
        promise: EventLoopPromise<any Channel>?,
        initializer: @escaping StreamInitializer
    ) {
        guard let stream = makeLocalStream() else {
            promise?.fail(SPDYStreamError.connectionClosed)
            return
        }
        stream.configure(initializer: { channel in initializer(channel).map { channel } }, promise: promise)
    }

    /// Opens a stream of ours (see ``createStreamChannel(promise:initializer:)``) and returns
    /// what `initializer` returns, such as an `NIOAsyncChannel` wrapping the stream channel.
    public func createStreamChannel<Output: Sendable>(
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Output>
    ) -> EventLoopFuture<Output> {
        guard let stream = makeLocalStream() else {
            return anyEventLoop.makeFailedFuture(SPDYStreamError.connectionClosed)
        }
        let promise = stream.eventLoop.makePromise(of: Output.self)
        stream.configure(initializer: initializer, promise: promise)
        return promise.futureResult
    }

    /// A new stream channel of ours, without an ID until its first header block is flushed;
    /// `nil` once the connection is closed.
    private func makeLocalStream() -> SPDYStreamChannel? {
        guard let context, !closed else { return nil }
        let stream = SPDYStreamChannel(
            connection: self, parent: context.channel, streamID: nil, configuration: streamConfiguration)
        idleStreams[ObjectIdentifier(stream)] = stream
        return stream
    }

    private var anyEventLoop: any EventLoop {
        guard let loop else { preconditionFailure("SPDYConnection: add the handler to a channel pipeline first") }
        return loop
    }

    /// Opens a stream of ours, set up synchronously on the event loop by `setUp` (the library's
    /// own streams: requests of ``SPDYClientConnection``, pushed resources), with no futures.
    @discardableResult
    func openLocalStream(autoRead: Bool = true, _ setUp: (SPDYStreamChannel) throws -> Void) -> SPDYStreamChannel? {
        guard let stream = makeLocalStream() else { return nil }
        stream.configureNow(autoRead: autoRead, setUp)
        return stream
    }

    // MARK: PING

    /// Sends a PING; the future succeeds when the peer's reply arrives and fails with
    /// ``SPDYStreamError/connectionClosed`` if the connection closes first.
    public func ping() -> EventLoopFuture<Void> {
        sendPing().reply
    }

    /// Sends a PING and returns its ID with the future of its reply (see ``ping()``).
    public func sendPing() -> (id: UInt32, reply: EventLoopFuture<Void>) {
        guard let context, !closed else {
            return (0, anyEventLoop.makeFailedFuture(SPDYStreamError.connectionClosed))
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        let id = session.submitPing()
        pings[id] = promise
        flush()
        return (id, promise.futureResult)
    }

    /// PINGs sent and not yet answered.
    public var outstandingPings: Int { pings.count }

    // MARK: ChannelHandler

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.loop = context.eventLoop
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
        if let metrics {
            metrics.connections.increment(by: 1)
            metrics.activeConnections.increment(by: 1)
            countedActive = true
        }
        notifyObservers(.active)
        flush()
        if let keepAlive { scheduleKeepAliveCheck(in: keepAlive.interval) }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if metrics != nil { counts.bytes(1, bytes.readableBytes) }
        readCount &+= 1
        inReadBatch = true
        inSession = true
        do {
            try session.recv(bytes)
        } catch {
            inSession = false
            fail(error)
            return
        }
        inSession = false
        if receivedSessionBytes > 0 {
            try? session.consumeSession(size: receivedSessionBytes)
            receivedSessionBytes = 0
        }
        processSessionEvents()
        pendingFlush = true
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        if !streamsToRead.isEmpty {
            let ready = streamsToRead
            streamsToRead.removeAll(keepingCapacity: true)
            for stream in ready {
                stream.scheduledForRead = false
                stream.parentReadComplete()
            }
        }
        inReadBatch = false
        if pendingFlush {
            pendingFlush = false
            flush()
        }
        watchFrameProgress()
        context.fireChannelReadComplete()
    }

    public func read(context: ChannelHandlerContext) {
        if readingPaused {
            readPending = true
        } else {
            context.read()
        }
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        if writable {
            if !closing {
                writeTimer?.cancel()
                writeTimer = nil
            }
            flush()
        } else {
            startWriteTimer()
        }
        for stream in streams.values { stream.parentWritabilityChanged(writable) }
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
        if event is ChannelShouldQuiesceEvent {
            shutdownGracefully()
            return
        }
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// The peer closed its side of the TCP connection (with half-closure allowed): streams
    /// still waiting for the peer cannot complete; those the peer finished get their answers,
    /// then the connection closes.
    private func inputClosed() {
        for stream in Array(streams.values) where !stream.peerFinished {
            stream.streamClosed(error: SPDYStreamError.connectionClosed)
            if let id = stream.ownStreamID { try? session.submitRstStream(streamID: id, status: .cancel) }
        }
        if !session.hasSentGoAway {
            session.submitGoAway(status: .ok)
        }
        flush()
        if streams.isEmpty {
            closeAfterPendingWrites()
        }
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
            guard !connection.readingPaused else {
                // We hold reads back, not the peer: the timer starts again when reading resumes.
                connection.frameTimer = nil
                return
            }
            if !connection.session.hasSentGoAway {
                connection.session.failSession(status: .protocolError)
            }
            connection.flush()
            connection.fail(SPDYConnectionTimeout.frameIncomplete, peerIsGone: true)
        }
        frameTimer = (frame, task)
    }

    /// Closes the connection at once if writing stays stuck for ``writeTimeout``.
    private func startWriteTimer() {
        guard let timeout = writeTimeout, let context, writeTimer == nil else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        writeTimer = context.eventLoop.scheduleTask(in: timeout) {
            bound.value.fail(SPDYConnectionTimeout.writeStalled, peerIsGone: true)
        }
    }

    /// Runs the next keep-alive check after `delay`: `pinged` is whether a PING went out at
    /// the previous check with nothing received since.
    private func scheduleKeepAliveCheck(in delay: TimeAmount, pinged: Bool = false) {
        guard let context, !closing else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        keepAliveTimer = context.eventLoop.scheduleTask(in: delay) {
            bound.value.keepAliveTimer = nil
            bound.value.checkKeepAlive(pinged: pinged)
        }
    }

    private func checkKeepAlive(pinged: Bool) {
        guard let keepAlive, !closing else { return }
        let heardFrom = readCount != readCountAtCheck
        readCountAtCheck = readCount
        // While we hold reads back, the silence is ours, not the peer's.
        if heardFrom || readingPaused || (streams.isEmpty && !pinged) {
            scheduleKeepAliveCheck(in: keepAlive.interval)
        } else if pinged {
            // Nothing arrived in a whole interval and the PING's timeout after it.
            fail(SPDYConnectionTimeout.pingUnanswered, peerIsGone: true)
        } else {
            // The reply (or any other bytes) settles it; the future's result is not needed.
            _ = sendPing()
            scheduleKeepAliveCheck(in: keepAlive.timeout, pinged: true)
        }
    }

    /// The `send` callback: writes while the channel can take more, else reports "would block".
    ///
    /// A response is several pieces (the SYN_REPLY, each DATA frame's header, its payload),
    /// and each `context.write` costs a trip through the pipeline's outbound handlers, an
    /// entry in the channel's pending writes and a retained buffer. Pieces up to
    /// ``batchedPieceLimit`` bytes are therefore copied into one batch that is written when
    /// the session stops sending (or the batch is full, or a large piece comes); larger
    /// DATA payloads are written as they are, after the batch. Copying also lets the
    /// session reuse its frame-header buffer instead of copying it on its next frame.
    private func write(_ data: ByteBuffer) -> Int {
        guard let context, !closing, context.channel.isWritable else { return 0 }
        let count = data.readableBytes
        if metrics != nil { counts.bytes(0, count) }
        if count <= Self.batchedPieceLimit {
            if outputBatch.readableBytes + count > Self.batchCapacity {
                writeOutputBatch(context)
            }
            if outputBatch.capacity == 0 {
                outputBatch = context.channel.allocator.buffer(capacity: Self.batchCapacity / 4)
            }
            var data = data
            outputBatch.writeBuffer(&data)
        } else {
            writeOutputBatch(context)
            context.write(wrapOutboundOut(data), promise: nil)
        }
        return count
    }

    /// Pieces up to this size are copied into the batch.
    private static let batchedPieceLimit = 4096
    /// The most a batch holds before it is written.
    private static let batchCapacity = 64 * 1024

    /// Writes the batch of small frames (without flushing); the next piece starts a new
    /// buffer, since the channel keeps this one until its bytes are out.
    private func writeOutputBatch(_ context: ChannelHandlerContext) {
        guard outputBatch.readableBytes > 0 else { return }
        context.write(wrapOutboundOut(outputBatch), promise: nil)
        outputBatch = noOutputBatch
    }

    /// Lets the session send what it has queued, writes it out and closes the connection
    /// when the session is done. Call it after submitting frames from outside a callback.
    public func flush() {
        guard let context, !closed else { return }
        if flushing || inSession {
            flushAgain = true
            return
        }
        flushing = true
        defer { flushing = false }
        // Flushing the channel can make it writable again, and finished writes and closed
        // streams run handlers that write more: both ask for another round.
        repeat {
            repeat {
                flushAgain = false
                inSession = true
                do {
                    try session.send()
                } catch {
                    inSession = false
                    fail(error)
                    return
                }
                inSession = false
                // Work registered before this send() follows frames it has written; work that
                // the events below register waits for the next round.
                let written = afterSendWork
                afterSendWork = []
                processSessionEvents()
                for item in written { item() }
                if !afterSendWork.isEmpty { flushAgain = true }
            } while flushAgain
            writeOutputBatch(context)
            context.flush()
        } while flushAgain
        reportCounts()
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
        writeOutputBatch(context)
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

    /// Closes the connection because of `error`. With `peerIsGone` (our timers gave up on
    /// the peer) the streams end now rather than when the channel becomes inactive, which TLS
    /// delays while it waits for a close_notify the peer will not send.
    private func fail(_ error: any Error, peerIsGone: Bool = false) {
        if closeError == nil { closeError = error }
        close()
        if peerIsGone { finish(error: closeError) }
    }

    private func finish(error: (any Error)?) {
        guard !closed else { return }
        closed = true
        closing = true
        frameTimer?.task.cancel()
        frameTimer = nil
        writeTimer?.cancel()
        writeTimer = nil
        keepAliveTimer?.cancel()
        keepAliveTimer = nil
        let open = Array(streams.values) + Array(idleStreams.values)
        streams = [:]
        idleStreams = [:]
        openedStreams = []
        closedStreams = []
        for stream in open {
            stream.streamClosed(error: SPDYStreamError.connectionClosed)
        }
        let waiting = pings
        pings = [:]
        for promise in waiting.values { promise.fail(SPDYStreamError.connectionClosed) }
        for promise in completedWrites { promise.succeed(()) }
        completedWrites = []
        if let metrics, countedActive {
            reportCounts()
            metrics.activeConnections.decrement(by: 1)
            if counts.openStreams > 0 {
                metrics.streamsClosedWithConnection.increment(by: Int64(counts.openStreams))
                metrics.activeStreams.decrement(by: Double(counts.openStreams))
                counts.openStreams = 0
            }
            if let abuse = session.abuseDetected { metrics.abuse[abuse]?.increment(by: 1) }
        }
        notifyObservers(.closed(error))
        observers = []
    }
}

/// Why a ``SPDYConnection`` closed on its own timers: the error in ``SPDYConnection/Event/closed(_:)``.
public enum SPDYConnectionTimeout: Error, Sendable, Hashable {
    /// A frame was started and not finished within ``SPDYConnection/frameCompletionTimeout``.
    case frameIncomplete
    /// Nothing could be written for ``SPDYConnection/writeTimeout``.
    case writeStalled
    /// Streams were open, nothing arrived for ``SPDYKeepAlive/interval``, and nothing
    /// arrived within ``SPDYKeepAlive/timeout`` of the PING that followed (see
    /// ``SPDYConnection/keepAlive``).
    case pingUnanswered
}
