import NIOCore
import NIOHTTP1

/// The server side of an HTTP/1.1 connection upgraded to SPDY/3.1, as Kubernetes does it
/// (`Connection: Upgrade`, `Upgrade: SPDY/3.1`, the stream protocol chosen from
/// `X-Stream-Protocol-Version`).
///
/// It reads one request head. An upgrade it accepts is answered with 101 Switching
/// Protocols; then the HTTP/1.1 handlers leave the pipeline and `upgrade` installs the SPDY
/// handlers, which receive every byte that came after the request head (a client may send
/// its first frames right behind it). Anything else is answered as the kubelet answers it
/// (400, or 403 with `X-Accepted-Stream-Protocol-Versions`) and the connection closes.
public final class SPDYUpgradeServerHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias OutboundOut = HTTPServerResponsePart

    /// Installs the SPDY handlers once the 101 has been written, on the event loop: the
    /// channel, the request head, and the stream protocol chosen.
    public typealias Upgrade = (_ channel: any Channel, _ head: HTTPRequestHead, _ streamProtocol: String?) throws ->
        Void

    /// Which stream protocols a request's target speaks, most preferred first (empty: any
    /// upgrade is accepted without one), or `nil` for a request that is not for an upgrade
    /// endpoint: it goes on to the next handler, as HTTP/1.1.
    public typealias Route = (HTTPRequestHead) -> [String]?

    private let route: Route
    private let maxRequestBodySize: Int
    private let upgrade: Upgrade
    private var head: HTTPRequestHead?
    private var supportedProtocols: [String] = []
    private var forwarding = false
    private var bodySize = 0
    private var done = false
    private let requestTimeout: TimeAmount
    private var timer: Scheduled<Void>?

    /// Creates the handler.
    ///
    /// - Parameters:
    ///   - supportedProtocols: the stream protocols the server speaks, most preferred first
    ///     (empty: accept an upgrade with none).
    ///   - maxRequestBodySize: the request body an upgrade request may carry (Kubernetes
    ///     sends none); larger requests are refused with 413.
    ///   - requestTimeout: how long a request may take to arrive complete (and a kept-alive
    ///     connection may wait for its next one) before the connection is closed: a client
    ///     that sends half a request head does not hold a connection forever.
    ///   - upgrade: installs the SPDY handlers.
    public convenience init(
        supportedProtocols: [String],
        maxRequestBodySize: Int = 64 * 1024,
        requestTimeout: TimeAmount = .seconds(30),
        upgrade: @escaping Upgrade
    ) {
        self.init(
            route: { _ in supportedProtocols }, maxRequestBodySize: maxRequestBodySize, requestTimeout: requestTimeout,
            upgrade: upgrade)
    }

    /// Creates a handler that upgrades some requests and passes the others on: a server
    /// with upgrade endpoints next to plain HTTP/1.1 ones (as the Kubernetes API server has
    /// `…/exec` next to `/api`). The handlers after this one see the requests `route` does
    /// not claim, and answer them with `HTTPServerResponsePart`s.
    ///
    /// - Parameters:
    ///   - route: the stream protocols of a request's target, or `nil` to pass it on.
    ///   - maxRequestBodySize: the request body an upgrade request may carry.
    ///   - requestTimeout: how long a request may take to arrive complete, or a kept-alive
    ///     connection may wait for the next.
    ///   - upgrade: installs the SPDY handlers (and removes the HTTP/1.1 handlers after this
    ///     one).
    public init(
        route: @escaping Route,
        maxRequestBodySize: Int = 64 * 1024,
        requestTimeout: TimeAmount = .seconds(30),
        upgrade: @escaping Upgrade
    ) {
        self.route = route
        self.maxRequestBodySize = maxRequestBodySize
        self.requestTimeout = requestTimeout
        self.upgrade = upgrade
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startTimer(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        startTimer(context: context)
        context.fireChannelActive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    /// A request head the decoder refuses (too large, malformed) gets 400 and the
    /// connection's close, as Go's HTTP server answers it, instead of a connection that
    /// silently discards everything.
    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !done else {
            context.fireErrorCaught(error)
            return
        }
        if error is HTTPParserError {
            refuse(context: context, status: .badRequest, message: "bad request: \(error)")
        } else {
            context.fireErrorCaught(error)
        }
    }

    private func startTimer(context: ChannelHandlerContext) {
        timer?.cancel()
        guard !done else { return }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: requestTimeout) {
            bound.value.close(promise: nil)
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        let part = unwrapInboundIn(data)
        if case .head(let head) = part {
            if let supported = route(head) {
                forwarding = false
                supportedProtocols = supported
            } else {
                forwarding = true
            }
        }
        if forwarding {
            if case .end = part { startTimer(context: context) }
            context.fireChannelRead(data)
            return
        }
        switch part {
        case .head(let head):
            self.head = head
            bodySize = 0
        case .body(let body):
            bodySize += body.readableBytes
            if bodySize > maxRequestBodySize {
                refuse(context: context, status: .payloadTooLarge, message: "request body too large")
            }
        case .end:
            guard let head else { return }
            answer(head, context: context)
        }
    }

    private func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        switch SPDYUpgradeDecision.decide(head, supported: supportedProtocols) {
        case .badRequest(let message):
            refuse(context: context, status: .badRequest, message: message)
        case .forbidden(let accepted):
            refuse(
                context: context, status: .forbidden,
                message: "unable to upgrade: unable to negotiate protocol: client supports "
                    + "\(SPDYUpgradeDecision.streamProtocols(in: head.headers)), server accepts \(accepted)",
                headers: [("X-Accepted-Stream-Protocol-Versions", accepted.joined(separator: ", "))])
        case .upgrade(let streamProtocol):
            done = true
            timer?.cancel()
            var headers = HTTPHeaders([("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1")])
            if let streamProtocol { headers.add(name: "X-Stream-Protocol-Version", value: streamProtocol) }
            context.write(
                wrapOutboundOut(
                    .head(HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers))),
                promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            // The switch waits for the decoder to return from the read that carried the request:
            // removed inside it, the decoder would hand over the bytes behind the request head
            // only at its next read.
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.execute {
                let (handler, context) = bound.value
                handler.switchToSPDY(head, streamProtocol, context: context)
            }
        }
    }

    private func switchToSPDY(_ head: HTTPRequestHead, _ streamProtocol: String?, context: ChannelHandlerContext) {
        do {
            let pipeline = context.pipeline.syncOperations
            let encoder = try pipeline.handler(type: HTTPResponseEncoder.self)
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try upgrade(context.channel, head, streamProtocol)
            let channel = context.channel
            pipeline.removeHandler(context: context, promise: nil)
            pipeline.removeHandler(encoder, promise: nil)
            // Last: the decoder hands the bytes that followed the request head to SPDY, as a
            // read that needs its read-complete for SPDY to act on it.
            let removed = channel.eventLoop.makePromise(of: Void.self)
            pipeline.removeHandler(decoder, promise: removed)
            removed.futureResult.whenSuccess { channel.pipeline.fireChannelReadComplete() }
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
        }
    }

    private func refuse(
        context: ChannelHandlerContext,
        status: HTTPResponseStatus,
        message: String,
        headers extra: [(String, String)] = []
    ) {
        done = true
        timer?.cancel()
        var body = context.channel.allocator.buffer(capacity: message.utf8.count)
        body.writeString(message)
        var headers = HTTPHeaders(extra)
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Connection", value: "close")
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let channel = context.channel
        // As Go's HTTP server: end our side, read (and drop) what the client still sends for
        // a moment, then close. Closing with unread bytes would make the kernel answer with
        // RST, and the client could lose the answer.
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
            channel.eventLoop.scheduleTask(in: .milliseconds(500)) { channel.close(promise: nil) }
        }
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Sets a fresh server connection up for an HTTP/1.1 upgrade to SPDY/3.1 (see
    /// ``SPDYUpgradeServerHandler``): the HTTP/1.1 request decoder (keeping the bytes that
    /// follow the request head for SPDY), the response encoder and the upgrade handler.
    public func configureSPDYUpgradeServer(
        supportedProtocols: [String],
        upgrade: @escaping SPDYUpgradeServerHandler.Upgrade
    ) throws {
        try configureSPDYUpgradeServer(route: { _ in supportedProtocols }, upgrade: upgrade)
    }

    /// Like ``configureSPDYUpgradeServer(supportedProtocols:upgrade:)``, for a server whose
    /// other requests go on as HTTP/1.1 to the handlers added after these (see
    /// ``SPDYUpgradeServerHandler/init(route:maxRequestBodySize:requestTimeout:upgrade:)``).
    public func configureSPDYUpgradeServer(
        route: @escaping SPDYUpgradeServerHandler.Route,
        requestTimeout: TimeAmount = .seconds(30),
        upgrade: @escaping SPDYUpgradeServerHandler.Upgrade
    ) throws {
        try addHandler(HTTPResponseEncoder())
        try addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)))
        try addHandler(SPDYUpgradeServerHandler(route: route, requestTimeout: requestTimeout, upgrade: upgrade))
    }
}
