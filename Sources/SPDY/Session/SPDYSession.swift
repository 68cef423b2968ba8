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
    /// Streams we sent RST_STREAM for lately, whose in-flight DATA is dropped quietly.
    @exclusivity(unchecked) var recentlyReset = RecentlyResetStreams()

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
    /// How many times a stream's DATA was held back because a flow-control window (the
    /// stream's, or the SPDY/3.1 session's) had no room: one count per stall, from the first
    /// refusal to the stream's next DATA frame, however often it was retried in between.
    @exclusivity(unchecked) public internal(set) var flowControlStallCount = 0

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
}

extension SPDYFrameEncodingError {
    var isCompressionFailure: Bool {
        if case .compressionFailed = self { return true }
        return false
    }
}
