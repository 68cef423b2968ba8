import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP echo server on loopback for port-forward, counting its connections. It closes a
/// connection once the client half-closed it (everything has been echoed by then).
struct EchoServer: Sendable {
    let channel: any Channel
    let connections: NIOLockedValueBox<Int>
    var port: Int { channel.localAddress?.port ?? 0 }

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
            if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    static func start() async throws -> EchoServer {
        let connections = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                connections.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Echo())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return EchoServer(channel: channel, connections: connections)
    }

    func close() {
        channel.close(promise: nil)
    }
}

/// A loopback port nothing listens on: bound, noted, closed.
func closedPort() async throws -> Int {
    let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: 0).get()
    let port = probe.localAddress?.port ?? 0
    try await probe.close()
    return port
}

/// Bytes that differ at every position, reproducible from `seed` (a 64-bit LCG).
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
    var bytes = [UInt8](repeating: 0, count: count)
    for index in 0..<count {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        bytes[index] = UInt8(truncatingIfNeeded: state >> 33)
    }
    return bytes
}

/// What the kubelet-peer's `bytes N` writes: splitmix64 seeded with 0, each 64-bit output
/// little-endian.
func splitmix64Bytes(_ count: Int) -> [UInt8] {
    var state: UInt64 = 0
    var bytes = [UInt8](repeating: 0, count: count)
    var index = 0
    while index < count {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        for shift in stride(from: 0, to: 64, by: 8) where index < count {
            bytes[index] = UInt8(truncatingIfNeeded: z >> UInt64(shift))
            index += 1
        }
    }
    return bytes
}

/// A plain TCP client with half-closure: sends `bytes`, half-closes, reads to the end.
func tcpEcho(_ bytes: [UInt8], to address: SocketAddress) async throws -> ByteBuffer {
    let local = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelOption(.allowRemoteHalfClosure, value: true)
        .connect(to: address) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                    wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
            }
        }
    return try await local.executeThenClose { inbound, outbound in
        try await withThrowingTaskGroup(of: ByteBuffer.self) { group in
            group.addTask {
                var all = ByteBuffer()
                for try await var chunk in inbound { all.writeBuffer(&chunk) }
                return all
            }
            var rest = ByteBuffer(bytes: bytes)
            while rest.readableBytes > 0 {
                try await outbound.write(rest.readSlice(length: min(rest.readableBytes, 64 * 1024))!)
            }
            outbound.finish()
            return try await group.next()!
        }
    }
}
