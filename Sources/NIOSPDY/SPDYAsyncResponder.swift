import NIOCore
import SPDY

/// A request as an async responder sees it.
public struct SPDYServerRequest: Sendable {
    /// The method, such as `GET`.
    public var method: String
    /// The path with its query.
    public var path: String
    /// The HTTP version, such as `HTTP/1.1`.
    public var version: String
    /// The URI scheme.
    public var scheme: String
    /// The host and port.
    public var host: String
    /// The whole header block (pseudo-headers included).
    public var headers: SPDYHeaders
    /// The request body.
    public var body: ByteBuffer
    /// The peer's address.
    public var clientAddress: SocketAddress?
    /// The stream of the request; zero for a request that came over HTTP/1.1.
    public var streamID: SPDYStreamID
    /// The protocol the request came over: `.spdy(version)`, or `.http11` (see
    /// ``SPDYServer/Configuration-swift.struct/servesHTTP1``).
    public var negotiatedProtocol: SPDYNegotiation.Selection
}

/// What an async responder answers.
public struct SPDYServerResponse: Sendable {
    /// How the body is produced.
    public enum Body: Sendable {
        /// A body known in full.
        case buffer(ByteBuffer)
        /// A body written over time: the closure writes to the writer (waiting on its
        /// futures for backpressure); the body ends when the closure returns.
        case stream(@Sendable (SPDYResponseWriter) async throws -> Void)
    }

    /// The status code.
    public var status: Int
    /// The reason phrase; the standard one when `nil`.
    public var reason: String?
    /// Response headers (names are lowercased on the wire).
    public var headers: [(name: String, value: String)]
    /// The body.
    public var body: Body

    /// Creates a response.
    public init(
        status: Int = 200,
        reason: String? = nil,
        headers: [(name: String, value: String)] = [],
        body: Body = .buffer(ByteBuffer())
    ) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
    }

    /// A response with a text body.
    public static func text(_ text: String, status: Int = 200, contentType: String = "text/plain; charset=UTF-8")
        -> SPDYServerResponse
    {
        SPDYServerResponse(
            status: status, headers: [("content-type", contentType)], body: .buffer(ByteBuffer(string: text)))
    }
}

/// A request handler that runs an async responder (``SPDYServer/init(configuration:responder:group:logger:)``).
final class AsyncResponderHandler: SPDYRequestHandler {
    override func handle() {
        guard let responder = server?.responder else {
            sendError(500, message: "No responder")
            return
        }
        let request = SPDYServerRequest(
            method: command,
            path: path,
            version: requestVersion,
            scheme: scheme,
            host: host,
            headers: requestHeaders,
            body: rfile,
            clientAddress: clientAddress,
            streamID: streamID,
            negotiatedProtocol: negotiatedProtocol
        )
        let eventLoop = self.eventLoop
        let writer = startStreaming()
        let handler = UncheckedSendable(self)
        Task {
            do {
                let response = try await responder(request)
                let started = eventLoop.submit {
                    let handler = handler.value
                    handler.sendResponse(response.status, message: response.reason)
                    for (name, value) in response.headers { handler.sendHeader(name, value) }
                    if case .buffer(let body) = response.body {
                        writer.write(body)
                        writer.finish()
                    }
                    handler.endHeaders()
                }
                try await started.get()
                if case .stream(let produce) = response.body {
                    do {
                        try await produce(writer)
                        writer.finish()
                    } catch {
                        eventLoop.execute { handler.value.resetStream() }
                    }
                }
            } catch {
                eventLoop.execute {
                    let handler = handler.value
                    if handler.headersSent {
                        handler.resetStream()
                    } else {
                        handler.sendError(500, message: "The responder failed")
                    }
                }
            }
        }
    }
}

extension SPDYRequestHandler {
    /// Resets the request's stream with INTERNAL_ERROR (a response that cannot be completed);
    /// over HTTP/1.1, which cannot cut one response short, closes the connection.
    public func resetStream(status: SPDYStreamStatus = .internalError) {
        resetHandler?(status)
    }
}
