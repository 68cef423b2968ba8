import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSPDY
import Prometheus

/// `--metrics-port`: the process's swift-metrics, SPDY's included, in the Prometheus text
/// format at `GET /metrics` on 127.0.0.1 (loopback only: the counters are for the operator
/// of the machine, not for its clients).
public final class MetricsEndpoint: Sendable {
    /// The registry every metric of the process goes to.
    public let registry: PrometheusCollectorRegistry
    /// The SPDY counters of a server, on ``registry``.
    public let serverMetrics: SPDYMetrics
    private let channel: any Channel

    /// The port it listens on (the one asked for, or the one picked for 0).
    public var port: Int { channel.localAddress?.port ?? 0 }

    /// Bootstraps the metrics system with a Prometheus registry (once per process) and
    /// listens on 127.0.0.1:`port`.
    public init(port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        self.registry = registry
        self.serverMetrics = SPDYMetrics(role: .server)
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsResponder(registry: registry))
                }
            }
            .bind(host: "127.0.0.1", port: port)
            .get()
    }

    /// Stops listening.
    public func close() async {
        try? await channel.close()
    }
}

/// Answers `GET /metrics` with the registry's text, anything else with 404.
private final class MetricsResponder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private var head: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(context: context, to: head)
        }
    }

    private func respond(context: ChannelHandlerContext, to head: HTTPRequestHead) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let found = path == "/metrics" && (head.method == .GET || head.method == .HEAD)
        let body: ByteBuffer
        var headers = HTTPHeaders()
        if found {
            body = ByteBuffer(bytes: registry.emitToBuffer())
            headers.add(name: "content-type", value: "text/plain; version=0.0.4; charset=utf-8")
        } else {
            body = ByteBuffer(string: "not found: GET /metrics\n")
            headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        }
        headers.add(name: "content-length", value: String(body.readableBytes))
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "connection", value: "close") }
        let response = HTTPResponseHead(version: head.version, status: found ? .ok : .notFound, headers: headers)
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
