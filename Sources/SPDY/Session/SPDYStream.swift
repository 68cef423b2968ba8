/// The life cycle of a stream, as the reference tracks it.
public enum SPDYStreamState: Hashable, Sendable {
    /// Created locally; its SYN_STREAM has not been sent yet.
    case initial
    /// Its SYN_STREAM was sent (local stream) or received (peer stream), but not yet answered.
    case opening
    /// Its SYN_REPLY was received (local stream) or sent (peer stream).
    case opened
    /// A RST_STREAM for it is queued; frames for it are ignored.
    case closing
}

/// Why a DATA item left the outbound queue.
enum DeferralReason {
    /// The data provider returned ``SPDYDataReadResult/deferred``; ``SPDYSession/resumeData(streamID:)`` resumes it.
    case application
    /// A flow-control window is exhausted; a WINDOW_UPDATE or SETTINGS resumes it.
    case flowControl
}

/// One stream of a session. Its fields skip runtime exclusivity checks for the same
/// reason as the session's (see `SPDYSession.streams`).
final class SPDYStream {
    @exclusivity(unchecked) private(set) var id = SPDYStreamID.zero
    /// Its state, and the rules of what it may send and receive.
    @exclusivity(unchecked) var machine = StreamStateMachine()
    @exclusivity(unchecked) var priority: UInt8 = 0
    @exclusivity(unchecked) var userData: Any?
    /// Its flow-control windows (kept on SPDY/3 and later).
    @exclusivity(unchecked) var window = FlowControlWindow(send: 0, receive: 0)
    /// The DATA item waiting outside the queue, and why.
    @exclusivity(unchecked) var deferredData: OutboundData?
    @exclusivity(unchecked) var deferralReason: DeferralReason = .application
    /// Whether its DATA is held back by flow control since its last DATA frame: a resumption
    /// that finds no room (the SPDY/3.1 session window shared out) is the same stall.
    @exclusivity(unchecked) var flowControlStalled = false
    /// Streams the peer pushed in association with this one.
    @exclusivity(unchecked) var pushedStreams: [SPDYStreamID] = []

    /// A stream object with no stream yet: ``open(id:machine:priority:sendWindow:recvWindow:userData:)``
    /// gives it one.
    init() {}

    /// Sets every field for a newly opened stream: the object may be a recycled one.
    func open(
        id: SPDYStreamID,
        machine: StreamStateMachine,
        priority: UInt8,
        sendWindow: Int,
        recvWindow: Int,
        userData: Any?
    ) {
        self.id = id
        self.machine = machine
        self.priority = priority
        self.userData = userData
        self.window = FlowControlWindow(send: sendWindow, receive: recvWindow)
        self.deferredData = nil
        self.deferralReason = .application
        self.flowControlStalled = false
        self.pushedStreams.removeAll(keepingCapacity: true)
    }

    /// Lets go of what the application gave the stream, once it is closed.
    func releaseReferences() {
        userData = nil
        deferredData = nil
        pushedStreams.removeAll(keepingCapacity: true)
    }
}

/// A submitted DATA stream: the provider and where it is.
final class OutboundData {
    @exclusivity(unchecked) private(set) var streamID: SPDYStreamID
    /// FIN was asked for on the last frame.
    @exclusivity(unchecked) private(set) var finishesStream: Bool
    /// `nil` only once retired (see ``ObjectRecycler``).
    @exclusivity(unchecked) private(set) var provider: SPDYDataProvider?
    /// The provider reported the end of its data.
    @exclusivity(unchecked) var reachedEnd = false

    init(streamID: SPDYStreamID, finishesStream: Bool, provider: SPDYDataProvider) {
        self.streamID = streamID
        self.finishesStream = finishesStream
        self.provider = provider
    }

    /// Sets every field for a new submission: the object may be a recycled one.
    func reuse(streamID: SPDYStreamID, finishesStream: Bool, provider: SPDYDataProvider) {
        self.streamID = streamID
        self.finishesStream = finishesStream
        self.provider = provider
        self.reachedEnd = false
    }

    /// Lets go of the application's provider once the data is sent.
    func releaseReferences() {
        provider = nil
    }

    /// Takes `provider` in place of the one submitted (``SPDYSession/replaceDataProvider(streamID:with:)``).
    func replaceProvider(_ provider: SPDYDataProvider) {
        self.provider = provider
    }
}

/// A submitted control frame, with what follows it: the data provider of a request or
/// response, and the user data of a new stream.
final class OutboundControl {
    @exclusivity(unchecked) private(set) var frame: SPDYFrame
    @exclusivity(unchecked) private(set) var dataProvider: SPDYDataProvider?
    @exclusivity(unchecked) private(set) var streamUserData: Any?

    init(_ frame: SPDYFrame, dataProvider: SPDYDataProvider?, streamUserData: Any?) {
        self.frame = frame
        self.dataProvider = dataProvider
        self.streamUserData = streamUserData
    }

    /// Sets every field for a new submission: the object may be a recycled one.
    func reuse(_ frame: SPDYFrame, dataProvider: SPDYDataProvider?, streamUserData: Any?) {
        self.frame = frame
        self.dataProvider = dataProvider
        self.streamUserData = streamUserData
    }

    /// Takes `provider` in place of the one submitted with the frame.
    func replaceDataProvider(_ provider: SPDYDataProvider) {
        dataProvider = provider
    }

    /// Lets go of the frame's headers and what the application gave with it, once sent.
    func releaseReferences() {
        frame = .ping(.init(id: 0))
        dataProvider = nil
        streamUserData = nil
    }
}

/// Something waiting to be sent.
struct OutboundItem: Comparable {
    /// Every case is a reference or a few bytes, so items stay small and cheap to move in
    /// the queue; the frequent small control frames need no allocation.
    enum Payload {
        case control(OutboundControl)
        case windowUpdate(SPDYFrame.WindowUpdate)
        case ping(SPDYFrame.Ping)
        case rstStream(SPDYFrame.RstStream)
        case data(OutboundData)

        /// The control frame to send, for every case but DATA.
        var controlFrame: SPDYFrame? {
            switch self {
            case .control(let control): return control.frame
            case .windowUpdate(let frame): return .windowUpdate(frame)
            case .ping(let frame): return .ping(frame)
            case .rstStream(let frame): return .rstStream(frame)
            case .data: return nil
            }
        }
    }

    /// Lower is sent first: PING −10, SETTINGS −1, then stream priorities.
    var priority: Int
    /// Ties break first in, first out.
    var sequence: UInt64
    var payload: Payload

    static func < (lhs: OutboundItem, rhs: OutboundItem) -> Bool {
        lhs.priority != rhs.priority ? lhs.priority < rhs.priority : lhs.sequence < rhs.sequence
    }

    static func == (lhs: OutboundItem, rhs: OutboundItem) -> Bool {
        lhs.priority == rhs.priority && lhs.sequence == rhs.sequence
    }
}
