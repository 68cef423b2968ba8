import Foundation
import NIOCore
import SPDY

/// A URL split into what a SPDY request needs.
public struct SPDYURL: Sendable, Hashable {
    /// `https` (TLS) or `http` (plain TCP).
    public var scheme: String
    /// The host name or address (IPv6 without brackets).
    public var host: String
    /// The port (443 or 80 by default).
    public var port: Int
    /// The path with its query, "/" at least.
    public var path: String

    /// The `:host` value: the host, with `:port` when it is not the scheme's default, and
    /// IPv6 addresses in brackets.
    public var authority: String {
        let name = host.contains(":") ? "[\(host)]" : host
        let defaultPort = scheme == "https" ? 443 : 80
        return port == defaultPort ? name : "\(name):\(port)"
    }

    /// Parses `https://host[:port]/path?query` or `http://…`.
    public init(_ string: String) throws(SPDYClientError) {
        guard let components = URLComponents(string: string), let scheme = components.scheme?.lowercased() else {
            throw .badURL(string)
        }
        guard scheme == "https" || scheme == "http" else {
            throw .badURL("Unsupported scheme \(scheme)")
        }
        guard let host = components.host, !host.isEmpty else { throw .badURL(string) }
        self.scheme = scheme
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? (scheme == "https" ? 443 : 80)
        var path = components.percentEncodedPath
        if path.isEmpty { path = "/" }
        if let query = components.percentEncodedQuery { path += "?" + query }
        self.path = path
    }
}

extension SPDYClient {
    /// Fetches URLs (the reference's `urlfetch`): consecutive URLs with the same scheme,
    /// host and port share one session; each URL's stream reports to the handler
    /// `makeHandler` returns for it. `https` URLs negotiate the version by ALPN; `http`
    /// URLs speak ``Configuration-swift.struct/plainVersion`` over plain TCP. Returns when
    /// every stream has closed.
    ///
    /// The request headers are the reference's: `:method GET`, `:scheme`, `:path`,
    /// `:version HTTP/1.1`, `:host`, `accept */*`, `user-agent`.
    public func fetch(
        _ urls: [String],
        userAgent: String = "swift-spdy",
        makeHandler: @escaping @Sendable (SPDYURL) -> SPDYStreamHandler
    ) async throws {
        let parsed = try urls.map { url throws(SPDYClientError) in try SPDYURL(url) }
        var index = 0
        while index < parsed.count {
            let first = parsed[index]
            var group = [first]
            index += 1
            while index < parsed.count, parsed[index].scheme == first.scheme, parsed[index].host == first.host,
                parsed[index].port == first.port
            {
                group.append(parsed[index])
                index += 1
            }
            let connection = try await connect(host: first.host, port: first.port, tls: first.scheme == "https")
            let batch = group
            let done = connection.eventLoop.makePromise(of: Void.self)
            connection.eventLoop.execute {
                var remaining = batch.count
                for url in batch {
                    let handler = CompletionHandler(inner: makeHandler(url)) {
                        remaining -= 1
                        if remaining == 0 { done.succeed(()) }
                    }
                    let request = SPDYClientRequest(
                        path: url.path,
                        scheme: url.scheme,
                        authority: url.authority,
                        headers: [("accept", "*/*"), ("user-agent", userAgent)]
                    )
                    connection.request(request, handler: handler)
                }
            }
            try await done.futureResult.get()
            connection.close()
        }
    }
}

/// Forwards stream callbacks and reports when the stream is over.
private final class CompletionHandler: SPDYStreamHandler {
    let inner: SPDYStreamHandler
    let completion: () -> Void
    var completed = false

    init(inner: SPDYStreamHandler, completion: @escaping () -> Void) {
        self.inner = inner
        self.completion = completion
    }

    override func onHeader(_ headers: SPDYHeaders) {
        inner.streamID = streamID
        inner.onHeader(headers)
    }

    override func onData(_ data: ByteBuffer) { inner.onData(data) }

    override func onClose(_ status: SPDYStreamStatus) {
        inner.streamID = streamID
        inner.onClose(status)
        complete()
    }

    override func onConnectionClosed(error: (any Error)?) {
        inner.onConnectionClosed(error: error)
        complete()
    }

    private func complete() {
        guard !completed else { return }
        completed = true
        completion()
    }
}
