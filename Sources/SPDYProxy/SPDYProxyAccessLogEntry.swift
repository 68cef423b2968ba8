import NIOCore
import NIOSPDY

/// One finished exchange, as the proxy's access log records it.
public struct SPDYProxyAccessLogEntry: Sendable {
    /// How the exchange ended.
    public enum Outcome: String, Sendable, Hashable {
        /// The whole response reached the client.
        case complete
        /// The client reset the stream or closed the connection first.
        case clientAborted = "client-aborted"
        /// The backend failed or closed before its response was complete.
        case backendFailed = "backend-failed"
        /// No byte moved for the configured timeout.
        case timedOut = "timed-out"
    }

    /// The client's address.
    public var client: SocketAddress?
    /// The protocol the client spoke: `spdy/3.1`, `spdy/3`, `spdy/2` or `http/1.1`.
    public var clientProtocol: String
    /// The request method.
    public var method: String
    /// The request target.
    public var uri: String
    /// The response status sent to the client (the backend's, or 502/503/504 of the proxy's
    /// own); 0 when no response head was sent.
    public var status: Int
    /// Response body bytes sent to the client.
    public var responseBytes: Int
    /// Request body bytes forwarded to the backend.
    public var requestBytes: Int
    /// The backend that served the request, if one did.
    public var backend: SPDYProxyConfiguration.Backend?
    /// From the request head to the end of the exchange.
    public var duration: TimeAmount
    /// How the exchange ended.
    public var outcome: Outcome
    /// The `user-agent` request header, if any.
    public var userAgent: String?

    /// One line: `CLIENT "METHOD URI PROTOCOL" STATUS BYTES BACKEND SECONDS OUTCOME "USER-AGENT"`,
    /// such as `127.0.0.1 "GET /index.html spdy/3.1" 200 612 127.0.0.1:8080 0.001 complete "spdycat"`.
    public var line: String {
        let address = ForwardedHeaders.clientAddress(client) ?? "-"
        let seconds = Double(duration.nanoseconds) / 1e9
        let milliseconds = Int((seconds * 1000).rounded())
        let time =
            "\(milliseconds / 1000).\(String(repeating: "0", count: 3 - String(milliseconds % 1000).count))\(milliseconds % 1000)"
        return
            "\(address) \"\(Self.escaped(method)) \(Self.escaped(uri)) \(clientProtocol)\" \(status) \(responseBytes) \(backend.map { "\($0)" } ?? "-") \(time) \(outcome.rawValue) \"\(Self.escaped(userAgent ?? "-"))\""
    }

    /// What a client sent, with quotes, backslashes, control characters and non-ASCII bytes escaped (`\xHH`),
    /// so that no request can forge or break a log line.
    static func escaped(_ text: String) -> String {
        guard
            text.utf8.contains(where: {
                $0 < 0x20 || $0 >= 0x7F || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\")
            })
        else { return text }
        var result = ""
        for byte in text.utf8 {
            if byte < 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                let hex = String(byte, radix: 16)
                result += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            } else {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return result
    }
}
