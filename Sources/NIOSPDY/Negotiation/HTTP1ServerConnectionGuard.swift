import NIOCore
import NIOHTTP1

/// The HTTP/1.1 side's share of the hardening a ``SPDYConnection`` applies to SPDY: it closes
/// a connection that waits too long for a request head, whose peer does not read what is
/// written, that the idle timer found silent, that sent what NIOHTTP1 cannot parse (after its
/// 400), or whose peer shut its side down once nothing is in flight.
///
/// The request-head clock runs while the connection waits for a request: from the start, and
/// from the moment the previous exchange ended (request and response both complete) until the
/// next head has been parsed. It bounds a head dribbled a byte at a time (the idle timer alone
/// would not, as each byte resets it) and an idle keep-alive connection alike. It sits after
/// NIOHTTP1's `HTTPServerPipelineHandler`, which delivers one request at a time.
final class HTTP1ServerConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let requestHeadTimeout: TimeAmount?
    private let writeTimeout: TimeAmount?
    private var headTimer: Scheduled<Void>?
    private var writeTimer: Scheduled<Void>?
    /// Whether a request is being received or answered.
    private var inExchange = false
    private var requestEnded = false
    private var responseEnded = false
    private var inputClosed = false

    init(requestHeadTimeout: TimeAmount?, writeTimeout: TimeAmount?) {
        self.requestHeadTimeout = requestHeadTimeout
        self.writeTimeout = writeTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startHeadTimer(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        headTimer?.cancel()
        headTimer = nil
        writeTimer?.cancel()
        writeTimer = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        startHeadTimer(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        headTimer?.cancel()
        headTimer = nil
        writeTimer?.cancel()
        writeTimer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            headTimer?.cancel()
            headTimer = nil
            inExchange = true
            requestEnded = false
            responseEnded = false
        case .body:
            break
        case .end:
            requestEnded = true
            if responseEnded {
                inExchange = false
                if inputClosed {
                    context.close(promise: nil)
                    return
                }
                startHeadTimer(context: context)
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        // The state changes before the write goes on: the pipelining handler delivers the
        // next request from inside it.
        responseEnded = true
        guard requestEnded else {
            context.write(data, promise: promise)
            return
        }
        inExchange = false
        guard inputClosed else {
            startHeadTimer(context: context)
            context.write(data, promise: promise)
            return
        }
        // The peer has finished: close once the answer has gone out.
        let written = promise ?? context.eventLoop.makePromise()
        let channel = context.channel
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        context.write(data, promise: written)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            writeTimer?.cancel()
            writeTimer = nil
        } else if let writeTimeout, writeTimer == nil {
            let channel = context.channel
            writeTimer = context.eventLoop.scheduleTask(in: writeTimeout) { channel.close(promise: nil) }
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A request NIOHTTP1 could not parse has had its 400 (HTTPServerProtocolErrorHandler);
        // nothing after it on the connection can be trusted.
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .all || idle == .read {
            context.close(promise: nil)
            return
        }
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            if !inExchange { context.close(promise: nil) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func startHeadTimer(context: ChannelHandlerContext) {
        guard let requestHeadTimeout, headTimer == nil, !inExchange else { return }
        let channel = context.channel
        headTimer = context.eventLoop.scheduleTask(in: requestHeadTimeout) { channel.close(promise: nil) }
    }
}

@available(*, unavailable)
extension HTTP1ServerConnectionGuard: Sendable {}
