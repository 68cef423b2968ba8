import NIOCore
import SPDY

extension SPDYClock {
    /// The time of `eventLoop` (`EventLoop.now`): the system's on a real event loop, the
    /// loop's own on an `EmbeddedEventLoop`, so that advancing it moves the session's
    /// time-based limits too.
    public static func eventLoop(_ eventLoop: any EventLoop) -> SPDYClock {
        SPDYClock { eventLoop.now }
    }
}
