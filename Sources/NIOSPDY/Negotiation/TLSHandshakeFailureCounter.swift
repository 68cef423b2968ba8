import NIOCore
import NIOTLS

/// Counts a connection whose TLS handshake failed: the first error before the handshake
/// completes. It sits right behind the TLS handler and leaves the pipeline once the handshake
/// completed, so established connections pay nothing for it.
final class TLSHandshakeFailureCounter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Any

    private let metrics: SPDYMetrics
    private var counted = false

    init(metrics: SPDYMetrics) {
        self.metrics = metrics
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Passed on first: a handler that has left the pipeline passes nothing on, and the
        // ALPN handler behind this one waits for exactly this event.
        context.fireUserInboundEventTriggered(event)
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls {
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !counted {
            counted = true
            metrics.recordTLSHandshakeFailure()
        }
        context.fireErrorCaught(error)
    }
}
