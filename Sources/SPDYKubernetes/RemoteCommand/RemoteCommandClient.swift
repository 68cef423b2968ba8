import NIOConcurrencyHelpers
import NIOCore
import SPDY

/// The subresource a remotecommand request goes to.
public enum RemoteCommandSubresource: String, Sendable, Hashable {
    /// Run a new command in the container (`kubectl exec`).
    case exec
    /// Attach to the container's main process (`kubectl attach`).
    case attach
}

/// A command running in a pod, seen from the client: its output streams, its stdin, the
/// terminal size, and its exit status.
///
/// Read ``stdout`` and ``stderr`` concurrently (or use ``RemoteCommandClient/run(_:namespace:pod:subresource:options:stdin:outputLimit:protocols:)``):
/// Kubernetes' SPDY has no flow control, so output nobody reads holds up the connection.
public struct RemoteCommandSession: Sendable {
    /// The protocol the server chose.
    public let streamProtocol: RemoteCommandProtocol
    /// The command's standard output, if requested.
    public let stdout: KubernetesStream.Inbound?
    /// The command's standard error, if requested (never with a TTY).
    public let stderr: KubernetesStream.Inbound?
    let connection: KubernetesConnection
    let errorStream: KubernetesStream
    let stdinStream: KubernetesStream?
    let resizeStream: KubernetesStream?
    let streams: [KubernetesStream]

    /// Sends bytes to the command's stdin.
    ///
    /// - Throws: ``RemoteCommandClientError/notRequested(_:)`` without stdin.
    public func writeStdin(_ bytes: ByteBuffer) async throws {
        guard let stdinStream else { throw RemoteCommandClientError.notRequested(.stdin) }
        try await stdinStream.write(bytes)
    }

    /// Ends the command's stdin (an empty DATA frame with FIN, as kubectl sends at EOF).
    public func closeStdin() async throws {
        guard let stdinStream else { throw RemoteCommandClientError.notRequested(.stdin) }
        try await stdinStream.finish()
    }

    /// Reports a new terminal size (with a TTY, v3 and later).
    public func resize(_ size: TerminalSize) async throws {
        guard let resizeStream else { throw RemoteCommandClientError.notRequested(.resize) }
        try await resizeStream.write(size.message)
    }

    /// Waits for the command's outcome: reads the error stream to its end and decodes it
    /// (a v4 `Status`, or text before v4). Call it once.
    ///
    /// - Throws: ``RemoteCommandProtocolError`` for a status client-go would refuse.
    public func exitStatus(limit: Int = 64 * 1024) async throws -> RemoteCommandExit {
        let message = try await errorStream.inbound.collect(upTo: limit)
        return try RemoteCommandExit(errorStream: Array(message.readableBytesView), streamProtocol: streamProtocol)
    }

    /// Ends the session as kubectl does: RST_STREAM CANCEL on the streams not finished
    /// both ways, GOAWAY, and the connection's close.
    public func close() {
        for stream in streams { stream.reset() }
        connection.shutdownGracefully()
        let channel = connection.channel
        // GOAWAY closes the connection once the streams are gone; a peer that never lets
        // them go gets a few seconds.
        channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
    }
}

/// Errors of the remotecommand client.
public enum RemoteCommandClientError: Error, Sendable, Hashable {
    /// The stream was not requested in the options.
    case notRequested(KubernetesSPDY.StreamType)
    /// The server chose a protocol that was not offered.
    case unexpectedProtocol(String?)
}

/// What a command run to its end produced.
public struct RemoteCommandResult: Sendable {
    /// How it ended.
    public var exit: RemoteCommandExit
    /// Everything it wrote on stdout.
    public var stdout: ByteBuffer
    /// Everything it wrote on stderr.
    public var stderr: ByteBuffer
}

/// The client side of Kubernetes' remotecommand protocol over SPDY: what `kubectl exec` and
/// `attach` do, for Swift.
///
/// ```swift
/// let endpoint = KubernetesEndpoint(host: "127.0.0.1", port: 8001)
/// let result = try await RemoteCommandClient.run(
///     endpoint, namespace: "default", pod: "demo", options: .init(command: ["ls", "/"]))
/// print(String(buffer: result.stdout), result.exit)
/// ```
public enum RemoteCommandClient {
    /// Starts a command: upgrades `…/namespaces/NAMESPACE/pods/POD/exec?…`, then opens the
    /// streams in kubectl's order (error, stdin, stdout, stderr, resize), each waiting for
    /// its SYN_REPLY.
    public static func start(
        _ endpoint: KubernetesEndpoint,
        namespace: String,
        pod: String,
        subresource: RemoteCommandSubresource = .exec,
        options: RemoteCommandOptions,
        protocols: [RemoteCommandProtocol] = RemoteCommandProtocol.clientOffer
    ) async throws -> RemoteCommandSession {
        let path =
            "/api/v1/namespaces/\(KubernetesQuery.escape(namespace))/pods/\(KubernetesQuery.escape(pod))/"
            + "\(subresource.rawValue)?\(options.query)"
        let connection = try await KubernetesConnection.connect(
            to: endpoint, path: path, streamProtocols: protocols.map(\.rawValue))
        do {
            guard let chosen = connection.streamProtocol.flatMap(RemoteCommandProtocol.init(rawValue:)),
                protocols.contains(chosen)
            else {
                throw RemoteCommandClientError.unexpectedProtocol(connection.streamProtocol)
            }
            var opened: [KubernetesSPDY.StreamType: KubernetesStream] = [:]
            var streams: [KubernetesStream] = []
            for type in options.streamTypes(for: chosen) {
                let stream = try await withTimeout(endpoint.timeout, onTimeout: connection.close) {
                    try await connection.openStream(headers: [(KubernetesSPDY.Header.streamType, type.rawValue)])
                }
                opened[type] = stream
                streams.append(stream)
            }
            return RemoteCommandSession(
                streamProtocol: chosen,
                stdout: opened[.stdout]?.inbound,
                stderr: opened[.stderr]?.inbound,
                connection: connection,
                errorStream: opened[.error]!,
                stdinStream: opened[.stdin],
                resizeStream: opened[.resize],
                streams: streams)
        } catch {
            connection.close()
            throw error
        }
    }

    /// Runs a command to its end: sends `stdin` (then closes it), collects stdout and stderr
    /// (each at most `outputLimit` bytes), and returns them with the outcome.
    public static func run(
        _ endpoint: KubernetesEndpoint,
        namespace: String,
        pod: String,
        subresource: RemoteCommandSubresource = .exec,
        options: RemoteCommandOptions,
        stdin: ByteBuffer? = nil,
        outputLimit: Int = 64 << 20,
        protocols: [RemoteCommandProtocol] = RemoteCommandProtocol.clientOffer
    ) async throws -> RemoteCommandResult {
        var options = options
        options.stdin = stdin != nil
        let session = try await start(
            endpoint, namespace: namespace, pod: pod, subresource: subresource, options: options, protocols: protocols)
        defer { session.close() }
        async let stdout = session.stdout?.collect(upTo: outputLimit) ?? ByteBuffer()
        async let stderr = session.stderr?.collect(upTo: outputLimit) ?? ByteBuffer()
        async let exit = session.exitStatus()
        if let stdin {
            var rest = stdin
            while rest.readableBytes > 0 {
                try await session.writeStdin(rest.readSlice(length: min(rest.readableBytes, 32 * 1024))!)
            }
            try await session.closeStdin()
        }
        return try await RemoteCommandResult(exit: exit, stdout: stdout, stderr: stderr)
    }
}

/// Runs `body`, failing with ``KubernetesTimeoutError`` when it takes longer than
/// `timeout`; `onTimeout` must make `body` return (by closing what it waits on).
func withTimeout<T: Sendable>(
    _ timeout: TimeAmount,
    onTimeout: @escaping @Sendable () -> Void,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(nanoseconds: UInt64(max(timeout.nanoseconds, 0)))
            onTimeout()
            throw KubernetesTimeoutError()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// A peer did not answer in time.
public struct KubernetesTimeoutError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String { "timed out waiting for the peer" }
}
