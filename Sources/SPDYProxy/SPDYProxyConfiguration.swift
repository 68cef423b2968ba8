import NIOCore

/// What a ``SPDYReverseProxy`` forwards to and how long it waits.
public struct SPDYProxyConfiguration: Sendable {
    /// An HTTP/1.1 backend: a host name or address and a port.
    public struct Backend: Sendable, Hashable, CustomStringConvertible {
        /// The host name or address connected to.
        public var host: String
        /// The port.
        public var port: Int

        /// Creates a backend address.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `HOST,PORT`, as spdyproxy's `-b` takes it.
        public init?(argument: String) {
            guard let comma = argument.lastIndex(of: ","),
                let port = Int(argument[argument.index(after: comma)...]), (1...65535).contains(port)
            else { return nil }
            var host = String(argument[..<comma])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { return nil }
            self.init(host: host, port: port)
        }

        /// `host:port` (`[host]:port` for an IPv6 address), as the access log shows it.
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The backends, taken in turn (round-robin); one that refuses connections is skipped for
    /// ``backendRetryDelay``.
    public var backends: [Backend]
    /// How long a TCP connection to a backend may take; then the next backend is tried, and a
    /// request no backend took in time is answered 504. Default 5 seconds.
    public var connectTimeout: TimeAmount
    /// How long an exchange may go without a byte moving either way (the backend computing
    /// its answer, a stalled upload or download): then it is ended, with 504 Gateway Timeout
    /// if the response has not started, else by resetting the stream (SPDY) or closing the
    /// connection (HTTP/1.1). Default 60 seconds.
    public var timeout: TimeAmount
    /// How long a backend that refused a connection is skipped. Default 2 seconds.
    public var backendRetryDelay: TimeAmount
    /// Idle keep-alive connections kept per backend on each event loop; more are closed.
    /// Keep it near the requests an event loop has in flight at once: a lower cap closes
    /// connections that a moment later have to be opened again (each close also leaves a
    /// TIME_WAIT socket on the proxy). Default 1024, as ``maxConnectionsPerEventLoop``.
    public var maxIdleConnectionsPerBackend: Int
    /// Connections to the backends open at once on each event loop, busy and idle together.
    /// A request that finds them all busy waits for one to come free (up to ``connectTimeout``,
    /// then 503). Default 1024.
    public var maxConnectionsPerEventLoop: Int
    /// How long an idle keep-alive connection is kept before it is closed; shorter than the
    /// backends' own keep-alive timeouts (nginx: 75 s) so the proxy closes first. Default
    /// 30 seconds.
    public var idleConnectionTimeout: TimeAmount
    /// The name in `via` headers (`via: 1.1 NAME`, `via: SPDY/3.1 NAME`). Default `spdyproxy`.
    public var viaName: String
    /// Called once per finished exchange, on the event loop that served it.
    public var accessLog: (@Sendable (SPDYProxyAccessLogEntry) -> Void)?

    /// Creates a configuration.
    public init(
        backends: [Backend],
        connectTimeout: TimeAmount = .seconds(5),
        timeout: TimeAmount = .seconds(60),
        backendRetryDelay: TimeAmount = .seconds(2),
        maxIdleConnectionsPerBackend: Int = 1024,
        maxConnectionsPerEventLoop: Int = 1024,
        idleConnectionTimeout: TimeAmount = .seconds(30),
        viaName: String = "spdyproxy",
        accessLog: (@Sendable (SPDYProxyAccessLogEntry) -> Void)? = nil
    ) {
        self.backends = backends
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.backendRetryDelay = backendRetryDelay
        self.maxIdleConnectionsPerBackend = maxIdleConnectionsPerBackend
        self.maxConnectionsPerEventLoop = maxConnectionsPerEventLoop
        self.idleConnectionTimeout = idleConnectionTimeout
        self.viaName = viaName
        self.accessLog = accessLog
    }
}
