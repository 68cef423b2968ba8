/// The SPDY/3 names of the request and response pseudo-headers and their SPDY/2 spellings.
///
/// The API always speaks SPDY/3 names; on a SPDY/2 session they are written
/// as the SPDY/2 names and read back as the SPDY/3 ones.
public enum SPDYHeaderNames {
    /// `(SPDY/3 name, SPDY/2 name)` for `:host`, `:method`, `:path`, `:scheme`, `:status` and `:version`.
    public static let spdy3ToSPDY2: [(spdy3: String, spdy2: String)] = [
        (":host", "host"),
        (":method", "method"),
        (":path", "url"),
        (":scheme", "scheme"),
        (":status", "status"),
        (":version", "version"),
    ]

    static let table: [(spdy3: [UInt8], spdy2: [UInt8])] = spdy3ToSPDY2.map {
        (Array($0.spdy3.utf8), Array($0.spdy2.utf8))
    }

    /// The SPDY/2 spelling of a SPDY/3 name, or the name itself.
    public static func spdy2Name(for spdy3Name: String) -> String {
        spdy3ToSPDY2.first { $0.spdy3 == spdy3Name }?.spdy2 ?? spdy3Name
    }

    /// The SPDY/3 spelling of a SPDY/2 name, or the name itself.
    public static func spdy3Name(for spdy2Name: String) -> String {
        spdy3ToSPDY2.first { $0.spdy2 == spdy2Name }?.spdy3 ?? spdy2Name
    }
}
