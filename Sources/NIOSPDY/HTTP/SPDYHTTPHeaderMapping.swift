import NIOCore
import NIOHTTP1
import SPDY

/// How HTTP messages become SPDY header blocks and back (SPDY/3 draft §3.2; SPDY/2 §3.2
/// with its own names), whatever type the application uses for HTTP.
///
/// The session already spells the pseudo-headers the SPDY/3 way on every version
/// (`:method`, `:path`, `:version`, `:host`, `:scheme`, `:status`) and writes SPDY/2's
/// `method`, `url`, … on the wire, so the mapping only has to keep application headers from
/// taking those names: on SPDY/2 an application header called `status`, `version`,
/// `method`, `url`, `scheme` (or `host` in a response) would be read by the peer as the
/// pseudo-header, and it is dropped.
enum SPDYHTTPHeaderMapping {
    /// A request's head as a SPDY header block carries it.
    struct Request {
        var method: String
        var path: String
        var version: HTTPVersion
        var host: String
        var scheme: String
        /// The whole block; ``forEachRegularField(_:_:)`` gives the application's headers.
        var block: SPDYHeaders
        /// The announced body length, if any.
        var contentLength: Int?
    }

    /// A response's head as a SPDY header block carries it.
    struct Response {
        var code: Int
        var reason: String
        var version: HTTPVersion
        var block: SPDYHeaders
        var contentLength: Int?
    }

    // MARK: SPDY to HTTP

    /// Reads a request head: the five pseudo-headers the draft requires, a valid method and
    /// request target, and at most one `content-length`.
    static func parseRequest(_ block: SPDYHeaders) throws(SPDYHTTPCodecError) -> Request {
        var method: String?
        var path: String?
        var version: String?
        var host: String?
        var scheme: String?
        for (name, value) in block where name.utf8.first == UInt8(ascii: ":") {
            switch name {
            case ":method": method = method ?? value
            case ":path": path = path ?? value
            case ":version": version = version ?? value
            case ":host": host = host ?? value
            case ":scheme": scheme = scheme ?? value
            default: break
            }
        }
        guard let method else { throw .missingHeader(":method") }
        guard let path else { throw .missingHeader(":path") }
        guard let version else { throw .missingHeader(":version") }
        guard let host else { throw .missingHeader(":host") }
        guard let scheme else { throw .missingHeader(":scheme") }
        guard isToken(method) else { throw .invalidHeader(name: ":method", value: method) }
        guard isRequestTarget(path, method: method) else { throw .invalidPath(path) }
        guard let httpVersion = parseVersion(version) else { throw .invalidHeader(name: ":version", value: version) }
        return Request(
            method: method,
            path: path,
            version: httpVersion,
            host: host,
            scheme: scheme,
            block: block,
            contentLength: try contentLength(of: block)
        )
    }

    /// Reads a response head: `:status` (`200` or `200 OK`) and `:version` (`HTTP/1.1` when
    /// absent, as SPDY/2 servers sometimes left it out).
    static func parseResponse(_ block: SPDYHeaders) throws(SPDYHTTPCodecError) -> Response {
        guard let status = block[":status"] else { throw .missingHeader(":status") }
        let utf8 = Array(status.utf8)
        guard utf8.count >= 3, utf8[0..<3].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            utf8.count == 3 || utf8[3] == UInt8(ascii: " ")
        else { throw .invalidHeader(name: ":status", value: status) }
        let code = utf8[0..<3].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard code >= 100 else { throw .invalidHeader(name: ":status", value: status) }
        let reason = utf8.count > 4 ? String(decoding: utf8[4...], as: UTF8.self) : ""
        var version = HTTPVersion.http1_1
        if let value = block[":version"] {
            guard let parsed = parseVersion(value) else { throw .invalidHeader(name: ":version", value: value) }
            version = parsed
        }
        return Response(
            code: code, reason: reason, version: version, block: block, contentLength: try contentLength(of: block))
    }

    /// Calls `body` with each application header of a received block: not a pseudo-header,
    /// not one of the connection-specific headers SPDY forbids.
    @inline(__always)
    static func forEachRegularField(_ block: SPDYHeaders, _ body: (String, String) throws -> Void) rethrows {
        for (name, value) in block {
            guard name.utf8.first != UInt8(ascii: ":"), !isConnectionSpecific(name) else { continue }
            try body(name, value)
        }
    }

    /// The trailers of a HEADERS frame: its application headers, or `nil` if it has none.
    static func trailers(_ block: SPDYHeaders) -> SPDYHeaders? {
        var trailers = SPDYHeaders()
        forEachRegularField(block) { trailers.add(name: $0, value: $1) }
        return trailers.isEmpty ? nil : trailers
    }

    // MARK: HTTP to SPDY

    /// Builds an outbound header block: the pseudo-headers first, then the application's
    /// headers less those SPDY cannot carry (``add(name:value:)``).
    struct BlockBuilder {
        private(set) var block = SPDYHeaders()
        private let version: SPDYVersion
        private let isRequest: Bool
        /// Lowercased names a `connection` header nominated: hop-by-hop, dropped too.
        private let nominated: [String]

        /// - Parameter connectionValues: the values of the message's `connection` headers.
        init(version: SPDYVersion, isRequest: Bool, connectionValues: [String], capacity: Int) {
            self.version = version
            self.isRequest = isRequest
            var nominated: [String] = []
            for value in connectionValues {
                for token in value.split(separator: ",") {
                    let name = token.trimmingASCIISpaces().lowercased()
                    if !name.isEmpty { nominated.append(name) }
                }
            }
            self.nominated = nominated
            block.reserveCapacity(capacity + 5)
        }

        /// Adds a pseudo-header.
        mutating func addPseudo(_ name: String, _ value: String) {
            block.add(name: name, value: value)
        }

        /// Adds an application header unless SPDY cannot carry it: a name that is empty or
        /// starts with `:`, a connection-specific header or one `connection` nominated, a
        /// request's `host` (sent as `:host`), or on SPDY/2 a name that collides with a
        /// pseudo-header's SPDY/2 spelling.
        mutating func add(name: String, value: String) {
            guard let first = name.utf8.first, first != UInt8(ascii: ":") else { return }
            if isConnectionSpecific(name) { return }
            if isRequest && equalsLowercased(name, "host") { return }
            if version == .v2 && collidesOnSPDY2(name) { return }
            if !nominated.isEmpty && nominated.contains(where: { equalsLowercased(name, $0) }) { return }
            block.add(name: name, value: value)
        }
    }

    /// The `:status` value: the code and its reason phrase, the standard one when the
    /// application gave none.
    static func statusLine(code: Int, reason: String) -> String {
        if !reason.isEmpty { return "\(code) \(reason)" }
        let standard = HTTPResponseStatus(statusCode: code).reasonPhrase
        return standard.isEmpty ? "\(code) \(HTTPStatus.reason(code))" : "\(code) \(standard)"
    }

    /// `HTTP/1.1` and the like.
    static func versionString(_ version: HTTPVersion) -> String {
        version == .http1_1 ? "HTTP/1.1" : "HTTP/\(version.major).\(version.minor)"
    }

    /// Whether a response to `method` with `code` has no body whatever its headers say
    /// (RFC 9110 §6.4.1: HEAD, 1xx, 204, 304), so its `content-length` is not checked
    /// against DATA and body parts written for it are dropped.
    static func responseHasNoBody(method: String?, code: Int) -> Bool {
        method == "HEAD" || code < 200 || code == 204 || code == 304
    }

    // MARK: Rules

    private static let connectionSpecific = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
    ]
    private static let spdy2Names = ["host", "method", "url", "scheme", "status", "version"]

    /// Hop-by-hop headers SPDY forbids on the wire (draft 3 §3.2.1, §3.2.2), and `upgrade`,
    /// which means nothing on a stream.
    static func isConnectionSpecific(_ name: String) -> Bool {
        connectionSpecific.contains { equalsLowercased(name, $0) }
    }

    /// Whether `name` is one of SPDY/2's pseudo-header names (`host` is the request's own
    /// `Host`, handled by the caller).
    static func collidesOnSPDY2(_ name: String) -> Bool {
        spdy2Names.contains { equalsLowercased(name, $0) }
    }

    /// ASCII case-insensitive comparison with a lowercase name, without allocating.
    @inline(__always)
    static func equalsLowercased(_ name: String, _ lowercase: String) -> Bool {
        guard name.utf8.count == lowercase.utf8.count else { return false }
        var other = lowercase.utf8.makeIterator()
        for byte in name.utf8 {
            let folded = byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte
            guard folded == other.next() else { return false }
        }
        return true
    }

    /// The one `content-length` of a block: every value (repeats and comma lists) must be the
    /// same decimal number.
    static func contentLength(of block: SPDYHeaders) throws(SPDYHTTPCodecError) -> Int? {
        var length: Int?
        for (name, value) in block where equalsLowercased(name, "content-length") {
            for item in value.split(separator: ",", omittingEmptySubsequences: false) {
                let digits = item.trimmingASCIISpaces()
                guard !digits.isEmpty, digits.utf8.count <= 18,
                    digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                    let parsed = Int(digits), length == nil || length == parsed
                else { throw .invalidHeader(name: "content-length", value: value) }
                length = parsed
            }
        }
        return length
    }

    /// `HTTP/x.y` with one digit each side.
    static func parseVersion(_ value: String) -> HTTPVersion? {
        let utf8 = Array(value.utf8)
        guard utf8.count == 8, utf8[0..<5].elementsEqual("HTTP/".utf8), utf8[6] == UInt8(ascii: "."),
            let major = digit(utf8[5]), let minor = digit(utf8[7])
        else { return nil }
        return HTTPVersion(major: major, minor: minor)
    }

    private static func digit(_ byte: UInt8) -> Int? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int(byte - UInt8(ascii: "0")) : nil
    }

    /// RFC 9110 §5.6.2 token.
    static func isToken(_ value: String) -> Bool {
        !value.isEmpty
            && value.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"):
                    true
                default:
                    "!#$%&'*+-.^_`|~".utf8.contains(byte)
                }
            }
    }

    /// A request target (RFC 9112 §3.2): origin form (`/…`), `*` for OPTIONS, or absolute
    /// form with `http` or `https`; visible ASCII only.
    static func isRequestTarget(_ path: String, method: String) -> Bool {
        let utf8 = path.utf8
        guard let first = utf8.first, utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return false }
        if first == UInt8(ascii: "/") { return true }
        if path == "*" { return method == "OPTIONS" }
        return path.hasPrefix("http://") || path.hasPrefix("https://")
    }
}

extension Substring {
    /// The substring without leading and trailing spaces and tabs.
    fileprivate func trimmingASCIISpaces() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result.removeFirst() }
        while let last = result.last, last == " " || last == "\t" { result.removeLast() }
        return result
    }
}
