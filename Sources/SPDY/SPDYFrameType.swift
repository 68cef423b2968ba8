/// The type field of a SPDY control frame.
///
/// Values other than the ten the drafts define are kept as they are, so a
/// frame of an unknown type can still be reported with its raw type.
public struct SPDYFrameType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 16-bit type as it appears on the wire.
    public var rawValue: UInt16

    /// Creates a frame type from its wire value.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// SYN_STREAM (1): opens a stream.
    public static let synStream = SPDYFrameType(rawValue: 1)
    /// SYN_REPLY (2): answers a SYN_STREAM.
    public static let synReply = SPDYFrameType(rawValue: 2)
    /// RST_STREAM (3): ends a stream abnormally.
    public static let rstStream = SPDYFrameType(rawValue: 3)
    /// SETTINGS (4): configuration values for the session.
    public static let settings = SPDYFrameType(rawValue: 4)
    /// NOOP (5): does nothing. SPDY/2 only; removed in SPDY/3.
    public static let noop = SPDYFrameType(rawValue: 5)
    /// PING (6): measures round trips and checks liveness.
    public static let ping = SPDYFrameType(rawValue: 6)
    /// GOAWAY (7): stops the creation of new streams.
    public static let goAway = SPDYFrameType(rawValue: 7)
    /// HEADERS (8): further name/value pairs for a stream.
    public static let headers = SPDYFrameType(rawValue: 8)
    /// WINDOW_UPDATE (9): flow-control credit. First appeared in SPDY/3.
    public static let windowUpdate = SPDYFrameType(rawValue: 9)
    /// CREDENTIAL (10): client certificates for a slot. SPDY/3 only.
    public static let credential = SPDYFrameType(rawValue: 10)

    /// Every control frame type the drafts define, in numeric order.
    public static let allKnown: [SPDYFrameType] = [
        .synStream, .synReply, .rstStream, .settings, .noop, .ping, .goAway, .headers, .windowUpdate, .credential,
    ]

    /// Whether the type is one of the ten the drafts define.
    public var isKnown: Bool { (1...10).contains(rawValue) }

    /// Whether frames of this type carry a compressed name/value header block.
    public var carriesHeaderBlock: Bool {
        self == .synStream || self == .synReply || self == .headers
    }

    /// The draft's name of the type, such as `SYN_STREAM`; `UNKNOWN(n)` otherwise.
    public var description: String {
        switch rawValue {
        case 1: return "SYN_STREAM"
        case 2: return "SYN_REPLY"
        case 3: return "RST_STREAM"
        case 4: return "SETTINGS"
        case 5: return "NOOP"
        case 6: return "PING"
        case 7: return "GOAWAY"
        case 8: return "HEADERS"
        case 9: return "WINDOW_UPDATE"
        case 10: return "CREDENTIAL"
        default: return "UNKNOWN(\(rawValue))"
        }
    }
}
