/// HTTP/1.1 headers that SPDY forbids on the wire (SPDY/3 draft §3.2.1 and §3.2.2: "The
/// Connection, Host, Keep-Alive, Proxy-Connection, and Transfer-Encoding headers are not
/// valid and MUST not be sent"; `host` is carried by `:host`, so it is dropped from
/// requests only). Peers reject them: spdystream fails the whole connection on a SYN_STREAM
/// or SYN_REPLY that carries one. Requests built from ``SPDYClientRequest`` and responses of
/// request handlers leave them out.
enum ConnectionSpecificHeaders {
    /// The names a response (or a pushed stream) may not carry.
    static let responseNames = ["connection", "keep-alive", "proxy-connection", "transfer-encoding"]
    private static let response = Set(responseNames)
    private static let request = response.union(["host"])

    /// Whether a request may not carry `name`.
    static func forbiddenInRequest(_ name: String) -> Bool { request.contains(name.lowercased()) }

    /// Whether a response (or a pushed stream) may not carry `name`.
    static func forbiddenInResponse(_ name: String) -> Bool { response.contains(name.lowercased()) }
}
