/// The flow control of one stream, or of a SPDY/3.1 session (stream 0): the window we may
/// send into and the window we advertise to the peer, with every piece of window arithmetic
/// the session does. Its values never pass 2^31−1 unnoticed: the operations that could
/// overflow say so and leave the window as it was.
///
/// Received bytes are acknowledged (WINDOW_UPDATE) on one path,
/// ``record(_:as:automatic:)``: once half the advertised window has been received (the
/// automatic policy) or consumed by the application (manual consumption, the reference's
/// `NO_AUTO_WINDOW_UPDATE2`), the total is granted back to the peer.
struct FlowControlWindow {
    /// What a caller of ``record(_:as:automatic:)`` has to do.
    enum Acknowledgement: Equatable {
        /// Nothing yet.
        case none
        /// Send a WINDOW_UPDATE of this delta (already credited to ``receivable``).
        case windowUpdate(Int)
        /// The count passed 2^31−1: the peer broke flow control beyond repair.
        case overflow
    }

    /// Which count received bytes go to.
    enum Count {
        /// Bytes that arrived (the automatic policy; the reference's `recv_window_size`).
        case received
        /// Bytes the application reported consumed (manual consumption).
        case consumed
    }

    static let maximum = SPDYProtocol.maxWindowSize

    /// What we may still send. Negative after the peer's SETTINGS shrank the initial window
    /// below what was already sent.
    private(set) var sendable: Int
    /// The window we advertise: the initial size, plus credit the application granted
    /// beyond received bytes (nghttp2's `local_window_size`). Acknowledgements go out at half of it.
    private(set) var advertised: Int
    /// What the peer may still send before it breaks flow control.
    private(set) var receivable: Int
    /// Received bytes not acknowledged yet (`get_stream_recv_data_length`).
    private(set) var unacknowledged = 0
    /// Bytes the application consumed and we have not acknowledged yet (manual consumption).
    private(set) var consumed = 0

    /// A window that may send `send` bytes and advertises `receive`.
    init(send: Int, receive: Int) {
        self.sendable = send
        self.advertised = receive
        self.receivable = receive
    }

    // MARK: Sending

    /// Whether DATA may go out now.
    var canSend: Bool { sendable > 0 }

    /// DATA of `count` bytes went out (never more than ``sendable``).
    mutating func sent(_ count: Int) {
        sendable -= count
    }

    /// The peer's WINDOW_UPDATE: `false`, with nothing changed, when it would take the window
    /// past 2^31−1 (a flow-control error).
    mutating func credit(_ delta: Int) -> Bool {
        guard sendable <= Self.maximum - delta else { return false }
        sendable += delta
        return true
    }

    /// The peer changed INITIAL_WINDOW_SIZE by `delta`: applied as it is (drafts 3 §2.6.4);
    /// `false` when the window is now past 2^31−1 (a flow-control error for the stream).
    mutating func changeInitialSendWindow(by delta: Int) -> Bool {
        sendable += delta
        return sendable <= Self.maximum
    }

    // MARK: Receiving

    /// DATA of `count` bytes arrived: `false` when it went beyond the window we advertised.
    mutating func receive(_ count: Int) -> Bool {
        receivable -= count
        return receivable >= 0
    }

    /// Adds received or consumed bytes to their count and, once the count reaches half the
    /// advertised window, grants it back: the one path by which received bytes are
    /// acknowledged. With `automatic` off, received bytes are only counted (the application
    /// sends WINDOW_UPDATE itself, or reports consumption).
    mutating func record(_ size: Int, as count: Count, automatic: Bool) -> Acknowledgement {
        var total = count == .received ? unacknowledged : consumed
        guard total <= Self.maximum - size else { return .overflow }
        total += size
        let acknowledges = (count == .consumed || automatic) && total > 0 && total >= advertised / 2
        switch count {
        case .received:
            unacknowledged = acknowledges ? 0 : total
        case .consumed:
            consumed = acknowledges ? 0 : total
            // Consumed bytes were received bytes: acknowledged now.
            if acknowledges { unacknowledged -= total }
        }
        guard acknowledges else { return .none }
        receivable += total
        return .windowUpdate(total)
    }

    /// What is due for acknowledgement after the advertised window shrank (a new half-window
    /// threshold may already be reached), or `nil`.
    func dueAfterWindowChange(manualConsumption: Bool, automatic: Bool) -> Count? {
        let threshold = advertised / 2
        if manualConsumption {
            return consumed > 0 && consumed >= threshold ? .consumed : nil
        }
        return automatic && unacknowledged > 0 && unacknowledged >= threshold ? .received : nil
    }

    /// The application's own WINDOW_UPDATE of `delta` (1 to 2^31−1): it acknowledges received
    /// (and consumed) bytes first; credit beyond them makes the advertised window larger.
    mutating func grant(_ delta: Int) {
        let acknowledged = min(delta, unacknowledged)
        unacknowledged -= acknowledged
        consumed -= min(delta, consumed)
        advertised = min(advertised + delta - acknowledged, Self.maximum)
        receivable += delta
    }

    /// We changed our INITIAL_WINDOW_SIZE by `delta`.
    mutating func changeInitialReceiveWindow(by delta: Int) {
        receivable += delta
        advertised += delta
    }
}
