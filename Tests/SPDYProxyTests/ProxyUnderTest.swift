// The proxy under test and a request through it: what ProxyTests and ProxyHostilePeerTests share.

import NIOConcurrencyHelpers
import NIOCore
import NIOSPDY
import SPDY
import SPDYProxy

/// An in-process ``SPDYReverseProxy`` on 127.0.0.1 (plain TCP, one version, HTTP/1.1 too)
/// recording its access log.
struct ProxyUnderTest {
    let proxy: SPDYReverseProxy
    let log: NIOLockedValueBox<[SPDYProxyAccessLogEntry]>
    let version: SPDYVersion

    var port: Int { proxy.port! }

    init(
        backends: [Int],
        version: SPDYVersion = .v3_1,
        threads: Int = 1,
        _ tweak: (inout SPDYProxyConfiguration) -> Void = { _ in },
        server serverTweak: (inout SPDYServer.Configuration) -> Void = { _ in }
    ) throws {
        let log = NIOLockedValueBox<[SPDYProxyAccessLogEntry]>([])
        var configuration = SPDYProxyConfiguration(
            backends: backends.map { .init(host: "127.0.0.1", port: $0) },
            accessLog: { entry in log.withLockedValue { $0.append(entry) } }
        )
        tweak(&configuration)
        var server = SPDYServer.Configuration(host: "127.0.0.1", port: 0, transport: .plain(version), threads: threads)
        serverTweak(&server)
        proxy = try SPDYReverseProxy(server: server, proxy: configuration)
        try proxy.start()
        self.log = log
        self.version = version
    }

    /// A SPDY client connection to the proxy.
    func connect() async throws -> (SPDYClient, SPDYClientConnection) {
        let client = try SPDYClient(configuration: .init(plainVersion: version))
        let connection = try await client.connect(host: "127.0.0.1", port: port, tls: false)
        return (client, connection)
    }

    func entries() -> [SPDYProxyAccessLogEntry] { log.withLockedValue { $0 } }

    func stop() async throws {
        try await proxy.shutdownGracefully(timeout: .seconds(5))
    }
}

/// A request to the proxy over `connection`; returns the response and its whole body.
func request(
    _ connection: SPDYClientConnection, _ path: String, method: String = "GET", body: ByteBuffer? = nil,
    headers: [(name: String, value: String)] = []
) async throws -> (response: SPDYClientResponse, body: ByteBuffer) {
    let response = try await connection.request(
        SPDYClientRequest(
            method: method, path: path, scheme: "http", authority: "127.0.0.1", headers: headers, body: body))
    return (response, try await response.collectBody())
}
