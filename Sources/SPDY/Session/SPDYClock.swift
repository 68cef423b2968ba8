import NIOCore

/// Where a session reads the time for its time-based limits (the sliding windows of
/// ``SPDYAbuseLimits``).
///
/// The default, ``system``, reads the monotonic clock. A network layer passes its event
/// loop's time (``SPDYClock/init(_:)`` with `{ eventLoop.now }`), so that an
/// `EmbeddedEventLoop` that advances its time advances the session's too; a test passes a
/// clock it moves by hand instead of sleeping.
public struct SPDYClock: Sendable {
    private let read: @Sendable () -> NIODeadline

    /// A clock that reads the time from `now`, which must never go backwards.
    public init(_ now: @escaping @Sendable () -> NIODeadline) {
        self.read = now
    }

    /// The monotonic clock of the system (`NIODeadline.now()`).
    public static let system = SPDYClock { .now() }

    /// The current time.
    public func now() -> NIODeadline { read() }
}
