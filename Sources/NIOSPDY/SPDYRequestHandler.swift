import NIOCore
import SPDY

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Handles one request (one stream) of a ``SPDYServer``: the reference's
/// `BaseSPDYRequestHandler`.
///
/// Subclass it and override the method handlers (``doGET()``, ``doPOST()``, …,
/// or ``handle(method:)`` for any method). A new instance handles each request
/// once it has arrived completely (its body is in ``rfile``), on the
/// connection's event loop. Set the response with ``sendResponse(_:message:)`` and
/// ``sendHeader(_:_:)``, and write the body to ``wfile``; when the method handler
/// returns, the response goes out. To stream a body after returning, call
/// ``startStreaming()`` and finish the writer later.
///
/// ```swift
/// final class Hello: SPDYRequestHandler {
///     override func doGET() {
///         sendResponse(200)
///         sendHeader("content-type", "text/plain")
///         wfile.write("hello\n")
///     }
/// }
/// ```
open class SPDYRequestHandler {
    /// The server software, sent in the `server` header (`server_version`).
    open class var serverVersion: String { "swift-spdy/0.1" }
    /// The language runtime, appended to ``serverVersion`` (`sys_version`); when empty,
    /// the `server` header is ``serverVersion`` alone.
    open class var sysVersion: String { "Swift/6" }
    /// Whether requests missing `:method`, `:path`, `:version`, `:scheme` or `:host` are
    /// handed to this class too (to answer them its own way). When `false` (the default)
    /// the server answers them with 400 itself.
    open class var handlesIncompleteRequests: Bool { false }

    /// The request method, such as `GET` (`command`).
    public internal(set) var command = ""
    /// The request path with its query (`path`).
    public internal(set) var path = ""
    /// The HTTP version of the request, such as `HTTP/1.1` (`request_version`).
    public internal(set) var requestVersion = ""
    /// The URI scheme (`:scheme`).
    public internal(set) var scheme = ""
    /// The host and port (`:host`).
    public internal(set) var host = ""
    /// The request headers other than the pseudo-headers, in order (`headers`).
    public internal(set) var headers: [(name: String, value: String)] = []
    /// The whole header block as received.
    public internal(set) var requestHeaders = SPDYHeaders()
    /// The peer's address (`client_address`).
    public internal(set) var clientAddress: SocketAddress?
    /// The server (`server`).
    public internal(set) weak var server: SPDYServer?
    /// The request body (`rfile`); empty when the request had none.
    public internal(set) var rfile = ByteBuffer()
    /// The response body (`wfile`).
    public internal(set) var wfile: SPDYResponseWriter!
    /// The stream of the request; zero for a request that came over HTTP/1.1.
    public internal(set) var streamID: SPDYStreamID = .zero
    /// The protocol the request came over: `.spdy(version)`, or `.http11` when the server
    /// serves HTTP/1.1 on its port too and the client spoke it (see
    /// ``SPDYServer/Configuration-swift.struct/servesHTTP1``).
    public internal(set) var negotiatedProtocol: SPDYNegotiation.Selection = .spdy(.v3)
    /// The negotiated SPDY version; for a request that came over HTTP/1.1 it says nothing
    /// (see ``negotiatedProtocol``).
    public internal(set) var version: SPDYVersion = .v3
    /// The connection (for server push and low-level access); `nil` over HTTP/1.1.
    public var connection: SPDYConnection? { streamChannel?.connection }
    /// The request's stream channel; `nil` over HTTP/1.1.
    public internal(set) var streamChannel: SPDYStreamChannel?
    /// The event loop the request is handled on (that of its connection).
    public var eventLoop: any EventLoop { wfile.eventLoop }

    var status: String?
    var responseHeaders: [(String, String)] = []
    var headersSent = false
    var streaming = false
    var submitResponse: ((SPDYRequestHandler) -> Void)?
    var pushHandler: ((SPDYRequestHandler, SPDYHeaders, ByteBuffer) -> SPDYResponseWriter?)?
    /// Ends a response that cannot be completed: RST_STREAM on SPDY, closing the connection
    /// on HTTP/1.1.
    var resetHandler: ((SPDYStreamStatus) -> Void)?

    /// Creates a handler; the server fills in the request before calling ``handle()``.
    public required init() {}

    /// Handles the request (`handle`): dispatches to ``handle(method:)``.
    open func handle() {
        handle(method: command)
    }

    /// Dispatches a method to its `doXXX` handler; methods without one get 501.
    open func handle(method: String) {
        switch method {
        case "GET": doGET()
        case "HEAD": doHEAD()
        case "POST": doPOST()
        case "PUT": doPUT()
        case "DELETE": doDELETE()
        case "OPTIONS": doOPTIONS()
        case "PATCH": doPATCH()
        default: unsupported()
        }
    }

    /// `do_GET`. Answers 501 unless overridden.
    open func doGET() { unsupported() }
    /// `do_HEAD`. Answers 501 unless overridden.
    open func doHEAD() { unsupported() }
    /// `do_POST`. Answers 501 unless overridden.
    open func doPOST() { unsupported() }
    /// `do_PUT`. Answers 501 unless overridden.
    open func doPUT() { unsupported() }
    /// `do_DELETE`. Answers 501 unless overridden.
    open func doDELETE() { unsupported() }
    /// `do_OPTIONS`. Answers 501 unless overridden.
    open func doOPTIONS() { unsupported() }
    /// `do_PATCH`. Answers 501 unless overridden.
    open func doPATCH() { unsupported() }

    private func unsupported() {
        sendError(501, message: "Unsupported method (\(command))")
    }

    /// Sets the response status (`send_response`): `:status` becomes "`code` `message`",
    /// and the `server` and `date` headers are added.
    public func sendResponse(_ code: Int, message: String? = nil) {
        precondition(!headersSent, "the response headers are already sent")
        status = "\(code) \(message ?? HTTPStatus.reason(code))"
        let software = Self.sysVersion.isEmpty ? Self.serverVersion : "\(Self.serverVersion) \(Self.sysVersion)"
        responseHeaders.append(("server", software))
        responseHeaders.append(("date", HTTPStatus.cachedDateHeader(time(nil))))
    }

    /// Adds a response header (`send_header`). HTTP/1.1 connection headers (`connection`,
    /// `keep-alive`, `proxy-connection`, `transfer-encoding`), which SPDY forbids, are not sent.
    public func sendHeader(_ name: String, _ value: String) {
        precondition(!headersSent, "the response headers are already sent")
        responseHeaders.append((name, value))
    }

    /// Sends the response headers now (the body follows as it is written); without this they
    /// go out when the method handler returns.
    public func endHeaders() {
        guard !headersSent else { return }
        if status == nil { sendResponse(200) }
        submitResponse?(self)
    }

    /// Answers with an error page (`send_error`): the status, `content-type: text/html;
    /// charset=UTF-8`, `content-length`, and an HTML page explaining the error.
    public func sendError(_ code: Int, message: String? = nil) {
        guard !headersSent else { return }
        let reason = HTTPStatus.reason(code)
        let body = Self.errorPage(code: code, message: message ?? reason)
        status = nil
        responseHeaders = []
        sendResponse(code, message: message ?? reason)
        sendHeader("content-type", "text/html; charset=UTF-8")
        sendHeader("content-length", String(body.utf8.count))
        if command != "HEAD" {
            wfile.write(body)
        }
        wfile.finish()
        endHeaders()
    }

    /// The short reason phrase of an HTTP status code, from the table the reference's
    /// handler class inherits (`BaseHTTPRequestHandler.responses[code][0]`); "OK" or
    /// "Error" for a code it does not list.
    public static func reasonPhrase(for code: Int) -> String {
        HTTPStatus.reason(code)
    }

    /// An HTTP date (RFC 9110 IMF-fixdate, such as `Sun, 06 Nov 1994 08:49:37 GMT`) for
    /// `seconds` since 1970, or for now (`date_time_string(timestamp)`).
    public static func dateTimeString(_ seconds: Int? = nil) -> String {
        guard let seconds else { return HTTPStatus.cachedDateHeader(time(nil)) }
        return HTTPStatus.dateHeader(seconds)
    }

    /// The HTML page of ``sendError(_:message:)``.
    public static func errorPage(code: Int, message: String) -> String {
        let escaped = message.replacingHTMLSpecialCharacters()
        return """
            <!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">
            <html>
            <head>
            <meta http-equiv="Content-Type" content="text/html;charset=utf-8">
            <title>Error response</title>
            </head>
            <body>
            <h1>Error response</h1>
            <p>Error code: \(code)</p>
            <p>Message: \(escaped).</p>
            <p>Error code explanation: \(code) - \(HTTPStatus.explanation(code)).</p>
            </body>
            </html>

            """
    }

    /// Keeps the response open after the method handler returns: write to the returned
    /// writer (``wfile``) later, from any thread, and call `finish()` at the end. The
    /// headers go out when the handler returns if ``sendResponse(_:message:)`` was called
    /// by then, otherwise at ``endHeaders()`` (call it on the connection's event loop).
    @discardableResult
    public func startStreaming() -> SPDYResponseWriter {
        streaming = true
        return wfile
    }

    /// Pushes a resource to the client on a new stream associated with this request
    /// (SPDY server push). `headers` must hold `:path` (and usually `:status`,
    /// `:version`, `content-type`); `:scheme` and `:host` default to the request's.
    ///
    /// - Returns: the pushed stream's body writer (finished already when `body` is given
    ///   in full), or `nil` when the push could not be submitted (always over HTTP/1.1,
    ///   which has no push).
    @discardableResult
    public func push(headers: SPDYHeaders, body: ByteBuffer? = nil) -> SPDYResponseWriter? {
        var headers = headers
        if !headers.contains(name: ":scheme") { headers.add(name: ":scheme", value: scheme) }
        if !headers.contains(name: ":host") { headers.add(name: ":host", value: host) }
        if !headers.contains(name: ":status") { headers.add(name: ":status", value: "200 OK") }
        if !headers.contains(name: ":version") { headers.add(name: ":version", value: "HTTP/1.1") }
        return pushHandler?(self, headers, body ?? ByteBuffer())
    }
}

extension String {
    func replacingHTMLSpecialCharacters() -> String {
        var out = ""
        for character in self {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}
