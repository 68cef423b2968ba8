/// The life of one stream, and every rule of which frame it may send or receive in which
/// state, in one place (as swift-nio-http2's `HTTP2StreamStateMachine` keeps them).
///
/// Each event returns what the session has to do; a transition never calls out, so the
/// session reports what happened (callbacks, RST_STREAM, the stream's close) after the
/// state is already consistent. The flow-control windows, which only matter while a
/// stream is open either way, are kept next to it in ``FlowControlWindow``.
struct StreamStateMachine: Equatable {
    /// Which halves of a stream are closed: ours when we sent FIN (or the peer opened the
    /// stream UNIDIRECTIONAL), the peer's when it sent FIN (or we opened it UNIDIRECTIONAL).
    struct Closure: Equatable {
        /// We send nothing more on the stream.
        var local = false
        /// The peer sends nothing more on the stream.
        var remote = false

        var both: Bool { local && remote }
    }

    enum State: Equatable {
        /// Created locally; its SYN_STREAM has not been sent yet.
        case idle
        /// Its SYN_STREAM was sent (a local stream) or received (a peer's stream), and the
        /// SYN_REPLY has not been seen.
        case opening(Closure)
        /// Its SYN_REPLY was received (a local stream) or sent (a peer's stream).
        case opened(Closure)
        /// A RST_STREAM for it is queued: what the peer sends for it is dropped, and
        /// nothing more of ours but that RST_STREAM goes out.
        case closing(Closure)
    }

    /// What the session does with a received frame.
    enum ReceiveResult: Equatable {
        /// Accept it; the stream stays open at least one way.
        case succeed
        /// Accept it; both halves are now closed, so the session closes the stream (status OK).
        case succeedAndClose
        /// Drop it without an answer (a frame that crossed our RST_STREAM).
        case ignore
        /// Refuse it with RST_STREAM and this status; the stream does not change.
        case streamError(SPDYStreamStatus)
    }

    /// Whether this end opened the stream.
    let isLocallyInitiated: Bool
    private(set) var state: State

    /// A stream we open; its SYN_STREAM is about to be sent.
    init(localStream: Void = ()) {
        isLocallyInitiated = true
        state = .idle
    }

    /// A stream the peer opened with a SYN_STREAM carrying `fin` and `unidirectional`
    /// (never both: such a SYN_STREAM opens no stream).
    init(peerSynStreamFin fin: Bool, unidirectional: Bool) {
        isLocallyInitiated = false
        state = .opening(Closure(local: unidirectional, remote: fin))
    }

    /// The state as the reference API names it.
    var publicState: SPDYStreamState {
        switch state {
        case .idle: return .initial
        case .opening: return .opening
        case .opened: return .opened
        case .closing: return .closing
        }
    }

    private var closure: Closure {
        switch state {
        case .idle: return Closure()
        case .opening(let c), .opened(let c), .closing(let c): return c
        }
    }

    var isClosing: Bool {
        if case .closing = state { return true }
        return false
    }

    /// Whether the peer closed its half.
    var isRemoteClosed: Bool { closure.remote }

    /// Replaces the closure of the current state (idle has none to change).
    private mutating func setClosure(_ change: (inout Closure) -> Void) -> Bool {
        switch state {
        case .idle:
            return false
        case .opening(var c):
            change(&c)
            state = .opening(c)
            return c.both
        case .opened(var c):
            change(&c)
            state = .opened(c)
            return c.both
        case .closing(var c):
            change(&c)
            state = .closing(c)
            return c.both
        }
    }

    // MARK: Receiving

    /// A SYN_REPLY arrived for this stream.
    mutating func receiveSynReply(fin: Bool, version: SPDYVersion) -> ReceiveResult {
        guard isLocallyInitiated else { return .streamError(.protocolError) }
        switch state {
        case .opening(var c) where !c.remote:
            c.remote = fin
            state = .opened(c)
            return c.both ? .succeedAndClose : .succeed
        case .closing:
            // A RST_STREAM is on its way; the reply crossed it.
            return .ignore
        case .opened:
            // A second SYN_REPLY, even after the first one's FIN (draft 3 §2.6.2).
            return .streamError(version == .v2 ? .protocolError : .streamInUse)
        case .idle, .opening:
            // A reply to a UNIDIRECTIONAL stream, which expects none, or to one not yet opened.
            return .streamError(.protocolError)
        }
    }

    /// A HEADERS frame arrived for this stream.
    mutating func receiveHeaders(fin: Bool) -> ReceiveResult {
        guard !closure.remote else { return .streamError(.protocolError) }
        return receiveOnOpenHalf(fin: fin)
    }

    /// HEADERS or the end of a DATA frame on a stream whose peer half is open: dropped while we
    /// reset it, refused on a stream of ours before its SYN_REPLY (draft 3 §2.2.2), else
    /// accepted, closing the peer's half with FIN.
    private mutating func receiveOnOpenHalf(fin: Bool) -> ReceiveResult {
        switch state {
        case .closing:
            return .ignore
        case .opened:
            break
        case .idle, .opening:
            if isLocallyInitiated { return .streamError(.protocolError) }
        }
        guard fin else { return .succeed }
        return setClosure { $0.remote = true } ? .succeedAndClose : .succeed
    }

    /// Whether the payload of a DATA frame arriving now is delivered (checked once, at its start).
    var acceptsData: Bool {
        guard !closure.remote else { return false }
        switch state {
        case .opened: return true
        case .closing: return false
        case .idle, .opening: return !isLocallyInitiated
        }
    }

    /// A DATA frame for this stream ended (its whole payload arrived).
    mutating func receiveEndOfDataFrame(fin: Bool, version: SPDYVersion) -> ReceiveResult {
        if closure.remote {
            // DATA after the peer's FIN: the drafts' STREAM_ALREADY_CLOSED (a status SPDY/2
            // lacks; it gets PROTOCOL_ERROR). A stream we are resetting ignores it.
            if isClosing { return .ignore }
            return .streamError(version == .v2 ? .protocolError : .streamAlreadyClosed)
        }
        return receiveOnOpenHalf(fin: fin)
    }

    // MARK: Sending

    /// Why a SYN_REPLY cannot go out now, or `nil`.
    func refusalOfSynReply() -> SPDYError.Code? {
        if closure.local { return .streamShutWR }
        if isLocallyInitiated { return .invalidStreamID }
        switch state {
        case .opening: return nil
        case .closing: return .streamClosing
        case .idle, .opened: return .invalidStreamState
        }
    }

    /// Why a HEADERS or DATA frame cannot go out now, or `nil`: both need our half open, and
    /// on a peer's stream our SYN_REPLY first.
    func refusalOfHeadersOrData() -> SPDYError.Code? {
        if closure.local { return .streamShutWR }
        switch state {
        case .closing: return .streamClosing
        case .opened: return nil
        case .idle, .opening: return isLocallyInitiated ? nil : .invalidStreamState
        }
    }

    /// Why a WINDOW_UPDATE for the stream cannot go out now, or `nil`.
    func refusalOfWindowUpdate() -> SPDYError.Code? {
        isClosing ? .streamClosing : nil
    }

    /// Our SYN_STREAM went out. Returns `true` when both halves are closed (FIN on a
    /// UNIDIRECTIONAL stream): the session closes the stream.
    mutating func sentSynStream(fin: Bool, unidirectional: Bool) -> Bool {
        let c = Closure(local: fin, remote: unidirectional)
        state = .opening(c)
        return c.both
    }

    /// Our SYN_REPLY went out; `true` when the stream is now closed both ways.
    mutating func sentSynReply(fin: Bool) -> Bool {
        var c = closure
        c.local = c.local || fin
        state = .opened(c)
        return c.both
    }

    /// Our last frame (HEADERS or DATA with FIN) went out; `true` when the stream is now
    /// closed both ways.
    mutating func sentFin() -> Bool {
        setClosure { $0.local = true }
    }

    /// A RST_STREAM for the stream was queued.
    mutating func resetQueued() {
        state = .closing(closure)
    }
}
