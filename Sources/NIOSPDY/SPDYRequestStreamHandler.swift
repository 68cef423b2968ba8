import NIOCore
import SPDY

/// What the request bodies of one connection may hold together before their streams stop
/// reading (and so stop granting window): the bound on a client that opens many uploads
/// and finishes none.
///
/// The oldest stream still buffering may always read, up to
/// ``SPDYServer/Configuration-swift.struct/maxRequestBodySize``, so one upload larger than
/// the budget still completes.
final class RequestBodyBudget {
    let limit: Int
    private(set) var used = 0
    private var buffering: [ObjectIdentifier] = []
    private var waiting: [SPDYRequestStreamHandler] = []

    init(limit: Int) {
        self.limit = limit
    }

    func started(_ stream: SPDYRequestStreamHandler) {
        buffering.append(ObjectIdentifier(stream))
    }

    func mayRead(_ stream: SPDYRequestStreamHandler) -> Bool {
        used < limit || buffering.first == ObjectIdentifier(stream)
    }

    func add(_ bytes: Int) {
        used += bytes
    }

    func wait(_ stream: SPDYRequestStreamHandler) {
        waiting.append(stream)
    }

    /// A stream stopped buffering (dispatched or closed), giving back `bytes`.
    func finished(_ stream: SPDYRequestStreamHandler, releasing bytes: Int) {
        used -= bytes
        buffering.removeAll { $0 == ObjectIdentifier(stream) }
        waiting.removeAll { $0 === stream }
        guard !waiting.isEmpty else { return }
        let waiters = waiting
        waiting = []
        for waiter in waiters { waiter.resumeReading() }
    }
}

/// The handler of one request stream of a ``SPDYServer``: collects the request (header
/// block, then body up to ``SPDYServer/Configuration-swift.struct/maxRequestBodySize``)
/// and runs a ``SPDYRequestHandler`` on it when it is complete, then sends its answer on the
/// stream channel.
///
/// On an HTTP/1.1 connection it is the last handler of the connection's pipeline, after an
/// ``HTTP1ExchangeAdapter`` that presents each request as a stream's payloads: it then handles
/// the connection's requests one after another (NIOHTTP1's pipelining handler delivers the next
/// one once the answer to the previous one has ended).
final class SPDYRequestStreamHandler: ChannelInboundHandler {
    typealias InboundIn = SPDYStreamPayload
    typealias OutboundOut = SPDYStreamPayload

    private let server: SPDYServer
    private let negotiated: SPDYNegotiation.Selection
    private let budget: RequestBodyBudget
    private var context: ChannelHandlerContext?
    /// Where the answer is written: the stream channel, or the HTTP/1.1 connection.
    private var channel: (any Channel)?
    private var streamChannel: SPDYStreamChannel?
    private var headers = SPDYHeaders()
    private var priority: UInt8 = 0
    private var body = ByteBuffer()
    private var buffering = true
    private var tooLarge = false
    private var dispatched = false
    private var writer: SPDYResponseWriter?
    /// Set while a request handler runs: an HTTP/1.1 answer that ends inside it lets the next
    /// pipelined request in at once, and that request waits in `held` until the handler returns.
    private var dispatching = false
    private var held: [SPDYStreamPayload] = []

    init(server: SPDYServer, version: SPDYVersion, budget: RequestBodyBudget) {
        self.server = server
        self.negotiated = .spdy(version)
        self.budget = budget
    }

    /// The handler of an HTTP/1.1 connection's requests.
    init(http1Server server: SPDYServer, budget: RequestBodyBudget) {
        self.server = server
        self.negotiated = .http11
        self.budget = budget
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        channel = context.channel
        streamChannel = context.channel as? SPDYStreamChannel
        budget.started(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // The context holds this handler: keeping it would keep both alive.
        self.context = nil
        channel = nil
        streamChannel = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        context.read()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let payload = unwrapInboundIn(data)
        if dispatching {
            held.append(payload)
            return
        }
        receive(payload)
        while !dispatching, !held.isEmpty {
            receive(held.removeFirst())
        }
    }

    private func receive(_ payload: SPDYStreamPayload) {
        switch payload {
        case .headers(let payload):
            if case .synStream(let priority, _, _) = payload.kind {
                if dispatched && negotiated == .http11 { startNextRequest() }
                headers = payload.headers
                self.priority = priority
            } else if !dispatched {
                for (name, value) in payload.headers { headers.add(name: name, value: value) }
            }
            if payload.fin { requestComplete() }
        case .data(var bytes, let fin):
            if buffering {
                let size = bytes.readableBytes
                if body.readableBytes + size > server.configuration.maxRequestBodySize {
                    tooLarge = true
                    stopBuffering()
                    dispatch()
                    return
                }
                if body.readableBytes == 0 {
                    body = bytes
                } else {
                    body.writeBuffer(&bytes)
                }
                budget.add(size)
            }
            if fin { requestComplete() }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if buffering && !dispatched {
            if budget.mayRead(self) {
                context.read()
            } else {
                budget.wait(self)
            }
        } else if tooLarge {
            // The rest of an oversized body is read and dropped until the stream is reset.
            context.read()
        }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writer?.writabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopBuffering()
        writer?.streamClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset or a closed connection: channelInactive follows and tears down.
    }

    /// The next request of an HTTP/1.1 connection: the previous one has been answered.
    private func startNextRequest() {
        headers = SPDYHeaders()
        body = ByteBuffer()
        buffering = true
        tooLarge = false
        dispatched = false
        writer = nil
        budget.started(self)
    }

    func resumeReading() {
        guard buffering, let context else { return }
        if budget.mayRead(self) {
            context.read()
        } else {
            budget.wait(self)
        }
    }

    private func stopBuffering() {
        guard buffering else { return }
        buffering = false
        budget.finished(self, releasing: body.readableBytes)
    }

    private func requestComplete() {
        guard !dispatched else { return }
        stopBuffering()
        dispatch()
    }

    private func dispatch() {
        guard let channel else { return }
        let streamID: SPDYStreamID
        if let streamChannel {
            guard let id = streamChannel.streamID else { return }
            streamID = id
        } else {
            streamID = .zero
        }
        dispatched = true
        dispatching = true
        defer { dispatching = false }
        let required = [":method", ":path", ":version", ":scheme", ":host"].map { headers[$0] }
        let complete = required.allSatisfy { $0 != nil }
        let bodyProblem = tooLarge ? nil : Self.contentLengthProblem(headers, bodyLength: body.readableBytes)
        let handlerType = server.handlerType
        let acceptsIncomplete = handlerType.handlesIncompleteRequests
        let handler = (complete || acceptsIncomplete) && !tooLarge ? handlerType.init() : SPDYRequestHandler()
        handler.command = required[0] ?? ""
        handler.path = required[1] ?? ""
        handler.requestVersion = required[2] ?? ""
        handler.scheme = required[3] ?? ""
        handler.host = required[4] ?? ""
        handler.requestHeaders = headers
        handler.headers = headers.filter { !$0.name.hasPrefix(":") }
        handler.clientAddress = channel.remoteAddress
        handler.server = server
        handler.rfile = tooLarge ? ByteBuffer() : body
        handler.streamID = streamID
        handler.negotiatedProtocol = negotiated
        if case .spdy(let version) = negotiated { handler.version = version }
        handler.streamChannel = streamChannel
        body = ByteBuffer()
        let writer = SPDYResponseWriter(channel: channel, streamID: streamID)
        self.writer = writer
        handler.wfile = writer
        // A handler may answer after its stream or connection is gone (an async responder
        // that was still working when the client went away): the answer is then dropped.
        handler.submitResponse = { handler in
            handler.headersSent = true
            Self.submit(handler)
        }
        if let streamChannel {
            let priority = self.priority
            handler.pushHandler = { handler, headers, body in
                Self.push(handler, on: streamChannel, priority: priority, headers, body)
            }
            handler.resetHandler = { status in streamChannel.resetStream(status) }
        } else {
            // HTTP/1.1 has no push, and a response cut short can only end with the connection.
            handler.resetHandler = { _ in channel.close(promise: nil) }
        }
        if tooLarge {
            handler.sendError(413)
            // The answer goes out first; the rest of the body is refused with RST_STREAM (on
            // HTTP/1.1 the connection closes after the answer, as the request is unfinished).
            writer.finish()
            streamChannel?.closeAfterAnswer()
        } else if !complete && !acceptsIncomplete {
            handler.sendError(400, message: "Missing a required header (:method, :path, :version, :scheme, :host)")
        } else if let bodyProblem {
            // Draft 3 §3.2.1: "If a server receives a request where the sum of the data frame
            // payload lengths does not equal the size of the Content-Length header, the
            // server MUST return a 400 (Bad Request) error."
            handler.sendError(400, message: bodyProblem)
        } else {
            handler.handle()
        }
        if !handler.headersSent {
            if handler.streaming {
                // A streaming handler that has set its status answers now; one that has not
                // (an async responder, say) calls endHeaders() when it knows its answer.
                if handler.status != nil { handler.endHeaders() }
            } else if handler.status == nil && writer.bufferedBytes == 0 {
                handler.sendError(500, message: "The handler sent no response")
            } else {
                // The body is complete: the headers go out with all of it and the end in one
                // write (FIN on the last DATA frame; over HTTP/1.1, a content-length).
                writer.finish()
                handler.endHeaders()
            }
        }
        if !handler.streaming {
            writer.finish()
        }
    }

    /// Why a complete request body does not go with its `content-length` (a length that is
    /// not one number, or a different length), or `nil` when it does or there is none.
    static func contentLengthProblem(_ headers: SPDYHeaders, bodyLength: Int) -> String? {
        do {
            guard let declared = try SPDYHTTPHeaderMapping.contentLength(of: headers), declared != bodyLength else {
                return nil
            }
            return "The body has \(bodyLength) bytes but content-length says \(declared)"
        } catch {
            return "\(error)"
        }
    }

    private static func submit(_ handler: SPDYRequestHandler) {
        var headers = SPDYHeaders()
        headers.reserveCapacity(handler.responseHeaders.count + 2)
        headers.add(name: ":status", value: handler.status ?? "200 OK")
        headers.add(name: ":version", value: "HTTP/1.1")
        for (name, value) in handler.responseHeaders where !ConnectionSpecificHeaders.forbiddenInResponse(name) {
            headers.add(name: name, value: value)
        }
        handler.wfile.attach(headers: headers)
    }

    private static func push(
        _ handler: SPDYRequestHandler,
        on channel: SPDYStreamChannel,
        priority: UInt8,
        _ headers: SPDYHeaders,
        _ body: ByteBuffer
    ) -> SPDYResponseWriter? {
        guard channel.isActive else { return nil }
        let connection = channel.connection
        var headers = headers
        for name in ConnectionSpecificHeaders.responseNames {
            headers.remove(name: name)
        }
        let pushHandler = PushedStreamHandler()
        guard
            let pushed = connection.openLocalStream({ try $0.pipeline.syncOperations.addHandler(pushHandler) })
        else { return nil }
        let open = SPDYStreamPayload.headers(
            .init(
                kind: .synStream(priority: priority, associatedStreamID: handler.streamID, unidirectional: true),
                headers: headers,
                fin: false
            ))
        pushed.writeAndFlush(open, promise: nil)
        guard let id = pushed.streamID else { return nil }
        let writer = SPDYResponseWriter(channel: pushed, streamID: id)
        writer.markAttached()
        pushHandler.writer = writer
        if body.readableBytes > 0 {
            writer.finish(with: body)
        }
        return writer
    }
}

/// The handler of a pushed stream's channel: tells its writer when it may write more and
/// when the stream is gone.
final class PushedStreamHandler: ChannelInboundHandler {
    typealias InboundIn = SPDYStreamPayload

    var writer: SPDYResponseWriter?

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writer?.writabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        writer?.streamClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset pushed stream: channelInactive follows.
    }
}
