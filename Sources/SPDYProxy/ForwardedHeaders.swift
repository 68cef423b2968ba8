import NIOCore
import NIOHTTP1

/// How a request head is rewritten on its way to a backend, and a response head on its way
/// back (RFC 9110 §7.6): hop-by-hop fields dropped, `via` extended, the client named in
/// `x-forwarded-for` and `x-forwarded-proto`.
enum ForwardedHeaders {
    /// Fields that describe one connection, not the message (RFC 9110 §7.6.1, plus the
    /// pre-standard `proxy-connection` and `keep-alive`); never forwarded either way.
    /// `expect` is answered by the proxy itself (100-continue).
    private static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-authorization", "proxy-authenticate",
    ]

    /// The lengths of those names: most fields are told apart without lowercasing them.
    private static let hopByHopLengths = Set(hopByHop.map(\.utf8.count))

    /// Removes the hop-by-hop fields and those `connection` names (one pass over the fields;
    /// a head with none is left untouched).
    static func removeHopByHop(_ headers: inout HTTPHeaders) {
        var names: [String] = []
        for (name, _) in headers where hopByHopLengths.contains(name.utf8.count) {
            let lowercased = name.lowercased()
            if hopByHop.contains(lowercased) { names.append(lowercased) }
        }
        guard !names.isEmpty else { return }
        if names.contains("connection") {
            // NIOHTTP1 splits the comma-separated tokens.
            names += headers[canonicalForm: "connection"].map { $0.lowercased() }
        }
        for name in names { headers.remove(name: name) }
    }

    /// The request head sent to a backend.
    ///
    /// - Parameters:
    ///   - head: the request as the client sent it (after the SPDY or HTTP/1.1 codec).
    ///   - client: the client's address, for `x-forwarded-for`.
    ///   - receivedProtocol: the client hop for `via`: `1.1`, `1.0`, `SPDY/3.1`, `SPDY/3`, `SPDY/2`.
    ///   - secure: whether the client came over TLS (`x-forwarded-proto`).
    ///   - viaName: the proxy's name in `via`.
    ///   - body: whether a body follows: `nil` when not yet known (sent chunked),
    ///     `false` when the request ended with its head.
    static func backendRequest(
        _ head: HTTPRequestHead,
        client: SocketAddress?,
        receivedProtocol: String,
        secure: Bool,
        viaName: String,
        body: Bool?
    ) -> HTTPRequestHead {
        var headers = head.headers
        let contentLength = headers.first(name: "content-length")
        removeHopByHop(&headers)
        headers.remove(name: "expect")
        if let address = clientAddress(client) {
            let previous = headers[canonicalForm: "x-forwarded-for"].joined(separator: ", ")
            headers.replaceOrAdd(name: "x-forwarded-for", value: previous.isEmpty ? address : previous + ", " + address)
        }
        headers.replaceOrAdd(name: "x-forwarded-proto", value: secure ? "https" : "http")
        appendVia(&headers, receivedProtocol: receivedProtocol, viaName: viaName)
        // Framing for the backend hop: a declared length is kept; a body of unknown length
        // goes chunked; no body needs nothing (a POST without one says 0).
        if contentLength == nil {
            headers.remove(name: "content-length")
            if body != false {
                headers.add(name: "transfer-encoding", value: "chunked")
            } else if head.method == .POST || head.method == .PUT || head.method == .PATCH {
                headers.add(name: "content-length", value: "0")
            }
        }
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: headers)
    }

    /// The response head sent to the client.
    static func clientResponse(
        _ head: HTTPResponseHead, version: HTTPVersion, viaName: String, closing: Bool
    ) -> HTTPResponseHead {
        var headers = head.headers
        removeHopByHop(&headers)
        appendVia(
            &headers, receivedProtocol: head.version.major == 1 ? "1.\(head.version.minor)" : "1.1", viaName: viaName)
        if closing { headers.add(name: "connection", value: "close") }
        return HTTPResponseHead(version: version, status: head.status, headers: headers)
    }

    /// The client's IP address as text, an IPv4 client on a dual-stack socket
    /// (`::ffff:192.0.2.1`) as plain IPv4.
    static func clientAddress(_ address: SocketAddress?) -> String? {
        guard let text = address?.ipAddress else { return nil }
        if text.hasPrefix("::ffff:"), text.contains(".") { return String(text.dropFirst(7)) }
        return text
    }

    private static func appendVia(_ headers: inout HTTPHeaders, receivedProtocol: String, viaName: String) {
        let entry = "\(receivedProtocol) \(viaName)"
        let previous = headers[canonicalForm: "via"].joined(separator: ", ")
        headers.replaceOrAdd(name: "via", value: previous.isEmpty ? entry : previous + ", " + entry)
    }
}
