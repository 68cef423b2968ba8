import AsyncHTTPClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSPDY
import NIOSSL
import SPDY
import Testing
import Vapor
import VaporSPDY

/// How a test reaches the server: TLS (ALPN) or plain TCP (first bytes).
enum Transport: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case tls
    case plaintext

    var testDescription: String { rawValue }
}

/// The protocol a test client speaks.
enum ClientProtocol: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case spdy31 = "SPDY/3.1"
    case spdy3 = "SPDY/3"
    case spdy2 = "SPDY/2"
    case http1 = "HTTP/1.1"

    var spdyVersion: SPDYVersion? {
        switch self {
        case .spdy31: return .v3_1
        case .spdy3: return .v3
        case .spdy2: return .v2
        case .http1: return nil
        }
    }

    /// What a plain-TCP server must take `0x80 0x03` for to serve this client.
    var spdy3Version: SPDYVersion { self == .spdy3 ? .v3 : .v3_1 }

    var testDescription: String { rawValue }
}

/// Every protocol over every transport.
let allClients: [(Transport, ClientProtocol)] = Transport.allCases.flatMap { transport in
    ClientProtocol.allCases.map { (transport, $0) }
}

/// A response as a test sees it, whatever the protocol.
struct TestResponse: Sendable {
    var status: Int
    /// Lowercased names.
    var headers: [(name: String, value: String)]
    var body: ByteBuffer

    func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.value
    }

    var text: String { String(buffer: body) }
}

let testIdentity: SPDYTLS.Identity = {
    do {
        return try SPDYTLS.Identity.selfSigned()
    } catch {
        fatalError("self-signed identity: \(error)")
    }
}()

/// A Vapor application with the test routes, served by a ``VaporSPDYServer`` on a free port.
final class TestApp: Sendable {
    let app: Application
    let port: Int
    let transport: Transport
    let spdy3Version: SPDYVersion

    private init(app: Application, port: Int, transport: Transport, spdy3Version: SPDYVersion) {
        self.app = app
        self.port = port
        self.transport = transport
        self.spdy3Version = spdy3Version
    }

    static func start(
        _ transport: Transport,
        spdy3Version: SPDYVersion = .v3_1,
        configure: @Sendable (inout VaporSPDYServer.Configuration) -> Void = { _ in },
        routes: @Sendable (Application) throws -> Void = installRoutes
    ) async throws -> TestApp {
        // The test runner's own arguments are no Vapor command: start `serve` with none.
        var environment = Environment.testing
        environment.arguments = ["vapor"]
        let app = try await Application.make(environment)
        do {
            app.logger.logLevel = .warning
            try routes(app)
            var configuration = VaporSPDYServer.Configuration(
                address: .hostname("127.0.0.1", port: 0),
                security: transport == .tls ? .tls(testIdentity) : .plaintext(spdy3Version: spdy3Version),
                logger: app.logger
            )
            configure(&configuration)
            app.servers.use(.spdy(configuration))
            try await app.startup()
            guard let port = app.spdy.server.localAddress?.port else {
                throw TestFailure("the server has no port")
            }
            return TestApp(app: app, port: port, transport: transport, spdy3Version: spdy3Version)
        } catch {
            try? await app.asyncShutdown()
            throw error
        }
    }

    /// Whether this server speaks `client`'s protocol: over plain TCP, SPDY/3 and SPDY/3.1
    /// share their first bytes, so a server speaks only one of them.
    func serves(_ client: ClientProtocol) -> Bool {
        transport == .tls || client.spdy3Version == spdy3Version
    }

    func shutdown() async throws {
        try await app.asyncShutdown()
    }

    /// One request with a new connection of `client`.
    func request(
        _ client: ClientProtocol,
        _ method: HTTPMethod = .GET,
        _ path: String,
        headers: [(String, String)] = [],
        body: ByteBuffer? = nil
    ) async throws -> TestResponse {
        if let version = client.spdyVersion {
            return try await spdyRequest(version: version, method, path, headers: headers, body: body)
        }
        return try await http1Request(method, path, headers: headers, body: body)
    }

    /// A POST whose body goes out in 4 KiB pieces with no `content-length`: SPDY DATA frames
    /// as they come, HTTP/1.1 chunked.
    func streamedUpload(_ client: ClientProtocol, _ path: String, body: ByteBuffer) async throws -> TestResponse {
        if let version = client.spdyVersion {
            return try await withSPDYConnection(version) { connection in
                try await Self.collect(
                    connection.request(
                        headers: spdyHeaders(.POST, path, headers: []), streamingBody: Self.chunks(of: body)))
            }
        }
        return try await withHTTPClient { client in
            var request = HTTPClientRequest(url: "\(baseURL)\(path)")
            request.method = .POST
            request.body = .stream(Self.chunks(of: body), length: .unknown)
            let response = try await client.execute(request, timeout: .seconds(30))
            let collected = try await response.body.collect(upTo: 64 << 20)
            return TestResponse(
                status: Int(response.status.code),
                headers: response.headers.map { (name: $0.name.lowercased(), value: $0.value) },
                body: collected
            )
        }
    }

    static func chunks(of buffer: ByteBuffer, size: Int = 4096) -> AsyncStream<ByteBuffer> {
        AsyncStream { continuation in
            var rest = buffer
            while let chunk = rest.readSlice(length: min(size, rest.readableBytes)), chunk.readableBytes > 0 {
                continuation.yield(chunk)
            }
            continuation.finish()
        }
    }

    func withSPDYConnection<Result: Sendable>(
        _ version: SPDYVersion,
        _ body: (SPDYClientConnection) async throws -> Result
    ) async throws -> Result {
        let client = try SPDYClient(
            configuration: .init(versions: [version], plainVersion: version, verifyCertificates: false))
        do {
            let connection = try await client.connect(host: "127.0.0.1", port: port, tls: transport == .tls)
            let result: Result
            do {
                result = try await body(connection)
            } catch {
                connection.close()
                throw error
            }
            connection.close()
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    func spdyHeaders(_ method: HTTPMethod, _ path: String, headers: [(String, String)]) -> SPDYHeaders {
        SPDYClientRequest(
            method: method.rawValue,
            path: path,
            scheme: transport == .tls ? "https" : "http",
            authority: "127.0.0.1:\(port)",
            headers: headers.map { (name: $0.0, value: $0.1) }
        ).spdyHeaders
    }

    func spdyRequest(
        version: SPDYVersion,
        _ method: HTTPMethod,
        _ path: String,
        headers: [(String, String)] = [],
        body: ByteBuffer? = nil
    ) async throws -> TestResponse {
        try await withSPDYConnection(version) { connection in
            #expect(connection.version == version)
            let response = try await connection.request(
                headers: spdyHeaders(method, path, headers: headers), body: body)
            return try await Self.collect(response)
        }
    }

    static func collect(_ response: SPDYClientResponse) async throws -> TestResponse {
        let body = try await response.collectBody()
        let headers = response.headers.map { (name: $0.name.lowercased(), value: $0.value) }
        return TestResponse(status: response.statusCode, headers: headers, body: body)
    }

    func http1Request(
        _ method: HTTPMethod,
        _ path: String,
        headers: [(String, String)] = [],
        body: ByteBuffer? = nil
    ) async throws -> TestResponse {
        try await withHTTPClient { client in
            var request = HTTPClientRequest(url: "\(baseURL)\(path)")
            request.method = method
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let body { request.body = .bytes(body) }
            let response = try await client.execute(request, timeout: .seconds(30))
            let collected = try await response.body.collect(upTo: 64 << 20)
            return TestResponse(
                status: Int(response.status.code),
                headers: response.headers.map { (name: $0.name.lowercased(), value: $0.value) },
                body: collected
            )
        }
    }

    var baseURL: String { "\(transport == .tls ? "https" : "http")://127.0.0.1:\(port)" }

    func withHTTPClient<Result: Sendable>(_ body: (HTTPClient) async throws -> Result) async throws -> Result {
        try await Self.http1Client(body)
    }

    /// An HTTP/1.1-only AsyncHTTPClient that accepts the test certificate.
    static func http1Client<Result: Sendable>(_ body: (HTTPClient) async throws -> Result) async throws -> Result {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.httpVersion = .http1Only
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let result = try await body(client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: The application

struct Greeting: Content {
    var name: String
    var count: Int
}

struct CustomError: Error {}

/// The number of chunks and the size of each in the streamed responses.
let streamChunks = 8
let streamChunkSize = 1000

func streamChunk(_ index: Int) -> ByteBuffer {
    ByteBuffer(string: String(repeating: Character(UnicodeScalar(UInt8(65 + index))), count: streamChunkSize))
}

let expectedStream = (0..<streamChunks).map { String(buffer: streamChunk($0)) }.joined()

@Sendable func installRoutes(_ app: Application) throws {
    app.routes.defaultMaxBodySize = "64kb"
    app.get("hello", ":name") { req -> String in
        let name = try req.parameters.require("name")
        let greeting = req.query[String.self, at: "greeting"] ?? "Hello"
        return "\(greeting), \(name)!"
    }
    app.post("greet") { req -> Greeting in
        var greeting = try req.content.decode(Greeting.self)
        greeting.name = greeting.name.uppercased()
        greeting.count += 1
        return greeting
    }
    app.get("missing") { _ -> String in
        throw Abort(.notFound, reason: "nothing here")
    }
    app.get("boom") { _ -> String in
        throw CustomError()
    }
    app.get("headers") { req -> Response in
        let response = Response(status: .ok, body: .init(string: req.headers.first(name: "x-test") ?? "none"))
        response.headers.add(name: "x-answer", value: "42")
        response.headers.add(name: "x-peer", value: req.remoteAddress?.ipAddress ?? "none")
        response.headers.add(name: "set-cookie", value: "a=1")
        response.headers.add(name: "set-cookie", value: "b=2")
        return response
    }
    app.get("big") { _ -> Response in
        Response(body: .init(buffer: bigBody))
    }
    app.webSocket("ws") { _, ws in
        try? await ws.close()
    }
    app.get("stream") { _ -> Response in
        Response(
            body: .init(asyncStream: { writer in
                for index in 0..<streamChunks {
                    try await writer.writeBuffer(streamChunk(index))
                    try await Task.sleep(for: .milliseconds(5))
                }
                try await writer.write(.end)
            }))
    }
    app.get("stream-callback") { req -> Response in
        let eventLoop = req.eventLoop
        return Response(
            body: .init(stream: { writer in
                @Sendable func write(_ index: Int) {
                    guard index < streamChunks else {
                        writer.write(.end, promise: nil)
                        return
                    }
                    writer.write(.buffer(streamChunk(index))).whenSuccess {
                        eventLoop.scheduleTask(in: .milliseconds(5)) { write(index + 1) }
                    }
                }
                write(0)
            }))
    }
    app.get("stream-fails") { _ -> Response in
        Response(
            body: .init(managedAsyncStream: { writer in
                try await writer.writeBuffer(streamChunk(0))
                throw CustomError()
            }))
    }
    app.post("upload") { req -> String in
        let body = req.body.data ?? ByteBuffer()
        var sum: UInt64 = 0
        for byte in body.readableBytesView { sum = sum &+ UInt64(byte) }
        return "\(body.readableBytes) \(sum)"
    }
    app.on(.POST, "upload-stream", body: .stream) { req -> EventLoopFuture<String> in
        let count = NIOLockedValueBox(0)
        let promise = req.eventLoop.makePromise(of: String.self)
        req.body.drain { part in
            switch part {
            case .buffer(let buffer): count.withLockedValue { $0 += buffer.readableBytes }
            case .error(let error): promise.fail(error)
            case .end: promise.succeed("\(count.withLockedValue { $0 })")
            }
            return req.eventLoop.makeSucceededFuture(())
        }
        return promise.futureResult
    }
}

/// A response body several flow-control windows long.
let bigBody = uploadBody(1 << 20).0

/// `count` bytes of a repeating pattern, and the sum the upload route answers for them.
func uploadBody(_ count: Int) -> (ByteBuffer, String) {
    var buffer = ByteBuffer()
    buffer.reserveCapacity(count)
    var sum: UInt64 = 0
    for index in 0..<count {
        let byte = UInt8(truncatingIfNeeded: index &* 31 &+ 7)
        buffer.writeInteger(byte)
        sum &+= UInt64(byte)
    }
    return (buffer, "\(count) \(sum)")
}

/// Collects what a raw TCP connection receives until the server closes it.
final class RawCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private let received = NIOLockedValueBox(ByteBuffer())
    private let closed: EventLoopPromise<ByteBuffer>

    init(eventLoop: any EventLoop) {
        closed = eventLoop.makePromise()
    }

    var result: EventLoopFuture<ByteBuffer> { closed.futureResult }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        _ = received.withLockedValue { $0.writeBuffer(&bytes) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed.succeed(received.withLockedValue { $0 })
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Sends `request` over plain TCP, shuts down the sending side at once and returns all
/// that comes back before the server closes the connection.
func rawExchange(port: Int, _ request: String) async throws -> String {
    let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
    let collector = RawCollector(eventLoop: eventLoop)
    let channel = try await ClientBootstrap(group: eventLoop)
        .channelOption(.allowRemoteHalfClosure, value: true)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
        }
        .connect(host: "127.0.0.1", port: port).get()
    try await channel.writeAndFlush(ByteBuffer(string: request))
    try await channel.close(mode: .output)
    return String(buffer: try await collector.result.get())
}
