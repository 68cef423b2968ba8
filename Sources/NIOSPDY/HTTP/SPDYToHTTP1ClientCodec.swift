import NIOCore
import NIOHTTP1
import SPDY

/// Sends an HTTP/1 request over a SPDY stream: turns `HTTPClientRequestPart`s written on a
/// client ``SPDYStreamChannel`` into the SYN_STREAM, DATA and trailers, and the reply into
/// `HTTPClientResponsePart`s, the way swift-nio-http2's `HTTP2FramePayloadToHTTP1ClientCodec`
/// does for HTTP/2.
///
/// ```swift
/// let stream = try await connection.createStreamChannel { stream in
///     stream.pipeline.addHandlers(SPDYToHTTP1ClientCodec(version: .v3_1, scheme: "https"), MyClientHandler())
/// }.get()
/// ```
///
/// The request head becomes `:method`, `:path` (the head's URI), `:version`, `:scheme` (the
/// codec's) and `:host` (the `Host` header, which is required: a head without one fails
/// its write with ``SPDYHTTPCodecError/missingHeader(_:)``). Connection-specific headers
/// are dropped, and on SPDY/2 so are headers whose names SPDY/2 uses for its pseudo-headers.
/// A request without a body leaves as one SYN_STREAM with FIN when the head and end are
/// written before the flush.
///
/// The reply's `:status` and `:version` make the response head. A reply without `:status`,
/// or whose body does not match its `content-length` (except for HEAD, 204 and 304), resets
/// the stream with PROTOCOL_ERROR and reaches the pipeline as a ``SPDYHTTPCodecError``.
public final class SPDYToHTTP1ClientCodec: ChannelDuplexHandler, RemovableChannelHandler {
    /// Payloads of the stream.
    public typealias InboundIn = SPDYStreamPayload
    /// The response, in parts.
    public typealias InboundOut = HTTPClientResponsePart
    /// The request, in parts.
    public typealias OutboundIn = HTTPClientRequestPart
    /// Payloads of the stream.
    public typealias OutboundOut = SPDYStreamPayload

    private let version: SPDYVersion
    private let scheme: String
    private var stream = SPDYHTTPMessageStream()
    private var requestMethod: String?

    /// Creates the codec for a stream of a connection speaking `version`; `scheme` is sent
    /// as `:scheme` (`https` over TLS, `http` on plain TCP).
    public init(version: SPDYVersion, scheme: String = "https") {
        self.version = version
        self.scheme = scheme
    }

    /// Turns the reply's payloads into response parts.
    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let received = stream.read(unwrapInboundIn(data)) { block throws(SPDYHTTPCodecError) in
            let response = try SPDYHTTPHeaderMapping.parseResponse(block)
            let noBody = SPDYHTTPHeaderMapping.responseHasNoBody(method: requestMethod, code: response.code)
            return (Self.head(of: response), noBody ? nil : response.contentLength)
        }
        if let head = received.head { context.fireChannelRead(wrapInboundOut(.head(head))) }
        if let bytes = received.body { context.fireChannelRead(wrapInboundOut(.body(bytes))) }
        if case .some(let trailers) = received.end {
            context.fireChannelRead(wrapInboundOut(.end(trailers.map(SPDYToHTTP1ServerCodec.httpHeaders))))
        }
        switch received.failure {
        case .head(let error)?, .body(let error)?: stream.reset(context: context, for: error)
        case nil: break
        }
    }

    /// Turns request parts into payloads.
    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        do {
            switch unwrapOutboundIn(data) {
            case .head(let head):
                let block = try Self.block(of: head, scheme: scheme, version: version)
                requestMethod = head.method.rawValue
                try stream.writeHead(block, noBody: false, promise: promise)
            case .body(.byteBuffer(let bytes)):
                try stream.writeBody(bytes, context: context, promise: promise)
            case .body(.fileRegion):
                throw SPDYHTTPCodecError.fileRegionUnsupported
            case .end(let trailers):
                try stream.writeEnd(
                    trailers: trailers.map { SPDYToHTTP1ServerCodec.trailerBlock($0, version: version) },
                    context: context,
                    promise: promise
                )
            }
        } catch {
            promise?.fail(error)
        }
    }

    /// Writes a head that waits for its body, then flushes.
    public func flush(context: ChannelHandlerContext) {
        stream.writePendingHead(context: context)
        context.flush()
    }

    // MARK: Mapping

    static func block(of head: HTTPRequestHead, scheme: String, version: SPDYVersion) throws(SPDYHTTPCodecError)
        -> SPDYHeaders
    {
        guard let host = head.headers.first(name: "host") else { throw .missingHeader("host") }
        var builder = SPDYHTTPHeaderMapping.BlockBuilder(
            version: version,
            isRequest: true,
            connectionValues: head.headers[canonicalForm: "connection"].map(String.init),
            capacity: head.headers.count
        )
        builder.addPseudo(":method", head.method.rawValue)
        builder.addPseudo(":path", head.uri)
        builder.addPseudo(":version", SPDYHTTPHeaderMapping.versionString(head.version))
        builder.addPseudo(":host", host)
        builder.addPseudo(":scheme", scheme)
        for (name, value) in head.headers { builder.add(name: name, value: value) }
        return builder.block
    }

    static func head(of response: SPDYHTTPHeaderMapping.Response) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(response.block.count - 2)
        SPDYHTTPHeaderMapping.forEachRegularField(response.block) { headers.add(name: $0, value: $1) }
        let status =
            response.reason.isEmpty
            ? HTTPResponseStatus(statusCode: response.code)
            : HTTPResponseStatus(statusCode: response.code, reasonPhrase: response.reason)
        return HTTPResponseHead(version: response.version, status: status, headers: headers)
    }
}
