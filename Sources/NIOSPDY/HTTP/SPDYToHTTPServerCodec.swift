import HTTPTypes
import NIOCore
import NIOHTTPTypes
import SPDY

/// Serves a SPDY stream to a handler written with swift-http-types: turns the request on a
/// server ``SPDYStreamChannel`` into NIOHTTPTypes' `HTTPRequestPart`s and the handler's
/// `HTTPResponsePart`s into the reply (what Hummingbird's and other NIOHTTPTypes servers'
/// channel handlers read and write).
///
/// The mapping is that of ``SPDYToHTTP1ServerCodec``: `:method`, `:scheme`, `:host` (the
/// request's authority) and `:path` make the `HTTPRequest` (a request without all of them
/// and `:version`, with a method that is not a token, a `:path` that is not a request target
/// or a header name that is not a token is answered 400 Bad Request by the codec);
/// connection-specific headers are dropped both ways; repeated headers come back as
/// separate fields; `:status` carries the standard reason phrase when the response has
/// none; 1xx heads are not sent; responses to HEAD, 204 and 304 carry no body; a request
/// body that does not match `content-length` resets the stream with PROTOCOL_ERROR;
/// trailers travel as a HEADERS frame with FIN after the last DATA.
public final class SPDYToHTTPServerCodec: ChannelDuplexHandler, RemovableChannelHandler {
    /// Payloads of the stream.
    public typealias InboundIn = SPDYStreamPayload
    /// The request, in parts.
    public typealias InboundOut = HTTPRequestPart
    /// The response, in parts.
    public typealias OutboundIn = HTTPResponsePart
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
            let parsed = try SPDYHTTPHeaderMapping.parseRequest(block)
            let request = try Self.request(of: parsed)
            requestMethod = request.method.rawValue
            return (request, parsed.contentLength)
        }
        if let request = received.head { context.fireChannelRead(wrapInboundOut(.head(request))) }
        if let bytes = received.body { context.fireChannelRead(wrapInboundOut(.body(bytes))) }
        if case .some(let trailers) = received.end {
            context.fireChannelRead(wrapInboundOut(.end(trailers.map(Self.fields))))
        }
        switch received.failure {
        case .head(let error)?: stream.answerBadRequest(context: context, for: error)
        case .body(let error)?: stream.reset(context: context, for: error)
        case nil: break
        }
    }

    /// Turns response parts into payloads.
    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        do {
            switch unwrapOutboundIn(data) {
            case .head(let response):
                // SPDY has no interim responses (100 Continue, 103 Early Hints).
                if response.status.code < 200 {
                    promise?.succeed(())
                    return
                }
                let block = Self.block(of: response, version: version)
                let noBody = SPDYHTTPHeaderMapping.responseHasNoBody(method: requestMethod, code: response.status.code)
                try stream.writeHead(block, noBody: noBody, promise: promise)
            case .body(let bytes):
                try stream.writeBody(bytes, context: context, promise: promise)
            case .end(let trailers):
                try stream.writeEnd(
                    trailers: trailers.map { Self.trailerBlock($0, version: version) },
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

    static func request(of parsed: SPDYHTTPHeaderMapping.Request) throws(SPDYHTTPCodecError) -> HTTPRequest {
        guard let method = HTTPRequest.Method(parsed.method) else {
            throw .invalidHeader(name: ":method", value: parsed.method)
        }
        var fields = HTTPFields()
        fields.reserveCapacity(parsed.block.count - 5)
        var invalidName: String?
        SPDYHTTPHeaderMapping.forEachRegularField(parsed.block) { name, value in
            // `host` is the authority (`:host`); a second one would contradict it.
            if SPDYHTTPHeaderMapping.equalsLowercased(name, "host") { return }
            guard let fieldName = HTTPField.Name(name) else {
                invalidName = invalidName ?? name
                return
            }
            fields.append(HTTPField(name: fieldName, value: value))
        }
        if let invalidName { throw .invalidHeader(name: invalidName, value: "(not a field name)") }
        return HTTPRequest(
            method: method,
            scheme: parsed.scheme,
            authority: parsed.host,
            path: parsed.path,
            headerFields: fields
        )
    }

    static func block(of response: HTTPResponse, version: SPDYVersion) -> SPDYHeaders {
        var builder = SPDYHTTPHeaderMapping.BlockBuilder(
            version: version,
            isRequest: false,
            connectionValues: response.headerFields[values: .connection],
            capacity: response.headerFields.count
        )
        builder.addPseudo(
            ":status",
            SPDYHTTPHeaderMapping.statusLine(code: response.status.code, reason: response.status.reasonPhrase)
        )
        builder.addPseudo(":version", "HTTP/1.1")
        for field in response.headerFields { builder.add(name: field.name.canonicalName, value: field.value) }
        return builder.block
    }

    static func trailerBlock(_ trailers: HTTPFields, version: SPDYVersion) -> SPDYHeaders {
        var builder = SPDYHTTPHeaderMapping.BlockBuilder(
            version: version, isRequest: false, connectionValues: [], capacity: trailers.count)
        for field in trailers { builder.add(name: field.name.canonicalName, value: field.value) }
        return builder.block
    }

    /// Received trailers; names that are not tokens are left out.
    static func fields(_ block: SPDYHeaders) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in block {
            if let fieldName = HTTPField.Name(name) { fields.append(HTTPField(name: fieldName, value: value)) }
        }
        return fields
    }
}
