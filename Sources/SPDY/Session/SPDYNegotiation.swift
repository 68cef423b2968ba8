/// Protocol negotiation helpers (TLS NPN and ALPN): the reference's
/// `npn_get_version`, `get_npn_protocols` and `select_next_protocol`.
public enum SPDYNegotiation {
    /// The protocols this library speaks, most preferred first: `spdy/3.1`, `spdy/3`, `spdy/2`
    /// (`get_npn_protocols`).
    public static let protocolNames: [String] = protocolNames(for: SPDYVersion.negotiationPreference)

    /// The ALPN (and NPN) name of HTTP/1.1.
    public static let http11ProtocolName = "http/1.1"

    /// The protocol names to offer for `versions`, in their order, followed by `http/1.1`
    /// when `offeringHTTP1` is set: every ALPN and NPN list of this project is made here.
    public static func protocolNames(for versions: [SPDYVersion], offeringHTTP1: Bool = false) -> [String] {
        versions.map(\.protocolName) + (offeringHTTP1 ? [http11ProtocolName] : [])
    }

    /// The version of a negotiated protocol name, or `nil` for a name this library does
    /// not speak, such as `spdy/4` (`npn_get_version`, which returns 0 there).
    public static func version(forProtocol name: String) -> SPDYVersion? {
        SPDYVersion(protocolName: name)
    }

    /// What to select from a peer's protocol list.
    public enum Selection: Hashable, Sendable {
        /// A SPDY version both ends speak (the reference returns 1).
        case spdy(SPDYVersion)
        /// No common SPDY version, but the peer offers `http/1.1` (the reference returns 0).
        case http11
    }

    /// Picks the best protocol from the list a peer offers (`select_next_protocol`):
    /// `spdy/3.1`, then `spdy/3`, then `spdy/2`, else `http/1.1`; `nil` when nothing
    /// matches (the reference returns −1 and leaves its output untouched).
    public static func select(fromOffered offered: [String]) -> Selection? {
        for version in SPDYVersion.negotiationPreference where offered.contains(version.protocolName) {
            return .spdy(version)
        }
        return offered.contains(http11ProtocolName) ? .http11 : nil
    }

    /// The protocol name to answer with for a selection.
    public static func protocolName(of selection: Selection) -> String {
        switch selection {
        case .spdy(let version): return version.protocolName
        case .http11: return http11ProtocolName
        }
    }

    /// Encodes protocol names in the TLS wire format (each name prefixed by its length),
    /// as NPN advertisements and ALPN lists are written.
    public static func wireFormat(_ names: [String]) -> [UInt8] {
        names.flatMap { [UInt8(truncatingIfNeeded: $0.utf8.count)] + Array($0.utf8) }
    }

    /// Decodes a TLS protocol list; `nil` when a length runs past the end or a name is empty.
    public static func parseWireFormat(_ bytes: [UInt8]) -> [String]? {
        var names: [String] = []
        var index = 0
        while index < bytes.count {
            let length = Int(bytes[index])
            index += 1
            guard length > 0, index + length <= bytes.count else { return nil }
            names.append(String(decoding: bytes[index..<(index + length)], as: UTF8.self))
            index += length
        }
        return names
    }
}
