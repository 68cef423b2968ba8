import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSPDY
import NIOSSL
import SPDY
import SPDYUpgrade

/// A Kubernetes SPDY connection (after the HTTP/1.1 upgrade): the streams the peer opens,
/// and ours.
public struct KubernetesConnection: Sendable {
    /// Looks at the headers of a stream the peer opens: `nil` accepts it, a reason refuses
    /// it with RST_STREAM (as the kubelet refuses a port-forward stream without a valid
    /// `port`).
    public typealias StreamCheck = @Sendable (SPDYHeaders) -> String?

    /// Each stream's channel is set up at once (its activation waits for that), and the
    /// stream itself is ready once its first header block has been read.
    let multiplexer: SPDYAsyncStreamMultiplexer<EventLoopFuture<KubernetesStream>>
    /// The connection's channel (TCP or TLS).
    public let channel: any Channel
    /// The stream protocol chosen in the upgrade (`v4.channel.k8s.io`, `portforward.k8s.io`, …).
    public let streamProtocol: String?

    /// The streams the peer opens, each once its SYN_STREAM has been answered. The sequence
    /// ends when the connection closes.
    public var inboundStreams: KubernetesInboundStreams { KubernetesInboundStreams(streams: multiplexer.inbound) }

    /// Opens a stream with `headers` (such as `streamtype: stdin`) and returns it once the
    /// peer's SYN_REPLY came.
    public func openStream(headers: SPDYHeaders) async throws -> KubernetesStream {
        try await multiplexer.openStream { channel in
            channel.eventLoop.makeSucceededFuture(KubernetesStream.open(on: channel, headers: headers))
        }.get()
    }

    /// Closes the connection at once.
    public func close() {
        channel.close(promise: nil)
    }

    /// Sends GOAWAY: streams in flight finish, then the connection closes. spdystream stops
    /// reading at a GOAWAY, so send it only once everything else has been sent.
    public func shutdownGracefully() {
        multiplexer.shutdownGracefully()
    }

    /// Waits until the connection has closed.
    public func closed() async {
        try? await channel.closeFuture.get()
    }
}

extension KubernetesConnection {
    /// Adds a Kubernetes SPDY session (SPDY/3 frames, spdystream-compatible, no SETTINGS of
    /// its own) to `channel`, whose HTTP/1.1 upgrade has happened. Call it on the event loop,
    /// typically from the `upgrade` closure of `configureSPDYUpgradeServer` or
    /// ``connect(to:path:streamProtocols:)``.
    public static func configure(
        on channel: any Channel,
        role: SPDYRole,
        streamProtocol: String?,
        streamConfiguration: SPDYConnection.StreamConfiguration = .init(),
        check: StreamCheck? = nil
    ) throws -> KubernetesConnection {
        let multiplexer = try channel.pipeline.syncOperations.configureAsyncSPDYPipeline(
            role: role,
            version: KubernetesSPDY.frameVersion,
            configuration: KubernetesSPDY.sessionConfiguration,
            streamConfiguration: streamConfiguration,
            initialSettings: []
        ) { channel in
            channel.eventLoop.makeSucceededFuture(KubernetesStream.accept(on: channel, check: check))
        }
        return KubernetesConnection(multiplexer: multiplexer, channel: channel, streamProtocol: streamProtocol)
    }

    /// Connects to a Kubernetes API server (or a kubelet) and upgrades `path` to SPDY/3.1,
    /// offering `streamProtocols`: the client half of `kubectl exec` and `port-forward`.
    ///
    /// - Parameters:
    ///   - endpoint: where, over what, with which credentials.
    ///   - path: the path and query, such as
    ///     `/api/v1/namespaces/default/pods/demo/exec?command=ls&stdout=true`.
    ///   - streamProtocols: offered, most preferred first; the server must choose one.
    /// - Throws: `SPDYUpgradeError` when the server refuses (its Kubernetes `Status` is in the
    ///   error's body), or a connection or TLS error.
    public static func connect(
        to endpoint: KubernetesEndpoint,
        path: String,
        streamProtocols: [String]
    ) async throws -> KubernetesConnection {
        var headers = HTTPHeaders()
        if let token = endpoint.bearerToken { headers.add(name: "Authorization", value: "Bearer \(token)") }
        headers.add(name: "User-Agent", value: endpoint.userAgent)
        let request = HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers)
        let (connection, _) = try await SPDYUpgradeClient.connect(
            host: endpoint.host,
            port: endpoint.port,
            tls: endpoint.tls,
            serverHostname: endpoint.serverHostname,
            request: request,
            streamProtocols: streamProtocols,
            group: endpoint.group,
            timeout: endpoint.timeout
        ) { channel, response in
            try KubernetesConnection.configure(on: channel, role: .client, streamProtocol: response.streamProtocol)
        }
        return connection
    }
}

/// The streams a peer opens on a ``KubernetesConnection``, each once its SYN_STREAM has been
/// answered (refused ones are left out). The sequence ends when the connection closes.
public struct KubernetesInboundStreams: AsyncSequence, Sendable {
    /// A stream.
    public typealias Element = KubernetesStream
    let streams: SPDYInboundStreams<EventLoopFuture<KubernetesStream>>

    /// Iterates the streams.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var iterator: SPDYInboundStreams<EventLoopFuture<KubernetesStream>>.AsyncIterator

        /// The next stream, or `nil` once the connection has closed.
        public mutating func next() async throws -> KubernetesStream? {
            while let pending = try await iterator.next() {
                if let stream = try? await pending.get() { return stream }
            }
            return nil
        }
    }

    /// Makes the iterator (once).
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(iterator: streams.makeAsyncIterator())
    }
}
