import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SPDYKubernetes
import SPDYUpgrade

/// A Kubernetes streaming server on loopback for the tests: exec and attach go to
/// `exec`, port-forward to `portForward`.
struct KubernetesTestServer {
    let channel: any Channel
    var port: Int { channel.localAddress!.port! }
    var endpoint: KubernetesEndpoint { KubernetesEndpoint(host: "127.0.0.1", port: port, timeout: .seconds(10)) }

    static func start(
        remoteCommand: RemoteCommandServer.Configuration = .init(),
        portForward: PortForwardServer.Configuration = .init(),
        exec: @escaping RemoteCommandServer.Handler = { _ in .success },
        forward: @escaping PortForwardServer.Handler = { _ in }
    ) async throws -> KubernetesTestServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureSPDYUpgradeServer { head in
                        head.uri.contains("/portforward")
                            ? [PortForwardServer.streamProtocol] : RemoteCommandServer.supportedProtocols
                    } upgrade: { channel, head, chosen in
                        if head.uri.contains("/portforward") {
                            try PortForwardServer.start(
                                on: channel, request: head, configuration: portForward, handler: forward)
                        } else {
                            try RemoteCommandServer.start(
                                on: channel, request: head, streamProtocol: chosen, configuration: remoteCommand,
                                handler: exec)
                        }
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return KubernetesTestServer(channel: channel)
    }

    func stop() async {
        try? await channel.close()
    }
}

/// A TCP echo server on loopback, counting its connections.
struct EchoServer {
    let channel: any Channel
    let connections: NIOLockedValueBox<Int>
    var port: Int { channel.localAddress!.port! }

    final class Echo: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.write(data, promise: nil)
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            context.flush()
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            // The client's FIN: everything has been echoed; close.
            if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
        }
    }

    static func start() async throws -> EchoServer {
        let connections = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                connections.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Echo()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return EchoServer(channel: channel, connections: connections)
    }
}

/// Bytes that differ at every position, for checking transfers byte for byte.
func randomBytes(_ count: Int, seed: UInt64 = 42) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 33)
    }
}
