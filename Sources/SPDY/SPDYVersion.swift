/// A SPDY protocol version.
///
/// SPDY/3.1 is SPDY/3 on the wire (every frame carries version 3) with a
/// session-level flow-control window added. The raw values follow the
/// reference API: `PROTO_SPDY2 = 2`, `PROTO_SPDY3 = 3`, `PROTO_SPDY3_1 = 4`.
public enum SPDYVersion: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// SPDY/2 (draft 2): 16-bit name/value lengths, 2-bit priorities, no flow control.
    case v2 = 2
    /// SPDY/3 (draft 3): 32-bit name/value lengths, 3-bit priorities, per-stream flow control.
    case v3 = 3
    /// SPDY/3.1: SPDY/3 framing plus a session-level flow-control window.
    case v3_1 = 4

    /// The version number written in every control frame header: 2 or 3.
    public var wireVersion: UInt16 {
        self == .v2 ? 2 : 3
    }

    /// The protocol name negotiated by TLS NPN or ALPN: `spdy/2`, `spdy/3` or `spdy/3.1`.
    public var protocolName: String {
        switch self {
        case .v2: return "spdy/2"
        case .v3: return "spdy/3"
        case .v3_1: return "spdy/3.1"
        }
    }

    /// The lowest (numerically largest) priority of this version: 3 for SPDY/2, 7 otherwise.
    public var lowestPriority: UInt8 {
        self == .v2 ? 3 : 7
    }

    /// Whether streams are flow controlled (SPDY/3 and SPDY/3.1).
    public var hasStreamFlowControl: Bool {
        self != .v2
    }

    /// Whether the session as a whole is flow controlled (SPDY/3.1 only).
    public var hasSessionFlowControl: Bool {
        self == .v3_1
    }

    /// The size in bytes of each count and length field of a name/value header block.
    public var headerBlockLengthFieldSize: Int {
        self == .v2 ? 2 : 4
    }

    /// The protocol names this library negotiates, most preferred first:
    /// `spdy/3.1`, `spdy/3`, `spdy/2`.
    public static let negotiationPreference: [SPDYVersion] = [.v3_1, .v3, .v2]

    /// The version with the given NPN/ALPN protocol name, or `nil` when the
    /// name is not a SPDY version this library speaks (for example `spdy/4` or
    /// `http/1.1`).
    public init?(protocolName: String) {
        switch protocolName {
        case "spdy/2": self = .v2
        case "spdy/3": self = .v3
        case "spdy/3.1": self = .v3_1
        default: return nil
        }
    }

    /// The zlib dictionary of this version's header compression: the SPDY/2 draft's
    /// (907 bytes) for ``v2``, the SPDY/3 draft's (1 423 bytes) for ``v3`` and ``v3_1``.
    ///
    /// Every header block of a session is compressed on one zlib stream primed with it
    /// (`deflateSetDictionary`; on inflate when zlib asks for it). It is here for code that
    /// produces or checks header blocks with its own zlib, such as test vectors and fuzzers.
    public var headerDictionary: [UInt8] {
        self == .v2 ? HeaderDictionaries.spdy2 : HeaderDictionaries.spdy3
    }

    /// The Adler-32 checksum of ``headerDictionary``, as a zlib stream announces it.
    var headerDictionaryID: UInt32 {
        self == .v2 ? 0xdfa2_51b2 : 0xe3c6_a7c2
    }

    public var description: String { protocolName.uppercased() }
}

/// Which end of a connection a session is: the reference API's `CLIENT` (1) and `SERVER` (2).
public enum SPDYRole: Int, Sendable, Hashable {
    /// The end that opened the connection; it opens odd-numbered streams.
    case client = 1
    /// The end that accepted the connection; it opens even-numbered (pushed) streams.
    case server = 2
}
