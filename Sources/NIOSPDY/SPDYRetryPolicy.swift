import NIOCore

/// When a request that did not get its response is sent again, and how long to wait first:
/// the policy of a ``SPDYRetryingConnection``.
///
/// A request the server cannot have acted on — the connection could not be made, the server
/// refused the stream (RST_STREAM REFUSED_STREAM, or a GOAWAY whose last-good-stream-ID is
/// below it), or the connection was gone before its SYN_STREAM went out — is sent again
/// whatever its method. A request whose connection was lost after it went out (a reset
/// connection, a dead link found by ``SPDYKeepAlive``) may have been acted on, so it is sent
/// again only when its method is idempotent (RFC 9110 §9.2.2): doing it twice has the effect
/// of doing it once.
///
/// Waits grow exponentially from ``initialBackoff`` to ``maxBackoff`` with "full jitter"
/// (a random time between half the step and the step), so that the clients of a server that
/// restarts do not all come back at the same instant.
public struct SPDYRetryPolicy: Sendable, Hashable {
    /// How a request failed, as far as retrying is concerned.
    public enum Failure: Sendable, Hashable {
        /// The server cannot have acted on it: no connection, a refused stream, or a
        /// connection lost before the request went out.
        case notProcessed
        /// The connection was lost after the request went out.
        case connectionLost
    }

    /// The most times one request is sent again (0: never).
    public var maxRetries: Int
    /// The wait before the first retry.
    public var initialBackoff: TimeAmount
    /// The longest wait between two attempts.
    public var maxBackoff: TimeAmount
    /// Methods sent again after a lost connection (upper case).
    public var idempotentMethods: Set<String>

    /// The methods RFC 9110 §9.2.2 defines as idempotent.
    public static let standardIdempotentMethods: Set<String> = ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]

    /// Creates a policy.
    ///
    /// - Parameters:
    ///   - maxRetries: The most times one request is sent again; at least 0.
    ///   - initialBackoff: The wait before the first retry; not negative.
    ///   - maxBackoff: The longest wait; at least `initialBackoff`.
    ///   - idempotentMethods: Methods sent again after a lost connection.
    public init(
        maxRetries: Int = 3,
        initialBackoff: TimeAmount = .milliseconds(100),
        maxBackoff: TimeAmount = .seconds(5),
        idempotentMethods: Set<String> = SPDYRetryPolicy.standardIdempotentMethods
    ) throws(SPDYClientError) {
        guard maxRetries >= 0, initialBackoff >= .zero, maxBackoff >= initialBackoff else {
            throw .invalidRetryPolicy
        }
        self.maxRetries = maxRetries
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.idempotentMethods = Set(idempotentMethods.map { $0.uppercased() })
    }

    /// Whether a request with `method` that failed as `failure` on its attempt number
    /// `attempt` (1 for the first) is sent again.
    public func allowsRetry(method: String, failure: Failure, attempt: Int) -> Bool {
        guard attempt <= maxRetries else { return false }
        switch failure {
        case .notProcessed: return true
        case .connectionLost: return idempotentMethods.contains(method.uppercased())
        }
    }

    /// The wait before retry number `retry` (1 for the first): `initialBackoff` doubled
    /// for each earlier retry, at most `maxBackoff`, then a random point in its upper half.
    public func backoff(beforeRetry retry: Int) -> TimeAmount {
        var capped = initialBackoff.nanoseconds
        var doublings = retry - 1
        while doublings > 0 && capped < maxBackoff.nanoseconds {
            capped = capped > maxBackoff.nanoseconds / 2 ? maxBackoff.nanoseconds : capped * 2
            doublings -= 1
        }
        capped = min(capped, maxBackoff.nanoseconds)
        guard capped > 1 else { return .nanoseconds(capped) }
        return .nanoseconds(capped / 2 + Int64.random(in: 0...(capped / 2)))
    }
}
