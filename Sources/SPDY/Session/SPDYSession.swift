import DequeModule
import HeapModule
import NIOCore

/// A SPDY session: the reference API's `Session`, a sans-I/O engine for one
/// connection of SPDY/2, SPDY/3 or SPDY/3.1.
///
/// Bytes come in through ``recv(_:)`` (or ``recv()`` and the `recv` callback)
/// and go out through ``send()`` and the `send` callback; everything the
/// session observes is reported through ``SPDYSessionCallbacks``. It does no
/// I/O and starts no threads: drive it from one thread (or event loop).
///
/// ```swift
/// let session = try SPDYSession(role: .client, version: .v3_1, callbacks: callbacks)
/// let id = try session.submitRequest(priority: 3, headers: [(":method", "GET"), (":path", "/"), …])
/// try session.send()          // writes the SYN_STREAM through callbacks.send
/// try session.recv(bytes)     // feeds what the server sent
/// ```
public final class SPDYSession {
    /// How many objects of each recycled kind a session keeps while streams are open,
    /// and how many once none is (see ``ObjectRecycler``).
    static let recyclingLimit = 128
    static let idleRecyclingLimit = 8

    /// Options and limits of a session.
    public struct Configuration: Sendable, Hashable {
        /// Send WINDOW_UPDATE automatically once half a window has been received
        /// (clear it for the reference's option `NO_AUTO_WINDOW_UPDATE`: the application
        /// then calls ``SPDYSession/submitWindowUpdate(streamID:delta:)`` itself). Default `true`.
        public var automaticWindowUpdate: Bool
        /// The reference's option `NO_AUTO_WINDOW_UPDATE2`: the window is replenished only
        /// for bytes the application reports with ``SPDYSession/consume(streamID:size:)``.
        /// Default `false`.
        public var manualDataConsumption: Bool
        /// The largest control-frame payload accepted (the reference's
        /// `MAX_RECV_CTRL_FRAME_BUFFER`, 8 KiB to 2^24−1). Default 128 KiB.
        public var maxReceivedControlFrameSize: Int
        /// The largest inflated header block accepted. Default 64 KiB.
        public var maxHeaderBlockSize: Int
        /// Header compression of the frames we send; `nil` takes the reference's default
        /// for the role (level 0 for a client, 9 for a server; windowBits 11, memLevel 1).
        public var headerCompression: SPDYHeaderCompression?
        /// The largest DATA payload we send in one frame, 1 to 2^24−1. Default 4096, as the reference.
        public var dataFramePayloadSize: Int
        /// How many bytes ``SPDYSession/recv()`` asks the `recv` callback for at once. Default 16 KiB.
        public var receiveBufferSize: Int
        /// Treat DATA beyond the window we advertised as an error (RST_STREAM
        /// FLOW_CONTROL_ERROR for a stream, GOAWAY for the SPDY/3.1 session window), as the
        /// drafts require. The reference does not check. Default `true`.
        public var enforcesReceiveWindow: Bool
        /// The most frames that may wait to be sent before a peer that provokes answers
        /// (PING echoes, RST_STREAMs for its bad frames) without reading them is cut off with
        /// GOAWAY: the outbound queue never grows without bound. Default 10 000.
        public var maxQueuedFrames: Int
        /// Limits on floods of cheap frames (empty DATA, RST_STREAM, stream errors, PING and
        /// SETTINGS); see ``SPDYAbuseLimits`` for the defaults.
        public var abuseLimits: SPDYAbuseLimits
        /// Talk to a peer built on moby/spdystream, as Kubernetes' `kubectl` and kubelet are:
        /// that library frames SPDY/3 but has no flow control (it never sends WINDOW_UPDATE and
        /// ignores the ones it gets). With this set the session neither waits for windows
        /// before sending DATA nor checks the windows of what it receives, and sends no
        /// WINDOW_UPDATE: back-pressure is the transport's alone, so the application must
        /// stop reading the transport when it cannot keep up (`NIOSPDY` does). Use it with
        /// `SPDYVersion.v3`. Default `false`.
        public var spdystreamCompatible: Bool

        /// Creates a configuration with the defaults.
        public init(
            automaticWindowUpdate: Bool = true,
            manualDataConsumption: Bool = false,
            maxReceivedControlFrameSize: Int = 1 << 17,
            maxHeaderBlockSize: Int = 1 << 16,
            headerCompression: SPDYHeaderCompression? = nil,
            dataFramePayloadSize: Int = SPDYProtocol.defaultDataPayloadSize,
            receiveBufferSize: Int = 16384,
            enforcesReceiveWindow: Bool = true,
            maxQueuedFrames: Int = 10_000,
            abuseLimits: SPDYAbuseLimits = .init(),
            spdystreamCompatible: Bool = false
        ) {
            self.abuseLimits = abuseLimits
            self.spdystreamCompatible = spdystreamCompatible
            self.automaticWindowUpdate = automaticWindowUpdate
            self.manualDataConsumption = manualDataConsumption
            self.maxReceivedControlFrameSize = maxReceivedControlFrameSize
            self.maxHeaderBlockSize = maxHeaderBlockSize
            self.headerCompression = headerCompression
            self.dataFramePayloadSize = dataFramePayloadSize
            self.receiveBufferSize = receiveBufferSize
            self.enforcesReceiveWindow = enforcesReceiveWindow
            self.maxQueuedFrames = maxQueuedFrames
        }
    }

    struct ActiveFrame {
        var item: OutboundItem
        /// The frame header (and a control frame's payload); `nil` once written.
        var head: ByteBuffer?
        var body: ByteBuffer?
        /// For DATA: the flags written and the payload length.
        var dataFlags: SPDYDataFlags = []
        var dataLength = 0
    }

    /// Client or server.
    public let role: SPDYRole
    /// Whether stream windows are kept (SPDY/3 and later, unless spdystream-compatible).
    let flowControlOn: Bool
    /// Whether the session window is kept (SPDY/3.1, unless spdystream-compatible).
    let sessionFlowControlOn: Bool
    /// The protocol version.
    public let version: SPDYVersion
    /// The options and limits.
    public let configuration: Configuration
    /// The callbacks.
    @exclusivity(unchecked) public var callbacks: SPDYSessionCallbacks
    /// Any object the application ties to the session (the reference's `user_data`).
    public var userData: Any?

    let encoder: SPDYFrameEncoder
    let decoder: SPDYFrameDecoder

    // The session's state is touched on every frame. A session is used from one thread at
    // a time and never holds an access to these properties across a callback (callbacks get
    // copies), so the runtime exclusivity checks Swift would otherwise make on each access
    // (about a quarter of the per-frame cost) are turned off for them.
    let streams = SPDYStreamTable()
    /// The stream found last: frames of one stream come in runs (a DATA frame is
    /// looked up several times on each side), so most lookups skip hashing.
    @exclusivity(unchecked) var cachedStream: SPDYStream?
    /// Closed streams and sent frames' queue objects, reused so that a request does
    /// not allocate them anew (a few per session: see ``ObjectRecycler``).
    @exclusivity(unchecked) var streamRecycler = ObjectRecycler<SPDYStream>(limit: recyclingLimit)
    @exclusivity(unchecked) var controlRecycler = ObjectRecycler<OutboundControl>(limit: recyclingLimit)
    @exclusivity(unchecked) var dataRecycler = ObjectRecycler<OutboundData>(limit: recyclingLimit)
    @exclusivity(unchecked) var outgoingStreamCount = 0
    @exclusivity(unchecked) var incomingStreamCount = 0
    @exclusivity(unchecked) var nextStreamID: UInt64
    @exclusivity(unchecked) var nextPingID: UInt32
    @exclusivity(unchecked) var outstandingPingIDs: Set<UInt32> = []
    @exclusivity(unchecked) var lastReceivedStreamID: SPDYStreamID = .zero

    @exclusivity(unchecked) var goAwaySent = false
    @exclusivity(unchecked) var goAwayReceived = false
    @exclusivity(unchecked) var failOnSend = false
    /// The last-good-stream-ID of the GOAWAY the peer sent, if it sent one.
    @exclusivity(unchecked) public internal(set) var peerLastGoodStreamID: SPDYStreamID?

    @exclusivity(unchecked) var localSettings: [UInt32]
    @exclusivity(unchecked) var remoteSettings: [UInt32]

    /// The session's windows (SPDY/3.1): 64 KiB each way to start with; the window we
    /// advertise grows by what the application grants beyond received bytes on stream 0.
    @exclusivity(unchecked) var sessionWindow = FlowControlWindow(
        send: SPDYProtocol.defaultInitialWindowSize, receive: SPDYProtocol.defaultInitialWindowSize)

    @exclusivity(unchecked) var queue = Heap<OutboundItem>()
    @exclusivity(unchecked) var synQueue = Deque<OutboundItem>()
    @exclusivity(unchecked) var nextSequence: UInt64 = 0
    @exclusivity(unchecked) var active: ActiveFrame?
    /// Reused for every frame's header bytes, so sending allocates nothing when the
    /// `send` callback does not keep the buffers it is given.
    @exclusivity(unchecked) var frameBuffer = ByteBuffer()

    /// The header of the control frame being sent, as written on the wire: valid in
    /// `beforeControlFrameSend` and `onControlFrameSent` (the reference passes it in the
    /// frame's `hd`), for example for the compressed length of a header block.
    @exclusivity(unchecked) public internal(set) var sentControlFrameHeader: SPDYControlFrameHeader?

    /// The header of the control frame being processed: valid in the callbacks that
    /// report a received control frame, `onInvalidControlFrameReceived` included.
    @exclusivity(unchecked) public internal(set) var receivedControlFrameHeader: SPDYControlFrameHeader?

    @exclusivity(unchecked) var currentDataFrame: (streamID: SPDYStreamID, allowed: Bool)?
    @exclusivity(unchecked) var pendingCallbackError: (any Error)?
    @exclusivity(unchecked) var abuse: AbuseMonitor
    /// The time for the abuse limits' sliding windows.
    let clock: SPDYClock
    /// The limit of ``Configuration-swift.struct/abuseLimits`` (or of
    /// ``Configuration-swift.struct/maxQueuedFrames``) the peer passed, if it passed one: the
    /// session then sent GOAWAY PROTOCOL_ERROR and ignores what the peer sends.
    @exclusivity(unchecked) public internal(set) var abuseDetected: SPDYAbuse?

    /// Creates a session (the reference's `Session(side, version, config, callbacks…, user_data)`).
    ///
    /// `clock` is where the session reads the time for the sliding windows of
    /// ``Configuration-swift.struct/abuseLimits``: the system's monotonic clock unless a
    /// network layer passes its event loop's, or a test a clock it advances by hand.
    ///
    /// - Throws: ``SPDYError/Code-swift.enum/invalidArgument`` for a configuration value
    ///   out of range, ``SPDYError/Code-swift.enum/zlib`` when zlib cannot start.
    public init(
        role: SPDYRole,
        version: SPDYVersion,
        configuration: Configuration = Configuration(),
        callbacks: SPDYSessionCallbacks = SPDYSessionCallbacks(),
        userData: Any? = nil,
        clock: SPDYClock = .system
    ) throws(SPDYError) {
        guard (1 << 13)...SPDYProtocol.maxFramePayloadSize ~= configuration.maxReceivedControlFrameSize else {
            throw .invalidArgument("maxReceivedControlFrameSize must be in 8192...16777215")
        }
        guard configuration.maxHeaderBlockSize >= 1024 else {
            throw .invalidArgument("maxHeaderBlockSize must be at least 1024")
        }
        guard 1...SPDYProtocol.maxFramePayloadSize ~= configuration.dataFramePayloadSize else {
            throw .invalidArgument("dataFramePayloadSize must be in 1...16777215")
        }
        guard configuration.receiveBufferSize >= 1 else {
            throw .invalidArgument("receiveBufferSize must be positive")
        }
        guard configuration.maxQueuedFrames >= 16 else {
            throw .invalidArgument("maxQueuedFrames must be at least 16")
        }
        self.role = role
        self.version = version
        self.configuration = configuration
        self.flowControlOn = version.hasStreamFlowControl && !configuration.spdystreamCompatible
        self.sessionFlowControlOn = version.hasSessionFlowControl && !configuration.spdystreamCompatible
        self.abuse = AbuseMonitor(configuration.abuseLimits)
        self.clock = clock
        self.callbacks = callbacks
        self.userData = userData
        do {
            self.encoder = try SPDYFrameEncoder(
                version: version,
                compression: configuration.headerCompression ?? .default(for: role)
            )
        } catch {
            throw SPDYError(error.isCompressionFailure ? .zlib : .invalidArgument, error.description)
        }
        do {
            self.decoder = try SPDYFrameDecoder(
                version: version,
                configuration: .init(
                    maxControlFramePayloadSize: configuration.maxReceivedControlFrameSize,
                    maxHeaderBlockSize: configuration.maxHeaderBlockSize
                )
            )
        } catch {
            throw SPDYError(.zlib, error.message)
        }
        nextStreamID = role == .client ? 1 : 2
        nextPingID = role == .client ? 1 : 2
        var settings = [UInt32](repeating: 0, count: Int(SPDYSettingsID.max.rawValue) + 1)
        settings[Int(SPDYSettingsID.maxConcurrentStreams.rawValue)] = UInt32(SPDYProtocol.defaultMaxConcurrentStreams)
        settings[Int(SPDYSettingsID.initialWindowSize.rawValue)] = UInt32(SPDYProtocol.defaultInitialWindowSize)
        localSettings = settings
        remoteSettings = settings
    }

    // MARK: - Queries

    /// The lowest priority of the session's version: 3 for SPDY/2, 7 otherwise (`get_pri_lowest`).
    public var lowestPriority: UInt8 { version.lowestPriority }

    /// The number of frames waiting to be sent, deferred DATA not included (`get_outbound_queue_size`).
    public var outboundQueueSize: Int { queue.count + synQueue.count }

    /// Whether the session wants to read from the peer (`want_read`). When neither
    /// this nor ``wantWrite`` holds, the application should close the connection.
    public var wantRead: Bool {
        if failOnSend && goAwaySent { return false }
        return !anyGoAway || !streams.isEmpty
    }

    /// Whether the session has something to write (`want_write`).
    public var wantWrite: Bool {
        if failOnSend && goAwaySent { return false }
        let pending =
            active != nil || !queue.isEmpty || (!synQueue.isEmpty && !outgoingStreamLimitReached)
        if failOnSend && !goAwaySent { return pending }
        return pending && (!anyGoAway || !streams.isEmpty)
    }

    /// The user data given when the stream was submitted (`get_stream_user_data`); `nil`
    /// for streams the peer opened and for unknown streams.
    public func streamUserData(_ streamID: SPDYStreamID) -> Any? {
        stream(streamID)?.userData
    }

    /// Replaces the user data of an open stream; returns `false` when the stream does not exist.
    @discardableResult
    public func setStreamUserData(_ streamID: SPDYStreamID, _ userData: Any?) -> Bool {
        guard let stream = stream(streamID) else { return false }
        stream.userData = userData
        return true
    }

    /// The state of a stream, or `nil` when it is not open.
    public func streamState(_ streamID: SPDYStreamID) -> SPDYStreamState? {
        stream(streamID)?.machine.publicState
    }

    /// The IDs of the open streams, in increasing order.
    public var openStreamIDs: [SPDYStreamID] { streams.sortedIDs }

    /// The number of open streams.
    public var openStreamCount: Int { streams.count }

    /// What we may still send on a stream (its flow-control window), or `nil`
    /// without the stream or without flow control (SPDY/2).
    public func streamSendWindow(_ streamID: SPDYStreamID) -> Int? {
        guard flowControlOn else { return nil }
        return stream(streamID)?.window.sendable
    }

    /// What we may still send on the session (SPDY/3.1), or `nil` before SPDY/3.1.
    public var sessionSendWindowSize: Int? {
        sessionFlowControlOn ? sessionWindow.sendable : nil
    }

    /// Bytes received on a stream and not yet acknowledged with WINDOW_UPDATE
    /// (`get_stream_recv_data_length`): `nil` without the stream, 0 without flow control.
    public func streamReceivedDataLength(_ streamID: SPDYStreamID) -> Int? {
        guard let stream = stream(streamID) else { return nil }
        return flowControlOn ? stream.window.unacknowledged : 0
    }

    /// Bytes received on the session and not yet acknowledged (`get_recv_data_length`);
    /// 0 before SPDY/3.1.
    public var receivedDataLength: Int {
        sessionFlowControlOn ? sessionWindow.unacknowledged : 0
    }

    /// The value the peer set for a setting, or the protocol default.
    public func remoteSetting(_ id: SPDYSettingsID) -> UInt32? {
        guard id.rawValue >= 1, id.rawValue <= SPDYSettingsID.max.rawValue else { return nil }
        return remoteSettings[Int(id.rawValue)]
    }

    /// The value we set for a setting with ``submitSettings(flags:entries:)``, or the protocol default.
    public func localSetting(_ id: SPDYSettingsID) -> UInt32? {
        guard id.rawValue >= 1, id.rawValue <= SPDYSettingsID.max.rawValue else { return nil }
        return localSettings[Int(id.rawValue)]
    }

    /// Whether a GOAWAY was sent (it went out on the wire).
    public var hasSentGoAway: Bool { goAwaySent }

    /// The number of the received frame that has partly arrived, or `nil` at a frame
    /// boundary (``SPDYFrameDecoder/frameInProgress``): a network layer closes a connection
    /// whose peer starts a frame and never finishes it.
    public var receivedFrameInProgress: Int? { decoder.frameInProgress }

    /// Whether the peer sent a GOAWAY.
    public var hasReceivedGoAway: Bool { goAwayReceived }

    /// Whether `streamID` has this end's parity (odd for a client, even for a server); 0 never does.
    public func isLocallyInitiated(_ streamID: SPDYStreamID) -> Bool {
        guard streamID != .zero else { return false }
        return role == .client ? streamID.isClientInitiated : streamID.isServerInitiated
    }

    var anyGoAway: Bool { goAwaySent || goAwayReceived || failOnSend }

    /// Whether windows are kept: SPDY/3 and later, unless the peer is spdystream.
    public var usesFlowControl: Bool { flowControlOn }

    var outgoingStreamLimitReached: Bool {
        UInt64(remoteSettings[Int(SPDYSettingsID.maxConcurrentStreams.rawValue)]) <= UInt64(outgoingStreamCount)
    }

    var incomingStreamLimitReached: Bool {
        UInt64(localSettings[Int(SPDYSettingsID.maxConcurrentStreams.rawValue)]) <= UInt64(incomingStreamCount)
    }

    var localInitialWindow: Int { Int(localSettings[Int(SPDYSettingsID.initialWindowSize.rawValue)]) }
    var remoteInitialWindow: Int { Int(remoteSettings[Int(SPDYSettingsID.initialWindowSize.rawValue)]) }

    // MARK: - Callbacks

    /// Runs a notification callback, keeping the first error it throws for the caller.
    @inline(__always)
    func notify(_ body: () throws -> Void) {
        do {
            try body()
        } catch {
            if pendingCallbackError == nil { pendingCallbackError = error }
        }
    }

    func rethrowCallbackError() throws {
        if let error = pendingCallbackError {
            pendingCallbackError = nil
            throw error
        }
    }

    // MARK: - Streams

    /// The open stream with this ID.
    @inline(__always)
    func stream(_ id: SPDYStreamID) -> SPDYStream? {
        if let cached = cachedStream, cached.id == id { return cached }
        guard let found = streams[id] else { return nil }
        cachedStream = found
        return found
    }

    @discardableResult
    func openStream(
        _ id: SPDYStreamID,
        machine: StreamStateMachine,
        priority: UInt8,
        userData: Any?
    ) -> SPDYStream {
        let stream = streamRecycler.take() ?? SPDYStream()
        stream.open(
            id: id,
            machine: machine,
            priority: priority,
            sendWindow: remoteInitialWindow,
            recvWindow: localInitialWindow,
            userData: userData
        )
        streams.insert(stream)
        cachedStream = stream
        if isLocallyInitiated(id) {
            outgoingStreamCount += 1
        } else {
            incomingStreamCount += 1
        }
        return stream
    }

    func closeStream(_ id: SPDYStreamID, status: SPDYStreamStatus) {
        guard let stream = stream(id) else { return }
        close(stream, status: status)
    }

    /// Closes an open stream: reports it, then forgets it. Callers that hold the stream
    /// pass it, so the table is searched once (a closing DATA frame was looked up twice).
    func close(_ stream: SPDYStream, status: SPDYStreamStatus) {
        let id = stream.id
        // A caller's stream may have been closed meanwhile by a callback it ran: report a
        // stream's close once.
        guard streams[id] === stream else { return }
        notify { try callbacks.onStreamClosed?(self, id, status) }
        // The callback may have closed it already (by a reset that went out at once).
        guard streams.remove(id) === stream else { return }
        if cachedStream === stream { cachedStream = nil }
        if isLocallyInitiated(id) {
            outgoingStreamCount -= 1
        } else {
            incomingStreamCount -= 1
        }
        stream.releaseReferences()
        streamRecycler.retire(stream)
        if streams.isEmpty {
            streamRecycler.trim(to: Self.idleRecyclingLimit)
            controlRecycler.trim(to: Self.idleRecyclingLimit)
            dataRecycler.trim(to: Self.idleRecyclingLimit)
        }
    }

    func closePushedStreams(of id: SPDYStreamID, status: SPDYStreamStatus) {
        guard let stream = stream(id) else { return }
        for pushed in stream.pushedStreams {
            closeStream(pushed, status: status)
        }
    }

    // MARK: - Queueing

    func nextSequenceNumber() -> UInt64 {
        defer { nextSequence += 1 }
        return nextSequence
    }

    func enqueue(_ payload: OutboundItem.Payload, priority: Int) {
        queue.insert(OutboundItem(priority: priority, sequence: nextSequenceNumber(), payload: payload))
    }

    func enqueueControl(_ frame: SPDYFrame, dataProvider: SPDYDataProvider? = nil) {
        let priority: Int
        switch frame {
        case .ping: priority = -10
        case .settings: priority = -1
        case .synReply(let f): priority = Int(stream(f.streamID)?.priority ?? lowestPriority)
        case .headers(let f): priority = Int(stream(f.streamID)?.priority ?? lowestPriority)
        case .windowUpdate(let f): priority = Int(stream(f.streamID)?.priority ?? lowestPriority)
        case .rstStream(let f):
            if let stream = stream(f.streamID) {
                stream.machine.resetQueued()
                priority = Int(stream.priority)
            } else {
                priority = Int(lowestPriority)
            }
        default: priority = Int(lowestPriority)
        }
        let payload: OutboundItem.Payload
        switch frame {
        case .windowUpdate(let f): payload = .windowUpdate(f)
        case .ping(let f): payload = .ping(f)
        case .rstStream(let f): payload = .rstStream(f)
        default: payload = .control(makeControl(frame, dataProvider: dataProvider, streamUserData: nil))
        }
        enqueue(payload, priority: priority)
    }

    func makeControl(_ frame: SPDYFrame, dataProvider: SPDYDataProvider?, streamUserData: Any?) -> OutboundControl {
        if let recycled = controlRecycler.take() {
            recycled.reuse(frame, dataProvider: dataProvider, streamUserData: streamUserData)
            return recycled
        }
        return OutboundControl(frame, dataProvider: dataProvider, streamUserData: streamUserData)
    }

    func makeData(streamID: SPDYStreamID, finishesStream: Bool, provider: SPDYDataProvider) -> OutboundData {
        if let recycled = dataRecycler.take() {
            recycled.reuse(streamID: streamID, finishesStream: finishesStream, provider: provider)
            return recycled
        }
        return OutboundData(streamID: streamID, finishesStream: finishesStream, provider: provider)
    }

    func enqueueData(_ data: OutboundData) {
        enqueue(.data(data), priority: Int(stream(data.streamID)?.priority ?? lowestPriority))
    }

    /// The item to send next: the queue's top, or the oldest SYN_STREAM when it
    /// is older and the peer's MAX_CONCURRENT_STREAMS allows another stream.
    func peekNextItem() -> OutboundItem? {
        let syn = outgoingStreamLimitReached ? nil : synQueue.first
        guard let top = queue.min else { return syn }
        guard let syn else { return top }
        return top < syn ? top : syn
    }

    func popNextItem() -> OutboundItem? {
        let syn = outgoingStreamLimitReached ? nil : synQueue.first
        guard let top = queue.min else {
            return syn == nil ? nil : synQueue.removeFirst()
        }
        if let syn, syn < top {
            return synQueue.removeFirst()
        }
        return queue.removeMin()
    }

    // MARK: - Submitting

    func validate(_ headers: SPDYHeaders) throws(SPDYError) {
        do {
            try HeaderBlockSerializer.validate(headers, version: version)
        } catch {
            throw .invalidArgument(error.description)
        }
    }

    func submitSynStreamShared(
        flags: SPDYControlFlags,
        associatedStreamID: SPDYStreamID,
        priority: UInt8,
        headers: SPDYHeaders,
        dataProvider: SPDYDataProvider?,
        streamUserData: Any?
    ) throws(SPDYError) -> SPDYStreamID {
        try validate(headers)
        guard nextStreamID <= UInt64(SPDYStreamID.maxID.rawValue) else {
            throw SPDYError(.streamIDNotAvailable)
        }
        let id = SPDYStreamID(uncheckedRawValue: UInt32(nextStreamID))
        nextStreamID += 2
        let frame = SPDYFrame.synStream(
            .init(
                streamID: id,
                associatedStreamID: role == .server ? associatedStreamID : .zero,
                priority: min(priority, lowestPriority),
                flags: flags.intersection([.fin, .unidirectional]),
                headers: headers
            )
        )
        // SYN_STREAMs leave in submission order (their IDs must increase on the wire), at the
        // lowest priority; a pushed stream goes at its associated stream's priority instead, so
        // it is announced before the response that finishes the associated stream.
        var queuePriority = Int(lowestPriority)
        if role == .server, associatedStreamID != .zero, let associated = stream(associatedStreamID) {
            queuePriority = Int(associated.priority)
        }
        synQueue.append(
            OutboundItem(
                priority: queuePriority,
                sequence: nextSequenceNumber(),
                payload: .control(makeControl(frame, dataProvider: dataProvider, streamUserData: streamUserData))
            )
        )
        return id
    }

    /// Submits a request: a SYN_STREAM, then the provider's data as DATA frames
    /// (`submit_request`). Without a provider the SYN_STREAM carries FIN.
    ///
    /// The headers must hold `:method`, `:scheme`, `:path`, `:version` and `:host`
    /// (written as `method`, `scheme`, `url`, `version`, `host` on SPDY/2); names are
    /// lowercased when sent. A priority above ``lowestPriority`` is lowered to it.
    ///
    /// - Returns: the new stream's ID, allocated now: IDs go out in submission order.
    /// - Throws: ``SPDYError/Code-swift.enum/invalidArgument`` for an invalid header,
    ///   ``SPDYError/Code-swift.enum/streamIDNotAvailable`` when stream IDs are exhausted.
    @discardableResult
    public func submitRequest(
        priority: UInt8,
        headers: SPDYHeaders,
        dataProvider: SPDYDataProvider? = nil,
        streamUserData: Any? = nil
    ) throws(SPDYError) -> SPDYStreamID {
        try submitSynStreamShared(
            flags: dataProvider == nil ? .fin : [],
            associatedStreamID: .zero,
            priority: priority,
            headers: headers,
            dataProvider: dataProvider,
            streamUserData: streamUserData
        )
    }

    /// Submits a SYN_STREAM with explicit flags (`submit_syn_stream`). The associated
    /// stream is used for server push on a server and ignored on a client.
    ///
    /// With a data provider (an extension of the reference API), its data follows as
    /// DATA frames once the SYN_STREAM is out, the last one with FIN: the way to push a
    /// resource with a body.
    ///
    /// - Returns: the new stream's ID.
    @discardableResult
    public func submitSynStream(
        flags: SPDYControlFlags,
        priority: UInt8,
        headers: SPDYHeaders,
        associatedStreamID: SPDYStreamID = .zero,
        streamUserData: Any? = nil,
        dataProvider: SPDYDataProvider? = nil
    ) throws(SPDYError) -> SPDYStreamID {
        try submitSynStreamShared(
            flags: dataProvider == nil ? flags : flags.subtracting(.fin),
            associatedStreamID: associatedStreamID,
            priority: priority,
            headers: headers,
            dataProvider: dataProvider,
            streamUserData: streamUserData
        )
    }

    /// Submits a response: a SYN_REPLY, then the provider's data as DATA frames
    /// (`submit_response`). Without a provider the SYN_REPLY carries FIN. The headers must
    /// hold `:status` and `:version`.
    public func submitResponse(
        streamID: SPDYStreamID,
        headers: SPDYHeaders,
        dataProvider: SPDYDataProvider? = nil
    ) throws(SPDYError) {
        try validate(headers)
        enqueueControl(
            .synReply(.init(streamID: streamID, flags: dataProvider == nil ? .fin : [], headers: headers)),
            dataProvider: dataProvider
        )
    }

    /// Submits a SYN_REPLY (`submit_syn_reply`).
    public func submitSynReply(
        flags: SPDYControlFlags,
        streamID: SPDYStreamID,
        headers: SPDYHeaders
    ) throws(SPDYError) {
        try validate(headers)
        enqueueControl(.synReply(.init(streamID: streamID, flags: flags.intersection(.fin), headers: headers)))
    }

    /// Submits a HEADERS frame (`submit_headers`).
    public func submitHeaders(
        flags: SPDYControlFlags,
        streamID: SPDYStreamID,
        headers: SPDYHeaders
    ) throws(SPDYError) {
        try validate(headers)
        enqueueControl(.headers(.init(streamID: streamID, flags: flags.intersection(.fin), headers: headers)))
    }

    /// Submits DATA frames from a provider (`submit_data`). With ``SPDYDataFlags/fin`` the
    /// last frame carries FIN.
    public func submitData(streamID: SPDYStreamID, flags: SPDYDataFlags, dataProvider: SPDYDataProvider) {
        enqueueData(makeData(streamID: streamID, finishesStream: flags.contains(.fin), provider: dataProvider))
    }

    /// Submits a RST_STREAM (`submit_rst_stream`). The stream stops sending at once; it
    /// closes when the frame goes out.
    ///
    /// - Throws: ``SPDYError/Code-swift.enum/invalidArgument`` for status ``SPDYStreamStatus/ok``
    ///   or a status the version does not define.
    public func submitRstStream(streamID: SPDYStreamID, status: SPDYStreamStatus) throws(SPDYError) {
        guard status.isDefined(in: version) else {
            throw .invalidArgument("\(status) is not a RST_STREAM status in \(version)")
        }
        enqueueControl(.rstStream(.init(streamID: streamID, status: status)))
    }

    /// Submits a PING (`submit_ping`).
    ///
    /// - Returns: the ping's ID: odd from a client, even from a server.
    @discardableResult
    public func submitPing() -> UInt32 {
        if nextPingID > 0x7fff_ffff {
            nextPingID = role == .client ? 1 : 2
        }
        let id = nextPingID
        nextPingID += 2
        outstandingPingIDs.insert(id)
        enqueueControl(.ping(.init(id: id)))
        return id
    }

    /// Submits a GOAWAY (`submit_goaway`) with the last stream the peer opened as
    /// last-good-stream-ID. The status is not sent on SPDY/2. Streams in flight go on.
    public func submitGoAway(status: SPDYGoAwayStatus = .ok) {
        enqueueControl(.goAway(.init(lastGoodStreamID: lastReceivedStreamID, status: status)))
    }

    /// Submits a GOAWAY and closes the connection once it is sent (`fail_session`):
    /// afterwards ``wantRead`` and ``wantWrite`` are both `false`.
    public func failSession(status: SPDYGoAwayStatus = .protocolError) {
        failOnSend = true
        submitGoAway(status: status)
    }

    /// Stores local settings and submits a SETTINGS frame (`submit_settings`). Entries
    /// are sorted by ID; the values apply at once (a new INITIAL_WINDOW_SIZE to the
    /// windows we advertise, a new MAX_CONCURRENT_STREAMS to the streams we accept).
    ///
    /// - Throws: ``SPDYError/Code-swift.enum/invalidArgument`` for an ID outside 1...8, a
    ///   repeated ID, or an INITIAL_WINDOW_SIZE above 2^31−1.
    public func submitSettings(
        flags: SPDYSettingsFlags = [],
        entries: [SPDYFrame.SettingsEntry]
    ) throws(SPDYError) {
        var seen = Set<UInt32>()
        for entry in entries {
            guard entry.id.rawValue >= 1, entry.id.rawValue <= SPDYSettingsID.max.rawValue,
                seen.insert(entry.id.rawValue).inserted
            else {
                throw .invalidArgument("settings ID \(entry.id.rawValue) is invalid or repeated")
            }
            if entry.id == .initialWindowSize && entry.value > UInt32(SPDYProtocol.maxWindowSize) {
                throw .invalidArgument("INITIAL_WINDOW_SIZE \(entry.value) exceeds 2^31-1")
            }
        }
        let sorted = entries.sorted { $0.id < $1.id }
        var windowChanged = false
        for entry in sorted {
            if entry.id == .initialWindowSize {
                let delta = Int(entry.value) - localInitialWindow
                for stream in streams.values {
                    stream.window.changeInitialReceiveWindow(by: delta)
                }
                windowChanged = delta != 0
            }
            localSettings[Int(entry.id.rawValue)] = entry.value
        }
        enqueueControl(.settings(.init(flags: flags, entries: sorted)))
        if windowChanged && flowControlOn {
            acknowledgeAfterWindowChange()
        }
    }

    /// Submits a WINDOW_UPDATE (`submit_window_update`): `delta` more bytes may come on
    /// the stream, or on the session with stream 0 (SPDY/3.1).
    ///
    /// - Throws: ``SPDYError/Code-swift.enum/invalidArgument`` for a delta outside 1...2^31−1
    ///   or stream 0 before SPDY/3.1, ``SPDYError/Code-swift.enum/streamClosed`` for a stream
    ///   that is not open, ``SPDYError/Code-swift.enum/invalidState`` on SPDY/2 (no flow control).
    public func submitWindowUpdate(streamID: SPDYStreamID, delta: Int) throws(SPDYError) {
        guard flowControlOn else {
            throw SPDYError(.invalidState, "no flow control (SPDY/2, or a spdystream-compatible session)")
        }
        guard delta >= 1, delta <= SPDYProtocol.maxWindowSize else {
            throw .invalidArgument("a window delta must be in 1...2^31-1, not \(delta)")
        }
        if streamID == .zero {
            guard sessionFlowControlOn else {
                throw .invalidArgument("stream 0 has a window only in SPDY/3.1")
            }
            sessionWindow.grant(delta)
            enqueueWindowUpdate(stream: nil, delta)
        } else {
            guard let stream = stream(streamID) else { throw SPDYError(.streamClosed) }
            stream.window.grant(delta)
            enqueueWindowUpdate(stream: stream, delta)
        }
    }

    /// Reports that the application consumed `size` received bytes of a stream
    /// (`session_consume`), with ``Configuration-swift.struct/manualDataConsumption``:
    /// WINDOW_UPDATE goes out once half a window is consumed.
    ///
    /// - Throws: ``SPDYError/Code-swift.enum/invalidArgument`` for stream 0,
    ///   ``SPDYError/Code-swift.enum/invalidState`` without manual consumption.
    public func consume(streamID: SPDYStreamID, size: Int) throws(SPDYError) {
        guard streamID != .zero else { throw .invalidArgument("stream 0 cannot be consumed") }
        try consumeSession(size: size)
        try consumeStream(streamID: streamID, size: size)
    }

    /// Like ``consume(streamID:size:)`` for the stream's window only
    /// (`nghttp2_session_consume_stream`): with ``consumeSession(size:)`` for the session
    /// window, an application can give the session window back as DATA arrives while each
    /// stream's window waits for its reader, so that one stream nobody reads does not hold up
    /// the others on SPDY/3.1.
    ///
    /// - Throws: as ``consume(streamID:size:)``.
    public func consumeStream(streamID: SPDYStreamID, size: Int) throws(SPDYError) {
        guard streamID != .zero else { throw .invalidArgument("stream 0 cannot be consumed") }
        try checkManualConsumption(size)
        if flowControlOn, let stream = stream(streamID) {
            acknowledge(size, as: .consumed, stream: stream)
        }
    }

    /// Like ``consume(streamID:size:)`` for the SPDY/3.1 session window only
    /// (`nghttp2_session_consume_connection`); nothing on earlier versions.
    ///
    /// - Throws: ``SPDYError/Code-swift.enum/invalidState`` without manual consumption.
    public func consumeSession(size: Int) throws(SPDYError) {
        try checkManualConsumption(size)
        if sessionFlowControlOn {
            acknowledge(size, as: .consumed, stream: nil)
        }
    }

    private func checkManualConsumption(_ size: Int) throws(SPDYError) {
        guard configuration.manualDataConsumption else {
            throw SPDYError(.invalidState, "manualDataConsumption is off")
        }
        guard size >= 0 else { throw .invalidArgument("size must not be negative") }
    }

    /// Puts a stream's deferred DATA back in the queue (`resume_data`).
    ///
    /// - Returns: `false` when the stream does not exist, has nothing deferred, or waits
    ///   for flow-control credit rather than for the application.
    @discardableResult
    public func resumeData(streamID: SPDYStreamID) -> Bool {
        guard let stream = stream(streamID), let data = stream.deferredData,
            stream.deferralReason == .application
        else { return false }
        stream.deferredData = nil
        enqueueData(data)
        return true
    }

    /// Replaces the data provider of a stream's DATA that has not all gone out yet: deferred,
    /// queued, being sent, or still waiting behind the stream's SYN_STREAM or SYN_REPLY. The
    /// next read goes to `provider`. This is what the reference's application does by assigning
    /// a new `read_cb` to a provider it already submitted; a ``SPDYDataProvider`` is a value
    /// the session copied, so it is done here instead.
    ///
    /// - Returns: `false` when no DATA of the stream waits.
    @discardableResult
    public func replaceDataProvider(streamID: SPDYStreamID, with provider: SPDYDataProvider) -> Bool {
        func replaceIn(_ payload: OutboundItem.Payload) -> Bool {
            switch payload {
            case .data(let data) where data.streamID == streamID && data.provider != nil:
                data.replaceProvider(provider)
                return true
            case .control(let control) where control.dataProvider != nil && control.frame.streamID == streamID:
                control.replaceDataProvider(provider)
                return true
            default:
                return false
            }
        }
        if let data = stream(streamID)?.deferredData {
            data.replaceProvider(provider)
            return true
        }
        if let active, replaceIn(active.item.payload) { return true }
        for item in queue.unordered where replaceIn(item.payload) { return true }
        for item in synQueue where replaceIn(item.payload) { return true }
        return false
    }

    /// Queues an answer the peer provoked (a PING echo, a RST_STREAM for its bad frame), unless
    /// answers pile up because the peer does not read them: then the session is failed.
    func enqueuePeerProvokedAnswer(_ frame: SPDYFrame) {
        guard !failOnSend else { return }
        guard outboundQueueSize < configuration.maxQueuedFrames else {
            cutOff(.queuedFrames)
            return
        }
        enqueueControl(frame)
    }

    /// Ends the session because the peer passed one of the abuse limits: GOAWAY
    /// PROTOCOL_ERROR, and nothing more it sends is processed.
    func cutOff(_ kind: SPDYAbuse) {
        if abuseDetected == nil { abuseDetected = kind }
        failSession(status: .protocolError)
    }

    // MARK: - Flow control (receiving)

    /// Counts received or consumed bytes on a stream's window, or on the session's (`nil`),
    /// and sends the WINDOW_UPDATE that acknowledges them once it is due.
    func acknowledge(_ size: Int, as count: FlowControlWindow.Count, stream: SPDYStream?) {
        let automatic = configuration.automaticWindowUpdate && !configuration.manualDataConsumption
        let acknowledgement =
            if let stream {
                stream.window.record(size, as: count, automatic: automatic)
            } else {
                sessionWindow.record(size, as: count, automatic: automatic)
            }
        switch acknowledgement {
        case .none:
            break
        case .windowUpdate(let delta):
            enqueueWindowUpdate(stream: stream, delta)
        case .overflow:
            failSession(status: .protocolError)
        }
    }

    /// Queues a WINDOW_UPDATE for a stream, or for the session (`nil`); the window was credited.
    private func enqueueWindowUpdate(stream: SPDYStream?, _ delta: Int) {
        enqueueControl(.windowUpdate(.init(streamID: stream?.id ?? .zero, deltaWindowSize: UInt32(delta))))
    }

    /// After our INITIAL_WINDOW_SIZE shrank, bytes already received may reach the new
    /// half-window threshold; acknowledge them now, or a peer whose window went to zero
    /// would never send the data that would trigger the WINDOW_UPDATE.
    func acknowledgeAfterWindowChange() {
        for stream in streams.values where !stream.machine.isClosing && !stream.machine.isRemoteClosed {
            if let due = stream.window.dueAfterWindowChange(
                manualConsumption: configuration.manualDataConsumption,
                automatic: configuration.automaticWindowUpdate)
            {
                acknowledge(0, as: due, stream: stream)
            }
        }
    }
}

extension SPDYFrameEncodingError {
    var isCompressionFailure: Bool {
        if case .compressionFailed = self { return true }
        return false
    }
}
