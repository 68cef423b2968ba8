import NIOCore
import NIOSPDY
import SPDY
import SPDYTestSupport
import Testing

/// A handler that answers incomplete requests itself and sends a bare `server` header.
final class IncompleteRequestHandler: SPDYRequestHandler {
    override class var serverVersion: String { "custom/1.0" }
    override class var sysVersion: String { "" }
    override class var handlesIncompleteRequests: Bool { true }

    override func handle() {
        let missing = [":method", ":path", ":version", ":scheme", ":host"].filter { requestHeaders[$0] == nil }
        sendResponse(missing.isEmpty ? 200 : 422)
        wfile.write("missing: \(missing.joined(separator: ","))")
    }
}

@Suite("Request handler hooks")
struct RequestHandlerHookTests {
    func withServer(
        _ handler: SPDYRequestHandler.Type, _ body: (SPDYClientConnection) async throws -> Void
    ) async throws {
        let server = try SPDYServer(
            configuration: .init(host: "127.0.0.1", port: 0, transport: .plain(.v3), threads: 1), handler: handler)
        try server.start()
        let client = try SPDYClient(configuration: .init(plainVersion: .v3))
        let connection = try await client.connect(host: "127.0.0.1", port: server.port!, tls: false)
        try await body(connection)
        connection.close()
        try await client.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }

    static let noHost: SPDYHeaders = [
        (":method", "GET"), (":path", "/"), (":version", "HTTP/1.1"), (":scheme", "http"),
    ]

    @Test("handlesIncompleteRequests hands requests without :host to the handler; the default answers 400")
    func incompleteRequests() async throws {
        try await withServer(IncompleteRequestHandler.self) { connection in
            let response = try await connection.request(headers: Self.noHost)
            #expect(response.statusCode == 422)
            #expect(String(buffer: try await response.collectBody()) == "missing: :host")
            let complete = try await connection.request(SPDYClientRequest(path: "/", authority: "x"))
            #expect(complete.statusCode == 200)
            #expect(complete.headers["server"] == "custom/1.0")
            _ = try await complete.collectBody()
        }
        try await withServer(TestHandler.self) { connection in
            let response = try await connection.request(headers: Self.noHost)
            #expect(response.statusCode == 400)
            #expect(response.headers["server"]?.hasSuffix(" Swift/6") == true)
            _ = try await response.collectBody()
        }
    }

    @Test("A body that does not add up to its content-length is answered 400 (draft 3 §3.2.1)")
    func contentLengthMismatch() async throws {
        try await withServer(IncompleteRequestHandler.self) { connection in
            for (length, status) in [("10", 400), ("3", 400), ("5", 200), ("5, 5", 200), ("5, 6", 400), ("x", 400)] {
                var headers = Self.noHost
                headers.add(name: ":host", value: "x")
                headers.replaceOrAdd(name: ":method", value: "POST")
                headers.add(name: "content-length", value: length)
                let response = try await connection.request(headers: headers, body: ByteBuffer(string: "12345"))
                #expect(response.statusCode == status, "content-length \(length)")
                _ = try await response.collectBody()
            }
        }
    }
}
