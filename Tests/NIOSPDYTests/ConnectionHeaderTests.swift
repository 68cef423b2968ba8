import NIOCore
import NIOSPDY
import SPDY
import SPDYTestSupport
import Testing

/// A handler that sets the HTTP/1.1 connection headers a handler ported from HTTP/1.1
/// might set, and reports the request headers it received.
final class ConnectionHeadersHandler: SPDYRequestHandler {
    override func doGET() {
        sendResponse(200)
        sendHeader("content-type", "text/plain")
        sendHeader("Connection", "keep-alive")
        sendHeader("keep-alive", "timeout=5")
        sendHeader("proxy-connection", "keep-alive")
        sendHeader("Transfer-Encoding", "chunked")
        sendHeader("x-kept", "yes")
        wfile.write(requestHeaders.map(\.name).joined(separator: ","))
    }
}

/// SPDY/3 §3.2.1 and §3.2.2 forbid `connection`, `keep-alive`, `proxy-connection` and
/// `transfer-encoding` (and `host` in requests) on the wire; the interop suite found that
/// spdystream drops the whole connection when a SYN_STREAM or SYN_REPLY carries one.
@Suite("HTTP/1.1 connection headers stay off the wire")
struct ConnectionHeaderTests {
    static let forbidden = ["connection", "host", "keep-alive", "proxy-connection", "transfer-encoding"]

    @Test("A client request's header block leaves them out, whatever their case")
    func requestBlock() {
        let request = SPDYClientRequest(
            path: "/", scheme: "http", authority: "example.org",
            headers: [
                ("Connection", "keep-alive"), ("Host", "other.example"), ("keep-alive", "timeout=5"),
                ("Proxy-Connection", "keep-alive"), ("transfer-encoding", "chunked"), ("x-test", "kept"),
            ])
        let names = request.spdyHeaders.map(\.name)
        #expect(names == [":method", ":path", ":version", ":scheme", ":host", "x-test"])
        #expect(request.spdyHeaders[":host"] == "example.org")
    }

    @Test("Neither a handler's response nor a client's request carries them", arguments: [SPDYVersion.v3, .v3_1])
    func overTheWire(version: SPDYVersion) async throws {
        let server = try SPDYServer(
            // 60 s for the first bytes: see Harness.start.
            configuration: .init(
                host: "127.0.0.1", port: 0, transport: .plain(version), handshakeTimeout: .seconds(60), threads: 1),
            handler: ConnectionHeadersHandler.self
        )
        try server.start()
        let client = try SPDYClient(configuration: .init(plainVersion: version))
        let connection = try await client.connect(host: "127.0.0.1", port: server.port!, tls: false)
        let response = try await connection.request(
            SPDYClientRequest(
                path: "/", scheme: "http", authority: "127.0.0.1",
                headers: [("connection", "close"), ("host", "127.0.0.1"), ("transfer-encoding", "chunked")]))
        #expect(response.statusCode == 200)
        for name in Self.forbidden {
            #expect(!response.headers.contains(name: name), "response carries \(name)")
        }
        #expect(response.headers["x-kept"] == "yes")
        let received = String(buffer: try await response.collectBody()).split(separator: ",").map(String.init)
        #expect(received == [":host", ":method", ":path", ":scheme", ":version"])
        try await client.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }
}
