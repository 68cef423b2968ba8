import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import NIOSPDY
import NIOSSL
import SPDY

/// A Hummingbird server child channel that serves the application's responder over SPDY
/// (3.1, 3 and 2) and HTTP/1.1 on one port.
///
/// Each connection is negotiated first: over TLS by ALPN, over plain TCP by its first bytes
/// (a SPDY control frame or an HTTP/1.1 request line). An HTTP/1.1 connection is served by
/// Hummingbird's own `HTTP1Channel`, as with `.http1()`. On a SPDY connection every stream
/// becomes an `NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>` through
/// `SPDYToHTTPServerCodec` and is answered by the same responder, so routes do not know
/// which protocol a request came by.
///
/// Usually made by `HTTPServerBuilder.spdy(tlsConfiguration:configuration:)`,
/// `HTTPServerBuilder.spdy(identity:minimumTLSVersion:configuration:)` or
/// `HTTPServerBuilder.plaintextSPDY(configuration:)`:
///
/// ```swift
/// let app = Application(router: router, server: try .spdy(identity: .selfSigned()))
/// ```
///
/// A graceful shutdown (the `ChannelShouldQuiesceEvent` of Hummingbird's server) sends
/// GOAWAY on SPDY connections: streams already opened are answered, then the connection
/// closes. HTTP/1.1 connections close after the response in progress. TLS connections do not
/// allow remote half-closure (a client's close_notify closes the connection), so that a stop
/// does not wait out swift-nio-ssl's shutdown timeout; plain-TCP ones keep Hummingbird's
/// setting.
public struct SPDYChannel: HTTPChannelHandler {
    /// The settings of the channel.
    public typealias Configuration = SPDYChannelConfiguration

    /// What a connection turned out to speak.
    typealias Negotiated = SPDYNegotiatedServerChannel<
        HTTP1Channel.Value, SPDYAsyncStreamMultiplexer<HTTP1Channel.Value>
    >

    /// A connection being set up: the outcome of its negotiation, once known.
    public struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<Negotiated>
        /// The connection's channel.
        public let channel: any Channel
    }

    /// How a connection's protocol is chosen.
    enum Transport: Sendable {
        case tls(NIOSSLContext)
        case plaintext
    }

    /// The settings of the channel.
    public let configuration: Configuration
    /// The responder that answers every request, whichever protocol carried it.
    public let responder: Responder
    private let transport: Transport
    private let http1: HTTP1Channel

    /// A channel for TLS connections: ALPN offers
    /// ``SPDYChannelConfiguration/applicationProtocols`` (these replace the
    /// `applicationProtocols` of `tlsConfiguration`).
    /// - Parameters:
    ///   - tlsConfiguration: the server's TLS settings (certificate, key, versions, ciphers).
    ///   - configuration: protocols, limits and timeouts.
    ///   - responder: answers the requests.
    public init(
        tlsConfiguration: TLSConfiguration,
        configuration: Configuration = .init(),
        responder: @escaping Responder
    ) throws {
        self.init(
            transport: .tls(try Self.makeSSLContext(tlsConfiguration, configuration: configuration)),
            configuration: configuration,
            responder: responder
        )
    }

    /// The TLS context of `tlsConfiguration` with ALPN offering what `configuration` accepts.
    static func makeSSLContext(_ tlsConfiguration: TLSConfiguration, configuration: Configuration) throws
        -> NIOSSLContext
    {
        var tlsConfiguration = tlsConfiguration
        tlsConfiguration.applicationProtocols = configuration.applicationProtocols
        return try NIOSSLContext(configuration: tlsConfiguration)
    }

    /// A channel for plain-TCP connections, which are told apart by their first bytes.
    /// - Parameters:
    ///   - configuration: protocols, limits and timeouts.
    ///   - responder: answers the requests.
    public init(plaintextConfiguration configuration: Configuration = .init(), responder: @escaping Responder) {
        self.init(transport: .plaintext, configuration: configuration, responder: responder)
    }

    init(transport: Transport, configuration: Configuration, responder: @escaping Responder) {
        self.transport = transport
        self.configuration = configuration
        self.responder = responder
        self.http1 = HTTP1Channel(responder: responder, configuration: configuration.streamConfiguration)
    }

    /// Sets up a new connection: TLS when configured, then the negotiation that chooses
    /// between SPDY and HTTP/1.1 (NIOSPDY's `configureAsyncSPDYServerNegotiation`).
    /// - Parameters:
    ///   - channel: the connection.
    ///   - logger: the server's logger.
    /// - Returns: the connection, whose negotiation completes later.
    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let negotiation: SPDYServerNegotiation
            switch transport {
            case .tls(let context):
                // Hummingbird allows remote half-closure on every connection. With TLS that
                // leaves swift-nio-ssl waiting out its whole shutdown timeout (5 seconds)
                // when both sides close at once, as a graceful stop, a client's GOAWAY, the
                // end of an HTTP/1.1 keep-alive connection or a refused negotiation often make
                // them do. Clients end TLS connections with close_notify and do not read on.
                try channel.syncOptions?.setOption(ChannelOptions.allowRemoteHalfClosure, value: false)
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                negotiation = .alpn
            case .plaintext:
                negotiation = .firstBytes(spdy3Version: configuration.plaintextSPDY3Version)
            }
            let negotiated = try channel.pipeline.syncOperations.configureAsyncSPDYServerNegotiation(
                negotiation,
                timeout: TimeAmount(configuration.negotiationTimeout)
            ) { channel, version -> EventLoopFuture<SPDYAsyncStreamMultiplexer<HTTP1Channel.Value>> in
                guard configuration.versions.contains(version) else {
                    logger.debug(
                        "closing a connection that speaks a SPDY version not offered",
                        metadata: ["spdy.version": "\(version)"])
                    return channel.close().flatMap {
                        channel.eventLoop.makeFailedFuture(
                            SPDYServerNegotiationError.unsupportedProtocol(version.protocolName))
                    }
                }
                return configureSPDY(channel: channel, version: version, logger: logger)
            } http1ConnectionInitializer: { channel -> EventLoopFuture<HTTP1Channel.Value> in
                guard configuration.acceptsHTTP1 else {
                    logger.debug("closing an HTTP/1.1 connection: HTTP/1.1 is not accepted")
                    return channel.close().flatMap {
                        channel.eventLoop.makeFailedFuture(
                            SPDYServerNegotiationError.unsupportedProtocol(SPDYTLS.http1ProtocolName))
                    }
                }
                return http1.setup(channel: channel, logger: logger)
            }
            return Value(negotiated: negotiated, channel: channel)
        }
    }

    /// Adds the SPDY session for `version` to a negotiated connection.
    func configureSPDY(
        channel: any Channel,
        version: SPDYVersion,
        logger: Logger
    ) -> EventLoopFuture<SPDYAsyncStreamMultiplexer<HTTP1Channel.Value>> {
        channel.eventLoop.makeCompletedFuture {
            if let idleTimeout = configuration.idleTimeout {
                try channel.pipeline.syncOperations.addHandler(
                    SPDYIdleConnectionHandler(timeout: TimeAmount(idleTimeout)))
            }
            let multiplexer = try channel.pipeline.syncOperations.configureAsyncSPDYPipeline(
                role: .server,
                version: version,
                configuration: configuration.session,
                streamConfiguration: configuration.streams,
                initialSettings: [.init(id: .maxConcurrentStreams, value: configuration.maxConcurrentStreams)]
            ) { stream in
                setupStream(stream, version: version, logger: logger)
            }
            let connection = try channel.pipeline.syncOperations.handler(type: SPDYConnection.self)
            connection.frameCompletionTimeout = configuration.frameCompletionTimeout.map { TimeAmount($0) }
            connection.writeTimeout = configuration.writeTimeout.map { TimeAmount($0) }
            return multiplexer
        }
    }

    /// Sets up one SPDY stream as an HTTP channel, as Hummingbird sets up an HTTP/2 stream.
    func setupStream(_ stream: any Channel, version: SPDYVersion, logger: Logger) -> EventLoopFuture<HTTP1Channel.Value>
    {
        stream.eventLoop.makeCompletedFuture {
            let streamConfiguration = configuration.streamConfiguration
            try stream.pipeline.syncOperations.addHandler(SPDYToHTTPServerCodec(version: version))
            try stream.pipeline.syncOperations.addHandlers(streamConfiguration.additionalChannelHandlers())
            try stream.pipeline.syncOperations.addHandler(
                HTTPConnectionStateHandler(
                    idleTimeout: streamConfiguration.idleTimeout.map { Duration($0) }, logger: logger)
            )
            return try HTTP1Channel.Value(wrappingChannelSynchronously: stream)
        }
    }

    /// Serves a connection once negotiated: HTTP/1.1 as Hummingbird does, SPDY by answering
    /// each stream the client opens, concurrently, until the connection closes.
    /// - Parameters:
    ///   - value: the connection.
    ///   - logger: the server's logger.
    public func handle(value: Value, logger: Logger) async {
        let negotiated: Negotiated
        do {
            negotiated = try await value.negotiated.get()
        } catch {
            logger.debug("SPDY/HTTP negotiation failed", metadata: ["error": "\(error)"])
            return
        }
        switch negotiated {
        case .http1(let http1Channel):
            await http1.handle(value: http1Channel, logger: logger)
        case .spdy(let version, let multiplexer):
            let connection = value.channel
            let logger = {
                var logger = logger
                logger[metadataKey: "spdy.version"] = "\(version)"
                return logger
            }()
            await withTaskCancellationHandler {
                await withDiscardingTaskGroup { group in
                    do {
                        for try await stream in multiplexer.inbound {
                            group.addTask {
                                await handleHTTP(asyncChannel: stream, logger: logger)
                            }
                        }
                    } catch {
                        logger.debug("SPDY connection closed with an error", metadata: ["error": "\(error)"])
                    }
                }
            } onCancel: {
                connection.close(promise: nil)
            }
        }
    }
}
