import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SPDY

/// Opens a connection and upgrades it from HTTP/1.1 to SPDY/3.1, as `kubectl` reaches the
/// Kubernetes API server: plain TCP, or TLS whose ALPN offers `http/1.1` alone (HTTP/2 has
/// no Upgrade, so a server that could pick `h2` must not be given the choice).
public enum SPDYUpgradeClient {
    /// Connects to `host`:`port`, sends `request` as an upgrade offering `streamProtocols`,
    /// and once the server answered 101, runs `upgrade` on the event loop to install the SPDY
    /// handlers; returns what it returned and the server's answer.
    ///
    /// - Parameters:
    ///   - host: the server's name or address.
    ///   - port: its port.
    ///   - tls: TLS settings (trust roots, a client certificate and key for client-certificate
    ///     authentication); `nil` for plain TCP. Its ALPN list is replaced by `http/1.1`.
    ///   - serverHostname: the name checked against the server's certificate and sent as SNI;
    ///     by default `host`, unless it is an IP address.
    ///   - request: the request head: method (Kubernetes uses POST), URI with query, `Host`,
    ///     and credentials such as `Authorization: Bearer …`. `Host` is added when missing.
    ///   - streamProtocols: the stream protocols offered, most preferred first.
    ///   - requiresStreamProtocol: whether the 101 must name one of them.
    ///   - group: the event loop group.
    ///   - timeout: the time allowed to connect, and then for the answer.
    ///   - upgrade: installs the SPDY handlers on the channel.
    /// - Throws: ``SPDYUpgradeError``, a connection or TLS error, or what `upgrade` threw.
    public static func connect<Output: Sendable>(
        host: String,
        port: Int,
        tls: TLSConfiguration? = nil,
        serverHostname: String? = nil,
        request: HTTPRequestHead,
        streamProtocols: [String],
        requiresStreamProtocol: Bool = true,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        timeout: TimeAmount = .seconds(30),
        upgrade: @escaping @Sendable (any Channel, SPDYUpgradeResponse) throws -> Output
    ) async throws -> (output: Output, response: SPDYUpgradeResponse) {
        var request = request
        if !request.headers.contains(name: "Host") {
            request.headers.add(name: "Host", value: port == (tls == nil ? 80 : 443) ? host : "\(host):\(port)")
        }
        let sslContext = try tls.map { tls in
            var tls = tls
            tls.applicationProtocols = SPDYNegotiation.protocolNames(for: [], offeringHTTP1: true)
            return try NIOSSLContext(configuration: tls)
        }
        let hostname = serverHostname ?? (isIPAddress(host) ? nil : host)
        let head = request
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: sslContext, serverHostname: hostname))
                    }
                }
            }
            .connect(host: host, port: port).get()
        let outcome = try await channel.eventLoop.flatSubmit {
            let box = NIOLoopBoundBox<Output?>(nil, eventLoop: channel.eventLoop)
            do {
                return try channel.pipeline.syncOperations.configureSPDYUpgradeClient(
                    request: head,
                    streamProtocols: streamProtocols,
                    requiresStreamProtocol: requiresStreamProtocol,
                    timeout: timeout
                ) { channel, response in
                    box.value = try upgrade(channel, response)
                }.map { response in (box.value!, response) }
            } catch {
                channel.close(promise: nil)
                return channel.eventLoop.makeFailedFuture(error)
            }
        }.get()
        return (outcome.0, outcome.1)
    }

    private static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}
