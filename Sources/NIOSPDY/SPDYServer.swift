import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import SPDY

/// A SPDY server: the reference's `ThreadedSPDYServer`.
///
/// It listens on IPv4 and IPv6, runs connections on every core (a
/// multi-threaded event loop group), negotiates `spdy/3.1`, `spdy/3` or
/// `spdy/2` by TLS ALPN, or speaks one configured version over plain TCP, and
/// hands each complete request to a new instance of a ``SPDYRequestHandler``
/// subclass.
///
/// It serves HTTP/1.1 on the same port too (unless
/// ``Configuration-swift.struct/servesHTTP1`` is off): TLS clients that negotiate `http/1.1`,
/// or nothing, and plain-TCP clients whose first bytes are not a SPDY control frame get the
/// same handlers, one request after another on a keep-alive connection.
public final class SPDYServer: @unchecked Sendable {
    /// How connections are secured.
    public enum Transport: Sendable {
        /// TLS on swift-nio-ssl with ALPN offering `versions` (most preferred first),
        /// accepting TLS `minimumTLSVersion` and later (default 1.2; lower it only for
        /// clients that know nothing newer, see ``SPDYTLS``).
        case tls(SPDYTLS.Identity, versions: [SPDYVersion], minimumTLSVersion: TLSVersion = .tlsv12)
        /// TLS by another implementation, such as the system OpenSSL offering NPN next to
        /// ALPN for SPDY-era clients (`NIOSPDYOpenSSL`'s `.openSSL(identity, versions:)`).
        case custom(any SPDYTLS.ServerProvider)
        /// Plain TCP speaking one SPDY version (no negotiation). When the server serves
        /// HTTP/1.1 too, the client's first bytes tell a SPDY control frame from an HTTP/1.1
        /// request (SPDY/3 and SPDY/3.1 cannot be told apart on the wire: a client speaks
        /// this version or none).
        case plain(SPDYVersion)
    }

    /// Settings of a server.
    public struct Configuration: Sendable {
        /// The address to listen on; `nil` listens on every IPv6 and IPv4 address.
        public var host: String?
        /// The port; 0 picks a free one (see ``SPDYServer/port``).
        public var port: Int
        /// TLS or plain TCP.
        public var transport: Transport
        /// MAX_CONCURRENT_STREAMS announced to every client in the first SETTINGS. Default 100.
        public var maxConcurrentStreams: UInt32
        /// Connections served at once; more are closed on arrival. Default 10 000.
        public var maxConnections: Int
        /// A connection with no traffic for this long is sent GOAWAY and closed. Default 5 minutes.
        public var idleTimeout: TimeAmount?
        /// A TLS handshake (with ALPN) must finish within this time, and on plain TCP serving
        /// HTTP/1.1 too, the client's first two bytes must arrive within it. Default 10 seconds.
        public var handshakeTimeout: TimeAmount
        /// TLS handshakes in progress at once; past it the server stops accepting until some
        /// finish, and new connections wait in the kernel's listen backlog (their handshake
        /// timer not yet started). A burst of thousands of clients then costs time, not
        /// failures: without a bound they all shared the CPU, and most missed
        /// ``handshakeTimeout``. Default 128.
        public var maxConcurrentHandshakes: Int = 128
        /// A frame a client has started must be complete within this time, else the
        /// connection gets GOAWAY PROTOCOL_ERROR and is closed (a control frame, header
        /// block or DATA frame dribbled a byte at a time keeps the idle timer alive, not
        /// this one). `nil` waits forever. Default 30 seconds. See
        /// ``SPDYConnection/frameCompletionTimeout``.
        public var frameCompletionTimeout: TimeAmount?
        /// A connection whose client does not read what we send for this long (the channel
        /// stays unwritable, or a close waits for written bytes) is closed at once. `nil`
        /// waits forever. Default 60 seconds. See ``SPDYConnection/writeTimeout``.
        public var writeTimeout: TimeAmount?
        /// Finds a client that went silent (a link that went down) while its streams are
        /// open: a PING after ``SPDYKeepAlive/interval`` without a byte received, the
        /// connection closed if nothing arrives within ``SPDYKeepAlive/timeout``. `nil` (the
        /// default) relies on the idle and write timeouts. See ``SPDYConnection/keepAlive``.
        public var keepAlive: SPDYKeepAlive?
        /// The largest request body buffered for a handler; larger requests get 413 and
        /// the rest is refused with RST_STREAM CANCEL. Default 16 MiB.
        public var maxRequestBodySize: Int
        /// What the request bodies being collected on one connection may hold together;
        /// past it only the oldest request still collecting reads on (up to
        /// ``maxRequestBodySize``), the others stop granting window until it finishes.
        /// Default 4 MiB.
        public var maxBufferedRequestBytes: Int
        /// Watermarks and caps of the stream channels: what a stream may buffer each way.
        public var streams: SPDYConnection.StreamConfiguration
        /// Session options and limits.
        public var session: SPDYSession.Configuration
        /// Event loop threads when the server creates its own group. Default: one per core.
        public var threads: Int
        /// Called with every frame event of every connection, numbered from 1 in the order
        /// they were accepted (spdyd's `-v`). It runs on the connection's event loop.
        public var frameObserver: (@Sendable (_ connection: Int, _ event: SPDYFrameEvent) -> Void)?
        /// Whether the port serves HTTP/1.1 too, with the same handlers: TLS offers `http/1.1`
        /// after the SPDY versions by ALPN (and NPN, on the OpenSSL backend) and serves clients
        /// that negotiate it or nothing; plain TCP tells SPDY from HTTP/1.1 by the client's
        /// first bytes. Request handlers see the protocol in
        /// ``SPDYRequestHandler/negotiatedProtocol``. Off, the server speaks SPDY only and
        /// closes other connections. Default on.
        public var servesHTTP1: Bool
        /// The HTTP/1.1 side's limits: the largest request head, and how long a connection may
        /// wait for one. The idle and write timeouts and the body limits above apply too.
        public var http1: SPDYServerPipelineConfiguration.HTTP1
        /// Where the connections' counters go (``SPDYMetrics`` with role `server`), TLS
        /// handshake failures included; `nil` (the default) counts nothing. spdyd's
        /// `--metrics-port` sets one on a Prometheus registry.
        public var metrics: SPDYMetrics?

        /// Creates a configuration.
        public init(
            host: String? = nil,
            port: Int,
            transport: Transport,
            maxConcurrentStreams: UInt32 = 100,
            maxConnections: Int = 10_000,
            idleTimeout: TimeAmount? = .minutes(5),
            handshakeTimeout: TimeAmount = .seconds(10),
            frameCompletionTimeout: TimeAmount? = .seconds(30),
            writeTimeout: TimeAmount? = .seconds(60),
            maxRequestBodySize: Int = 16 << 20,
            maxBufferedRequestBytes: Int = 4 << 20,
            streams: SPDYConnection.StreamConfiguration = .init(),
            session: SPDYSession.Configuration = .init(),
            threads: Int = System.coreCount,
            frameObserver: (@Sendable (_ connection: Int, _ event: SPDYFrameEvent) -> Void)? = nil,
            servesHTTP1: Bool = true,
            http1: SPDYServerPipelineConfiguration.HTTP1 = .init()
        ) {
            self.frameObserver = frameObserver
            self.servesHTTP1 = servesHTTP1
            self.http1 = http1
            self.host = host
            self.port = port
            self.transport = transport
            self.maxConcurrentStreams = maxConcurrentStreams
            self.maxConnections = maxConnections
            self.idleTimeout = idleTimeout
            self.handshakeTimeout = handshakeTimeout
            self.frameCompletionTimeout = frameCompletionTimeout
            self.writeTimeout = writeTimeout
            self.maxRequestBodySize = maxRequestBodySize
            self.maxBufferedRequestBytes = maxBufferedRequestBytes
            self.streams = streams
            self.session = session
            self.threads = threads
        }

        /// The settings the pipeline helpers share with the server.
        var pipelineConfiguration: SPDYServerPipelineConfiguration {
            var configuration = SPDYServerPipelineConfiguration(
                session: session,
                streams: streams,
                maxConcurrentStreams: maxConcurrentStreams,
                negotiationTimeout: handshakeTimeout,
                idleTimeout: idleTimeout,
                frameCompletionTimeout: frameCompletionTimeout,
                writeTimeout: writeTimeout,
                http1: http1,
                metrics: metrics
            )
            configuration.keepAlive = keepAlive
            return configuration
        }
    }

    /// The configuration.
    public let configuration: Configuration
    /// The request handler class.
    public let handlerType: SPDYRequestHandler.Type
    /// The async responder, for a server created with one.
    public let responder: (@Sendable (SPDYServerRequest) async throws -> SPDYServerResponse)?
    /// The channel initializer, for a server created with one (``init(configuration:group:logger:httpChannelInitializer:)``).
    private let httpChannelInitializer: (@Sendable (any Channel, HTTPChannelContext) throws -> Void)?
    /// The event loops serving connections.
    public let group: any EventLoopGroup
    /// Logs connection-level events. It may be changed from any thread, also while serving.
    public var logger: Logger {
        get { loggerBox.withLockedValue { $0 } }
        set { loggerBox.withLockedValue { $0 = newValue } }
    }
    private let loggerBox: NIOLockedValueBox<Logger>

    private let ownsGroup: Bool
    private let sslContext: NIOSSLContext?
    /// Holds accepting while ``Configuration-swift.struct/maxConcurrentHandshakes`` TLS
    /// handshakes are in progress.
    private let handshakeGate: HandshakeGate
    private let customTLS: (any SPDYTLS.ServerContext)?
    private let state = NIOLockedValueBox(State())

    /// An open connection, SPDY or HTTP/1.1, as a shutdown sees it.
    private struct Connection {
        let channel: any Channel
        /// Starts a graceful close; call it on the channel's event loop.
        let shutdownGracefully: @Sendable () -> Void
        /// Closes at once; call it on the channel's event loop.
        let close: @Sendable () -> Void
    }

    private struct State {
        var channels: [any Channel] = []
        var connections: [ObjectIdentifier: Connection] = [:]
        var shuttingDown = false
        var stopped = false
        var stopWaiters: [CheckedContinuation<Void, Never>] = []
        var accepted = 0
    }

    /// Creates a server; call ``start()`` to listen.
    public convenience init(
        configuration: Configuration,
        handler: SPDYRequestHandler.Type,
        group: (any EventLoopGroup)? = nil,
        logger: Logger = Logger(label: "swift-spdy.server")
    ) throws {
        try self.init(configuration: configuration, handlerType: handler, responder: nil, group: group, logger: logger)
    }

    /// What an HTTP channel initializer learns about the channel it sets up.
    public struct HTTPChannelContext: Sendable, Hashable {
        /// The protocol the client speaks on the connection: `.spdy(version)` for a SPDY
        /// stream, `.http11` for an HTTP/1.1 connection.
        public var negotiatedProtocol: SPDYNegotiation.Selection
        /// Whether the connection is TLS.
        public var isSecure: Bool
    }

    /// Creates a server that hands every SPDY stream and every HTTP/1.1 connection to NIOHTTP1
    /// handlers of the caller's; call ``start()`` to listen.
    ///
    /// `httpChannelInitializer` runs on the channel's event loop with a channel that reads
    /// `HTTPServerRequestPart` and writes `HTTPServerResponsePart`: a SPDY stream (carrying one
    /// request, through a ``SPDYToHTTP1ServerCodec``) or an HTTP/1.1 connection (carrying its
    /// requests one after another, behind NIOHTTP1's server pipeline). It adds the handlers
    /// synchronously; a throw closes the stream or connection. The handlers read request
    /// bodies as they choose, with backpressure both ways (hold `read()` and the peer's window
    /// or TCP window stops), so ``Configuration-swift.struct/maxRequestBodySize`` and
    /// ``Configuration-swift.struct/maxBufferedRequestBytes`` do not apply; every other limit
    /// does. ``handlerType`` is ``SPDYRequestHandler`` itself and unused.
    public convenience init(
        configuration: Configuration,
        group: (any EventLoopGroup)? = nil,
        logger: Logger = Logger(label: "swift-spdy.server"),
        httpChannelInitializer: @escaping @Sendable (any Channel, HTTPChannelContext) throws -> Void
    ) throws {
        try self.init(
            configuration: configuration,
            handlerType: SPDYRequestHandler.self,
            responder: nil,
            httpChannelInitializer: httpChannelInitializer,
            group: group,
            logger: logger
        )
    }

    /// Creates a server that answers every request with an async responder; call ``start()``
    /// to listen.
    ///
    /// ```swift
    /// let server = try SPDYServer(configuration: .init(port: 8443, transport: .plain(.v3_1))) { request in
    ///     .text("hello \(request.path)\n")
    /// }
    /// ```
    public convenience init(
        configuration: Configuration,
        group: (any EventLoopGroup)? = nil,
        logger: Logger = Logger(label: "swift-spdy.server"),
        responder: @escaping @Sendable (SPDYServerRequest) async throws -> SPDYServerResponse
    ) throws {
        try self.init(
            configuration: configuration,
            handlerType: AsyncResponderHandler.self,
            responder: responder,
            group: group,
            logger: logger
        )
    }

    private init(
        configuration: Configuration,
        handlerType: SPDYRequestHandler.Type,
        responder: (@Sendable (SPDYServerRequest) async throws -> SPDYServerResponse)?,
        httpChannelInitializer: (@Sendable (any Channel, HTTPChannelContext) throws -> Void)? = nil,
        group: (any EventLoopGroup)?,
        logger: Logger
    ) throws {
        self.configuration = configuration
        self.handlerType = handlerType
        self.responder = responder
        self.httpChannelInitializer = httpChannelInitializer
        self.loggerBox = NIOLockedValueBox(logger)
        self.handshakeGate = HandshakeGate(limit: configuration.maxConcurrentHandshakes)
        if let group {
            self.group = group
            self.ownsGroup = false
        } else {
            self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
            self.ownsGroup = true
        }
        switch configuration.transport {
        case .tls(let identity, let versions, let minimumTLSVersion):
            sslContext = try NIOSSLContext(
                configuration: SPDYTLS.serverConfiguration(
                    identity: identity, versions: versions, minimumTLSVersion: minimumTLSVersion,
                    offeringHTTP1: configuration.servesHTTP1))
            customTLS = nil
        case .custom(let provider):
            sslContext = nil
            customTLS = try provider.makeServerContext(offeringHTTP1: configuration.servesHTTP1)
        case .plain:
            sslContext = nil
            customTLS = nil
        }
    }

    /// The addresses the server listens on.
    public var localAddresses: [SocketAddress] {
        state.withLockedValue { $0.channels.compactMap(\.localAddress) }
    }

    /// The port the server listens on.
    public var port: Int? { localAddresses.first?.port }

    /// The number of open connections.
    public var connectionCount: Int { state.withLockedValue { $0.connections.count } }

    /// Starts listening: on `host` if one is configured, else on `::` (and `0.0.0.0`
    /// where IPv6 is not dual-stack or not available).
    public func start() throws {
        let bootstrap = ServerBootstrap(group: group)
            // Deep enough for a burst to wait while the handshake gate holds accepting (the
            // kernel caps it at net.core.somaxconn).
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // A client that shuts down its sending side after its requests still gets the
            // answers (SPDYConnection handles the input closing).
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .serverChannelInitializer { [handshakeGate] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(handshakeGate.acceptHandler())
                }
            }
            .childChannelInitializer { [self] channel in
                self.initializeChild(channel)
            }
        var channels: [any Channel] = []
        if let host = configuration.host {
            channels.append(try bootstrap.bind(host: host, port: configuration.port).wait())
        } else {
            do {
                let v6 = try bootstrap.bind(host: "::", port: configuration.port).wait()
                channels.append(v6)
                // Linux binds :: dual-stack by default; try 0.0.0.0 too where it is not.
                if let port = v6.localAddress?.port,
                    let v4 = try? bootstrap.bind(host: "0.0.0.0", port: port).wait()
                {
                    channels.append(v4)
                }
            } catch {
                channels.append(try bootstrap.bind(host: "0.0.0.0", port: configuration.port).wait())
            }
        }
        state.withLockedValue { $0.channels = channels }
        for channel in channels {
            logger.info("listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        }
    }

    private func initializeChild(_ channel: any Channel) -> EventLoopFuture<Void> {
        let admitted = state.withLockedValue { state -> Bool in
            !state.shuttingDown && state.connections.count < configuration.maxConnections
        }
        guard admitted else {
            return channel.close()
        }
        switch configuration.transport {
        case .plain(let version) where configuration.servesHTTP1:
            // The configured version whatever the bytes said: a client of another SPDY version
            // meets the session's refusal, as without detection.
            let detector = SPDYFirstBytesNegotiationHandler<Void>(
                spdy3Version: version == .v2 ? .v3_1 : version,
                timeout: configuration.handshakeTimeout
            ) { [self] selection, channel in
                channel.eventLoop.makeCompletedFuture {
                    switch selection {
                    case .spdy: try self.addSPDYHandlers(to: channel, version: version)
                    case .http11: try self.addHTTP1Handlers(to: channel, secure: false)
                    }
                }
            }
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(detector)
            }
        case .plain(let version):
            return channel.eventLoop.makeCompletedFuture {
                try self.addSPDYHandlers(to: channel, version: version)
            }
        case .tls, .custom:
            let negotiated = NIOLockedValueBox(false)
            let metrics = configuration.metrics
            let handshakeEnded = handshakeGate.started()
            let timeout = channel.eventLoop.scheduleTask(in: configuration.handshakeTimeout) {
                if !negotiated.withLockedValue({ $0 }) {
                    // A handshake that never finished failed as much as one refused.
                    metrics?.recordTLSHandshakeFailure()
                    channel.close(promise: nil)
                }
            }
            channel.closeFuture.whenComplete { _ in
                timeout.cancel()
                handshakeEnded()
            }
            let servesHTTP1 = configuration.servesHTTP1
            let alpn = ApplicationProtocolNegotiationHandler { [self] result, channel in
                negotiated.withLockedValue { $0 = true }
                timeout.cancel()
                handshakeEnded()
                switch result {
                case .negotiated(let name):
                    if let version = SPDYVersion(protocolName: name) {
                        return channel.eventLoop.makeCompletedFuture {
                            try self.addSPDYHandlers(to: channel, version: version)
                        }
                    }
                    if servesHTTP1 && name == SPDYTLS.http1ProtocolName {
                        return channel.eventLoop.makeCompletedFuture {
                            try self.addHTTP1Handlers(to: channel, secure: true)
                        }
                    }
                case .fallback where servesHTTP1:
                    // No ALPN (an NPN-only or older client): HTTP/1.1 is what it can speak.
                    return channel.eventLoop.makeCompletedFuture {
                        try self.addHTTP1Handlers(to: channel, secure: true)
                    }
                case .fallback:
                    break
                }
                self.logger.debug(
                    "closing a connection that did not negotiate SPDY", metadata: ["alpn": "\(result)"])
                return channel.close()
            }
            return channel.eventLoop.makeCompletedFuture {
                if let customTLS {
                    try customTLS.addHandlers(to: channel)
                } else if let sslContext {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                }
                if let metrics {
                    try channel.pipeline.syncOperations.addHandler(TLSHandshakeFailureCounter(metrics: metrics))
                }
                try channel.pipeline.syncOperations.addHandler(alpn)
            }
        }
    }

    private func addSPDYHandlers(to channel: any Channel, version: SPDYVersion) throws {
        var sessionConfiguration = configuration.session
        // Window is granted as stream channels read what arrived, not as it arrives.
        sessionConfiguration.manualDataConsumption = true
        let session = try SPDYSession(
            role: .server, version: version, configuration: sessionConfiguration, clock: .eventLoop(channel.eventLoop))
        let inbound: SPDYConnection.StreamSetUp
        if let httpChannelInitializer {
            let context = HTTPChannelContext(negotiatedProtocol: .spdy(version), isSecure: isSecure)
            inbound = .synchronous(autoRead: true) { stream in
                try stream.pipeline.syncOperations.addHandler(SPDYToHTTP1ServerCodec(version: version))
                try httpChannelInitializer(stream, context)
            }
        } else {
            let budget = RequestBodyBudget(limit: configuration.maxBufferedRequestBytes)
            inbound = .synchronous(autoRead: false) { [self] stream in
                try stream.pipeline.syncOperations.addHandler(
                    SPDYRequestStreamHandler(server: self, version: version, budget: budget))
            }
        }
        let connection = SPDYConnection(
            session: session,
            streamConfiguration: configuration.streams,
            inbound: inbound,
            push: nil
        )
        connection.frameCompletionTimeout = configuration.frameCompletionTimeout
        connection.writeTimeout = configuration.writeTimeout
        connection.keepAlive = configuration.keepAlive
        connection.metrics = configuration.metrics
        let maxStreams = configuration.maxConcurrentStreams
        connection.addObserver { event in
            if case .active = event {
                try? session.submitSettings(entries: [.init(id: .maxConcurrentStreams, value: maxStreams)])
            }
        }
        if let observer = configuration.frameObserver {
            let number = state.withLockedValue { state in
                state.accepted += 1
                return state.accepted
            }
            connection.addObserver { event in
                if case .frame(let frame) = event { observer(number, frame) }
            }
        }
        let bound = NIOLoopBound(connection, eventLoop: channel.eventLoop)
        register(
            Connection(
                channel: channel,
                shutdownGracefully: { bound.value.shutdownGracefully() },
                close: { bound.value.close() }
            ))
        if let idle = configuration.idleTimeout {
            try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: idle))
        }
        try channel.pipeline.syncOperations.addHandler(connection)
    }

    /// An HTTP/1.1 connection: NIOHTTP1's server handlers with the configured limits, then the
    /// adapter that runs the same request handlers as SPDY streams do.
    private func addHTTP1Handlers(to channel: any Channel, secure: Bool) throws {
        let sync = channel.pipeline.syncOperations
        try sync.addHardenedHTTP1ServerHandlers(configuration.pipelineConfiguration)
        if let httpChannelInitializer {
            try httpChannelInitializer(channel, HTTPChannelContext(negotiatedProtocol: .http11, isSecure: secure))
        } else {
            try sync.addHandler(
                HTTP1ExchangeAdapter(secure: secure, maxRequestBodySize: configuration.maxRequestBodySize))
            try sync.addHandler(
                SPDYRequestStreamHandler(
                    http1Server: self, budget: RequestBodyBudget(limit: configuration.maxBufferedRequestBytes)))
        }
        register(
            Connection(
                channel: channel,
                // NIOHTTP1's pipelining handler closes at once when idle, else after the
                // answer in flight (with `connection: close`).
                shutdownGracefully: { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) },
                close: { channel.close(promise: nil) }
            ))
    }

    /// Whether connections are TLS.
    private var isSecure: Bool {
        if case .plain = configuration.transport { return false }
        return true
    }

    private func register(_ connection: Connection) {
        let id = ObjectIdentifier(connection.channel)
        state.withLockedValue { $0.connections[id] = connection }
        connection.channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLockedValue { $0.connections.removeValue(forKey: id) }
        }
    }

    /// Stops accepting connections, sends GOAWAY on every connection, lets requests in
    /// flight finish, and completes when every connection has closed (or after `timeout`,
    /// when the rest are closed). A group the server created is shut down too.
    public func shutdownGracefully(timeout: TimeAmount = .seconds(30)) async throws {
        let (first, channels, connections) = state.withLockedValue { state in
            let first = !state.shuttingDown
            state.shuttingDown = true
            return (first, state.channels, Array(state.connections.values))
        }
        guard first else {
            // A shutdown is under way already: wait for it.
            await waitUntilStopped()
            return
        }
        for channel in channels {
            try? await channel.close()
        }
        for connection in connections {
            connection.channel.eventLoop.execute { connection.shutdownGracefully() }
            // Whatever is still open at the deadline is closed.
            connection.channel.eventLoop.scheduleTask(in: timeout) { connection.close() }
        }
        for connection in connections {
            try? await connection.channel.closeFuture.get()
        }
        let waiters = state.withLockedValue { state in
            state.stopped = true
            defer { state.stopWaiters = [] }
            return state.stopWaiters
        }
        for waiter in waiters { waiter.resume() }
        if ownsGroup {
            try await group.shutdownGracefully()
        }
    }

    /// Returns once a shutdown has finished: the listening sockets and every connection are
    /// closed.
    public func waitUntilStopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let stopped = state.withLockedValue { state in
                if !state.stopped { state.stopWaiters.append(continuation) }
                return state.stopped
            }
            if stopped { continuation.resume() }
        }
    }

    /// Whether ``start()`` has bound the listening sockets.
    var isListening: Bool { state.withLockedValue { !$0.channels.isEmpty } }

    /// Blocks until the listening sockets close.
    public func wait() throws {
        let channels = state.withLockedValue { $0.channels }
        for channel in channels {
            try channel.closeFuture.wait()
        }
    }
}
