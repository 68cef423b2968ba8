/// A SPDY stream identifier: a 31-bit unsigned integer.
///
/// Clients open odd-numbered streams and servers even-numbered ones; stream
/// ID 0 is never a stream (it names the session in a SPDY/3.1
/// WINDOW_UPDATE).
public struct SPDYStreamID: RawRepresentable, Hashable, Comparable, Sendable, ExpressibleByIntegerLiteral,
    CustomStringConvertible
{
    /// The largest stream ID the protocol can carry, 2^31−1.
    public static let maxID = SPDYStreamID(uncheckedRawValue: 0x7fff_ffff)

    /// Stream ID 0: "no stream", or the session in a SPDY/3.1 WINDOW_UPDATE.
    public static let zero = SPDYStreamID(uncheckedRawValue: 0)

    /// The ID as an integer in `0...0x7fffffff`.
    public let rawValue: UInt32

    /// Creates a stream ID; `nil` when `rawValue` does not fit in 31 bits.
    public init?(rawValue: UInt32) {
        guard rawValue <= 0x7fff_ffff else { return nil }
        self.rawValue = rawValue
    }

    /// Creates a stream ID from any integer; `nil` when it is negative or does not fit in 31 bits.
    public init?<I: BinaryInteger>(_ value: I) {
        guard value >= 0, value <= 0x7fff_ffff else { return nil }
        self.rawValue = UInt32(value)
    }

    /// Creates a stream ID from a literal; traps on a literal outside `0...0x7fffffff`.
    public init(integerLiteral value: UInt32) {
        precondition(value <= 0x7fff_ffff, "a SPDY stream ID has 31 bits")
        self.rawValue = value
    }

    init(uncheckedRawValue: UInt32) {
        self.rawValue = uncheckedRawValue
    }

    /// The ID with its reserved top bit cleared, as decoders read it from the wire.
    init(masking wireValue: UInt32) {
        self.rawValue = wireValue & 0x7fff_ffff
    }

    /// Whether a client opened (or would open) this stream: odd IDs.
    public var isClientInitiated: Bool { rawValue & 1 == 1 }

    /// Whether a server opened (or would open) this stream: even IDs other than 0.
    public var isServerInitiated: Bool { rawValue != 0 && rawValue & 1 == 0 }

    public static func < (lhs: SPDYStreamID, rhs: SPDYStreamID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { String(rawValue) }
}
