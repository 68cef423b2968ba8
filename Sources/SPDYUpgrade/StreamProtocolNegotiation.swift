import NIOHTTP1

/// How the server side of an HTTP/1.1 → SPDY/3.1 upgrade answers a request, as the kubelet
/// does: the first stream protocol the client offers (in `X-Stream-Protocol-Version`, most
/// preferred first) that the server supports.
public enum SPDYUpgradeDecision: Equatable, Sendable {
    /// 101 Switching Protocols with this stream protocol (`nil`: the server names none and
    /// the client offered none).
    case upgrade(streamProtocol: String?)
    /// 400 Bad Request: not an upgrade to SPDY/3.1 (no `Connection: Upgrade` or no
    /// `Upgrade: SPDY/3.1`), or no `X-Stream-Protocol-Version` where the server requires one.
    case badRequest(String)
    /// 403 Forbidden: no protocol in common; the answer names the server's in
    /// `X-Accepted-Stream-Protocol-Versions`.
    case forbidden(accepted: [String])

    /// Decides the answer to `head` for a server that supports `supported` stream protocols
    /// (none: any upgrade is accepted without a stream protocol).
    public static func decide(_ head: HTTPRequestHead, supported: [String]) -> SPDYUpgradeDecision {
        let connection = tokens(head.headers[canonicalForm: "connection"].map(String.init))
        let upgrade = tokens(head.headers[canonicalForm: "upgrade"].map(String.init))
        guard connection.contains(where: { $0.lowercased() == "upgrade" }),
            upgrade.contains(where: { $0.lowercased() == "spdy/3.1" })
        else {
            return .badRequest("unable to upgrade: missing upgrade headers in request")
        }
        guard !supported.isEmpty else { return .upgrade(streamProtocol: nil) }
        let offered = streamProtocols(in: head.headers)
        guard !offered.isEmpty else {
            return .badRequest("unable to upgrade: unable to negotiate protocol: client supports no protocols")
        }
        guard let chosen = offered.first(where: supported.contains) else {
            return .forbidden(accepted: supported)
        }
        return .upgrade(streamProtocol: chosen)
    }

    /// The stream protocols a request offers, most preferred first: every
    /// `X-Stream-Protocol-Version` line, each possibly a comma-separated list.
    public static func streamProtocols(in headers: HTTPHeaders) -> [String] {
        tokens(headers[canonicalForm: "x-stream-protocol-version"].map(String.init))
    }

    static func tokens(_ values: [String]) -> [String] {
        values.flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: " \t") }
            .filter { !$0.isEmpty }
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
