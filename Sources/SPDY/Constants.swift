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

/// Flags of a control frame (`CTRL_FLAG_*`).
public struct SPDYControlFlags: OptionSet, Hashable, Sendable {
    /// The 8-bit flags field.
    public var rawValue: UInt8

    /// Creates flags from the wire byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `CTRL_FLAG_NONE`: no flags.
    public static let none: SPDYControlFlags = []
    /// `CTRL_FLAG_FIN` (0x01): the sender sends nothing more on this stream.
    public static let fin = SPDYControlFlags(rawValue: 0x01)
    /// `CTRL_FLAG_UNIDIRECTIONAL` (0x02): the recipient must not send on this stream (server push).
    public static let unidirectional = SPDYControlFlags(rawValue: 0x02)
}

/// Flags of a DATA frame (`DATA_FLAG_*`).
public struct SPDYDataFlags: OptionSet, Hashable, Sendable {
    /// The 8-bit flags field.
    public var rawValue: UInt8

    /// Creates flags from the wire byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `DATA_FLAG_NONE`: no flags.
    public static let none: SPDYDataFlags = []
    /// `DATA_FLAG_FIN` (0x01): the last frame the sender sends on this stream.
    public static let fin = SPDYDataFlags(rawValue: 0x01)
}

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

/// Flags of a SETTINGS frame (`FLAG_SETTINGS_*`).
public struct SPDYSettingsFlags: OptionSet, Hashable, Sendable {
    /// The 8-bit flags field.
    public var rawValue: UInt8

    /// Creates flags from the wire byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `FLAG_SETTINGS_NONE`: no flags.
    public static let none: SPDYSettingsFlags = []
    /// `FLAG_SETTINGS_CLEAR_SETTINGS` (0x01): clear previously persisted settings.
    public static let clearSettings = SPDYSettingsFlags(rawValue: 0x01)
}

/// Flags of one SETTINGS entry (`ID_FLAG_SETTINGS_*`).
public struct SPDYSettingsEntryFlags: OptionSet, Hashable, Sendable {
    /// The 8-bit per-entry flags.
    public var rawValue: UInt8

    /// Creates flags from the wire byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `ID_FLAG_SETTINGS_NONE`: no flags.
    public static let none: SPDYSettingsEntryFlags = []
    /// `ID_FLAG_SETTINGS_PERSIST_VALUE` (0x01): the recipient should persist the value.
    public static let persistValue = SPDYSettingsEntryFlags(rawValue: 0x01)
    /// `ID_FLAG_SETTINGS_PERSISTED` (0x02): the value was persisted earlier and is being returned.
    public static let persisted = SPDYSettingsEntryFlags(rawValue: 0x02)
}

/// The identifier of a SETTINGS entry: a 24-bit number.
public struct SPDYSettingsID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The 24-bit ID.
    public var rawValue: UInt32

    /// Creates an ID; `rawValue` above 2^24−1 cannot be encoded.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `SETTINGS_UPLOAD_BANDWIDTH` (1).
    public static let uploadBandwidth = SPDYSettingsID(rawValue: 1)
    /// `SETTINGS_DOWNLOAD_BANDWIDTH` (2).
    public static let downloadBandwidth = SPDYSettingsID(rawValue: 2)
    /// `SETTINGS_ROUND_TRIP_TIME` (3).
    public static let roundTripTime = SPDYSettingsID(rawValue: 3)
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` (4).
    public static let maxConcurrentStreams = SPDYSettingsID(rawValue: 4)
    /// `SETTINGS_CURRENT_CWND` (5).
    public static let currentCwnd = SPDYSettingsID(rawValue: 5)
    /// `SETTINGS_DOWNLOAD_RETRANS_RATE` (6).
    public static let downloadRetransRate = SPDYSettingsID(rawValue: 6)
    /// `SETTINGS_INITIAL_WINDOW_SIZE` (7).
    public static let initialWindowSize = SPDYSettingsID(rawValue: 7)
    /// `SETTINGS_CLIENT_CERTIFICATE_VECTOR_SIZE` (8, SPDY/3).
    public static let clientCertificateVectorSize = SPDYSettingsID(rawValue: 8)
    /// `SETTINGS_MAX`: the largest defined ID (8).
    public static let max = SPDYSettingsID(rawValue: 8)

    public static func < (lhs: SPDYSettingsID, rhs: SPDYSettingsID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The draft's name of the ID, such as `MAX_CONCURRENT_STREAMS`.
    public var description: String {
        switch rawValue {
        case 1: return "UPLOAD_BANDWIDTH"
        case 2: return "DOWNLOAD_BANDWIDTH"
        case 3: return "ROUND_TRIP_TIME"
        case 4: return "MAX_CONCURRENT_STREAMS"
        case 5: return "CURRENT_CWND"
        case 6: return "DOWNLOAD_RETRANS_RATE"
        case 7: return "INITIAL_WINDOW_SIZE"
        case 8: return "CLIENT_CERTIFICATE_VECTOR_SIZE"
        default: return "UNKNOWN(\(rawValue))"
        }
    }
}

/// Protocol-wide numbers of SPDY.
public enum SPDYProtocol {
    /// The size of every frame header, control or DATA: 8 bytes.
    public static let frameHeaderSize = 8
    /// The largest payload a frame can carry: 2^24−1 bytes.
    public static let maxFramePayloadSize = 0xff_ffff
    /// The flow-control window every stream (and a SPDY/3.1 session) starts with: 65536.
    public static let defaultInitialWindowSize = 65536
    /// The largest flow-control window: 2^31−1.
    public static let maxWindowSize = 0x7fff_ffff
    /// The DATA payload size the reference implementation writes: 4096 bytes.
    public static let defaultDataPayloadSize = 4096
    /// The default value of `MAX_CONCURRENT_STREAMS` when the peer has not sent one: 2^31−1.
    public static let defaultMaxConcurrentStreams = 0x7fff_ffff
}
