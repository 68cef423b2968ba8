import NIOCore
import SPDY

/// How a server connection decides between SPDY and HTTP/1.1 on one port (the first argument of
/// `configureSPDYServerNegotiation` and the pipeline helpers built on it).
public enum SPDYServerNegotiation: Sendable, Hashable {
    /// TLS ALPN (or NPN): a TLS handler already in the pipeline reports the protocol with
    /// `TLSUserEvent.handshakeCompleted(negotiatedProtocol:)`. `spdy/3.1`, `spdy/3` and
    /// `spdy/2` give SPDY, `http/1.1` and no protocol at all give HTTP/1.1, and anything else
    /// closes the connection. The TLS handler must offer `http/1.1` after the SPDY versions
    /// (``SPDYTLS/serverConfiguration(identity:versions:minimumTLSVersion:offeringHTTP1:)``
    /// with `offeringHTTP1: true`).
    case alpn
    /// Plain TCP: the client's first two bytes decide (``SPDYFirstBytesNegotiationHandler``).
    /// `0x80 0x02` is SPDY/2, `0x80 0x03` is `spdy3Version` (SPDY/3 and SPDY/3.1 look the same on
    /// the wire, so the server says which one it speaks), anything else HTTP/1.1.
    case firstBytes(spdy3Version: SPDYVersion = .v3_1)
}

/// Why a connection's protocol negotiation failed: the error of the negotiation result's
/// future (the connection is closed).
public enum SPDYServerNegotiationError: Error, Sendable, Hashable {
    /// The TLS handshake, or the client's first bytes, did not arrive within the negotiation
    /// timeout.
    case timedOut
    /// The client closed its side before sending the two bytes that tell the protocol.
    case closedBeforeFirstBytes
    /// ALPN (or NPN) settled on a protocol that is neither a SPDY version nor `http/1.1`.
    case unsupportedProtocol(String)
}
