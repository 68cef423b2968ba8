import SPDY

/// The outcome of a server connection's negotiation between SPDY and HTTP/1.1, in the manner
/// of swift-nio-http2's `NIONegotiatedHTTPVersion`: what the initializer of the protocol that
/// was picked returned.
///
/// `configureAsyncSPDYServerPipeline` and `configureAsyncSPDYHTTPServerPipeline` give
/// `.spdy(version, multiplexer)` with the connection's ``SPDYAsyncStreamMultiplexer``, whose
/// inbound sequence yields the streams.
public enum SPDYNegotiatedServerChannel<HTTP1Output: Sendable, SPDYOutput: Sendable>: Sendable {
    /// The connection speaks HTTP/1.1.
    case http1(HTTP1Output)
    /// The connection speaks SPDY at this version.
    case spdy(SPDYVersion, SPDYOutput)
}
