import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSPDY

/// What every exchange of a proxy shares.
final class ProxyShared: Sendable {
    let configuration: SPDYProxyConfiguration

    init(configuration: SPDYProxyConfiguration) {
        self.configuration = configuration
    }
}

/// A reverse proxy that terminates SPDY (and HTTP/1.1) and forwards every request to HTTP/1.1
/// backends: the reference project's `shrpx`, in front of an unchanged nginx, Rails or Vapor
/// application.
///
/// The front is a `SPDYServer` (TLS with ALPN, or NPN on the OpenSSL backend, or
/// plain TCP; SPDY/2, SPDY/3, SPDY/3.1 and HTTP/1.1 on one port) whose streams and HTTP/1.1
/// connections each forward their requests. Behind it:
/// - Backends are taken in turn; one that refuses a connection is skipped for a while.
///   Keep-alive connections are pooled per event loop and reused.
/// - Bodies stream both ways with backpressure: the proxy holds one read batch per exchange
///   and direction, whatever the size of the upload or download.
/// - The backend request gets `x-forwarded-for`, `x-forwarded-proto` and `via`; hop-by-hop
///   headers are dropped both ways.
/// - A backend that refuses or fails before answering gives 502, one that does not answer in
///   time 504, no free connection 503; one that fails mid-response resets the stream (SPDY)
///   or closes the connection (HTTP/1.1). A client that resets its stream closes the backend
///   request.
///
/// ```swift
/// let proxy = try SPDYReverseProxy(
///     server: .init(port: 8443, transport: .tls(try .selfSigned(), versions: SPDYVersion.negotiationPreference)),
///     proxy: .init(backends: [.init(host: "127.0.0.1", port: 8080)])
/// )
/// try proxy.start()
/// ```
public final class SPDYReverseProxy: Sendable {
    /// The front server.
    public let server: SPDYServer
    /// The proxy's settings.
    public let configuration: SPDYProxyConfiguration
    private let group: any EventLoopGroup
    private let ownsGroup: Bool
    private let pools: [ObjectIdentifier: BackendPool]

    /// Creates a proxy; call ``start()`` to listen.
    ///
    /// - Parameters:
    ///   - server: the front's settings: port, transport, limits. Its body limits
    ///     (`maxRequestBodySize`, `maxBufferedRequestBytes`) do not apply: bodies stream.
    ///   - proxy: backends, timeouts, pooling and the access log.
    ///   - group: the event loops; by default the proxy makes one per core
    ///     (`server.threads`).
    ///   - logger: the server's logger.
    public init(
        server: SPDYServer.Configuration,
        proxy: SPDYProxyConfiguration,
        group: (any EventLoopGroup)? = nil,
        logger: Logger = Logger(label: "swift-spdy.proxy")
    ) throws {
        guard !proxy.backends.isEmpty else { throw SPDYProxyError.noBackends }
        self.configuration = proxy
        if let group {
            self.group = group
            self.ownsGroup = false
        } else {
            self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, server.threads))
            self.ownsGroup = true
        }
        let balancer = BackendBalancer(backends: proxy.backends, retryDelay: proxy.backendRetryDelay)
        var pools: [ObjectIdentifier: BackendPool] = [:]
        for loop in self.group.makeIterator() {
            pools[ObjectIdentifier(loop)] = BackendPool(eventLoop: loop, configuration: proxy, balancer: balancer)
        }
        self.pools = pools
        let shared = ProxyShared(configuration: proxy)
        self.server = try SPDYServer(configuration: server, group: self.group, logger: logger) {
            [pools] channel, context in
            guard let pool = pools[ObjectIdentifier(channel.eventLoop)] else {
                throw SPDYProxyError.foreignEventLoop
            }
            try channel.pipeline.syncOperations.addHandler(
                ProxyExchangeHandler(shared: shared, pool: pool, context: context))
        }
    }

    /// Starts listening (see `SPDYServer.start()`).
    public func start() throws {
        try server.start()
    }

    /// The addresses the proxy listens on.
    public var localAddresses: [SocketAddress] { server.localAddresses }

    /// The port the proxy listens on.
    public var port: Int? { server.port }

    /// Idle backend connections across the event loops (for tests and metrics).
    public func idleBackendConnections() async -> Int {
        var total = 0
        for pool in pools.values {
            total += (try? await pool.eventLoop.submit { pool.idleCount }.get()) ?? 0
        }
        return total
    }

    /// Stops accepting connections, sends GOAWAY on every SPDY connection, lets exchanges in
    /// flight finish for up to `timeout`, then closes the idle backend connections and, if the
    /// proxy made its event loops, shuts them down.
    public func shutdownGracefully(timeout: TimeAmount = .seconds(30)) async throws {
        try await server.shutdownGracefully(timeout: timeout)
        for pool in pools.values {
            try? await pool.eventLoop.submit { pool.close() }.get()
        }
        if ownsGroup {
            try await group.shutdownGracefully()
        }
    }
}

/// Why a ``SPDYReverseProxy`` cannot be made.
public enum SPDYProxyError: Error, Hashable, Sendable {
    /// The configuration names no backend.
    case noBackends
    /// A channel ran on an event loop outside the proxy's group.
    case foreignEventLoop
}
