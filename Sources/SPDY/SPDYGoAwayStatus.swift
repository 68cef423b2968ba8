/// The status code of a GOAWAY frame (SPDY/3 and later; a SPDY/2 GOAWAY has none).
public struct SPDYGoAwayStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 32-bit status code as it appears on the wire.
    public var rawValue: UInt32

    /// Creates a status from its wire value.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `GOAWAY_OK` (0): a normal session teardown.
    public static let ok = SPDYGoAwayStatus(rawValue: 0)
    /// `GOAWAY_PROTOCOL_ERROR` (1): the peer broke the protocol.
    public static let protocolError = SPDYGoAwayStatus(rawValue: 1)
    /// `GOAWAY_INTERNAL_ERROR` (2): an internal error ended the session.
    public static let internalError = SPDYGoAwayStatus(rawValue: 2)

    /// The draft's name of the status, such as `PROTOCOL_ERROR`.
    public var description: String {
        switch rawValue {
        case 0: return "OK"
        case 1: return "PROTOCOL_ERROR"
        case 2: return "INTERNAL_ERROR"
        default: return "UNKNOWN(\(rawValue))"
        }
    }
}
