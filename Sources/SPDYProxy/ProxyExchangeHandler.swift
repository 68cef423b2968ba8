import NIOCore
import NIOHTTP1
import NIOSPDY
import SPDY

/// Forwards the requests of one client channel to the backends: a SPDY stream (one request)
/// or an HTTP/1.1 connection (its requests one after another). It is the last handler of the
/// client channel and the delegate of the backend connection it borrows for each request.
///
/// Both directions stream with backpressure: the client channel's `read()` waits while the
/// backend connection is not there yet or cannot take more, and the backend connection's
/// waits while the client channel cannot (``BackendConnection``). What the proxy holds for one
/// exchange is one read batch each way.
final class ProxyExchangeHandler: ChannelDuplexHandler, BackendConnectionDelegate {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// One request and its response.
    private struct Exchange {
        var head: HTTPRequestHead
        let start: NIODeadline
        /// Parts that arrived before the backend connection.
        var pending: [HTTPServerRequestPart] = []
        var started = false
        var backend: BackendConnection?
        /// The backend that answered (for the log).
        var servedBy: SPDYProxyConfiguration.Backend?
        var requestEnded = false
        var requestBytes = 0
        var sawBody = false
        var retried = false
        var responseStatus: Int?
        var responseBytes = 0
        var responseEnded = false
        /// Whether the backend connection can serve another request afterwards.
        var backendReusable = true
        var lastActivity: NIODeadline
        var timer: Scheduled<Void>?
        var sentContinue = false
    }

    private let shared: ProxyShared
    private let pool: BackendPool
    private let negotiated: SPDYNegotiation.Selection
    private let isSecure: Bool
    private var context: ChannelHandlerContext?
    private var exchange: Exchange?
    private var pendingRead = false
    /// The HTTP/1.1 connection closes once the current response is out.
    private var closeAfterResponse = false

    init(shared: ProxyShared, pool: BackendPool, context: SPDYServer.HTTPChannelContext) {
        self.shared = shared
        self.pool = pool
        self.negotiated = context.negotiatedProtocol
        self.isSecure = context.isSecure
    }

    private var isSPDY: Bool {
        if case .spdy = negotiated { return true }
        return false
    }

    /// The client's protocol as the access log names it: `spdy/3.1`, or `http/1.0` or
    /// `http/1.1` as the request says.
    private func protocolName(_ head: HTTPRequestHead) -> String {
        switch negotiated {
        case .spdy(let version): version.protocolName
        case .http11: "http/\(head.version.major).\(head.version.minor)"
        }
    }

    /// The response version: what the HTTP/1 client spoke; SPDY's codec maps HTTP/1.1.
    private func responseVersion(_ head: HTTPRequestHead) -> HTTPVersion {
        isSPDY ? .http1_1 : head.version
    }

    // MARK: Client side

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        clientGone()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .head(let head) = part {
            guard exchange == nil else {
                // NIOHTTP1's pipelining handler delivers one request at a time; a SPDY stream
                // carries one.
                context.close(promise: nil)
                return
            }
            let now = context.eventLoop.now
            exchange = Exchange(head: head, start: now, lastActivity: now)
            if !isSPDY && !head.isKeepAlive { closeAfterResponse = true }
            scheduleTimer()
            return
        }
        guard var current = exchange else { return }
        current.lastActivity = context.eventLoop.now
        if case .body(let bytes) = part {
            current.sawBody = true
            current.requestBytes += bytes.readableBytes
        }
        if case .end = part { current.requestEnded = true }
        guard current.started, let backend = current.backend else {
            current.pending.append(part)
            exchange = current
            return
        }
        exchange = current
        backend.write(Self.clientRequestPart(part))
        if current.requestEnded { backend.flush() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if let current = exchange, !current.started {
            start()
        } else {
            exchange?.backend?.flush()
        }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if let current = exchange, !current.responseEnded,
            current.backend.map({ !$0.isWritable }) ?? current.started
        {
            // No backend connection yet, or it cannot take more: the client waits.
            pendingRead = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { exchange?.backend?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        clientGone()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset by the client, a request body that broke its content-length, a broken
        // HTTP/1.1 message: the exchange is over.
        clientGone()
        context.close(promise: nil)
    }

    private func resumeClientReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    /// The client reset the stream or closed the connection: the backend request is closed.
    private func clientGone() {
        guard let current = exchange, !(current.responseEnded && current.requestEnded) else { return }
        exchange = nil
        current.timer?.cancel()
        current.backend?.close()
        log(current, outcome: .clientAborted)
    }

    // MARK: Backend side

    private func start() {
        guard var current = exchange, !current.started else { return }
        current.started = true
        exchange = current
        acquireBackend(fresh: false)
    }

    private func acquireBackend(fresh: Bool) {
        pool.acquire(fresh: fresh).assumeIsolated().whenComplete { [self] result in
            guard var current = self.exchange, current.backend == nil, !current.responseEnded else {
                // The client went away (or the exchange timed out) while we waited.
                if case .success(let connection) = result { self.pool.release(connection, reusable: true) }
                return
            }
            switch result {
            case .failure(let error):
                let status: HTTPResponseStatus
                switch error as? BackendUnavailable {
                case .timedOut?: status = .gatewayTimeout
                case .saturated?: status = .serviceUnavailable
                default: status = .badGateway
                }
                self.answerError(status)
            case .success(let connection):
                connection.delegate = self
                current.backend = connection
                current.servedBy = connection.backend
                current.backendReusable = true
                current.lastActivity = self.now
                var body: Bool? = current.sawBody ? true : (current.requestEnded ? false : nil)
                if !self.isSPDY && !current.head.headers.contains(name: "content-length")
                    && !current.head.headers.contains(name: "transfer-encoding")
                {
                    // HTTP/1.1 framing says it: a request with neither has no body.
                    body = false
                }
                let head = ForwardedHeaders.backendRequest(
                    current.head,
                    client: self.context?.channel.remoteAddress,
                    receivedProtocol: self.viaProtocol(current.head.version),
                    secure: self.isSecure,
                    viaName: self.shared.configuration.viaName,
                    body: body
                )
                let pending = current.pending
                current.pending = []
                if !self.isSPDY && !current.requestEnded && !current.sentContinue
                    && current.head.headers[canonicalForm: "expect"].contains(where: {
                        $0.lowercased() == "100-continue"
                    })
                {
                    // The proxy answers 100-continue itself: the backend never sees `expect`.
                    current.sentContinue = true
                    self.context?.writeAndFlush(
                        self.wrapOutboundOut(.head(HTTPResponseHead(version: current.head.version, status: .continue))),
                        promise: nil)
                }
                self.exchange = current
                connection.write(.head(head))
                for part in pending { connection.write(Self.clientRequestPart(part)) }
                connection.flush()
                self.resumeClientReading()
            }
        }
    }

    var backendMayRead: Bool { context?.channel.isWritable ?? true }

    func backendReceived(_ part: HTTPClientResponsePart) {
        guard var current = exchange, let context else { return }
        current.lastActivity = context.eventLoop.now
        switch part {
        case .head(let head):
            if !head.isKeepAlive { current.backendReusable = false }
            current.responseStatus = Int(head.status.code)
            if !current.requestEnded && !isSPDY { closeAfterResponse = true }
            let version = responseVersion(current.head)
            let forwarded = ForwardedHeaders.clientResponse(
                head, version: version, viaName: shared.configuration.viaName, closing: closeAfterResponse)
            exchange = current
            context.write(wrapOutboundOut(.head(forwarded)), promise: nil)
        case .body(let bytes):
            current.responseBytes += bytes.readableBytes
            exchange = current
            context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
        case .end(let trailers):
            current.responseEnded = true
            if !current.requestEnded { current.backendReusable = false }
            let backend = current.backend
            current.backend = nil
            exchange = current
            if let backend {
                pool.release(backend, reusable: current.backendReusable)
            }
            // A response that came before the whole request: over SPDY the rest of the
            // upload is read and dropped (a reset could cut the response short); over
            // HTTP/1.1 the connection closes after the response.
            finishExchange(writingEnd: trailers)
        }
    }

    func backendReadComplete() {
        context?.flush()
    }

    func backendWritabilityChanged(isWritable: Bool) {
        if isWritable { resumeClientReading() }
    }

    func backendFailed(_ error: (any Error)?) {
        guard var current = exchange, !current.responseEnded else { return }
        let wasReused = current.backend?.isReused ?? false
        current.backend = nil
        exchange = current
        if current.responseStatus == nil {
            if wasReused && !current.retried && current.requestEnded && !current.sawBody {
                // A keep-alive connection the backend closed as we took it: a request
                // without a body is safe to send again, on a new connection.
                current.retried = true
                exchange = current
                acquireBackend(fresh: true)
                return
            }
            answerError(.badGateway)
        } else {
            abortResponse(outcome: .backendFailed)
        }
    }

    // MARK: Ending

    /// Answers with the proxy's own error page (502, 503, 504).
    private func answerError(_ status: HTTPResponseStatus, outcome: SPDYProxyAccessLogEntry.Outcome = .complete) {
        guard var current = exchange, let context else { return }
        current.backend?.close()
        current.backend = nil
        current.responseStatus = Int(status.code)
        current.responseEnded = true
        let body =
            "<html><head><title>\(status.code) \(status.reasonPhrase)</title></head><body><h1>\(status.code) \(status.reasonPhrase)</h1><hr><address>\(shared.configuration.viaName)</address></body></html>\n"
        current.responseBytes = body.utf8.count
        exchange = current
        if !current.requestEnded && !isSPDY { closeAfterResponse = true }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/html; charset=utf-8")
        headers.add(name: "content-length", value: "\(body.utf8.count)")
        headers.add(name: "server", value: shared.configuration.viaName)
        if closeAfterResponse { headers.add(name: "connection", value: "close") }
        let version = responseVersion(current.head)
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        // On SPDY an upload still coming has nowhere to go: once the page is out, the stream
        // is reset so the client stops sending.
        finishExchange(outcome: outcome, writingEnd: nil, resetAfterwards: !current.requestEnded && isSPDY)
    }

    /// Ends a response that has started and cannot be completed: the stream is reset, the
    /// HTTP/1.1 connection closed, so the client sees a truncated response for what it is.
    private func abortResponse(outcome: SPDYProxyAccessLogEntry.Outcome) {
        guard let current = exchange, let context else { return }
        exchange = nil
        current.timer?.cancel()
        current.backend?.close()
        log(current, outcome: outcome)
        if isSPDY {
            context.triggerUserOutboundEvent(SPDYResetStreamEvent(status: .internalError), promise: nil)
        } else {
            context.close(promise: nil)
        }
    }

    /// Ends the exchange and writes the end of its response. The request is complete, or
    /// what is left of it is dropped as it arrives (SPDY) or by closing the connection
    /// (HTTP/1.1, whose next request could not be found past an unread body).
    ///
    /// The exchange is over before the end is written: NIOHTTP1's pipelining handler hands
    /// over a pipelined next request from inside that write.
    private func finishExchange(
        outcome: SPDYProxyAccessLogEntry.Outcome = .complete, writingEnd trailers: HTTPHeaders?,
        resetAfterwards: Bool = false
    ) {
        guard let current = exchange, current.responseEnded, let context else { return }
        if !current.requestEnded && !isSPDY { closeAfterResponse = true }
        let close = closeAfterResponse
        exchange = nil
        current.timer?.cancel()
        log(current, outcome: outcome)
        let ended = context.writeAndFlush(wrapOutboundOut(.end(trailers)))
        if close {
            ended.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else if resetAfterwards {
            ended.assumeIsolated().whenSuccess {
                context.triggerUserOutboundEvent(SPDYResetStreamEvent(status: .cancel), promise: nil)
            }
        }
        resumeClientReading()
    }

    // MARK: Timeout

    private func scheduleTimer(in delay: TimeAmount? = nil) {
        guard let context, exchange != nil else { return }
        let timeout = shared.configuration.timeout
        exchange?.timer = context.eventLoop.assumeIsolated().scheduleTask(in: delay ?? timeout) { [self] in
            self.timerFired()
        }
    }

    private func timerFired() {
        guard let current = exchange else { return }
        let idle = now - current.lastActivity
        let timeout = shared.configuration.timeout
        if idle < timeout {
            scheduleTimer(in: timeout - idle)
            return
        }
        if current.responseStatus == nil {
            answerError(.gatewayTimeout, outcome: .timedOut)
        } else {
            abortResponse(outcome: .timedOut)
        }
    }

    // MARK: Helpers

    /// The event loop's time (the system's, or an embedded loop's own in tests): the idle
    /// timeout is measured on the clock its timer is scheduled on.
    private var now: NIODeadline { context?.eventLoop.now ?? .now() }

    private func log(_ current: Exchange, outcome: SPDYProxyAccessLogEntry.Outcome) {
        guard let accessLog = shared.configuration.accessLog else { return }
        accessLog(
            SPDYProxyAccessLogEntry(
                client: context?.channel.remoteAddress,
                clientProtocol: protocolName(current.head),
                method: current.head.method.rawValue,
                uri: current.head.uri,
                status: current.responseStatus ?? 0,
                responseBytes: current.responseBytes,
                requestBytes: current.requestBytes,
                backend: current.servedBy,
                duration: now - current.start,
                outcome: outcome,
                userAgent: current.head.headers.first(name: "user-agent")
            ))
    }

    /// The client hop as `via` names it.
    private func viaProtocol(_ version: HTTPVersion) -> String {
        switch negotiated {
        case .spdy(let spdy): spdy.description
        case .http11: "\(version.major).\(version.minor)"
        }
    }

    private static func clientRequestPart(_ part: HTTPServerRequestPart) -> HTTPClientRequestPart {
        switch part {
        case .head(let head): .head(head)
        case .body(let bytes): .body(.byteBuffer(bytes))
        case .end(let trailers): .end(trailers)
        }
    }
}
