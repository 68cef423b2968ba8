import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SPDY

/// One forwarded connection from the client's side: a duplex byte stream to a pod's port.
public struct PortForwardStream: Sendable {
    /// The pod's port.
    public let port: UInt16
    /// The request ID that pairs its streams.
    public let requestID: Int
    /// The connection's bytes: ``KubernetesStream/inbound`` from the pod,
    /// ``KubernetesStream/write(_:)-(ByteBuffer)`` to it, ``KubernetesStream/finish()`` to half-close.
    public let data: KubernetesStream
    let errorStream: KubernetesStream

    /// What the server reported on the error stream, read to its end: `nil` when it ended
    /// empty. Any message means the forwarded connection failed (kubectl gives up).
    public func error(limit: Int = 64 * 1024) async throws -> String? {
        let bytes = try await errorStream.inbound.collect(upTo: limit)
        return bytes.readableBytes == 0 ? nil : String(buffer: bytes)
    }

    /// Resets both streams.
    public func close() {
        data.reset()
        errorStream.reset()
    }
}

/// The client side of Kubernetes' port-forward protocol over SPDY: what
/// `kubectl port-forward` does, for Swift. One SPDY connection carries every forwarded
/// connection.
///
/// ```swift
/// let client = try await PortForwardClient.connect(endpoint, namespace: "default", pod: "demo")
/// let stream = try await client.openConnection(port: 8080)   // a duplex byte stream
/// let forwarder = try await client.forward(remotePort: 8080) // or a local listener
/// print(forwarder.localAddress)
/// ```
public struct PortForwardClient: Sendable {
    /// The SPDY connection.
    public let connection: KubernetesConnection
    private let endpoint: KubernetesEndpoint
    private let nextRequestID = NIOLockedValueBox(0)

    /// Upgrades `…/namespaces/NAMESPACE/pods/POD/portforward` to SPDY/3.1 with `portforward.k8s.io`.
    public static func connect(
        _ endpoint: KubernetesEndpoint,
        namespace: String,
        pod: String
    ) async throws -> PortForwardClient {
        let path =
            "/api/v1/namespaces/\(KubernetesQuery.escape(namespace))/pods/\(KubernetesQuery.escape(pod))/portforward"
        let connection = try await KubernetesConnection.connect(
            to: endpoint, path: path, streamProtocols: [PortForwardServer.streamProtocol])
        guard connection.streamProtocol == PortForwardServer.streamProtocol else {
            connection.close()
            throw RemoteCommandClientError.unexpectedProtocol(connection.streamProtocol)
        }
        return PortForwardClient(connection: connection, endpoint: endpoint)
    }

    private init(connection: KubernetesConnection, endpoint: KubernetesEndpoint) {
        self.connection = connection
        self.endpoint = endpoint
    }

    /// Opens a forwarded connection to the pod's `port`, as kubectl does for each local
    /// connection: the error stream (half-closed at once), then the data stream, with the
    /// same `port` and a new `requestid`.
    public func openConnection(port: UInt16) async throws -> PortForwardStream {
        let requestID = nextRequestID.withLockedValue { id in
            defer { id += 1 }
            return id
        }
        let connection = self.connection
        let headers: @Sendable (KubernetesSPDY.StreamType) -> SPDYHeaders = { type in
            [
                (KubernetesSPDY.Header.streamType, type.rawValue),
                (KubernetesSPDY.Header.port, String(port)),
                (KubernetesSPDY.Header.requestID, String(requestID)),
            ]
        }
        let errorStream = try await withTimeout(endpoint.timeout, onTimeout: connection.close) {
            try await connection.openStream(headers: headers(.error))
        }
        try await errorStream.finish()
        let data = try await withTimeout(endpoint.timeout, onTimeout: connection.close) {
            try await connection.openStream(headers: headers(.data))
        }
        return PortForwardStream(port: port, requestID: requestID, data: data, errorStream: errorStream)
    }

    /// Listens on `localHost`:`localPort` (0: any free port) and forwards each accepted
    /// connection to the pod's `remotePort` until ``PortForwarder/close()`` or the SPDY
    /// connection's end. Messages from the server's error stream go to `onError`.
    public func forward(
        localHost: String = "127.0.0.1",
        localPort: Int = 0,
        remotePort: UInt16,
        onError: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws -> PortForwarder {
        let server = try await ServerBootstrap(group: endpoint.group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(host: localHost, port: localPort) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try TCPConnection(
                        wrappingChannelSynchronously: channel, configuration: TCPConnection.spliceConfiguration)
                }
            }
        let client = self
        let task = Task<Void, Never> {
            _ = try? await server.executeThenClose { accepted in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for try await local in accepted {
                        group.addTask {
                            do {
                                let stream = try await client.openConnection(port: remotePort)
                                async let failure = stream.error()
                                try await splice(stream.data, with: local, endingWith: .stream)
                                if let message = try await failure { onError(message) }
                                stream.close()
                            } catch {
                                onError("\(error)")
                                try? await local.channel.close()
                            }
                        }
                    }
                }
            }
        }
        let closeTask = Task {
            await connection.closed()
            try? await server.channel.close()
        }
        return PortForwarder(
            localAddress: server.channel.localAddress, server: server.channel, tasks: [task, closeTask])
    }

    /// Ends the session: GOAWAY, then the connection's close.
    public func close() {
        connection.shutdownGracefully()
        let channel = connection.channel
        channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
    }
}

/// A local listener forwarding to a pod's port (see ``PortForwardClient/forward(localHost:localPort:remotePort:onError:)``).
public struct PortForwarder: Sendable {
    /// Where it listens.
    public let localAddress: SocketAddress?
    let server: any Channel
    let tasks: [Task<Void, Never>]

    /// Stops listening (forwarded connections in progress go on).
    public func close() async {
        try? await server.close()
        for task in tasks { task.cancel() }
    }
}
