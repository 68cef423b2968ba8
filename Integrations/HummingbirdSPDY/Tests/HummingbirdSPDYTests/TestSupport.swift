import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdSPDY
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSPDY
import NIOSSL
import SPDY
import ServiceLifecycle
import Testing

// MARK: The app

/// How the test app is reached.
enum Transport: String, Sendable, CustomStringConvertible {
    case tls
    case plain

    var description: String { rawValue }
}

/// The protocol a test client speaks.
enum Wire: String, Sendable, CustomStringConvertible {
    case spdy3_1 = "SPDY/3.1"
    case spdy3 = "SPDY/3"
    case spdy2 = "SPDY/2"
    case http1 = "HTTP/1.1"

    var description: String { rawValue }

    var spdyVersion: SPDYVersion? {
        switch self {
        case .spdy3_1: .v3_1
        case .spdy3: .v3
        case .spdy2: .v2
        case .http1: nil
        }
    }
}

/// A route error of the app's own, with its own status and body.
struct TeapotShortage: HTTPResponseError {
    var status: HTTPResponse.Status { .conflict }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/plain", HTTPField.Name("x-error")!: "teapot"],
            body: .init(byteBuffer: ByteBuffer(string: "no teapot left\n"))
        )
    }
}

/// Holds requests until released, counting those that wait.
actor Gate {
    private(set) var arrived = 0
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    /// Opens by itself once this many requests wait (a barrier); `nil`: only `release()` opens it.
    private let opensAt: Int?

    init(opensAt: Int? = nil) {
        self.opensAt = opensAt
    }

    /// Waits until the gate opens: `true`; `false` when `timeout` passed first.
    func pass(timeout: Duration = .seconds(60)) async -> Bool {
        arrived += 1
        if let opensAt, arrived >= opensAt { release() }
        if isOpen { return true }
        let timer = Task {
            do { try await Task.sleep(for: timeout) } catch { return }
            self.expire()
        }
        await withCheckedContinuation { waiters.append($0) }
        timer.cancel()
        return isOpen
    }

    /// Counts a request that does not wait.
    func arrive() {
        arrived += 1
    }

    /// Lets every waiting request (and every later one) through.
    func release() {
        isOpen = true
        expire()
    }

    private func expire() {
        let waiting = waiters
        waiters = []
        for waiter in waiting { waiter.resume() }
    }

    /// Waits until `count` requests have arrived, for at most `timeout`.
    func waitForArrivals(_ count: Int, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while arrived < count {
            guard ContinuousClock.now < deadline else {
                throw TestFailure("only \(arrived) of \(count) requests arrived")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The routes of the tests: plain Hummingbird code, which knows nothing of SPDY.
enum TestRoutes {
    static let hello = "Hello from Hummingbird!\n"

    static func router(gate: Gate = Gate(), barrier: Gate = Gate(opensAt: 1000)) -> Router<BasicRequestContext> {
        let router = Router(options: .autoGenerateHeadEndpoints)
        router.get("hello") { _, _ in hello }
        router.get("headers") { request, _ in
            // Request headers reach the route; response headers reach the client.
            Response(
                status: .ok,
                headers: [
                    HTTPField.Name("x-echo")!: request.headers[HTTPField.Name("x-test")!] ?? "(none)",
                    .contentType: "text/plain",
                ],
                body: .init(byteBuffer: ByteBuffer(string: "\(request.method) \(request.uri)"))
            )
        }
        router.post("echo") { request, _ in
            Response(status: .ok, body: ResponseBody(asyncSequence: request.body))
        }
        router.post("count") { request, _ in
            await gate.arrive()
            var total = 0
            for try await buffer in request.body { total += buffer.readableBytes }
            return "\(total)"
        }
        router.get("chunks") { request, _ in
            let count = request.uri.queryParameters.get("count", as: Int.self) ?? 5
            let size = request.uri.queryParameters.get("size", as: Int.self) ?? 16
            return Response(
                status: .ok,
                body: ResponseBody { writer in
                    for index in 0..<count {
                        try await writer.write(chunk(index, size: size))
                        // Let each piece leave on its own.
                        await Task.yield()
                    }
                    try await writer.finish(nil)
                }
            )
        }
        router.get("not-found") { _, _ -> String in
            throw HTTPError(.notFound, message: "no such thing")
        }
        router.get("teapot") { _, _ -> String in
            throw TeapotShortage()
        }
        router.get("crash") { _, _ -> String in
            struct Unexpected: Error {}
            throw Unexpected()
        }
        router.get("gate") { _, _ in
            await gate.pass() ? "released" : "timed out"
        }
        router.get("barrier") { _, _ -> Response in
            if await barrier.pass(timeout: .seconds(60)) {
                return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "all here")))
            }
            return Response(status: .serviceUnavailable)
        }
        return router
    }

    /// Piece `index` of `/chunks`: its number first, so that a client can check the order.
    static func chunk(_ index: Int, size: Int) -> ByteBuffer {
        let label = "chunk \(index)\n"
        var buffer = ByteBuffer(string: label)
        if size > label.utf8.count {
            buffer.writeRepeatingByte(UInt8(ascii: "a") + UInt8(index % 26), count: size - label.utf8.count)
        }
        return buffer
    }
}

/// A running app and how to stop it.
struct RunningApp: Sendable {
    let port: Int
    let serviceGroup: ServiceGroup
}

/// Runs the test app with `.spdy(...)` (TLS) or `.plaintextSPDY(...)` on 127.0.0.1, any
/// port, in a `ServiceGroup`, and stops it gracefully after `body`.
func withApp<T: Sendable>(
    transport: Transport,
    configuration: SPDYChannelConfiguration = .init(maxConcurrentStreams: 1000),
    router: Router<BasicRequestContext> = TestRoutes.router(),
    _ body: @Sendable (RunningApp) async throws -> T
) async throws -> T {
    var logger = Logger(label: "test-app")
    logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
    let server: HTTPServerBuilder =
        switch transport {
        case .tls: try .spdy(identity: TestTLS.identity, configuration: configuration)
        case .plain: .plaintextSPDY(configuration: configuration)
        }
    let (ports, portContinuation) = AsyncStream<Int>.makeStream()
    let app = Application(
        router: router,
        server: server,
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
            portContinuation.finish()
        },
        logger: logger
    )
    let serviceGroup = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await serviceGroup.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestFailure("the app did not start") }
        let result: T
        do {
            result = try await body(RunningApp(port: port, serviceGroup: serviceGroup))
        } catch {
            await serviceGroup.triggerGracefulShutdown()
            try await group.waitForAll()
            throw error
        }
        await serviceGroup.triggerGracefulShutdown()
        try await group.waitForAll()
        return result
    }
}

enum TestTLS {
    static let identity: SPDYTLS.Identity = {
        do {
            return try SPDYTLS.Identity.selfSigned()
        } catch {
            fatalError("cannot make a certificate: \(error)")
        }
    }()
}

// MARK: Clients

/// A response, whole.
struct TestResponse: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: ByteBuffer

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    var text: String { String(buffer: body) }
}

/// A client of one protocol on one connection (HTTP/1.1: AsyncHTTPClient's pool, one
/// connection at a time for these tests).
enum TestClient: Sendable {
    case spdy(SPDYClient, SPDYClientConnection, scheme: String, authority: String, dataFrames: Counter)
    case http1(HTTPClient, base: String)

    static func connect(_ wire: Wire, transport: Transport, port: Int) async throws -> TestClient {
        if let version = wire.spdyVersion {
            let dataFrames = Counter()
            let client = try SPDYClient(
                configuration: .init(
                    versions: [version],
                    plainVersion: version,
                    verifyCertificates: false,
                    maxConcurrentStreams: 1000,
                    frameObserver: { _, event in
                        if case .dataReceived = event { dataFrames.add(1) }
                    }
                ),
                group: MultiThreadedEventLoopGroup.singleton
            )
            let connection = try await client.connect(host: "127.0.0.1", port: port, tls: transport == .tls)
            #expect(connection.version == version)
            return .spdy(
                client, connection, scheme: transport == .tls ? "https" : "http", authority: "127.0.0.1:\(port)",
                dataFrames: dataFrames)
        }
        var configuration = HTTPClient.Configuration()
        configuration.httpVersion = .http1Only
        if transport == .tls {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .none
            configuration.tlsConfiguration = tls
        }
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(120))
        let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
        return .http1(client, base: "\(transport == .tls ? "https" : "http")://127.0.0.1:\(port)")
    }

    /// DATA frames received on the SPDY connection (0 for HTTP/1.1).
    var dataFramesReceived: Int {
        if case .spdy(_, _, _, _, let dataFrames) = self { return dataFrames.value }
        return 0
    }

    func close() async throws {
        switch self {
        case .spdy(let client, let connection, _, _, _):
            connection.close()
            try await client.shutdown()
        case .http1(let client, _):
            try await client.shutdown()
        }
    }

    /// Sends a request and collects the response.
    func request(
        _ method: String = "GET",
        _ path: String,
        headers: [(String, String)] = [],
        body: ByteBuffer? = nil
    ) async throws -> TestResponse {
        switch self {
        case .spdy(_, let connection, let scheme, let authority, _):
            var fields = headers.map { (name: $0.0, value: $0.1) }
            if let body { fields.append((name: "content-length", value: "\(body.readableBytes)")) }
            let request = SPDYClientRequest(
                method: method, path: path, scheme: scheme, authority: authority, headers: fields, body: body)
            let response = try await connection.request(request)
            let collected = try await response.collectBody()
            return TestResponse(
                status: response.statusCode,
                headers: response.headers.map { (name: $0.name, value: $0.value) },
                body: collected
            )
        case .http1(let client, let base):
            var request = HTTPClientRequest(url: base + path)
            request.method = HTTPMethod(rawValue: method)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let body { request.body = .bytes(body) }
            let response = try await client.execute(request, timeout: .seconds(120))
            let collected = try await response.body.collect(upTo: 64 << 20)
            return TestResponse(
                status: Int(response.status.code),
                headers: response.headers.map { (name: $0.name, value: $0.value) },
                body: collected
            )
        }
    }

    /// Sends a request whose body streams from `upload` (of `length` bytes) and passes the
    /// response body to `consume` piece by piece as it arrives; returns the status.
    func streamingRequest<Upload: AsyncSequence & Sendable>(
        _ method: String,
        _ path: String,
        upload: Upload,
        length: Int,
        consume: (ByteBuffer) throws -> Void
    ) async throws -> Int where Upload.Element == ByteBuffer {
        switch self {
        case .spdy(_, let connection, let scheme, let authority, _):
            let request = SPDYClientRequest(
                method: method, path: path, scheme: scheme, authority: authority,
                headers: [(name: "content-length", value: "\(length)")])
            let response = try await connection.request(headers: request.spdyHeaders, streamingBody: upload)
            for try await piece in response.body { try consume(piece) }
            return response.statusCode
        case .http1(let client, let base):
            var request = HTTPClientRequest(url: base + path)
            request.method = HTTPMethod(rawValue: method)
            request.body = .stream(upload, length: .known(Int64(length)))
            let response = try await client.execute(request, timeout: .seconds(300))
            for try await piece in response.body { try consume(piece) }
            return Int(response.status.code)
        }
    }
}

/// Runs `body` with a client connected to the app, and closes the client after it.
func withClient<T: Sendable>(
    _ wire: Wire,
    transport: Transport,
    port: Int,
    _ body: (TestClient) async throws -> T
) async throws -> T {
    let client = try await TestClient.connect(wire, transport: transport, port: port)
    let result: T
    do {
        result = try await body(client)
    } catch {
        try? await client.close()
        throw error
    }
    try await client.close()
    return result
}

// MARK: Bodies and memory

/// `total` bytes in pieces of `pieceSize`, made as they are asked for: byte `i` is
/// `UInt8(truncatingIfNeeded: i >> 10)`.
struct PatternBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let total: Int
    let pieceSize: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        let total: Int
        let pieceSize: Int
        var offset = 0

        mutating func next() async throws -> ByteBuffer? {
            guard offset < total else { return nil }
            let end = Swift.min(offset + pieceSize, total)
            var buffer = ByteBufferAllocator().buffer(capacity: end - offset)
            var position = offset
            while position < end {
                let segmentEnd = Swift.min((position | 1023) + 1, end)
                buffer.writeRepeatingByte(PatternBody.byte(at: position), count: segmentEnd - position)
                position = segmentEnd
            }
            offset = end
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(total: total, pieceSize: pieceSize)
    }

    static func byte(at offset: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: offset >> 10)
    }
}

/// Checks a received body against ``PatternBody``: its length, and the bytes at each piece's
/// ends and at every KiB boundary (a lost, repeated or reordered piece shows there).
struct PatternChecker {
    private(set) var received = 0
    private(set) var mismatch: Int?

    mutating func check(_ buffer: ByteBuffer) {
        let count = buffer.readableBytes
        guard count > 0 else { return }
        buffer.withUnsafeReadableBytes { bytes in
            var index = 0
            while index < count {
                if mismatch == nil, bytes[index] != PatternBody.byte(at: received + index) {
                    mismatch = received + index
                }
                // The next KiB boundary, and the last byte.
                let next = ((received + index) | 1023) + 1 - received
                index = next < count ? next : (index == count - 1 ? count : count - 1)
            }
        }
        received += count
    }
}

/// The process's resident memory, from /proc/self/status (`VmRSS` or `VmHWM`), in bytes.
func residentMemory(_ field: String = "VmRSS") -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
        let digits = line.split(separator: " ").dropFirst().first { Int($0) != nil }
        return (digits.flatMap { Int($0) } ?? 0) * 1024
    }
    return 0
}

/// Samples resident memory every 20 ms while running `body`; returns its result and the
/// highest sample.
func withMemorySampling<T: Sendable>(_ body: () async throws -> T) async throws -> (T, peak: Int) {
    let peak = ManagedAtomicMax()
    let sampler = Task {
        while !Task.isCancelled {
            peak.record(residentMemory())
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
    defer { sampler.cancel() }
    let result = try await body()
    peak.record(residentMemory())
    return (result, peak.value)
}

/// A count shared between tasks.
final class Counter: Sendable {
    private let box = NIOLockedValueBox(0)
    func add(_ amount: Int) { box.withLockedValue { $0 += amount } }
    var value: Int { box.withLockedValue { $0 } }
}

/// The largest value recorded, shared between tasks.
final class ManagedAtomicMax: Sendable {
    private let box = NIOLockedValueBox(0)
    func record(_ value: Int) { box.withLockedValue { $0 = max($0, value) } }
    var value: Int { box.withLockedValue { $0 } }
}
