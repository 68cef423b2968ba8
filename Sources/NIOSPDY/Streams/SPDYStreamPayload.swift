import NIOCore
import SPDY

/// What travels through a ``SPDYStreamChannel``'s pipeline: one stream's share of the
/// connection, in the protocol's own words.
///
/// Inbound, a stream channel reads the header block of the SYN_STREAM that opened it (on a
/// server, or a pushed stream on a client), of the SYN_REPLY that answers it (on a client),
/// of any HEADERS frames, and the DATA. Outbound, it writes the same: the first header
/// block a server stream writes becomes its SYN_REPLY, the first a client stream writes its
/// SYN_STREAM, later ones HEADERS frames.
public enum SPDYStreamPayload: Sendable {
    /// A header block with its frame's flags.
    case headers(SPDYHeadersPayload)
    /// Bytes of the stream's body; `fin` ends the sender's side of the stream.
    case data(ByteBuffer, fin: Bool = false)

    /// Whether this payload ends its sender's side of the stream.
    public var fin: Bool {
        switch self {
        case .headers(let headers): headers.fin
        case .data(_, let fin): fin
        }
    }
}

/// A header block on a stream: which frame carries it, and that frame's flags.
public struct SPDYHeadersPayload: Sendable {
    /// The frame that carries a header block.
    public enum Kind: Sendable, Hashable {
        /// The SYN_STREAM that opens a stream, with its priority (0 is the highest), the
        /// stream it is associated with (server push; `SPDYStreamID.zero` otherwise)
        /// and whether it is unidirectional (a pushed stream, which the receiver never
        /// answers).
        case synStream(priority: UInt8, associatedStreamID: SPDYStreamID, unidirectional: Bool)
        /// The SYN_REPLY that answers a SYN_STREAM.
        case synReply
        /// A HEADERS frame: more headers on an open stream.
        case headers
    }

    /// The frame. Outbound it may be left to the channel: ``init(headers:fin:)`` picks the
    /// frame a stream's next header block takes.
    public var kind: Kind?
    /// The name/value pairs.
    public var headers: SPDYHeaders
    /// FIN: no more frames from this side of the stream.
    public var fin: Bool

    /// A header block whose frame the stream channel chooses when it is written: a
    /// SYN_STREAM (priority 3) for a client stream's first block, a SYN_REPLY for a server
    /// stream's first block, HEADERS afterwards.
    public init(headers: SPDYHeaders, fin: Bool = false) {
        self.kind = nil
        self.headers = headers
        self.fin = fin
    }

    /// A header block carried by the given frame.
    public init(kind: Kind, headers: SPDYHeaders, fin: Bool = false) {
        self.kind = kind
        self.headers = headers
        self.fin = fin
    }
}
