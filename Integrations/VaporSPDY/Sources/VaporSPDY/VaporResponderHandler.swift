import Logging
import NIOCore
import NIOHTTP1
import NIOSPDY
import Vapor

/// Serves one HTTP/1 request stream with a Vapor responder: an HTTP/1.1 connection (after
/// NIO's HTTP/1 codec and pipelining handler) or one SPDY stream (after
/// ``NIOSPDY/SPDYToHTTP1ServerCodec``).
///
/// Vapor's own handlers (`HTTPServerRequestDecoder`, `HTTPServerResponseEncoder`,
/// `HTTPServerHandler`) are internal to Vapor, and so are the two things a server needs to
/// stream bodies: `Request.BodyStream` (the only way to hand a `Request` a body that is
/// still arriving) and `Response.Body.storage` (the only way to run a streaming body's
/// callback against a writer of one's own). What Vapor makes public is
/// `Request.init(…collectedBody:…)` and `Response.Body.collect(on:)`, so both bodies are
/// whole in memory here: the request's before the responder sees it, bounded by the limit;
/// a streamed response's before its first byte is sent, with no bound Vapor lets us set.
final class VaporResponderHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// What the server shares with every connection and stream.
    struct Context: Sendable {
        let application: Application
        let responder: any Vapor.Responder
        /// `nil`: the application's `routes.defaultMaxBodySize`, read per request so that a
        /// change after start-up still counts.
        let maxBodySize: Int?
        let serverName: String?
        let logger: Logger

        var bodyLimit: Int { maxBodySize ?? application.routes.defaultMaxBodySize.value }
    }

    private enum State {
        /// Between requests.
        case idle
        /// Reading a request's body.
        case collecting(HTTPRequestHead, body: ByteBuffer?)
        /// The body went over the limit and 413 is on its way: the rest is dropped.
        case discarding
        /// The request is complete and the responder has it.
        case responding
    }

    private let shared: Context
    private var state = State.idle
    private var quiescing = false
    /// Whether the channel is one SPDY stream (one request, no keep-alive) rather than an
    /// HTTP/1.1 connection.
    private var isSPDYStream = false

    init(context: Context) {
        self.shared = context
    }

    func handlerAdded(context: ChannelHandlerContext) {
        isSPDYStream = context.channel is SPDYStreamChannel
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard case .idle = state else { return }
            let limit = shared.bodyLimit
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > limit {
                reject(context: context, head: head)
                return
            }
            state = .collecting(head, body: nil)
        case .body(var bytes):
            guard case .collecting(let head, var body) = state else { return }
            // Drops the state's reference so that the buffer grows in place.
            state = .responding
            guard (body?.readableBytes ?? 0) + bytes.readableBytes <= shared.bodyLimit else {
                reject(context: context, head: head)
                return
            }
            if body == nil {
                body = bytes
            } else {
                body!.writeBuffer(&bytes)
            }
            state = .collecting(head, body: body)
        case .end:
            switch state {
            case .collecting(let head, let body):
                state = .responding
                respond(context: context, head: head, body: body)
            case .discarding:
                state = .idle
            case .idle, .responding:
                break
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, !isSPDYStream {
            // NIO's pipelining handler, when present, has already closed an idle connection
            // and marks the in-flight response `connection: close`; without it, do the same.
            quiescing = true
            if case .idle = state { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        shared.logger.debug("closing after an error", metadata: ["error": "\(String(reflecting: error))"])
        context.close(promise: nil)
    }

    // MARK: Answering

    /// Answers 413 and drops the rest of the body. The connection (or the stream) cannot be
    /// reused: its body may still be arriving in any amount.
    private func reject(context: ChannelHandlerContext, head: HTTPRequestHead) {
        state = .discarding
        shared.logger.debug(
            "request body over the limit", metadata: ["limit": "\(shared.bodyLimit)", "uri": "\(head.uri)"])
        // The body Vapor's ErrorMiddleware gives `Abort(.payloadTooLarge)`. On SPDY it also
        // puts our FIN on a DATA frame, which the session sends only after the SYN_REPLY, so
        // the RST_STREAM that follows cannot overtake the answer.
        var headers = HTTPHeaders()
        headers.contentType = .json
        let response = Response(
            status: .payloadTooLarge,
            headers: headers,
            body: .init(staticString: #"{"error":true,"reason":"Payload Too Large"}"#)
        )
        write(response, body: response.body.buffer, to: head, keepAlive: false, context: context)
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead, body: ByteBuffer?) {
        let channel = context.channel
        let request = Request(
            application: shared.application,
            method: head.method,
            // URI(path:), as Vapor's decoder does: a request target has no authority, so
            // "//a/b" is a path and not a host.
            url: URI(path: head.uri),
            version: head.version,
            headersNoUpdate: head.headers,
            collectedBody: body,
            remoteAddress: channel.remoteAddress,
            peerCertificateChain: nil,
            logger: shared.application.logger,
            byteBufferAllocator: channel.allocator,
            on: channel.eventLoop
        )
        let keepAlive = head.isKeepAlive
        let isHead = head.method == .HEAD
        let shared = self.shared
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        shared.responder.respond(to: request)
            .hop(to: context.eventLoop)
            .flatMap { response -> EventLoopFuture<(Response, ByteBuffer?)> in
                if response.upgrader != nil || response.status == .switchingProtocols {
                    // Vapor's upgrade handler, which would hand the connection to a WebSocket,
                    // is internal to Vapor, and SPDY streams have no upgrade.
                    shared.logger.debug("refusing a protocol upgrade", metadata: ["uri": "\(head.uri)"])
                    return channel.eventLoop.makeSucceededFuture((Response(status: .notImplemented), nil))
                }
                // A HEAD response carries no body, and Vapor does not run a streaming
                // body's callback for one either.
                if isHead || response.status == .noContent || response.status == .notModified {
                    return channel.eventLoop.makeSucceededFuture((response, nil))
                }
                return response.body.collect(on: channel.eventLoop).map { (response, $0) }
            }
            .whenComplete { result in
                let (handler, context) = bound.value
                switch result {
                case .success((let response, let body)):
                    handler.write(response, body: body, to: head, keepAlive: keepAlive, context: context)
                case .failure(let error):
                    // Without Vapor's ErrorMiddleware a failing route arrives here; once a
                    // streaming body fails, nothing has been sent yet, so 500 still fits.
                    shared.logger.report(error: error)
                    handler.write(
                        Response(status: .internalServerError), body: nil, to: head, keepAlive: false, context: context)
                }
            }
    }

    private func write(
        _ response: Response,
        body: ByteBuffer?,
        to request: HTTPRequestHead,
        keepAlive requestKeepAlive: Bool,
        context: ChannelHandlerContext
    ) {
        var headers = response.headers
        if let body {
            // A collected streaming body has a length now; `transfer-encoding: chunked`,
            // which Vapor set for the stream, no longer applies.
            headers.remove(name: .transferEncoding)
            headers.replaceOrAdd(name: .contentLength, value: String(body.readableBytes))
        }
        headers.add(name: .date, value: HTTPDate.now())
        if let server = shared.serverName { headers.add(name: .server, value: server) }
        let keepAlive = requestKeepAlive && !quiescing && !isSPDYStream
        if !isSPDYStream {
            headers.replaceOrAdd(name: .connection, value: keepAlive ? "keep-alive" : "close")
        }
        let head = HTTPResponseHead(version: request.version, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body, body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        let rejected: Bool
        if case .discarding = state { rejected = true } else { rejected = false }
        if case .responding = state { state = .idle }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        guard rejected || !keepAlive || isSPDYStream else { return }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let isSPDYStream = self.isSPDYStream
        done.whenComplete { _ in
            let context = bound.value
            if isSPDYStream {
                // Our FIN is out; a client still sending a body is stopped with RST_STREAM
                // CANCEL, one that has finished closes the stream normally.
                if rejected { context.close(promise: nil) }
            } else {
                // Half-close, as Vapor does, so the client reads the whole answer before the
                // connection goes (closing with unread input would reset it).
                context.close(mode: .output).whenFailure { _ in
                    bound.value.close(promise: nil)
                }
            }
        }
    }
}
