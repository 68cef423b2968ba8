import HTTPTypes
import NIOCore
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import SPDY

/// What `configureAsyncSPDYHTTPServerPipeline` gives for each connection: an HTTP/1.1
/// connection as one `NIOAsyncChannel` carrying its requests one after another, or a SPDY
/// connection whose multiplexer yields one `NIOAsyncChannel` per stream; both read
/// `HTTPRequestPart` and write `HTTPResponsePart` (swift-http-types).
public typealias SPDYNegotiatedHTTPServerChannel = SPDYNegotiatedServerChannel<
    NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>,
    SPDYAsyncStreamMultiplexer<NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>>
>

extension Channel {
    /// Configures this server channel to speak SPDY or HTTP/1.1, whichever the client picks,
    /// with swift-http-types' messages on both sides, for async code.
    ///
    /// As `configureAsyncSPDYServerPipeline` (same hardening, from `configuration`), with the
    /// codecs added: an HTTP/1.1 connection gets NIOHTTPTypesHTTP1's `HTTP1ToHTTPServerCodec`
    /// before `http1ConnectionInitializer`, each SPDY stream a ``SPDYToHTTPServerCodec`` before
    /// `streamInitializer`; so both channels read `HTTPRequestPart` and write `HTTPResponsePart`.
    ///
    /// - Parameters:
    ///   - negotiation: ALPN after a TLS handler already in the pipeline, or the first bytes
    ///     on plain TCP.
    ///   - configuration: limits and timeouts of both sides.
    ///   - http1ConnectionInitializer: finishes an HTTP/1.1 connection's pipeline.
    ///   - streamInitializer: finishes each SPDY stream's pipeline.
    /// - Returns: a future that completes when the channel is ready to negotiate, holding the
    ///   future of the outcome.
    public func configureAsyncSPDYHTTPServerPipeline<HTTP1Output: Sendable, StreamOutput: Sendable>(
        _ negotiation: SPDYServerNegotiation,
        configuration: SPDYServerPipelineConfiguration = .init(),
        http1ConnectionInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<HTTP1Output>,
        streamInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<StreamOutput>
    ) -> EventLoopFuture<
        EventLoopFuture<SPDYNegotiatedServerChannel<HTTP1Output, SPDYAsyncStreamMultiplexer<StreamOutput>>>
    > {
        let secure = negotiation == .alpn
        return configureAsyncSPDYServerNegotiation(negotiation, timeout: configuration.negotiationTimeout) {
            channel, version in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHardenedAsyncSPDYServerPipeline(
                    version: version, configuration: configuration
                ) { stream in
                    stream.eventLoop.makeCompletedFuture {
                        try stream.pipeline.syncOperations.addHandler(SPDYToHTTPServerCodec(version: version))
                    }.flatMap {
                        streamInitializer(stream)
                    }
                }
            }
        } http1ConnectionInitializer: { channel in
            channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                try sync.addHardenedHTTP1ServerHandlers(configuration)
                try sync.addHandler(HTTP1ToHTTPServerCodec(secure: secure))
            }.flatMap {
                http1ConnectionInitializer(channel)
            }
        }
    }

    /// Configures this server channel to speak SPDY or HTTP/1.1, whichever the client picks,
    /// with every HTTP/1.1 connection and every SPDY stream as an
    /// `NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>` (swift-http-types).
    ///
    /// ```swift
    /// let server = try await ServerBootstrap(group: group).bind(host: "::", port: 8080) { channel in
    ///     channel.configureAsyncSPDYHTTPServerPipeline(.firstBytes())
    /// }
    /// try await withThrowingDiscardingTaskGroup { group in
    ///     try await server.executeThenClose { connections in
    ///         for try await negotiated in connections {
    ///             group.addTask {
    ///                 switch try await negotiated.get() {
    ///                 case .http1(let connection): try await serve(connection)  // requests in turn
    ///                 case .spdy(_, let multiplexer):
    ///                     try await withThrowingDiscardingTaskGroup { streams in
    ///                         for try await stream in multiplexer.inbound {
    ///                             streams.addTask { try await serve(stream) }  // one request
    ///                         }
    ///                     }
    ///                 }
    ///             }
    ///         }
    ///     }
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - negotiation: ALPN after a TLS handler already in the pipeline, or the first bytes
    ///     on plain TCP.
    ///   - configuration: limits and timeouts of both sides.
    ///   - asyncChannelConfiguration: the async channels' backpressure and half-closure
    ///     settings.
    /// - Returns: a future that completes when the channel is ready to negotiate, holding the
    ///   future of the outcome.
    public func configureAsyncSPDYHTTPServerPipeline(
        _ negotiation: SPDYServerNegotiation,
        configuration: SPDYServerPipelineConfiguration = .init(),
        asyncChannelConfiguration: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>.Configuration = .init()
    ) -> EventLoopFuture<EventLoopFuture<SPDYNegotiatedHTTPServerChannel>> {
        @Sendable func wrap(_ channel: any Channel) -> EventLoopFuture<
            NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>
        > {
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: asyncChannelConfiguration)
            }
        }
        return configureAsyncSPDYHTTPServerPipeline(
            negotiation,
            configuration: configuration,
            http1ConnectionInitializer: wrap,
            streamInitializer: wrap
        )
    }

    /// Configures this server channel so that one configurator serves HTTP/1.1 connections and
    /// SPDY streams alike with swift-http-types' messages: as `configureCommonSPDYServerPipeline`,
    /// with NIOHTTPTypesHTTP1's `HTTP1ToHTTPServerCodec` on HTTP/1.1 and a
    /// ``SPDYToHTTPServerCodec`` in each stream, so every channel `configurator` sees reads
    /// `HTTPRequestPart` and writes `HTTPResponsePart`.
    ///
    /// - Parameters:
    ///   - negotiation: ALPN after a TLS handler already in the pipeline, or the first bytes
    ///     on plain TCP.
    ///   - configuration: limits and timeouts of both sides.
    ///   - spdyConnectionConfigurator: called once for a SPDY connection's own channel.
    ///   - configurator: adds the application's handlers to an HTTP/1.1 connection's channel
    ///     and to each SPDY stream's channel.
    /// - Returns: a future that completes when the channel is ready to negotiate.
    public func configureCommonSPDYHTTPServerPipeline(
        _ negotiation: SPDYServerNegotiation,
        configuration: SPDYServerPipelineConfiguration = .init(),
        spdyConnectionConfigurator: (@Sendable (any Channel) -> EventLoopFuture<Void>)? = nil,
        _ configurator: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<Void> {
        configureCommonServerPipeline(
            negotiation,
            configuration: configuration,
            spdyConnectionConfigurator: spdyConnectionConfigurator,
            http1Codec: { HTTP1ToHTTPServerCodec(secure: $0) },
            streamCodec: { SPDYToHTTPServerCodec(version: $0) },
            configurator: configurator
        )
    }
}
