import NIOCore
import NIOSPDY

/// Closes a SPDY connection that has had no open stream and no traffic for a while.
///
/// It sits in front of the `SPDYConnection` and, when the time is up, hands it an
/// `IdleStateHandler.IdleStateEvent`, on which the connection sends GOAWAY and closes. NIO's
/// own `IdleStateHandler` would also close a connection whose only request is a slow one
/// (a long poll, a route still computing): here a connection with an open stream is never
/// idle, as with Hummingbird's HTTP/2 idle timeout.
final class SPDYIdleConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var lastActivity = NIODeadline.now()
    private var check: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { schedule(context: context, in: timeout) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        lastActivity = .now()
        schedule(context: context, in: timeout)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = .now()
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        lastActivity = .now()
        context.write(data, promise: promise)
    }

    private func schedule(context: ChannelHandlerContext, in delay: TimeAmount) {
        guard check == nil else { return }
        let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        let loopBoundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
        check = context.eventLoop.scheduleTask(in: delay) {
            loopBoundSelf.value.fire(context: loopBoundContext.value)
        }
    }

    private func fire(context: ChannelHandlerContext) {
        check = nil
        let idleFor = NIODeadline.now() - lastActivity
        let openStreams =
            (try? context.pipeline.syncOperations.handler(type: SPDYConnection.self))?.streamChannelCount ?? 0
        if openStreams == 0 && idleFor >= timeout {
            context.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.all)
        } else {
            // With streams open, look again a whole timeout later: the last of them may end
            // at any moment, and its traffic restarts the clock anyway.
            schedule(context: context, in: openStreams == 0 ? timeout - idleFor : timeout)
        }
    }
}
