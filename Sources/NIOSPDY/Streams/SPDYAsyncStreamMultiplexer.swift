import NIOCore
import SPDY

/// A SPDY connection for async code: the streams the peer opens as an async sequence, and
/// ``openStream(_:)`` for ours. Made by `configureAsyncSPDYPipeline`, in the manner of
/// swift-nio-http2's `configureAsyncHTTP2Pipeline`.
///
/// Each stream is a ``SPDYStreamChannel``; the stream initializer usually wraps it in an
/// `NIOAsyncChannel<SPDYStreamPayload, SPDYStreamPayload>`, whose inbound sequence has
/// backpressure: while nobody iterates it, the stream stops reading, so no window is
/// granted and the peer stops sending.
///
/// ```swift
/// let server = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0) { channel in
///     channel.configureAsyncSPDYPipeline(role: .server, version: .v3_1) { stream in
///         stream.eventLoop.makeCompletedFuture {
///             try NIOAsyncChannel<SPDYStreamPayload, SPDYStreamPayload>(wrappingChannelSynchronously: stream)
///         }
///     }
/// }
/// ```
public struct SPDYAsyncStreamMultiplexer<InboundStreamOutput: Sendable>: Sendable {
    /// The streams the peer opens (on a client, the streams it pushes, when accepted), as
    /// the stream initializer's outputs. The sequence finishes when the connection closes.
    public let inbound: SPDYInboundStreams<InboundStreamOutput>
    private let connection: NIOLoopBound<SPDYConnection>

    init(inbound: SPDYInboundStreams<InboundStreamOutput>, connection: NIOLoopBound<SPDYConnection>) {
        self.inbound = inbound
        self.connection = connection
    }

    /// Opens a stream of ours: runs `initializer` on a new stream channel and returns its
    /// output. The stream gets its ID when its first header block is written and flushed.
    public func openStream<Output: Sendable>(
        _ initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Output>
    ) async throws -> Output {
        let connection = self.connection
        return try await connection.eventLoop.flatSubmit {
            connection.value.createStreamChannel(initializer: initializer)
        }.get()
    }

    /// Sends a PING and waits for the reply.
    public func ping() async throws {
        let connection = self.connection
        try await connection.eventLoop.flatSubmit { connection.value.ping() }.get()
    }

    /// Sends GOAWAY: streams in flight finish, then the connection closes.
    public func shutdownGracefully() {
        let connection = self.connection
        connection.eventLoop.execute { connection.value.shutdownGracefully() }
    }
}

/// The streams a peer opens on a connection, as an async sequence (see
/// ``SPDYAsyncStreamMultiplexer/inbound``).
public struct SPDYInboundStreams<Element: Sendable>: AsyncSequence, Sendable {
    fileprivate let stream: AsyncThrowingStream<Element, any Error>

    /// Iterates the streams.
    public struct AsyncIterator: AsyncIteratorProtocol {
        fileprivate var iterator: AsyncThrowingStream<Element, any Error>.AsyncIterator

        /// The next stream, or `nil` once the connection has closed.
        public mutating func next() async throws -> Element? {
            try await iterator.next()
        }
    }

    /// Makes an iterator.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(iterator: stream.makeAsyncIterator())
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Adds a SPDY connection to this pipeline (after TLS and ALPN, or on plain TCP) and
    /// returns its async face. Call it on the channel's event loop.
    ///
    /// - Parameters:
    ///   - role: client or server.
    ///   - version: the negotiated version.
    ///   - configuration: session options and limits (`SPDYSession.Configuration.manualDataConsumption`
    ///     is always on: window follows what the streams read).
    ///   - streamConfiguration: watermarks and caps of the stream channels.
    ///   - initialSettings: the SETTINGS sent when the connection becomes active; by default
    ///     MAX_CONCURRENT_STREAMS 100.
    ///   - acceptsPushedStreams: on a client, whether streams the server pushes go to
    ///     ``SPDYAsyncStreamMultiplexer/inbound`` (otherwise they are refused with RST_STREAM CANCEL).
    ///   - streamInitializer: sets up each stream the peer opens.
    public func configureAsyncSPDYPipeline<Output: Sendable>(
        role: SPDYRole,
        version: SPDYVersion,
        configuration: SPDYSession.Configuration = .init(),
        streamConfiguration: SPDYConnection.StreamConfiguration = .init(),
        initialSettings: [SPDYFrame.SettingsEntry] = [.init(id: .maxConcurrentStreams, value: 100)],
        acceptsPushedStreams: Bool = false,
        streamInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Output>
    ) throws -> SPDYAsyncStreamMultiplexer<Output> {
        var configuration = configuration
        configuration.manualDataConsumption = true
        let session = try SPDYSession(
            role: role, version: version, configuration: configuration, clock: .eventLoop(eventLoop))
        let (stream, continuation) = AsyncThrowingStream<Output, any Error>.makeStream()
        let initializer: SPDYConnection.StreamInitializer = { channel in
            streamInitializer(channel).map { output in
                continuation.yield(output)
            }
        }
        let connection = SPDYConnection(
            session: session,
            streamConfiguration: streamConfiguration,
            inboundStreamInitializer: role == .server ? initializer : nil,
            pushStreamInitializer: role == .client && acceptsPushedStreams ? initializer : nil
        )
        connection.addObserver { event in
            switch event {
            case .active:
                if !initialSettings.isEmpty { try? session.submitSettings(entries: initialSettings) }
            case .closed(let error):
                if let error { continuation.finish(throwing: error) } else { continuation.finish() }
            case .frame:
                break
            }
        }
        try addHandler(connection)
        return SPDYAsyncStreamMultiplexer(
            inbound: SPDYInboundStreams(stream: stream),
            connection: NIOLoopBound(connection, eventLoop: connection.eventLoop!)
        )
    }
}

extension Channel {
    /// Adds a SPDY connection to this channel's pipeline and returns its async face (see
    /// `ChannelPipeline.SynchronousOperations.configureAsyncSPDYPipeline`).
    public func configureAsyncSPDYPipeline<Output: Sendable>(
        role: SPDYRole,
        version: SPDYVersion,
        configuration: SPDYSession.Configuration = .init(),
        streamConfiguration: SPDYConnection.StreamConfiguration = .init(),
        initialSettings: [SPDYFrame.SettingsEntry] = [.init(id: .maxConcurrentStreams, value: 100)],
        acceptsPushedStreams: Bool = false,
        streamInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Output>
    ) -> EventLoopFuture<SPDYAsyncStreamMultiplexer<Output>> {
        eventLoop.makeCompletedFuture {
            try pipeline.syncOperations.configureAsyncSPDYPipeline(
                role: role,
                version: version,
                configuration: configuration,
                streamConfiguration: streamConfiguration,
                initialSettings: initialSettings,
                acceptsPushedStreams: acceptsPushedStreams,
                streamInitializer: streamInitializer
            )
        }
    }
}
