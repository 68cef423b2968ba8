// What several NIOSPDYTests suites share: the request handler and server harness of
// ServerClientTests (also used by RequestHandlerHookTests and TLSIdentityTests), and how
// OnePortServerTests and ClientConnectOptionsTests name a negotiated protocol.

import NIOCore
import NIOSPDY
import SPDY

/// A handler exercising the request-handler API.
final class TestHandler: SPDYRequestHandler {
    override func doGET() {
        switch path {
        case "/notfound":
            sendError(404)
        case "/headers":
            sendResponse(200)
            sendHeader("content-type", "text/plain")
            let lines = headers.map { "\($0.name)=\($0.value)" }.joined(separator: "\n")
            wfile.write("\(command) \(path) \(requestVersion) \(scheme) \(host)\n\(lines)\n")
        case "/push":
            push(headers: [(":path", "/pushed.css"), ("content-type", "text/css")], body: ByteBuffer(string: "body{}"))
            sendResponse(200)
            wfile.write("page with a push")
        case "/big":
            sendResponse(200)
            let writer = startStreaming()
            let total = 5 << 20
            @Sendable func send(_ sent: Int) {
                guard sent < total else {
                    writer.finish()
                    return
                }
                let chunk = ByteBuffer(repeating: UInt8(truncatingIfNeeded: sent / 65536), count: 65536)
                writer.write(chunk).whenSuccess { send(sent + 65536) }
            }
            send(0)
        case "/nothing":
            break
        default:
            sendResponse(200)
            sendHeader("content-type", "text/html; charset=UTF-8")
            wfile.write("<html><body>hello \(path)</body></html>")
        }
    }

    override func doPOST() {
        sendResponse(201, message: "Stored")
        var body = rfile
        wfile.write(body.readString(length: body.readableBytes) ?? "")
    }
}

/// A server on 127.0.0.1 answering with TestHandler, and a client for it.
struct Harness {
    let server: SPDYServer
    let client: SPDYClient
    let port: Int

    static func start(
        _ transport: SPDYServer.Transport,
        client configuration: SPDYClient.Configuration = .init(verifyCertificates: false),
        server tweak: (inout SPDYServer.Configuration) -> Void = { _ in }
    ) throws -> Harness {
        var serverConfiguration = SPDYServer.Configuration(host: "127.0.0.1", port: 0, transport: transport, threads: 2)
        // As in SPDYTestSupport's startEdgeServer: a test task starved on a loaded machine may
        // connect and write its first bytes more than the 10 s default apart (seen in CI: the
        // server's first-bytes timer closed the connection). Tests of that timer set it.
        serverConfiguration.handshakeTimeout = .seconds(60)
        tweak(&serverConfiguration)
        let server = try SPDYServer(configuration: serverConfiguration, handler: TestHandler.self)
        try server.start()
        let client = try SPDYClient(configuration: configuration)
        return Harness(server: server, client: client, port: server.port!)
    }

    func connect(tls: Bool) async throws -> SPDYClientConnection {
        try await client.connect(host: "127.0.0.1", port: port, tls: tls)
    }

    func stop() async throws {
        try await client.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }
}

/// How a test names the protocol a request came over.
func protocolName(_ selection: SPDYNegotiation.Selection) -> String {
    SPDYNegotiation.protocolName(of: selection)
}
