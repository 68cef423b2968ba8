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
