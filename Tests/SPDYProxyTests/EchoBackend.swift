import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SPDYTestSupport

/// An in-process HTTP/1.1 backend on SwiftNIO (127.0.0.1, a port of its own, keep-alive, its
/// own event loop thread) whose routes let the proxy's tests check what the proxy forwards and
/// how it copes with a backend that misbehaves.
///
/// - `POST|PUT /echo`: the request body back as the response body, as it arrives, with the
///   request's content-length when it has one (chunked otherwise); reading waits while the
///   response cannot be written (backpressure both ways), so a 1 GiB upload keeps memory flat.
///   `Expect: 100-continue` is answered with `100 Continue`.
/// - `POST|PUT /sink`: reads the whole body, checking it against `Pattern`, then answers 200
///   `bytes=N mismatch=none` (or the offset of the first byte that differs): an upload target
///   that answers only at the end (nginx's `/upload` proxies here; nginx cannot stream a
///   response while it still forwards the request body, so it must not proxy to `/echo`).
/// - `/headers`: 200, `text/plain`, the request head as text: `METHOD URI HTTP/x.y`, then one
///   `name: value` line per header, in the order received (lines end with `\n`).
/// - `/bytes/N`: N bytes of `Pattern` (SPDYTestSupport; what nginx's files hold), with
///   content-length, written only while the connection is writable.
/// - `/slow/MS`: 200 `slow\n` after MS milliseconds.
/// - `/die-after/N`: a head with content-length N + 100 000, N bytes of the pattern, then the
///   connection is closed (the backend dies mid-response).
/// - `/close-without-answer`: the connection is closed as soon as the head has arrived.
/// - `/status/CODE`: that status (200...599) with the body `status CODE\n` (none for 204 and 304).
/// - anything else: 404 `not found\n`; `/echo` or `/sink` with another method: 405.
///
/// Routes other than `/echo` and `/sink` take any method, answer once the request (and its
/// body, which is discarded) has arrived, and send no body to `HEAD`. A request that is not
/// keep-alive gets `connection: close` and the connection is closed after the response.
///
/// ``connectionCount`` and ``requestCount`` count accepted connections and requests, so tests
/// can check that the proxy reuses connections; ``requestHeads`` keeps what arrived.
final class EchoBackend: Sendable {
    /// What the backend saw.
    struct Statistics: Sendable {
        /// Connections accepted.
        var connections = 0
        /// Connections open now.
        var openConnections = 0
        /// Request heads received.
        var requests = 0
        /// The request heads, in order of arrival.
        var heads: [HTTPRequestHead] = []
        /// The open connections.
        var channels: [ObjectIdentifier: any Channel] = [:]
    }

    /// The size announced by `/die-after/N` beyond the N bytes it sends.
    static let dieAfterShortfall = 100_000

    /// The port the backend listens on (127.0.0.1).
    let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let serverChannel: any Channel
    private let statistics: NIOLockedValueBox<Statistics>
    private let closed = NIOLockedValueBox(false)

    /// Connections accepted so far.
    var connectionCount: Int { statistics.withLockedValue { $0.connections } }
    /// Connections open now.
    var openConnectionCount: Int { statistics.withLockedValue { $0.openConnections } }
    /// Requests received so far (heads).
    var requestCount: Int { statistics.withLockedValue { $0.requests } }
    /// The heads of the requests received so far, in order.
    var requestHeads: [HTTPRequestHead] { statistics.withLockedValue { $0.heads } }
    /// `http://127.0.0.1:<port>`.
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts listening on 127.0.0.1 and a port of its own (blocks until bound).
    init(threads: Int = 1) throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let statistics = NIOLockedValueBox(Statistics())
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let id = ObjectIdentifier(channel)
                statistics.withLockedValue {
                    $0.connections += 1
                    $0.openConnections += 1
                    $0.channels[id] = channel
                }
                channel.closeFuture.whenComplete { _ in
                    statistics.withLockedValue {
                        $0.openConnections -= 1
                        $0.channels[id] = nil
                    }
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(EchoBackendHandler(statistics: statistics))
                }
            }
        do {
            serverChannel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        self.group = group
        self.statistics = statistics
        self.port = serverChannel.localAddress?.port ?? 0
    }

    deinit {
        if !closed.withLockedValue({ $0 }) {
            serverChannel.close(promise: nil)
            group.shutdownGracefully { _ in }
        }
    }

    /// The URL of `path` (which starts with `/`) on this backend.
    func url(_ path: String) -> String { baseURL + path }

    /// Closes every open connection now, as a backend that drops idle keep-alive connections
    /// does; it keeps listening.
    func dropConnections() async {
        let channels = statistics.withLockedValue { Array($0.channels.values) }
        for channel in channels {
            try? await channel.close()
        }
    }

    /// Stops listening, closes every connection and ends the event loop thread. Idempotent.
    func close() async throws {
        guard markClosed() else { return }
        try? await serverChannel.close()
        try await group.shutdownGracefully()
    }

    /// ``close()`` for synchronous code (blocks until done). Idempotent.
    func stop() {
        guard markClosed() else { return }
        try? serverChannel.close().wait()
        try? group.syncShutdownGracefully()
    }

    private func markClosed() -> Bool {
        closed.withLockedValue { closed in
            defer { closed = true }
            return !closed
        }
    }
}

/// One connection of ``EchoBackend``: after `configureHTTPServerPipeline`, which hands it one
/// request at a time.
private final class EchoBackendHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// What to do with the current request.
    private enum Request {
        /// Between requests.
        case idle
        /// Echoing the body (the response head is written).
        case echoing(keepAlive: Bool)
        /// Answering at the end of the request (the body is discarded).
        case waiting(head: HTTPRequestHead)
        /// Reading the body of `/sink`.
        case sinking(head: HTTPRequestHead, verifier: PatternVerifier)
        /// The connection is closing; ignore the rest.
        case closing
    }

    /// A body being written: the pattern from `sent` to `total`, then `finish`.
    private struct Producer {
        var sent: Int
        var total: Int
        var finish: Finish
    }

    private enum Finish {
        /// The end of the response; close afterwards unless keep-alive.
        case end(keepAlive: Bool)
        /// Close the connection once the bytes are out (no end of the response).
        case die
    }

    private let statistics: NIOLockedValueBox<EchoBackend.Statistics>
    private var request = Request.idle
    private var producer: Producer?
    /// Inside `produce`: a writability change it causes must not start it again.
    private var producing = false
    /// A `read` held back while the channel was not writable.
    private var readPending = false
    private var flushPending = false

    init(statistics: NIOLockedValueBox<EchoBackend.Statistics>) {
        self.statistics = statistics
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            statistics.withLockedValue {
                $0.requests += 1
                $0.heads.append(head)
            }
            received(head, context: context)
        case .body(let body):
            switch request {
            case .echoing:
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
                flushPending = true
            case .sinking(let head, var verifier):
                verifier.consume(body)
                request = .sinking(head: head, verifier: verifier)
            case .idle, .waiting, .closing:
                break
            }
        case .end:
            switch request {
            case .echoing(let keepAlive):
                request = .idle
                endResponse(context: context, keepAlive: keepAlive)
            case .waiting(let head):
                request = .idle
                answer(head, context: context)
            case .sinking(let head, let verifier):
                request = .idle
                respond(head, status: .ok, body: verifier.summary + "\n", context: context)
            case .idle, .closing:
                break
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if flushPending {
            flushPending = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            if readPending {
                readPending = false
                context.read()
            }
            if !producing && producer != nil {
                produce(context: context)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        request = .closing
        producer = nil
        context.close(promise: nil)
    }

    // MARK: Outbound

    /// Reads only while the response can be written: the backpressure of `/echo`.
    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            context.read()
        } else {
            readPending = true
        }
    }

    // MARK: Routes

    private func received(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = Self.path(of: head.uri)
        if path == "/close-without-answer" {
            request = .closing
            context.close(promise: nil)
            return
        }
        if head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            flushPending = true
        }
        let isUpload = head.method == .POST || head.method == .PUT
        if path == "/sink" && isUpload {
            request = .sinking(head: head, verifier: PatternVerifier())
            return
        }
        guard path == "/echo" && isUpload else {
            request = .waiting(head: head)
            return
        }
        var keepAlive = head.isKeepAlive
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: head.headers.first(name: "content-type") ?? "application/octet-stream")
        if let length = head.headers.first(name: "content-length") {
            headers.add(name: "content-length", value: length)
        } else if !head.headers.contains(name: "transfer-encoding") {
            // No body at all.
            headers.add(name: "content-length", value: "0")
        } else if head.version.minor == 0 {
            // HTTP/1.0 has no chunked encoding: the end of the connection ends the body.
            keepAlive = false
        }
        var response = HTTPResponseHead(version: head.version, status: .ok, headers: headers)
        setConnection(&response, keepAlive: keepAlive, version: head.version)
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        flushPending = true
        request = .echoing(keepAlive: keepAlive)
    }

    private func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = Self.path(of: head.uri)
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        // "/a/b" splits into "", "a", "b".
        let route = parts.count > 1 ? parts[1] : ""
        let argument = parts.count == 3 ? parts[2] : nil
        switch (route, argument) {
        case ("echo", nil), ("sink", nil):
            respond(head, status: .methodNotAllowed, body: "use POST or PUT\n", context: context)
        case ("headers", nil):
            var text = "\(head.method.rawValue) \(head.uri) HTTP/\(head.version.major).\(head.version.minor)\n"
            for (name, value) in head.headers {
                text += "\(name): \(value)\n"
            }
            respond(head, status: .ok, body: text, context: context)
        case ("bytes", let count?):
            guard let count = Int(count), count >= 0 else {
                return respond(head, status: .badRequest, body: "bad count\n", context: context)
            }
            startPattern(
                head, count: count, announced: count, finish: .end(keepAlive: head.isKeepAlive), context: context)
        case ("slow", let milliseconds?):
            guard let milliseconds = Int64(milliseconds), milliseconds >= 0 else {
                return respond(head, status: .badRequest, body: "bad delay\n", context: context)
            }
            context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(milliseconds)) {
                guard context.channel.isActive else { return }
                self.respond(head, status: .ok, body: "slow\n", context: context)
            }
        case ("die-after", let count?):
            guard let count = Int(count), count >= 0 else {
                return respond(head, status: .badRequest, body: "bad count\n", context: context)
            }
            request = .closing
            startPattern(
                head, count: count, announced: count + EchoBackend.dieAfterShortfall, finish: .die, context: context)
        case ("status", let code?):
            guard let code = Int(code), (200...599).contains(code) else {
                return respond(head, status: .badRequest, body: "bad status\n", context: context)
            }
            let status = HTTPResponseStatus(statusCode: code)
            let body = code == 204 || code == 304 ? nil : "status \(code)\n"
            respond(head, status: status, body: body, context: context)
        default:
            respond(head, status: .notFound, body: "not found\n", context: context)
        }
    }

    /// A whole response with a small body (`nil`: no body and, for 204 and 304, no content-length).
    private func respond(
        _ request: HTTPRequestHead,
        status: HTTPResponseStatus,
        body: String?,
        context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders()
        if let body {
            headers.add(name: "content-type", value: "text/plain")
            headers.add(name: "content-length", value: String(body.utf8.count))
        } else if status != .noContent && status != .notModified {
            headers.add(name: "content-length", value: "0")
        }
        let keepAlive = request.isKeepAlive
        var head = HTTPResponseHead(version: request.version, status: status, headers: headers)
        setConnection(&head, keepAlive: keepAlive, version: request.version)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body, request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        }
        endResponse(context: context, keepAlive: keepAlive)
    }

    /// Writes a head announcing `announced` bytes, then `count` bytes of the pattern as the
    /// connection takes them.
    private func startPattern(
        _ request: HTTPRequestHead,
        count: Int,
        announced: Int,
        finish: Finish,
        context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/octet-stream")
        headers.add(name: "content-length", value: String(announced))
        var head = HTTPResponseHead(version: request.version, status: .ok, headers: headers)
        if case .end(let keepAlive) = finish {
            setConnection(&head, keepAlive: keepAlive, version: request.version)
        }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        let total = request.method == .HEAD ? 0 : count
        producer = Producer(sent: 0, total: total, finish: finish)
        produce(context: context)
    }

    /// Writes the producer's bytes while the channel is writable; resumed by
    /// `channelWritabilityChanged`.
    private func produce(context: ChannelHandlerContext) {
        producing = true
        defer { producing = false }
        while var current = producer {
            if current.sent == current.total {
                producer = nil
                switch current.finish {
                case .end(let keepAlive):
                    endResponse(context: context, keepAlive: keepAlive)
                case .die:
                    context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer()))))
                        .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                }
                return
            }
            guard context.channel.isWritable else {
                context.flush()
                // Flushing may have made room (and the writability change came while
                // `producing` held it back).
                if context.channel.isWritable { continue }
                return
            }
            let chunk = Pattern.chunk(at: current.sent, maxLength: current.total - current.sent)
            current.sent += chunk.readableBytes
            producer = current
            context.write(wrapOutboundOut(.body(.byteBuffer(chunk))), promise: nil)
            context.flush()
        }
    }

    private func endResponse(context: ChannelHandlerContext, keepAlive: Bool) {
        flushPending = false
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            request = .closing
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    /// The URI without its query.
    private static func path(of uri: String) -> String {
        uri.firstIndex(of: "?").map { String(uri[..<$0]) } ?? uri
    }

    private func setConnection(_ head: inout HTTPResponseHead, keepAlive: Bool, version: HTTPVersion) {
        if !keepAlive {
            head.headers.replaceOrAdd(name: "connection", value: "close")
        } else if version.minor == 0 {
            head.headers.replaceOrAdd(name: "connection", value: "keep-alive")
        }
    }
}
