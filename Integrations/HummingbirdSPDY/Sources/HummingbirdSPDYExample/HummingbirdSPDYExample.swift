import ArgumentParser
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdSPDY
import Logging
import NIOCore
import NIOSPDY

/// A Hummingbird app served over SPDY/3.1, SPDY/3, SPDY/2 and HTTP/1.1 on one port, for
/// trying the integration by hand and for the interoperability suite.
@main
struct HummingbirdSPDYExample: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hummingbird-spdy-example",
        abstract: "Serve a small Hummingbird app over SPDY and HTTP/1.1 on one port.",
        discussion: """
            Routes: GET /hello (text), POST /echo (the request body, streamed back), \
            GET /chunks?count=N&size=BYTES (a body written in N pieces), GET /error (418, \
            an HTTPError thrown by the route), anything else 404. Once listening it prints \
            'listening on HOST:PORT' on standard output. SIGINT and SIGTERM stop it \
            gracefully: requests in flight finish.
            """
    )

    /// How connections reach the app.
    enum Transport: String, EnumerableFlag {
        /// TLS with ALPN (`spdy/3.1`, `spdy/3`, `spdy/2`, `http/1.1`).
        case tls
        /// Plain TCP: SPDY or HTTP/1.1 told apart by the first bytes.
        case plain

        static func help(for value: Transport) -> ArgumentHelp? {
            switch value {
            case .tls: "TLS with ALPN (spdy/3.1, spdy/3, spdy/2, http/1.1); the default."
            case .plain: "Plain TCP: SPDY (version 3 frames are SPDY/3.1) or HTTP/1.1, told apart by the first bytes."
            }
        }
    }

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0: any free port, printed once listening).")
    var port = 8443

    @Flag var transport: Transport = .tls

    @Option(help: "PEM certificate chain (with --key); without them a self-signed certificate for localhost is made.")
    var cert: String?

    @Option(help: "PEM private key (with --cert).")
    var key: String?

    @Option(help: "MAX_CONCURRENT_STREAMS announced to SPDY clients.")
    var maxConcurrentStreams: UInt32 = 1000

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel = "notice"

    func validate() throws {
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level: not a log level: \(logLevel)")
        }
        if (cert == nil) != (key == nil) {
            throw ValidationError("--cert and --key go together")
        }
        if transport == .plain && cert != nil {
            throw ValidationError("--cert and --key need --tls")
        }
    }

    func run() async throws {
        var logger = Logger(label: "hummingbird-spdy-example")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .notice
        let router = Router(options: .autoGenerateHeadEndpoints)
        ExampleRoutes.add(to: router)

        let channelConfiguration = SPDYChannelConfiguration(maxConcurrentStreams: maxConcurrentStreams)
        let server: HTTPServerBuilder
        switch transport {
        case .tls:
            let identity =
                if let cert, let key {
                    try SPDYTLS.Identity.pem(certificatePath: cert, keyPath: key)
                } else {
                    try SPDYTLS.Identity.selfSigned()
                }
            server = try .spdy(identity: identity, configuration: channelConfiguration)
        case .plain:
            server = .plaintextSPDY(configuration: channelConfiguration)
        }
        let host = self.host
        let app = Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(host, port: port), serverName: "hummingbird-spdy-example"),
            onServerRunning: { channel in
                // Scripts start the app on port 0 and read the port from this line.
                // Written straight to the descriptor: a pipe would hold a buffered print back.
                let line = "listening on \(host):\(channel.localAddress?.port ?? 0)\n"
                FileHandle.standardOutput.write(Data(line.utf8))
            },
            logger: logger
        )
        try await app.runService()
    }
}

/// The example's routes. They know nothing of SPDY: the same code answers HTTP/1.1.
enum ExampleRoutes {
    static func add(to router: Router<some RequestContext>) {
        router.get("hello") { _, _ in
            "Hello from Hummingbird!\n"
        }
        router.post("echo") { request, _ in
            // The body goes back as it arrives: the window of the SPDY stream is granted as
            // the response is written, so an upload of any size takes little memory.
            Response(status: .ok, body: ResponseBody(asyncSequence: request.body))
        }
        router.get("chunks") { request, _ in
            let count = request.uri.queryParameters.get("count", as: Int.self) ?? 5
            let size = request.uri.queryParameters.get("size", as: Int.self) ?? 16
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain"],
                body: ResponseBody { writer in
                    for index in 0..<count {
                        try await writer.write(chunk(index, size: size))
                    }
                    try await writer.finish(nil)
                }
            )
        }
        router.get("error") { _, _ -> String in
            throw HTTPError(
                HTTPResponse.Status(code: 418, reasonPhrase: "I'm a teapot"), message: "the route threw an HTTPError")
        }
    }

    /// Piece `index` of the `/chunks` body: `size` bytes (at least the label), starting
    /// with its number so that a client can check the order.
    static func chunk(_ index: Int, size: Int) -> ByteBuffer {
        let label = "chunk \(index)\n"
        var buffer = ByteBuffer(string: label)
        if size > label.utf8.count {
            buffer.writeRepeatingByte(UInt8(ascii: "0") + UInt8(index % 10), count: size - label.utf8.count)
        }
        return buffer
    }
}
