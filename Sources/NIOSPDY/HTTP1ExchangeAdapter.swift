import NIOCore
import NIOHTTP1
import SPDY

/// Lets ``SPDYServer`` answer HTTP/1.1 with the request handlers it runs for SPDY: each
/// request of an HTTP/1.1 connection reaches the ``SPDYRequestStreamHandler`` after it as the
/// payloads of a SPDY request stream (a SYN_STREAM header block with `:method`, `:path`,
/// `:version`, `:scheme` and `:host`, DATA, FIN), and the payloads it answers with (SYN_REPLY
/// headers with `:status`, DATA, FIN) become the HTTP/1.1 response.
///
/// It sits after NIOHTTP1's server handlers, so requests arrive one at a time; it decides what
/// HTTP/1.1 needs and SPDY does not say: keep-alive (`connection: close` when the request asked
/// for it, or was HTTP/1.0 without keep-alive, or is still unfinished when its answer ends, as
/// after a 413), and the body's framing. A body that is complete in the first write after the
/// headers gets a `content-length`; a longer one goes chunked (HTTP/1.0: until the close).
final class HTTP1ExchangeAdapter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = SPDYStreamPayload
    typealias OutboundIn = SPDYStreamPayload
    typealias OutboundOut = HTTPServerResponsePart

    /// How long the rest of an unfinished request is read and dropped after its answer, so
    /// the answer is not lost to the TCP reset a close with unread bytes provokes.
    static let drainTime = TimeAmount.seconds(2)

    private enum Response {
        /// Nothing sent yet.
        case waiting
        /// The head is held until the first body bytes (to measure a body sent in one piece)
        /// or a flush.
        case headHeld(HTTPResponseHead)
        case sending
        case ended
    }

    private let scheme: String
    private let maxRequestBodySize: Int
    private var requestVersion = HTTPVersion.http1_1
    private var requestIsHEAD = false
    private var keepAlive = true
    private var requestEnded = true
    private var response = Response.ended
    /// The response has no body whatever it writes (HEAD, 1xx, 204, 304).
    private var responseHasNoBody = false
    private var closeAfterResponse = false
    private var outputClosed = false

    /// - Parameters:
    ///   - secure: whether the connection is TLS (`:scheme` `https`).
    ///   - maxRequestBodySize: the body limit of the request handlers: a client that waits for
    ///     `100 Continue` before sending a body announced larger does not get it.
    init(secure: Bool, maxRequestBodySize: Int) {
        self.scheme = secure ? "https" : "http"
        self.maxRequestBodySize = maxRequestBodySize
    }

    // MARK: Requests in

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            requestVersion = head.version
            requestIsHEAD = head.method == .HEAD
            keepAlive = head.isKeepAlive
            requestEnded = false
            response = .waiting
            responseHasNoBody = false
            closeAfterResponse = false
            if head.version == .http1_1, head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }),
                (head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0) <= maxRequestBodySize
            {
                // The handler runs once the body is in: the client may send it now (curl waits a
                // second for this before sending anyway).
                context.writeAndFlush(
                    wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
            context.fireChannelRead(wrapInboundOut(.headers(requestBlock(head, context: context))))
        case .body(let bytes):
            context.fireChannelRead(wrapInboundOut(.data(bytes, fin: false)))
        case .end(let trailers):
            requestEnded = true
            if let trailers, !trailers.isEmpty {
                var block = SPDYHeaders()
                for (name, value) in trailers where !ConnectionSpecificHeaders.forbiddenInRequest(name) {
                    block.add(name: name.lowercased(), value: value)
                }
                context.fireChannelRead(wrapInboundOut(.headers(.init(kind: .headers, headers: block, fin: true))))
            } else {
                context.fireChannelRead(wrapInboundOut(.data(context.channel.allocator.buffer(capacity: 0), fin: true)))
            }
        }
    }

    /// The SYN_STREAM block a SPDY client would have sent for `head`.
    private func requestBlock(_ head: HTTPRequestHead, context: ChannelHandlerContext) -> SPDYHeadersPayload {
        var block = SPDYHeaders()
        block.reserveCapacity(head.headers.count + 5)
        block.add(name: ":method", value: head.method.rawValue)
        block.add(name: ":path", value: head.uri)
        block.add(name: ":version", value: "HTTP/\(head.version.major).\(head.version.minor)")
        block.add(name: ":scheme", value: scheme)
        if let host = head.headers.first(name: "host") {
            block.add(name: ":host", value: host)
        } else if head.version.major == 1 && head.version.minor == 0, let local = context.channel.localAddress {
            // HTTP/1.0 may leave Host out; HTTP/1.1 may not (the handler answers 400).
            let address = local.ipAddress.map { $0.contains(":") ? "[\($0)]" : $0 } ?? "localhost"
            block.add(name: ":host", value: local.port.map { "\(address):\($0)" } ?? address)
        }
        for (name, value) in head.headers
        where !ConnectionSpecificHeaders.forbiddenInRequest(name) && name.lowercased() != "upgrade" {
            block.add(name: name.lowercased(), value: value)
        }
        return .init(
            kind: .synStream(priority: 0, associatedStreamID: .zero, unidirectional: false),
            headers: block,
            fin: false
        )
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if outputClosed, let event = event as? ChannelEvent, event == .inputClosed {
            // The client has read the answer and finished: nothing is left to drain.
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Responses out

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .headers(let payload):
            switch response {
            case .waiting:
                let head = responseHead(payload.headers)
                if payload.fin {
                    sendHead(head, bodyLength: 0, context: context)
                    end(trailers: nil, context: context, promise: promise)
                } else {
                    response = .headHeld(head)
                    promise?.succeed(())
                }
            case .headHeld, .sending:
                // Headers after the head: trailers, when they end the response.
                flushHeldHead(context: context)
                if payload.fin {
                    var trailers = HTTPHeaders()
                    for (name, value) in payload.headers where !name.hasPrefix(":") {
                        trailers.add(name: name, value: value)
                    }
                    end(trailers: trailers.isEmpty ? nil : trailers, context: context, promise: promise)
                } else {
                    promise?.succeed(())
                }
            case .ended:
                promise?.fail(ChannelError.outputClosed)
            }
        case .data(let bytes, let fin):
            switch response {
            case .waiting, .ended:
                promise?.fail(ChannelError.outputClosed)
                return
            case .headHeld(let head):
                sendHead(head, bodyLength: fin ? bytes.readableBytes : nil, context: context)
            case .sending:
                break
            }
            if fin {
                if bytes.readableBytes > 0 && !responseHasNoBody {
                    context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
                }
                end(trailers: nil, context: context, promise: promise)
            } else if bytes.readableBytes > 0 && !responseHasNoBody {
                context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: promise)
            } else {
                promise?.succeed(())
            }
        }
    }

    func flush(context: ChannelHandlerContext) {
        flushHeldHead(context: context)
        context.flush()
    }

    /// The response head for a SYN_REPLY block: `:status` (`200 OK`) and the other headers.
    private func responseHead(_ block: SPDYHeaders) -> HTTPResponseHead {
        let line = block[":status"] ?? "500"
        let code = Int(line.prefix(3)) ?? 500
        let reason = line.count > 4 ? String(line.dropFirst(4)) : ""
        var headers = HTTPHeaders()
        for (name, value) in block where !name.hasPrefix(":") {
            headers.add(name: name, value: value)
        }
        responseHasNoBody = requestIsHEAD || code < 200 || code == 204 || code == 304
        // `.custom` keeps the handler's reason phrase; NIO's named statuses bring their own.
        let status =
            reason.isEmpty ? HTTPResponseStatus(statusCode: code) : .custom(code: UInt(code), reasonPhrase: reason)
        return HTTPResponseHead(version: requestVersion, status: status, headers: headers)
    }

    private func flushHeldHead(context: ChannelHandlerContext) {
        if case .headHeld(let head) = response {
            sendHead(head, bodyLength: nil, context: context)
        }
    }

    /// Writes the head, with a `content-length` of `bodyLength` when the body is known in full
    /// and the handler did not give one, and the connection header keep-alive needs.
    private func sendHead(_ head: HTTPResponseHead, bodyLength: Int?, context: ChannelHandlerContext) {
        var head = head
        let hasLength = head.headers.contains(name: "content-length")
        if let bodyLength, !hasLength, !responseHasNoBody {
            head.headers.add(name: "content-length", value: String(bodyLength))
        }
        let framed = responseHasNoBody || hasLength || bodyLength != nil
        // HTTP/1.0 has no chunked framing: a body of unknown length ends with the connection.
        let http10 = requestVersion.major == 1 && requestVersion.minor == 0
        closeAfterResponse = !keepAlive || !requestEnded || (http10 && !framed)
        if closeAfterResponse {
            head.headers.replaceOrAdd(name: "connection", value: "close")
        } else if http10 {
            head.headers.replaceOrAdd(name: "connection", value: "keep-alive")
        }
        response = .sending
        context.write(wrapOutboundOut(.head(head)), promise: nil)
    }

    private func end(trailers: HTTPHeaders?, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        response = .ended
        guard closeAfterResponse else {
            context.write(wrapOutboundOut(.end(trailers)), promise: promise)
            return
        }
        let unfinished = !requestEnded
        let written = context.eventLoop.makePromise(of: Void.self)
        if let promise { written.futureResult.cascade(to: promise) }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let channel = context.channel
        written.futureResult.whenComplete { _ in
            bound.value.closeAfterAnswer(channel: channel, requestUnfinished: unfinished)
        }
        context.write(wrapOutboundOut(.end(trailers)), promise: written)
    }

    /// Closes once the answer has gone out. A request still arriving is drained for a moment
    /// first (our side shut, theirs read and dropped), else the close would reset the
    /// connection and the client could lose the answer.
    private func closeAfterAnswer(channel: any Channel, requestUnfinished: Bool) {
        guard requestUnfinished else {
            channel.close(promise: nil)
            return
        }
        outputClosed = true
        channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
        channel.eventLoop.scheduleTask(in: Self.drainTime) { channel.close(promise: nil) }
    }
}

@available(*, unavailable)
extension HTTP1ExchangeAdapter: Sendable {}
