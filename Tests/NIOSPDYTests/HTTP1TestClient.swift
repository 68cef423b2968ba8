import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS

/// An HTTP/1.1 client for tests, on NIOHTTP1: one connection (TCP, or TLS with an ALPN list),
/// requests written in order (back to back when pipelined), each response collected whole.
final class HTTP1TestClient: Sendable {
    struct Response: Sendable {
        var head: HTTPResponseHead
        var body: ByteBuffer

        var status: Int { Int(head.status.code) }
        var text: String { String(buffer: body) }
    }

    let channel: any Channel
    private let responses: AsyncThrowingStream<Response, any Error>
    private let negotiated: NIOLockedValueBox<String??>

    private init(
        channel: any Channel, responses: AsyncThrowingStream<Response, any Error>,
        negotiated: NIOLockedValueBox<String??>
    ) {
        self.channel = channel
        self.responses = responses
        self.negotiated = negotiated
    }

    /// Connects to 127.0.0.1:`port`; with `alpn`, over TLS offering those protocols
    /// (certificates not verified; an empty list offers no ALPN at all).
    static func connect(port: Int, group: any EventLoopGroup, alpn: [String]? = nil) async throws -> HTTP1TestClient {
        let (responses, continuation) = AsyncThrowingStream<Response, any Error>.makeStream()
        let negotiated = NIOLockedValueBox<String??>(nil)
        var context: NIOSSLContext?
        if let alpn {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .none
            tls.applicationProtocols = alpn
            context = try NIOSSLContext(configuration: tls)
        }
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { [context] channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let context {
                        try sync.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                    }
                    try sync.addHTTPClientHandlers()
                    try sync.addHandler(Collector(continuation: continuation, negotiated: negotiated))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return HTTP1TestClient(channel: channel, responses: responses, negotiated: negotiated)
    }

    /// The protocol TLS negotiated (`nil` inside when none), once the handshake is done;
    /// `nil` before.
    var negotiatedProtocol: String?? { negotiated.withLockedValue { $0 } }

    /// Writes a request (head, body, end) without waiting for the answer.
    func send(
        _ method: HTTPMethod = .GET, _ uri: String, headers: [(String, String)] = [("host", "127.0.0.1")],
        version: HTTPVersion = .http1_1, body: ByteBuffer? = nil
    ) {
        var head = HTTPRequestHead(version: version, method: method, uri: uri)
        head.headers = HTTPHeaders(headers)
        if let body { head.headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes)) }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    /// The next complete response; throws when the connection closed first.
    func response() async throws -> Response {
        var iterator = responses.makeAsyncIterator()
        guard let response = try await iterator.next() else { throw ChannelError.eof }
        return response
    }

    /// `send` then `response`.
    func request(
        _ method: HTTPMethod = .GET, _ uri: String, headers: [(String, String)] = [("host", "127.0.0.1")],
        version: HTTPVersion = .http1_1, body: ByteBuffer? = nil
    ) async throws -> Response {
        send(method, uri, headers: headers, version: version, body: body)
        return try await response()
    }

    func close() async {
        try? await channel.close()
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart

        let continuation: AsyncThrowingStream<Response, any Error>.Continuation
        let negotiated: NIOLockedValueBox<String??>
        var current: Response?

        init(
            continuation: AsyncThrowingStream<Response, any Error>.Continuation, negotiated: NIOLockedValueBox<String??>
        ) {
            self.continuation = continuation
            self.negotiated = negotiated
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                current = Response(head: head, body: ByteBuffer())
            case .body(var bytes):
                current?.body.writeBuffer(&bytes)
            case .end:
                if let current { continuation.yield(current) }
                current = nil
            }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .handshakeCompleted(let name) = event as? TLSUserEvent {
                negotiated.withLockedValue { $0 = .some(name) }
            }
            context.fireUserInboundEventTriggered(event)
        }

        func channelInactive(context: ChannelHandlerContext) {
            continuation.finish()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            continuation.finish(throwing: error)
            context.close(promise: nil)
        }
    }
}
