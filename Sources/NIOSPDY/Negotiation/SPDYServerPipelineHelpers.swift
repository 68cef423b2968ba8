import NIOCore
import NIOHTTP1
import SPDY

extension ChannelPipeline.SynchronousOperations {
    /// Adds a server ``SPDYConnection`` with the hardening of `configuration`: the idle timer,
    /// the frame-completion and write timeouts, the first SETTINGS, manual data consumption.
    func addHardenedSPDYServerConnection(
        version: SPDYVersion,
        configuration: SPDYServerPipelineConfiguration,
        streamInitializer: @escaping SPDYConnection.StreamInitializer
    ) throws {
        var sessionConfiguration = configuration.session
        // Window is granted as stream channels read what arrived, not as it arrives.
        sessionConfiguration.manualDataConsumption = true
        let session = try SPDYSession(
            role: .server, version: version, configuration: sessionConfiguration, clock: .eventLoop(eventLoop))
        let connection = SPDYConnection(
            session: session,
            streamConfiguration: configuration.streams,
            inboundStreamInitializer: streamInitializer
        )
        connection.frameCompletionTimeout = configuration.frameCompletionTimeout
        connection.writeTimeout = configuration.writeTimeout
        connection.keepAlive = configuration.keepAlive
        connection.metrics = configuration.metrics
        let settings = configuration.initialSettings
        if !settings.isEmpty {
            connection.addObserver { event in
                if case .active = event { try? session.submitSettings(entries: settings) }
            }
        }
        if let idle = configuration.idleTimeout {
            try addHandler(IdleStateHandler(allTimeout: idle))
        }
        try addHandler(connection)
    }

    /// ``addHardenedSPDYServerConnection(version:configuration:streamInitializer:)`` for async
    /// code: the streams come out of the returned multiplexer.
    func configureHardenedAsyncSPDYServerPipeline<StreamOutput: Sendable>(
        version: SPDYVersion,
        configuration: SPDYServerPipelineConfiguration,
        streamInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<StreamOutput>
    ) throws -> SPDYAsyncStreamMultiplexer<StreamOutput> {
        if let idle = configuration.idleTimeout {
            try addHandler(IdleStateHandler(allTimeout: idle))
        }
        let multiplexer = try configureAsyncSPDYPipeline(
            role: .server,
            version: version,
            configuration: configuration.session,
            streamConfiguration: configuration.streams,
            initialSettings: configuration.initialSettings,
            streamInitializer: streamInitializer
        )
        let connection = try handler(type: SPDYConnection.self)
        connection.frameCompletionTimeout = configuration.frameCompletionTimeout
        connection.writeTimeout = configuration.writeTimeout
        connection.keepAlive = configuration.keepAlive
        return multiplexer
    }
}

extension Channel {
    /// Configures this server channel to speak SPDY or HTTP/1.1, whichever the client picks,
    /// for async code: swift-nio-http2's `configureAsyncHTTPServerPipeline` for SPDY.
    ///
    /// An HTTP/1.1 connection gets NIOHTTP1's server handlers (pipelining, error answers,
    /// ``SPDYServerPipelineConfiguration/HTTP1/maxHeaderSize``) and the connection guard
    /// (idle, request-head and write timeouts), then `http1ConnectionInitializer`, whose
    /// channel reads `HTTPServerRequestPart` and writes `HTTPServerResponsePart`. A SPDY
    /// connection gets a hardened ``SPDYConnection`` (first SETTINGS, idle, frame-completion
    /// and write timeouts) whose streams (channels of ``SPDYStreamPayload``) go through
    /// `streamInitializer` into the multiplexer's inbound sequence. For HTTP messages on both
    /// sides see `configureAsyncSPDYHTTPServerPipeline`.
    ///
    /// - Parameters:
    ///   - negotiation: ALPN after a TLS handler already in the pipeline, or the first bytes
    ///     on plain TCP.
    ///   - configuration: limits and timeouts of both sides.
    ///   - http1ConnectionInitializer: finishes an HTTP/1.1 connection's pipeline (usually
    ///     wrapping it in an `NIOAsyncChannel`).
    ///   - streamInitializer: sets up each SPDY stream the client opens.
    /// - Returns: a future that completes when the channel is ready to negotiate, holding the
    ///   future of the outcome.
    public func configureAsyncSPDYServerPipeline<HTTP1Output: Sendable, StreamOutput: Sendable>(
        _ negotiation: SPDYServerNegotiation,
        configuration: SPDYServerPipelineConfiguration = .init(),
        http1ConnectionInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<HTTP1Output>,
        streamInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<StreamOutput>
    ) -> EventLoopFuture<
        EventLoopFuture<SPDYNegotiatedServerChannel<HTTP1Output, SPDYAsyncStreamMultiplexer<StreamOutput>>>
    > {
        configureAsyncSPDYServerNegotiation(negotiation, timeout: configuration.negotiationTimeout) {
            channel, version in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHardenedAsyncSPDYServerPipeline(
                    version: version, configuration: configuration, streamInitializer: streamInitializer)
            }
        } http1ConnectionInitializer: { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHardenedHTTP1ServerHandlers(configuration)
            }.flatMap {
                http1ConnectionInitializer(channel)
            }
        }
    }

    /// Configures this server channel so that one HTTP/1 configurator serves HTTP/1.1
    /// connections and SPDY streams alike: swift-nio-http2's `configureCommonHTTPServerPipeline`
    /// for SPDY, with NIOHTTP1's message types.
    ///
    /// An HTTP/1.1 connection gets NIOHTTP1's server handlers and the connection guard (see
    /// ``SPDYServerPipelineConfiguration``), a SPDY connection a hardened ``SPDYConnection``
    /// whose every stream gets a ``SPDYToHTTP1ServerCodec``; then `configurator` runs on the
    /// HTTP/1.1 connection's channel and on each stream's channel, which all read
    /// `HTTPServerRequestPart` and write `HTTPServerResponsePart`. A handler written once
    /// answers both. (On HTTP/1.1 it sees every request of a keep-alive connection, on SPDY
    /// one request per channel; closing the channel after the answer is right on both.)
    ///
    /// ```swift
    /// ServerBootstrap(group: group).childChannelInitializer { channel in
    ///     channel.configureCommonSPDYServerPipeline(.firstBytes()) { channel in
    ///         channel.pipeline.addHandler(HelloHandler())
    ///     }
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - negotiation: ALPN after a TLS handler already in the pipeline, or the first bytes
    ///     on plain TCP.
    ///   - configuration: limits and timeouts of both sides.
    ///   - spdyConnectionConfigurator: called once for a SPDY connection's own channel, after
    ///     the ``SPDYConnection`` is in its pipeline.
    ///   - configurator: adds the application's handlers to an HTTP/1.1 connection's channel
    ///     and to each SPDY stream's channel.
    /// - Returns: a future that completes when the channel is ready to negotiate.
    public func configureCommonSPDYServerPipeline(
        _ negotiation: SPDYServerNegotiation,
        configuration: SPDYServerPipelineConfiguration = .init(),
        spdyConnectionConfigurator: (@Sendable (any Channel) -> EventLoopFuture<Void>)? = nil,
        _ configurator: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<Void> {
        configureCommonServerPipeline(
            negotiation,
            configuration: configuration,
            spdyConnectionConfigurator: spdyConnectionConfigurator,
            http1Codec: { _ in nil },
            streamCodec: { SPDYToHTTP1ServerCodec(version: $0) },
            configurator: configurator
        )
    }

    /// The common pipeline with the codecs of one message type: `http1Codec` after NIOHTTP1's
    /// handlers (if any), `streamCodec` in each stream.
    func configureCommonServerPipeline(
        _ negotiation: SPDYServerNegotiation,
        configuration: SPDYServerPipelineConfiguration,
        spdyConnectionConfigurator: (@Sendable (any Channel) -> EventLoopFuture<Void>)?,
        http1Codec: @escaping @Sendable (_ secure: Bool) -> (any ChannelHandler)?,
        streamCodec: @escaping @Sendable (SPDYVersion) -> any ChannelHandler,
        configurator: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<Void> {
        let secure = negotiation == .alpn
        return configureSPDYServerNegotiation(negotiation, timeout: configuration.negotiationTimeout) {
            channel, version in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHardenedSPDYServerConnection(
                    version: version, configuration: configuration
                ) { stream in
                    stream.eventLoop.makeCompletedFuture {
                        try stream.pipeline.syncOperations.addHandler(streamCodec(version))
                    }.flatMap {
                        configurator(stream)
                    }
                }
            }.flatMap {
                spdyConnectionConfigurator?(channel) ?? channel.eventLoop.makeSucceededVoidFuture()
            }
        } http1ConnectionInitializer: { channel in
            channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                try sync.addHardenedHTTP1ServerHandlers(configuration)
                if let codec = http1Codec(secure) { try sync.addHandler(codec) }
            }.flatMap {
                configurator(channel)
            }
        }
    }
}
