import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import NIOSPDY
import NIOSSL
import SPDY
import Vapor

/// A Vapor `Server` that serves the application over SPDY/3.1, SPDY/3 and SPDY/2 and over
/// HTTP/1.1 on the same port, with the same routes and middleware as Vapor's own
/// `HTTPServer`.
///
/// Install it in place of Vapor's server:
///
/// ```swift
/// app.servers.use(.spdy(.init(address: .hostname("0.0.0.0", port: 8443),
///                             security: .tls(try .pem(certificatePath: "cert.pem", keyPath: "key.pem")))))
/// ```
///
/// With TLS, the protocol is chosen by ALPN (`spdy/3.1`, `spdy/3`, `spdy/2`, `http/1.1`);
/// over plain TCP, by the connection's first bytes. Each SPDY stream and each HTTP/1.1
/// request becomes one Vapor `Request` for the application's responder.
///
/// Vapor's public API lets a server hand the responder only a complete request body and
/// read only a complete response body, so both are buffered:
/// - a request body is collected before the route runs, up to
///   ``Configuration-swift.struct/maxBodySize`` (by default the application's
///   `routes.defaultMaxBodySize`); a larger one is answered 413 Payload Too Large. Routes
///   declared with `body: .stream` get the collected body through the same API
///   (`req.body.drain`, `req.body.collect`).
/// - a streaming response body (`Response.Body(stream:)`, `asyncStream:`,
///   `managedAsyncStream:`) is run to its end and sent whole, with a `content-length`.
///   A stream that never ends (server-sent events) is never answered.
///
/// WebSocket upgrades are not available (a route that answers 101 Switching Protocols is
/// answered 501 Not Implemented instead), nor are the response compression, request
/// decompression and pipelining settings of Vapor's `HTTPServer.Configuration`.
public final class VaporSPDYServer: Vapor.Server, Sendable {
    /// Settings of a ``VaporSPDYServer``.
    public struct Configuration: Sendable {
        /// How connections are secured, and so how each picks its protocol.
        public struct Security: Sendable {
            enum Kind: Sendable {
                case tls(TLSConfiguration)
                case plaintext(spdy3Version: SPDYVersion)
            }

            let kind: Kind

            /// TLS with `identity`; ALPN offers `versions` (most preferred first), then
            /// `http/1.1`. It accepts TLS `minimumTLSVersion` and later, with the cipher
            /// suites described at ``NIOSPDY/SPDYTLS``.
            public static func tls(
                _ identity: SPDYTLS.Identity,
                versions: [SPDYVersion] = SPDYVersion.negotiationPreference,
                minimumTLSVersion: TLSVersion = .tlsv12
            ) -> Self {
                Self(
                    kind: .tls(
                        SPDYTLS.serverConfiguration(
                            identity: identity,
                            versions: versions,
                            minimumTLSVersion: minimumTLSVersion,
                            offeringHTTP1: true
                        )))
            }

            /// TLS with a configuration of one's own (certificates, client authentication,
            /// TLS versions); its ALPN list is replaced by `versions`, then `http/1.1`.
            public static func tls(
                _ configuration: TLSConfiguration,
                versions: [SPDYVersion] = SPDYVersion.negotiationPreference
            ) -> Self {
                var configuration = configuration
                configuration.applicationProtocols = SPDYTLS.protocolNames(versions, offeringHTTP1: true)
                return Self(kind: .tls(configuration))
            }

            /// Plain TCP: a connection whose first bytes are a SPDY control frame speaks SPDY,
            /// any other HTTP/1.1. SPDY/3 and SPDY/3.1 look the same on the wire, so the server
            /// speaks `spdy3Version` to both; SPDY/2 is told apart.
            public static func plaintext(spdy3Version: SPDYVersion) -> Self {
                Self(kind: .plaintext(spdy3Version: spdy3Version))
            }

            /// Plain TCP with SPDY/3.1 (and SPDY/2) next to HTTP/1.1; see
            /// ``plaintext(spdy3Version:)``.
            public static var plaintext: Self { .plaintext(spdy3Version: .v3_1) }
        }

        /// The default host, as for Vapor's `HTTPServer`.
        public static let defaultHostname = "127.0.0.1"
        /// The default port, as for Vapor's `HTTPServer`.
        public static let defaultPort = 8080

        /// Where to listen, unless `serve --hostname/--port/--bind/--unix-socket` says
        /// otherwise. Port 0 picks a free port (see ``VaporSPDYServer/localAddress``).
        public var address: BindAddress
        /// TLS or plain TCP.
        public var security: Security
        /// The largest request body collected for a route; larger ones get 413. `nil` uses
        /// the application's `routes.defaultMaxBodySize` (16 KiB unless changed), read for
        /// each request.
        public var maxBodySize: ByteCount?
        /// A `server` header added to every response; `nil` adds none.
        public var serverName: String?
        /// How long ``VaporSPDYServer/shutdown()`` lets requests in flight finish before it
        /// returns and the rest are cut off.
        public var shutdownTimeout: TimeAmount
        /// Limits and timeouts of the connections, SPDY and HTTP/1.1: session settings,
        /// MAX_CONCURRENT_STREAMS, negotiation, idle, frame-completion, write and
        /// request-head timeouts, the HTTP/1.1 head-size limit.
        public var connections: SPDYServerPipelineConfiguration
        /// The logger of the server's own messages.
        public var logger: Logger

        /// Creates a configuration.
        public init(
            address: BindAddress = .hostname(Self.defaultHostname, port: Self.defaultPort),
            security: Security = .plaintext,
            maxBodySize: ByteCount? = nil,
            serverName: String? = nil,
            shutdownTimeout: TimeAmount = .seconds(10),
            connections: SPDYServerPipelineConfiguration = .init(),
            logger: Logger = Logger(label: "swift-spdy.vapor")
        ) {
            self.address = address
            self.security = security
            self.maxBodySize = maxBodySize
            self.serverName = serverName
            self.shutdownTimeout = shutdownTimeout
            self.connections = connections
            self.logger = logger
        }
    }

    private struct Running: Sendable {
        let channel: any Channel
        let quiesce: ServerQuiescingHelper
        let connections: ConnectionSet
    }

    /// The settings the server was made with.
    public let configuration: Configuration
    private let application: Application
    private let group: any EventLoopGroup
    private let running = NIOLockedValueBox<Running?>(nil)
    /// The listening socket's close future, which outlives ``shutdown()``.
    private let listenerClosed = NIOLockedValueBox<EventLoopFuture<Void>?>(nil)

    /// Creates a server for `application`; it listens once started (`app.startup()`, the
    /// `serve` command or ``start(address:)``).
    public init(application: Application, configuration: Configuration) {
        self.application = application
        self.configuration = configuration
        self.group = application.eventLoopGroup
    }

    /// Completes when the listening socket has closed; only valid once started.
    public var onShutdown: EventLoopFuture<Void> {
        guard let closed = listenerClosed.withLockedValue({ $0 }) else {
            fatalError("VaporSPDYServer has not started yet")
        }
        return closed
    }

    /// The address the server listens on, once started.
    public var localAddress: SocketAddress? {
        running.withLockedValue { $0 }?.channel.localAddress
    }

    /// Starts listening at `address` (or the configured address), blocking the thread.
    @available(*, noasync, message: "Use the async start(address:) instead.")
    public func start(address: BindAddress?) throws {
        try bind(address: address).wait()
    }

    /// Starts listening at `address` (or the configured address).
    public func start(address: BindAddress?) async throws {
        try await bind(address: address).get()
    }

    /// Stops accepting connections, lets requests in flight finish (SPDY connections get
    /// GOAWAY, idle HTTP/1.1 connections close), and returns when all connections have
    /// closed or after ``Configuration-swift.struct/shutdownTimeout``. Blocks the thread.
    @available(*, noasync, message: "Use the async shutdown() instead.")
    public func shutdown() {
        guard let future = beginShutdown() else { return }
        try? future.wait()
    }

    /// Stops accepting connections, lets requests in flight finish (SPDY connections get
    /// GOAWAY, idle HTTP/1.1 connections close), and returns when all connections have
    /// closed or after ``Configuration-swift.struct/shutdownTimeout``.
    public func shutdown() async {
        guard let future = beginShutdown() else { return }
        try? await future.get()
    }

    private struct ShutdownTimedOut: Error {}

    private func beginShutdown() -> EventLoopFuture<Void>? {
        // Taken out at once, so that a second call finds nothing to do and the server can
        // be started again, as Vapor's own can.
        guard
            let running = running.withLockedValue({ running in
                defer { running = nil }
                return running
            })
        else {
            return nil
        }
        let eventLoop = running.channel.eventLoop
        let promise = eventLoop.makePromise(of: Void.self)
        let timeout = eventLoop.scheduleTask(in: configuration.shutdownTimeout) {
            promise.fail(ShutdownTimedOut())
        }
        running.quiesce.initiateShutdown(promise: promise)
        let logger = configuration.logger
        return promise.futureResult.flatMapError { _ in
            let open = running.connections.all
            logger.warning(
                "closing connections still open after the shutdown timeout", metadata: ["count": "\(open.count)"])
            let closed = open.map { $0.close().recover { _ in } }
            return EventLoopFuture.andAllComplete(closed, on: eventLoop)
        }.always { _ in
            timeout.cancel()
        }
    }

    private func bind(address: BindAddress?) -> EventLoopFuture<Void> {
        let configuration = self.configuration
        let address = Self.resolve(address, configured: configuration.address)
        let context = VaporResponderHandler.Context(
            application: application,
            responder: application.responder.current,
            maxBodySize: configuration.maxBodySize?.value,
            serverName: configuration.serverName,
            logger: configuration.logger
        )
        let quiesce = ServerQuiescingHelper(group: group)
        let connections = ConnectionSet()
        let initializer: ConnectionInitializer
        do {
            initializer = try ConnectionInitializer(configuration: configuration, context: context)
        } catch {
            return group.next().makeFailedFuture(error)
        }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // Over plain TCP, a client that shuts down its sending side after its request
            // still gets the answer: the SPDY connection and the HTTP/1.1 connection guard
            // close once it is out. Not over TLS: there swift-nio-ssl, told of the client's
            // close_notify as a half-closure, then holds the connection's close for its
            // shutdown timeout (5 seconds), and a TLS client ends with close_notify anyway.
            .childChannelOption(.allowRemoteHalfClosure, value: initializer.isPlaintext)
            .childChannelInitializer { channel in
                connections.insert(channel)
                return initializer.initialize(channel)
            }
        let bound: EventLoopFuture<any Channel>
        switch address {
        case .hostname(let host, let port):
            bound = bootstrap.bind(host: host ?? Configuration.defaultHostname, port: port ?? Configuration.defaultPort)
        case .unixDomainSocket(let path):
            bound = bootstrap.bind(unixDomainSocketPath: path)
        }
        let running = self.running
        let listenerClosed = self.listenerClosed
        let logger = configuration.logger
        return bound.flatMapThrowing { channel in
            try running.withLockedValue { running in
                guard running == nil else {
                    channel.close(promise: nil)
                    throw VaporSPDYServerError.alreadyStarted
                }
                running = Running(channel: channel, quiesce: quiesce, connections: connections)
            }
            listenerClosed.withLockedValue { $0 = channel.closeFuture }
            logger.notice("Server started on \(channel.localAddress.map { "\($0)" } ?? "?")")
        }.flatMapErrorThrowing { error in
            quiesce.initiateShutdown(promise: nil)
            throw error
        }
    }

    /// `address` with what it leaves out taken from the configured address, as Vapor's
    /// `HTTPServer` does for `serve --hostname` or `--port` alone.
    static func resolve(_ address: BindAddress?, configured: BindAddress) -> BindAddress {
        switch (address, configured) {
        case (.none, _):
            return configured
        case (.hostname(let host, let port), .hostname(let configuredHost, let configuredPort)):
            return .hostname(host ?? configuredHost, port: port ?? configuredPort)
        case (.some(let address), _):
            return address
        }
    }
}

/// The accepted connections still open, for closing what a graceful shutdown left.
final class ConnectionSet: Sendable {
    private let channels = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])

    /// Adds `channel` until it closes.
    func insert(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLockedValue { $0[id] = channel }
        channel.closeFuture.whenComplete { [channels] _ in
            _ = channels.withLockedValue { $0.removeValue(forKey: id) }
        }
    }

    /// The connections open now.
    var all: [any Channel] {
        channels.withLockedValue { Array($0.values) }
    }
}

/// Errors of ``VaporSPDYServer``.
public enum VaporSPDYServerError: Error, Sendable, Hashable {
    /// ``VaporSPDYServer/start(address:)`` was called on a running server.
    case alreadyStarted
}

/// Sets up each accepted connection: TLS when configured, then the negotiation between SPDY
/// and HTTP/1.1, and a ``VaporResponderHandler`` on every HTTP/1.1 connection and every SPDY
/// stream.
struct ConnectionInitializer: Sendable {
    let configuration: VaporSPDYServer.Configuration
    let context: VaporResponderHandler.Context
    let sslContext: NIOSSLContext?

    init(configuration: VaporSPDYServer.Configuration, context: VaporResponderHandler.Context) throws {
        self.configuration = configuration
        self.context = context
        switch configuration.security.kind {
        case .tls(let tls):
            sslContext = try NIOSSLContext(configuration: tls)
        case .plaintext:
            sslContext = nil
        }
    }

    /// Whether connections are plain TCP.
    var isPlaintext: Bool { sslContext == nil }

    func initialize(_ channel: any Channel) -> EventLoopFuture<Void> {
        let negotiation: SPDYServerNegotiation
        switch configuration.security.kind {
        case .tls:
            negotiation = .alpn
        case .plaintext(let spdy3Version):
            negotiation = .firstBytes(spdy3Version: spdy3Version)
        }
        let context = self.context
        let sslContext = self.sslContext
        return channel.eventLoop.makeCompletedFuture {
            if let sslContext {
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
            }
        }.flatMap {
            channel.configureCommonSPDYServerPipeline(negotiation, configuration: configuration.connections) {
                channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(VaporResponderHandler(context: context))
                }
            }
        }
    }
}

extension Application.Servers.Provider {
    /// Vapor's server replaced by a ``VaporSPDYServer`` with the settings of
    /// `app.spdy.configuration`.
    public static var spdy: Self {
        .init { $0.servers.use { $0.spdy.server } }
    }

    /// Vapor's server replaced by a ``VaporSPDYServer`` with `configuration`.
    public static func spdy(_ configuration: VaporSPDYServer.Configuration) -> Self {
        .init { application in
            application.spdy.configuration = configuration
            application.servers.use { $0.spdy.server }
        }
    }
}

extension Application {
    /// The SPDY server of the application: its configuration and the one server instance.
    public var spdy: SPDYServerAccess { .init(application: self) }

    /// Access to the application's ``VaporSPDYServer``, as `app.http.server` is to Vapor's.
    public struct SPDYServerAccess: Sendable {
        let application: Application

        private struct ServerKey: StorageKey {
            typealias Value = VaporSPDYServer
        }

        private struct ConfigurationKey: StorageKey {
            typealias Value = VaporSPDYServer.Configuration
        }

        /// The server, made on first use with ``configuration``.
        public var server: VaporSPDYServer {
            if let existing = application.storage[ServerKey.self] {
                return existing
            }
            let server = VaporSPDYServer(application: application, configuration: configuration)
            application.storage[ServerKey.self] = server
            return server
        }

        /// The settings the server is made with; changes after it was made have no effect.
        public var configuration: VaporSPDYServer.Configuration {
            get {
                application.storage[ConfigurationKey.self] ?? .init(logger: application.logger)
            }
            nonmutating set {
                application.storage[ConfigurationKey.self] = newValue
            }
        }
    }
}
