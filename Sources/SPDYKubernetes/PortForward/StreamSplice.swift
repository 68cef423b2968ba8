import NIOCore
import NIOPosix

/// A TCP connection for splicing with a stream: half-closure on both sides, so that one
/// direction can end while the other still runs.
typealias TCPConnection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

extension TCPConnection {
    /// The settings for ``splice(_:with:)``.
    static var spliceConfiguration: NIOAsyncChannel<ByteBuffer, ByteBuffer>.Configuration {
        .init(isOutboundHalfClosureEnabled: true)
    }

    /// Connects to `host`:`port` on loopback (or anywhere) for splicing.
    static func connect(
        host: String,
        port: Int,
        group: any EventLoopGroup,
        timeout: TimeAmount
    ) async throws -> TCPConnection {
        try await ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try TCPConnection(wrappingChannelSynchronously: channel, configuration: spliceConfiguration)
                }
            }
    }
}

/// Which side's end ends a splice.
enum SpliceEnd {
    /// The TCP connection's: the server side, where the pod's end of the connection ends the
    /// forwarded connection (the kubelet returns when its copy from the pod ends).
    case tcp
    /// The stream's: the client side, where the server's FIN ends the local connection.
    case stream
}

/// Copies bytes both ways between a Kubernetes stream and a TCP connection, each with
/// backpressure, until `end`'s side has ended: the stream's FIN half-closes the TCP
/// connection's output, and the TCP connection's end sends FIN on the stream.
func splice(_ stream: KubernetesStream, with tcp: TCPConnection, endingWith end: SpliceEnd) async throws {
    try await tcp.executeThenClose { inbound, outbound in
        let toTCP: @Sendable () async throws -> Void = {
            for try await chunk in stream.inbound {
                try await outbound.write(chunk)
            }
            outbound.finish()
        }
        let toStream: @Sendable () async throws -> Void = {
            for try await chunk in inbound {
                try await stream.write(chunk)
            }
            try? await stream.finish()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask(operation: end == .tcp ? toTCP : toStream)
            defer { group.cancelAll() }
            try await (end == .tcp ? toStream : toTCP)()
        }
    }
}
