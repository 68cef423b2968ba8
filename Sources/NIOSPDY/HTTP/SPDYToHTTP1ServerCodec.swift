import NIOCore
import NIOHTTP1
import SPDY

/// Serves a SPDY stream to an HTTP/1 handler: turns the request a client sends on a server
/// ``SPDYStreamChannel`` into `HTTPServerRequestPart`s and the handler's
/// `HTTPServerResponsePart`s into the reply, the way swift-nio-http2's
/// `HTTP2FramePayloadToHTTP1ServerCodec` does for HTTP/2.
///
/// Add it first in each stream channel's pipeline, with the connection's version:
///
/// ```swift
/// SPDYConnection(session: session, inboundStreamInitializer: { stream in
///     stream.eventLoop.makeCompletedFuture {
///         try stream.pipeline.syncOperations.addHandlers(
///             SPDYToHTTP1ServerCodec(version: session.version), MyHTTPHandler())
///     }
/// })
/// ```
///
/// The mapping:
/// - `:method`, `:path`, `:version`, `:host` and `:scheme` (SPDY/2's `method`, `url`,
///   `version`, `host`, `scheme`) make the request head, `:host` its `Host` header. A
///   request without all five, or with a method that is not a token or a `:path` that is
///   not a request target, is answered 400 Bad Request by the codec and never reaches the
///   handler (draft 3 §3.2.1).
/// - The response head becomes `:status` (with the standard reason phrase when the handler
///   gives none) and `:version`. Connection-specific headers (`connection` and the names it
///   lists, `keep-alive`, `proxy-connection`, `transfer-encoding`, `upgrade`) are dropped
///   both ways; on SPDY/2 so are response headers whose names SPDY/2 uses for its own
///   (`status`, `version`, `host`, `method`, `url`, `scheme`).
/// - Repeated headers travel as one NUL-joined value and come back as separate fields.
/// - SPDY has no interim responses: 1xx heads are not sent. A response to HEAD, a 204 and a
///   304 send no body, whatever the handler writes.
/// - A request body longer or shorter than its `content-length` reaches the handler as
///   ``SPDYHTTPCodecError/contentLengthMismatch(expected:received:)`` and is answered 400
///   Bad Request by the codec (draft 3 §3.2.1); if the handler's response has already
///   begun, the stream is reset with PROTOCOL_ERROR instead.
/// - Trailers, both ways, are a HEADERS frame with FIN after the last DATA.
/// - Bodies must be `ByteBuffer`s: a file region fails its write with
///   ``SPDYHTTPCodecError/fileRegionUnsupported``.
public final class SPDYToHTTP1ServerCodec: ChannelDuplexHandler, RemovableChannelHandler {
    /// Payloads of the stream.
    public typealias InboundIn = SPDYStreamPayload
    /// The request, in parts.
    public typealias InboundOut = HTTPServerRequestPart
    /// The response, in parts.
    public typealias OutboundIn = HTTPServerResponsePart
    /// Payloads of the stream.
    public typealias OutboundOut = SPDYStreamPayload

    private let version: SPDYVersion
    private var stream = SPDYHTTPMessageStream()
    private var requestMethod: String?

    /// Creates the codec for a stream of a connection speaking `version`.
    public init(version: SPDYVersion) {
        self.version = version
    }

    /// Turns the stream's payloads into request parts.
    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let received = stream.read(unwrapInboundIn(data)) { block throws(SPDYHTTPCodecError) in
            let request = try SPDYHTTPHeaderMapping.parseRequest(block)
            requestMethod = request.method
            return (Self.head(of: request), request.contentLength)
        }
        if let head = received.head { context.fireChannelRead(wrapInboundOut(.head(head))) }
        if let bytes = received.body { context.fireChannelRead(wrapInboundOut(.body(bytes))) }
        if case .some(let trailers) = received.end {
            context.fireChannelRead(wrapInboundOut(.end(trailers.map(Self.httpHeaders))))
        }
        switch received.failure {
        case .head(let error)?: stream.answerBadRequest(context: context, for: error)
        case .body(let error)?:
            // Draft 3 §3.2.1: a body that does not add up to its Content-Length "MUST
            // return a 400 (Bad Request) error". The handler has seen the head, so it is
            // told; once its answer has begun, only a reset is left.
            if stream.answerBegun {
                stream.reset(context: context, for: error)
            } else {
                context.fireErrorCaught(error)
                stream.answerBadRequest(context: context, for: error)
            }
        case nil: break
        }
    }

    /// Turns response parts into payloads.
    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        do {
            switch unwrapOutboundIn(data) {
            case .head(let head):
                // SPDY has no interim responses (100 Continue, 103 Early Hints).
                if head.status.code < 200 {
                    promise?.succeed(())
                    return
                }
                let block = Self.block(of: head, version: version)
                let noBody = SPDYHTTPHeaderMapping.responseHasNoBody(method: requestMethod, code: Int(head.status.code))
                try stream.writeHead(block, noBody: noBody, promise: promise)
            case .body(.byteBuffer(let bytes)):
                try stream.writeBody(bytes, context: context, promise: promise)
            case .body(.fileRegion):
                throw SPDYHTTPCodecError.fileRegionUnsupported
            case .end(let trailers):
                try stream.writeEnd(
                    trailers: trailers.map { Self.trailerBlock($0, version: version) }, context: context,
                    promise: promise)
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

    static func head(of request: SPDYHTTPHeaderMapping.Request) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(request.block.count - 4)
        headers.add(name: "host", value: request.host)
        SPDYHTTPHeaderMapping.forEachRegularField(request.block) { name, value in
            // `host` is the request's authority (`:host`); a second one would contradict it.
            if !SPDYHTTPHeaderMapping.equalsLowercased(name, "host") { headers.add(name: name, value: value) }
        }
        return HTTPRequestHead(
            version: request.version,
            method: HTTPMethod(rawValue: request.method),
            uri: request.path,
            headers: headers
        )
    }

    static func block(of head: HTTPResponseHead, version: SPDYVersion) -> SPDYHeaders {
        var builder = SPDYHTTPHeaderMapping.BlockBuilder(
            version: version,
            isRequest: false,
            connectionValues: head.headers[canonicalForm: "connection"].map(String.init),
            capacity: head.headers.count
        )
        builder.addPseudo(
            ":status", SPDYHTTPHeaderMapping.statusLine(code: Int(head.status.code), reason: head.status.reasonPhrase))
        builder.addPseudo(":version", SPDYHTTPHeaderMapping.versionString(head.version))
        for (name, value) in head.headers { builder.add(name: name, value: value) }
        return builder.block
    }

    static func trailerBlock(_ trailers: HTTPHeaders, version: SPDYVersion) -> SPDYHeaders {
        var builder = SPDYHTTPHeaderMapping.BlockBuilder(
            version: version, isRequest: false, connectionValues: [], capacity: trailers.count)
        for (name, value) in trailers { builder.add(name: name, value: value) }
        return builder.block
    }

    static func httpHeaders(_ block: SPDYHeaders) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for (name, value) in block { headers.add(name: name, value: value) }
        return headers
    }
}
