import NIOCore

/// How a ``SPDYConnection`` finds out that its peer is gone when the network drops
/// silently (a link that goes down, a peer host that loses power): TCP reports nothing for
/// many minutes, and a stream waiting for its response would wait as long.
///
/// While streams are open and nothing has been received for ``interval``, the connection
/// sends a PING. If nothing at all arrives within ``timeout`` after it, the peer is taken to
/// be unreachable: the connection is closed at once with
/// ``SPDYConnectionTimeout/pingUnanswered``, so every stream on it ends with an error (which
/// a ``SPDYRetryPolicy`` may answer by sending idempotent requests again on a new
/// connection). Any received bytes count as a sign of life, not only the PING's reply, so a
/// peer busy sending a large body is never suspected. A connection without open streams
/// sends no PINGs (the idle timeout of a server, or the next request of a client, deals with
/// it), so keep-alive adds no traffic to idle connections.
public struct SPDYKeepAlive: Sendable, Hashable {
    /// How long the connection may receive nothing while streams are open before it sends
    /// a PING.
    public var interval: TimeAmount
    /// How long after that PING something must arrive.
    public var timeout: TimeAmount

    /// Creates a keep-alive setting; both times must be positive.
    public init(interval: TimeAmount = .seconds(30), timeout: TimeAmount = .seconds(15)) {
        precondition(interval > .zero && timeout > .zero, "keep-alive times must be positive")
        self.interval = interval
        self.timeout = timeout
    }
}
