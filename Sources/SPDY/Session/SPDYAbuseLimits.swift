import DequeModule
import NIOCore

/// Limits that cut off a peer whose frames are cheap for it and costly for us (the
/// HTTP/2 attacks of 2019 and 2023, in their SPDY form). A peer that passes one gets
/// GOAWAY PROTOCOL_ERROR and nothing it sends afterwards is processed;
/// ``SPDYSession/abuseDetected`` tells which limit it was.
///
/// The defaults are swift-nio-http2's for the same attacks. They apply to clients and
/// servers alike.
public struct SPDYAbuseLimits: Sendable, Hashable {
    /// At most `maximumCount` events within any `window`.
    public struct RateLimit: Sendable, Hashable {
        /// The most events allowed within one window.
        public var maximumCount: Int
        /// The length of the sliding window.
        public var window: TimeAmount

        /// Creates a rate limit.
        public init(maximumCount: Int, window: TimeAmount) {
            self.maximumCount = maximumCount
            self.window = window
        }
    }

    /// Zero-length DATA frames and HEADERS frames with an empty header block, both without
    /// FIN, in a row, with no frame carrying data or headers between them (the empty-frame
    /// flood, CVE-2019-9518). Default 1, as
    /// swift-nio-http2: one such frame is harmless, a run of them is not.
    public var maxSequentialEmptyDataFrames: Int
    /// RST_STREAMs received for streams the peer opened, or for no open stream (rapid
    /// reset, CVE-2023-44487: streams opened and cancelled at once); resets of our own
    /// streams (refusals, cancellations) are not counted. Default 200 per 30 seconds.
    public var resetFrames: RateLimit
    /// Stream errors the peer provokes, each answered with a RST_STREAM (the reset flood,
    /// CVE-2019-9514). Default 200 per 30 seconds.
    public var streamErrors: RateLimit
    /// PING and SETTINGS frames received (the ping and settings floods, CVE-2019-9512 and
    /// CVE-2019-9515). Default 200 per 30 seconds.
    public var controlFrames: RateLimit

    /// Creates limits; the defaults are described on each property.
    public init(
        maxSequentialEmptyDataFrames: Int = 1,
        resetFrames: RateLimit = .init(maximumCount: 200, window: .seconds(30)),
        streamErrors: RateLimit = .init(maximumCount: 200, window: .seconds(30)),
        controlFrames: RateLimit = .init(maximumCount: 200, window: .seconds(30))
    ) {
        self.maxSequentialEmptyDataFrames = maxSequentialEmptyDataFrames
        self.resetFrames = resetFrames
        self.streamErrors = streamErrors
        self.controlFrames = controlFrames
    }

    /// No limits at all (for tests of the protocol rules themselves).
    public static let unlimited = SPDYAbuseLimits(
        maxSequentialEmptyDataFrames: .max,
        resetFrames: .init(maximumCount: .max, window: .seconds(1)),
        streamErrors: .init(maximumCount: .max, window: .seconds(1)),
        controlFrames: .init(maximumCount: .max, window: .seconds(1))
    )
}

/// Which of the ``SPDYAbuseLimits`` a peer passed.
public enum SPDYAbuse: Sendable, Hashable {
    /// ``SPDYAbuseLimits/maxSequentialEmptyDataFrames``.
    case emptyDataFrames
    /// ``SPDYAbuseLimits/resetFrames``.
    case resetFrames
    /// ``SPDYAbuseLimits/streamErrors``.
    case streamErrors
    /// ``SPDYAbuseLimits/controlFrames``.
    case controlFrames
    /// More answers (PING echoes, RST_STREAMs) were provoked than
    /// ``SPDYSession/Configuration-swift.struct/maxQueuedFrames`` while the peer was not reading.
    case queuedFrames
}

/// Counts what ``SPDYAbuseLimits`` limits, for one session.
struct AbuseMonitor {
    /// Events within a sliding window; only the last `maximumCount + 1` times are kept.
    struct Rate {
        let limit: SPDYAbuseLimits.RateLimit
        var times: Deque<NIODeadline> = []

        init(_ limit: SPDYAbuseLimits.RateLimit) {
            self.limit = limit
        }

        /// Records an event; returns `false` when the limit is passed.
        mutating func record(at now: NIODeadline) -> Bool {
            guard limit.maximumCount < .max else { return true }
            while let first = times.first, now - first > limit.window {
                times.removeFirst()
            }
            times.append(now)
            return times.count <= limit.maximumCount
        }
    }

    let limits: SPDYAbuseLimits
    var sequentialEmptyDataFrames = 0
    var resets: Rate
    var streamErrors: Rate
    var controlFrames: Rate

    init(_ limits: SPDYAbuseLimits) {
        self.limits = limits
        resets = Rate(limits.resetFrames)
        streamErrors = Rate(limits.streamErrors)
        controlFrames = Rate(limits.controlFrames)
    }
}
