import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOSPDY
import SPDY

/// What a remotecommand application (the command `kubectl exec` or `attach` runs) gets: the
/// request, stdin, stdout and stderr, and the terminal's size.
public struct RemoteCommandServerContext: Sendable {
    /// The request head of the upgrade (its path names the namespace, pod and subresource).
    public let request: HTTPRequestHead
    /// The command, container and requested streams, from the request's query.
    public let options: RemoteCommandOptions
    /// The protocol chosen.
    public let streamProtocol: RemoteCommandProtocol
    /// What the client sends on stdin, when it asked to; it ends when the client closes
    /// its stdin.
    public let stdin: KubernetesStream.Inbound?
    /// The command's standard output, when the client asked for it.
    public let stdout: KubernetesStream?
    /// The command's standard error, when the client asked for it (never with a TTY).
    public let stderr: KubernetesStream?
    /// Size changes of the client's terminal (with a TTY, v3 and later); the first comes
    /// right after the streams exist. Only the newest few are kept for a slow reader.
    public let resizes: AsyncStream<TerminalSize>
    private let size: NIOLockedValueBox<TerminalSize?>

    /// The terminal's size as last reported, if any.
    public var terminalSize: TerminalSize? { size.withLockedValue { $0 } }

    init(
        request: HTTPRequestHead,
        options: RemoteCommandOptions,
        streamProtocol: RemoteCommandProtocol,
        stdin: KubernetesStream.Inbound?,
        stdout: KubernetesStream?,
        stderr: KubernetesStream?,
        resizes: AsyncStream<TerminalSize>,
        size: NIOLockedValueBox<TerminalSize?>
    ) {
        self.request = request
        self.options = options
        self.streamProtocol = streamProtocol
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.resizes = resizes
        self.size = size
    }
}

/// The server side of Kubernetes' remotecommand protocol (`kubectl exec` and `attach`), as
/// the kubelet serves it over SPDY.
///
/// The client opens every stream; the server waits for all those the request's query asks
/// for (error, stdin, stdout, stderr, resize), runs the application, writes its outcome on
/// the error stream (a JSON `Status` on v4, text on failure before), ends the streams with
/// FIN and waits for the client to close the connection.
public enum RemoteCommandServer {
    /// Runs one command: gets the streams and returns how it ended. A thrown error becomes
    /// a failure with its description.
    public typealias Handler = @Sendable (RemoteCommandServerContext) async throws -> RemoteCommandExit

    /// Limits and timeouts.
    public struct Configuration: Sendable {
        /// How long the client has to open every stream it asked for (the kubelet's
        /// `streamCreationTimeout`). Default 30 seconds.
        public var streamTimeout: TimeAmount
        /// How long the server waits, after the command's outcome was sent, for the client
        /// to close the connection before closing it itself. Default 10 seconds.
        public var lingerTimeout: TimeAmount
        /// With a TTY, how long the application's start waits for the client's first
        /// terminal size (kubectl sends it right after the streams exist), so that the
        /// command starts with its terminal's size known. Default 1 second.
        public var firstResizeTimeout: TimeAmount
        /// The stream channels' limits.
        public var streamConfiguration: SPDYConnection.StreamConfiguration
        /// Where the server says what went wrong with a client.
        public var logger: Logger

        /// Creates a configuration.
        public init(
            streamTimeout: TimeAmount = .seconds(30),
            lingerTimeout: TimeAmount = .seconds(10),
            firstResizeTimeout: TimeAmount = .seconds(1),
            streamConfiguration: SPDYConnection.StreamConfiguration = .init(),
            logger: Logger = Logger(label: "swift-spdy.kubernetes", factory: { _ in SwiftLogNoOpLogHandler() })
        ) {
            self.streamTimeout = streamTimeout
            self.lingerTimeout = lingerTimeout
            self.firstResizeTimeout = firstResizeTimeout
            self.streamConfiguration = streamConfiguration
            self.logger = logger
        }
    }

    /// The values of `X-Stream-Protocol-Version` the server accepts, most preferred first.
    public static let supportedProtocols = RemoteCommandProtocol.serverPreference.map(\.rawValue)

    /// Starts serving a command on `channel`, whose upgrade chose `streamProtocol`: the
    /// `upgrade` closure of `configureSPDYUpgradeServer` calls it (on the event loop).
    public static func start(
        on channel: any Channel,
        request: HTTPRequestHead,
        streamProtocol: String?,
        configuration: Configuration = .init(),
        handler: @escaping Handler
    ) throws {
        let version = streamProtocol.flatMap(RemoteCommandProtocol.init(rawValue:)) ?? .v1
        let connection = try KubernetesConnection.configure(
            on: channel, role: .server, streamProtocol: streamProtocol,
            streamConfiguration: configuration.streamConfiguration)
        Task {
            await serve(
                connection: connection, request: request, streamProtocol: version, configuration: configuration,
                handler: handler)
        }
    }

    /// Serves one command on an upgraded connection, until the connection has closed.
    public static func serve(
        connection: KubernetesConnection,
        request: HTTPRequestHead,
        streamProtocol: RemoteCommandProtocol,
        configuration: Configuration = .init(),
        handler: Handler
    ) async {
        let logger = configuration.logger
        let options = RemoteCommandOptions(uri: request.uri)
        let expected = Set(options.streamTypes(for: streamProtocol))
        let collector = StreamCollector(expected: expected, logger: logger)
        let eventLoop = connection.channel.eventLoop
        let dispatcher = Task {
            do {
                for try await stream in connection.inboundStreams {
                    collector.add(stream)
                }
            } catch {
                logger.debug("connection ended: \(error)")
            }
            collector.connectionEnded()
        }
        defer { dispatcher.cancel() }
        let timer = eventLoop.scheduleTask(in: configuration.streamTimeout) { collector.timedOut() }
        let streams: [KubernetesSPDY.StreamType: KubernetesStream]
        do {
            streams = try await collector.wait()
            timer.cancel()
        } catch {
            timer.cancel()
            logger.notice("remotecommand: \(error)")
            if let errorStream = collector.received[.error] {
                try? await errorStream.write(
                    RemoteCommandExit.failure("\(error)").errorStreamMessage(for: streamProtocol) ?? "")
            }
            connection.close()
            await connection.closed()
            return
        }

        let size = NIOLockedValueBox<TerminalSize?>(nil)
        let firstSize = eventLoop.makePromise(of: Void.self)
        let (resizes, resizeContinuation) = AsyncStream<TerminalSize>.makeStream(bufferingPolicy: .bufferingNewest(8))
        let resizeReader: Task<Void, Never>? = streams[.resize].map { stream in
            Task {
                var decoder = TerminalSizeDecoder()
                let report: @Sendable (TerminalSize) -> Void = { terminalSize in
                    size.withLockedValue { $0 = terminalSize }
                    resizeContinuation.yield(terminalSize)
                    firstSize.succeed()
                }
                do {
                    for try await chunk in stream.inbound {
                        for terminalSize in try decoder.feed(chunk.readableBytesView) { report(terminalSize) }
                    }
                    if let last = try decoder.finish() { report(last) }
                } catch is CancellationError {
                    // The command ended; its resizes are of no use now.
                } catch {
                    logger.notice("remotecommand: \(error)")
                    stream.reset()
                }
                resizeContinuation.finish()
                firstSize.succeed()
            }
        }
        if resizeReader == nil {
            resizeContinuation.finish()
            firstSize.succeed()
        } else {
            let wait = eventLoop.scheduleTask(in: configuration.firstResizeTimeout) { firstSize.succeed() }
            try? await firstSize.futureResult.get()
            wait.cancel()
        }

        let context = RemoteCommandServerContext(
            request: request, options: options, streamProtocol: streamProtocol,
            stdin: streams[.stdin]?.inbound, stdout: streams[.stdout], stderr: streams[.stderr],
            resizes: resizes, size: size)
        let exit: RemoteCommandExit
        do {
            exit = try await handler(context)
        } catch {
            exit = .failure("\(error)")
        }
        // The outcome goes after everything the command wrote; then every stream ends.
        if let message = exit.errorStreamMessage(for: streamProtocol), let errorStream = streams[.error] {
            try? await errorStream.write(message)
        }
        for type in [KubernetesSPDY.StreamType.error, .stdout, .stderr] {
            try? await streams[type]?.finish()
        }
        // What the client still sends (stdin, resizes) is of no use now.
        streams[.stdin]?.reset()
        streams[.resize]?.reset()
        resizeReader?.cancel()
        // kubectl closes the connection once it has read the streams to their end; a
        // client that does not gets the linger time.
        let linger = eventLoop.scheduleTask(in: configuration.lingerTimeout) { connection.close() }
        await connection.closed()
        linger.cancel()
    }
}

/// Gathers the streams a request asked for, refusing unknown and repeated ones.
final class StreamCollector: Sendable {
    private struct State {
        var streams: [KubernetesSPDY.StreamType: KubernetesStream] = [:]
        var waiter: CheckedContinuation<[KubernetesSPDY.StreamType: KubernetesStream], any Error>?
        var outcome: Result<[KubernetesSPDY.StreamType: KubernetesStream], any Error>?
    }

    private let expected: Set<KubernetesSPDY.StreamType>
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    init(expected: Set<KubernetesSPDY.StreamType>, logger: Logger) {
        self.expected = expected
        self.logger = logger
    }

    /// The streams that came so far.
    var received: [KubernetesSPDY.StreamType: KubernetesStream] { state.withLockedValue { $0.streams } }

    func add(_ stream: KubernetesStream) {
        let type = stream.streamType.flatMap(KubernetesSPDY.StreamType.init(rawValue:))
        let accepted: Bool = state.withLockedValue { state in
            guard state.outcome == nil, let type, expected.contains(type), state.streams[type] == nil else {
                return false
            }
            state.streams[type] = stream
            if state.streams.count == expected.count { settle(&state, .success(state.streams)) }
            return true
        }
        if !accepted {
            logger.notice("remotecommand: unexpected stream type \(stream.streamType ?? "(none)")")
            stream.reset()
        }
    }

    func timedOut() {
        state.withLockedValue {
            settle(&$0, .failure(RemoteCommandProtocolError("timed out waiting for client to create streams")))
        }
    }

    func connectionEnded() {
        state.withLockedValue {
            settle(&$0, .failure(RemoteCommandProtocolError("the connection closed before every stream was opened")))
        }
    }

    func wait() async throws -> [KubernetesSPDY.StreamType: KubernetesStream] {
        try await withCheckedThrowingContinuation { continuation in
            state.withLockedValue { state in
                if let outcome = state.outcome {
                    continuation.resume(with: outcome)
                } else {
                    state.waiter = continuation
                }
            }
        }
    }

    private func settle(
        _ state: inout State, _ outcome: Result<[KubernetesSPDY.StreamType: KubernetesStream], any Error>
    ) {
        guard state.outcome == nil else { return }
        state.outcome = outcome
        state.waiter?.resume(with: outcome)
        state.waiter = nil
    }
}
