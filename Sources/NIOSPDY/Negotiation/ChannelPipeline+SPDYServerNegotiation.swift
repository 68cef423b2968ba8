import NIOCore
import NIOTLS
import SPDY

extension ChannelPipeline.SynchronousOperations {
    /// Configures a server connection to speak SPDY or HTTP/1.1, whichever the client picks,
    /// with typed results: swift-nio-http2's `configureHTTP2AsyncSecureUpgrade` for SPDY, with
    /// plain-TCP detection besides ALPN. Call it on the channel's event loop.
    ///
    /// With ``SPDYServerNegotiation/alpn`` it adds NIO's `NIOTypedApplicationProtocolNegotiationHandler`
    /// after the TLS handler that must already be in the pipeline (offering `http/1.1` after the
    /// SPDY versions); with ``SPDYServerNegotiation/firstBytes(spdy3Version:)`` a
    /// ``SPDYFirstBytesNegotiationHandler``. Either runs one of the initializers once the
    /// protocol is known, passes on the bytes that arrived meanwhile and leaves the pipeline.
    ///
    /// - Parameters:
    ///   - negotiation: ALPN after TLS, or the first bytes on plain TCP.
    ///   - timeout: how long the TLS handshake, or the client's first two bytes, may take; the
    ///     connection is then closed and the result fails with
    ///     ``SPDYServerNegotiationError/timedOut``. `nil` waits forever. Default 10 seconds.
    ///   - spdyConnectionInitializer: sets up a SPDY connection of the version negotiated
    ///     (usually with `configureAsyncSPDYPipeline` or a ``SPDYConnection``).
    ///   - http1ConnectionInitializer: sets up an HTTP/1.1 connection (usually with NIOHTTP1's
    ///     `configureHTTPServerPipeline`). ALPN gives HTTP/1.1 for `http/1.1` and for no
    ///     protocol at all; any other protocol closes the connection.
    /// - Returns: the outcome, once the chosen initializer has finished.
    public func configureAsyncSPDYServerNegotiation<HTTP1Output: Sendable, SPDYOutput: Sendable>(
        _ negotiation: SPDYServerNegotiation,
        timeout: TimeAmount? = .seconds(10),
        spdyConnectionInitializer: @escaping @Sendable (any Channel, SPDYVersion) -> EventLoopFuture<SPDYOutput>,
        http1ConnectionInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<HTTP1Output>
    ) throws -> EventLoopFuture<SPDYNegotiatedServerChannel<HTTP1Output, SPDYOutput>> {
        typealias Outcome = SPDYNegotiatedServerChannel<HTTP1Output, SPDYOutput>
        @Sendable func configure(_ selection: SPDYNegotiation.Selection, _ channel: any Channel) -> EventLoopFuture<
            Outcome
        > {
            switch selection {
            case .spdy(let version):
                return spdyConnectionInitializer(channel, version).map { .spdy(version, $0) }
            case .http11:
                return http1ConnectionInitializer(channel).map { .http1($0) }
            }
        }
        switch negotiation {
        case .firstBytes(let spdy3Version):
            let handler = SPDYFirstBytesNegotiationHandler<Outcome>(
                spdy3Version: spdy3Version, timeout: timeout, completionHandler: configure)
            try addHandler(handler)
            return handler.protocolNegotiationResult
        case .alpn:
            let handler = NIOTypedApplicationProtocolNegotiationHandler<Outcome> { result, channel in
                switch result {
                case .negotiated(let name):
                    if let version = SPDYVersion(protocolName: name) {
                        return configure(.spdy(version), channel)
                    }
                    if name == SPDYTLS.http1ProtocolName {
                        return configure(.http11, channel)
                    }
                    return channel.close().flatMapThrowing {
                        throw SPDYServerNegotiationError.unsupportedProtocol(name)
                    }
                case .fallback:
                    return configure(.http11, channel)
                }
            }
            try addHandler(handler)
            let result = handler.protocolNegotiationResult
            guard let timeout else { return result }
            let channel = try context(handler: handler).channel
            let timedOut = NIOLoopBound(Box(false), eventLoop: eventLoop)
            let timer = eventLoop.scheduleTask(in: timeout) {
                timedOut.value.value = true
                channel.close(promise: nil)
            }
            result.whenComplete { _ in timer.cancel() }
            return result.flatMapErrorThrowing { error in
                throw timedOut.value.value ? SPDYServerNegotiationError.timedOut : error
            }
        }
    }
}

/// A mutable value shared by closures on one event loop.
private final class Box<Value> {
    var value: Value

    init(_ value: Value) {
        self.value = value
    }
}

extension Channel {
    /// Configures this server channel to speak SPDY or HTTP/1.1, whichever the client picks
    /// (see `ChannelPipeline.SynchronousOperations.configureAsyncSPDYServerNegotiation`), in
    /// the manner of swift-nio-http2's `configureHTTP2SecureUpgrade`.
    ///
    /// ```swift
    /// ServerBootstrap(group: group).childChannelInitializer { channel in
    ///     channel.configureSPDYServerNegotiation(.firstBytes()) { channel, version in
    ///         channel.eventLoop.makeCompletedFuture {
    ///             try channel.pipeline.syncOperations.addHandler(SPDYConnection(…))
    ///         }
    ///     } http1ConnectionInitializer: { channel in
    ///         channel.pipeline.configureHTTPServerPipeline().flatMap { … }
    ///     }
    /// }
    /// ```
    ///
    /// - Returns: a future that completes when the channel is ready to negotiate.
    public func configureSPDYServerNegotiation(
        _ negotiation: SPDYServerNegotiation,
        timeout: TimeAmount? = .seconds(10),
        spdyConnectionInitializer: @escaping @Sendable (any Channel, SPDYVersion) -> EventLoopFuture<Void>,
        http1ConnectionInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<Void> {
        configureAsyncSPDYServerNegotiation(
            negotiation,
            timeout: timeout,
            spdyConnectionInitializer: spdyConnectionInitializer,
            http1ConnectionInitializer: http1ConnectionInitializer
        ).map { _ in }
    }

    /// Configures this server channel to speak SPDY or HTTP/1.1, whichever the client picks,
    /// with typed results, for NIO's async bootstraps (see
    /// `ChannelPipeline.SynchronousOperations.configureAsyncSPDYServerNegotiation`).
    ///
    /// - Returns: a future that completes when the channel is ready to negotiate, holding
    ///   the future of the outcome.
    public func configureAsyncSPDYServerNegotiation<HTTP1Output: Sendable, SPDYOutput: Sendable>(
        _ negotiation: SPDYServerNegotiation,
        timeout: TimeAmount? = .seconds(10),
        spdyConnectionInitializer: @escaping @Sendable (any Channel, SPDYVersion) -> EventLoopFuture<SPDYOutput>,
        http1ConnectionInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<HTTP1Output>
    ) -> EventLoopFuture<EventLoopFuture<SPDYNegotiatedServerChannel<HTTP1Output, SPDYOutput>>> {
        let configure: @Sendable () throws -> EventLoopFuture<SPDYNegotiatedServerChannel<HTTP1Output, SPDYOutput>> = {
            try self.pipeline.syncOperations.configureAsyncSPDYServerNegotiation(
                negotiation,
                timeout: timeout,
                spdyConnectionInitializer: spdyConnectionInitializer,
                http1ConnectionInitializer: http1ConnectionInitializer
            )
        }
        if eventLoop.inEventLoop {
            return eventLoop.makeCompletedFuture(withResultOf: configure)
        }
        return eventLoop.submit(configure)
    }
}
