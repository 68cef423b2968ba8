import NIOCore
import NIOPosix
import NIOSSL

/// Where a Kubernetes client connects, and how: an API server (or a kubelet) over plain
/// TCP or TLS, with a bearer token or a client certificate.
public struct KubernetesEndpoint: Sendable {
    /// The server's name or address.
    public var host: String
    /// Its port.
    public var port: Int
    /// TLS settings (trust roots; `certificateChain` and `privateKey` for a client
    /// certificate); `nil` for plain TCP. ALPN offers `http/1.1` alone.
    public var tls: TLSConfiguration?
    /// The name checked against the server's certificate, if not `host`.
    public var serverHostname: String?
    /// Sent as `Authorization: Bearer …`.
    public var bearerToken: String?
    /// The `User-Agent` header.
    public var userAgent: String
    /// The event loop group.
    public var group: any EventLoopGroup
    /// The time allowed to connect, for the upgrade's answer, and for each stream's reply.
    public var timeout: TimeAmount

    /// Creates an endpoint.
    public init(
        host: String,
        port: Int,
        tls: TLSConfiguration? = nil,
        serverHostname: String? = nil,
        bearerToken: String? = nil,
        userAgent: String = "swift-spdy",
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        timeout: TimeAmount = .seconds(30)
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.serverHostname = serverHostname
        self.bearerToken = bearerToken
        self.userAgent = userAgent
        self.group = group
        self.timeout = timeout
    }
}
