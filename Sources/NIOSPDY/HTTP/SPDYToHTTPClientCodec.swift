import HTTPTypes
import NIOCore
import NIOHTTPTypes
import SPDY

/// Sends a request written with swift-http-types over a SPDY stream: NIOHTTPTypes'
/// `HTTPRequestPart`s written on a client ``SPDYStreamChannel`` become the SYN_STREAM, DATA
/// and trailers, and the reply becomes `HTTPResponsePart`s.
///
/// The mapping is that of ``SPDYToHTTP1ClientCodec``: the request's method, path, scheme
/// (the codec's when the request has none) and authority (required: a request without one
/// fails its write with ``SPDYHTTPCodecError/missingHeader(_:)``) make `:method`, `:path`,
/// `:scheme` and `:host`, `:version` is `HTTP/1.1`; a reply without `:status`, or whose body
/// does not match its `content-length` (except for HEAD, 204 and 304), resets the stream
/// with PROTOCOL_ERROR and reaches the pipeline as a ``SPDYHTTPCodecError``.
public final class SPDYToHTTPClientCodec: ChannelDuplexHandler, RemovableChannelHandler {
    /// Payloads of the stream.
    public typealias InboundIn = SPDYStreamPayload
    /// The response, in parts.
    public typealias InboundOut = HTTPResponsePart
    /// The request, in parts.
    public typealias OutboundIn = HTTPRequestPart
    /// Payloads of the stream.
    public typealias OutboundOut = SPDYStreamPayload

    private let version: SPDYVersion
    private let scheme: String
    private var stream = SPDYHTTPMessageStream()
    private var requestMethod: String?

    /// Creates the codec for a stream of a connection speaking `version`; `scheme` is sent
    /// as `:scheme` for requests that have none (`https` over TLS, `http` on plain TCP).
    public init(version: SPDYVersion, scheme: String = "https") {
        self.version = version
        self.scheme = scheme
    }

    /// Turns the reply's payloads into response parts.
    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let received = stream.read(unwrapInboundIn(data)) { block throws(SPDYHTTPCodecError) in
            let parsed = try SPDYHTTPHeaderMapping.parseResponse(block)
            let noBody = SPDYHTTPHeaderMapping.responseHasNoBody(method: requestMethod, code: parsed.code)
            return (Self.response(of: parsed), noBody ? nil : parsed.contentLength)
        }
        if let response = received.head { context.fireChannelRead(wrapInboundOut(.head(response))) }
        if let bytes = received.body { context.fireChannelRead(wrapInboundOut(.body(bytes))) }
        if case .some(let trailers) = received.end {
            context.fireChannelRead(wrapInboundOut(.end(trailers.map(SPDYToHTTPServerCodec.fields))))
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
            case .head(let request):
                let block = try Self.block(of: request, scheme: scheme, version: version)
                requestMethod = request.method.rawValue
                try stream.writeHead(block, noBody: false, promise: promise)
            case .body(let bytes):
                try stream.writeBody(bytes, context: context, promise: promise)
            case .end(let trailers):
                try stream.writeEnd(
                    trailers: trailers.map { SPDYToHTTPServerCodec.trailerBlock($0, version: version) },
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

    static func block(of request: HTTPRequest, scheme: String, version: SPDYVersion) throws(SPDYHTTPCodecError)
        -> SPDYHeaders
    {
        guard let host = request.authority else { throw .missingHeader(":host") }
        var builder = SPDYHTTPHeaderMapping.BlockBuilder(
            version: version,
            isRequest: true,
            connectionValues: request.headerFields[values: .connection],
            capacity: request.headerFields.count
        )
        builder.addPseudo(":method", request.method.rawValue)
        builder.addPseudo(":path", request.path ?? (request.method == .connect ? host : "/"))
        builder.addPseudo(":version", "HTTP/1.1")
        builder.addPseudo(":host", host)
        builder.addPseudo(":scheme", request.scheme ?? scheme)
        for field in request.headerFields { builder.add(name: field.name.canonicalName, value: field.value) }
        return builder.block
    }

    static func response(of parsed: SPDYHTTPHeaderMapping.Response) -> HTTPResponse {
        var fields = HTTPFields()
        fields.reserveCapacity(parsed.block.count - 2)
        SPDYHTTPHeaderMapping.forEachRegularField(parsed.block) { name, value in
            if let fieldName = HTTPField.Name(name) { fields.append(HTTPField(name: fieldName, value: value)) }
        }
        return HTTPResponse(status: .init(code: parsed.code, reasonPhrase: parsed.reason), headerFields: fields)
    }
}
