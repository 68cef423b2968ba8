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
