/// The status code of a RST_STREAM frame, and the reason a stream closed.
///
/// Codes 1–7 exist in every version; 8–11 were added by SPDY/3. ``ok`` (0)
/// is never sent: it reports a stream that closed normally.
public struct SPDYStreamStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 32-bit status code as it appears on the wire.
    public var rawValue: UInt32

    /// Creates a status from its wire value.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `OK` (0): the stream closed normally. Not valid in a RST_STREAM frame.
    public static let ok = SPDYStreamStatus(rawValue: 0)
    /// `PROTOCOL_ERROR` (1): a generic error for the stream.
    public static let protocolError = SPDYStreamStatus(rawValue: 1)
    /// `INVALID_STREAM` (2): a frame for a stream that is not active.
    public static let invalidStream = SPDYStreamStatus(rawValue: 2)
    /// `REFUSED_STREAM` (3): the stream was refused before any processing.
    public static let refusedStream = SPDYStreamStatus(rawValue: 3)
    /// `UNSUPPORTED_VERSION` (4): the recipient does not support the stream's SPDY version.
    public static let unsupportedVersion = SPDYStreamStatus(rawValue: 4)
    /// `CANCEL` (5): the stream is no longer needed.
    public static let cancel = SPDYStreamStatus(rawValue: 5)
    /// `INTERNAL_ERROR` (6): a generic error from the implementation.
    public static let internalError = SPDYStreamStatus(rawValue: 6)
    /// `FLOW_CONTROL_ERROR` (7): the peer broke flow control.
    public static let flowControlError = SPDYStreamStatus(rawValue: 7)
    /// `STREAM_IN_USE` (8, SPDY/3): a SYN_REPLY for a stream that already has one.
    public static let streamInUse = SPDYStreamStatus(rawValue: 8)
    /// `STREAM_ALREADY_CLOSED` (9, SPDY/3): data or headers on a half-closed stream.
    public static let streamAlreadyClosed = SPDYStreamStatus(rawValue: 9)
    /// `INVALID_CREDENTIALS` (10, SPDY/3): the credential for the stream's origin is invalid.
    public static let invalidCredentials = SPDYStreamStatus(rawValue: 10)
    /// `FRAME_TOO_LARGE` (11, SPDY/3): a frame too large for the recipient.
    public static let frameTooLarge = SPDYStreamStatus(rawValue: 11)

    /// Whether the code is defined for RST_STREAM in `version`: 1–7 always, 8–11 from SPDY/3 on.
    public func isDefined(in version: SPDYVersion) -> Bool {
        switch rawValue {
        case 1...7: return true
        case 8...11: return version != .v2
        default: return false
        }
    }

    /// The draft's name of the status, such as `PROTOCOL_ERROR`.
    public var description: String {
        switch rawValue {
        case 0: return "OK"
        case 1: return "PROTOCOL_ERROR"
        case 2: return "INVALID_STREAM"
        case 3: return "REFUSED_STREAM"
        case 4: return "UNSUPPORTED_VERSION"
        case 5: return "CANCEL"
        case 6: return "INTERNAL_ERROR"
        case 7: return "FLOW_CONTROL_ERROR"
        case 8: return "STREAM_IN_USE"
        case 9: return "STREAM_ALREADY_CLOSED"
        case 10: return "INVALID_CREDENTIALS"
        case 11: return "FRAME_TOO_LARGE"
        default: return "UNKNOWN(\(rawValue))"
        }
    }
}
