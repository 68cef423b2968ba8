import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import NIOSSL
import SPDY
import SPDYTestSupport
import Testing

// MARK: - Client side

/// Connects a new client connection, asks for `path` and returns what came back.
private func getOnNewConnection(_ client: SPDYClient, port: Int, tls: Bool, _ path: String) async throws -> (
    status: Int, body: String
) {
    let connection = try await client.connect(host: "127.0.0.1", port: port, tls: tls)
    let result = try await get(connection, path)
    try await connection.channel.close()
    return result
}

private struct DownloadResult: Sendable {
    var status: String?
    var count: Int
    var firstMismatch: Int?
    var closeStatus: SPDYStreamStatus
}

/// Checks a response body against the pattern on the event loop, as it arrives.
private final class VerifyingStreamHandler: SPDYStreamHandler {
    private let promise: EventLoopPromise<DownloadResult>
    private var status: String?
    private var verifier = PatternVerifier()

    init(promise: EventLoopPromise<DownloadResult>) {
        self.promise = promise
    }

    override func onHeader(_ headers: SPDYHeaders) {
        if status == nil { status = headers[":status"] }
    }

    override func onData(_ data: ByteBuffer) {
        verifier.consume(data)
    }

    override func onClose(_ status: SPDYStreamStatus) {
        promise.succeed(
            DownloadResult(
                status: self.status, count: verifier.count, firstMismatch: verifier.firstMismatch, closeStatus: status))
    }

    override func onConnectionClosed(error: (any Error)?) {
        promise.fail(error ?? SPDYClientError.connectionClosed)
    }
}

private func download(_ connection: SPDYClientConnection, _ path: String) async throws -> DownloadResult {
    let promise = connection.eventLoop.makePromise(of: DownloadResult.self)
    connection.request(
        SPDYClientRequest(path: path, scheme: "http", authority: "127.0.0.1"),
        handler: VerifyingStreamHandler(promise: promise)
    )
    return try await promise.futureResult.get()
}

/// Sends 100 MiB up (POST, checked by the server) and 100 MiB down (checked here).
private func transferHugeBodies(_ connection: SPDYClientConnection) async throws {
    let size = 100 << 20
    let upload = try await connection.request(
        SPDYClientRequest(
            method: "POST", path: "/upload", scheme: "http", authority: "127.0.0.1", body: Pattern.body(count: size))
    )
    #expect(upload.statusCode == 200)
    #expect(String(buffer: try await upload.collectBody()) == "bytes=\(size) mismatch=none")

    let result = try await download(connection, "/pattern?bytes=\(size)")
    #expect(result.status == "200 OK")
    #expect(result.closeStatus == .ok)
    #expect(result.count == size)
    #expect(result.firstMismatch == nil)
}

// MARK: - A proxy that delays the server's SETTINGS

/// One proxied connection, confined to its event loop: bytes from the client go to the server at
/// once; bytes from the server are held until the client has sent `releaseAfter` SYN_STREAMs, so
/// the client submits them without knowing the server's SETTINGS (MAX_CONCURRENT_STREAMS).
private final class ProxyLink {
    let inbound: any Channel
    let releaseAfter: Int
    var outbound: (any Channel)?
    var toServer: [ByteBuffer] = []
    var toClient: [ByteBuffer] = []
    var released = false
    var synStreams = 0
    private var scan = ByteBuffer()
    private var skip = 0

    init(inbound: any Channel, releaseAfter: Int) {
        self.inbound = inbound
        self.releaseAfter = releaseAfter
    }

    func connected(_ channel: any Channel) {
        outbound = channel
        for bytes in toServer { channel.write(bytes, promise: nil) }
        toServer = []
        channel.flush()
    }

    func fromClient(_ bytes: ByteBuffer) {
        countSynStreams(bytes)
        if let outbound {
            outbound.writeAndFlush(bytes, promise: nil)
        } else {
            toServer.append(bytes)
        }
        if !released && synStreams >= releaseAfter { release() }
    }

    func fromServer(_ bytes: ByteBuffer) {
        if released {
            inbound.writeAndFlush(bytes, promise: nil)
        } else {
            toClient.append(bytes)
        }
    }

    func release() {
        released = true
        for bytes in toClient { inbound.write(bytes, promise: nil) }
        toClient = []
        inbound.flush()
    }

    /// Walks the client's frames by their 8-byte headers and counts SYN_STREAMs.
    private func countSynStreams(_ bytes: ByteBuffer) {
        scan.writeImmutableBuffer(bytes)
        while true {
            if skip > 0 {
                let count = min(skip, scan.readableBytes)
                scan.moveReaderIndex(forwardBy: count)
                skip -= count
                if skip > 0 { break }
            }
            guard let header = scan.readBytes(length: 8) else { break }
            if header[0] & 0x80 != 0 && header[2] == 0 && header[3] == 1 { synStreams += 1 }
            skip = Int(header[5]) << 16 | Int(header[6]) << 8 | Int(header[7])
        }
        scan.discardReadBytes()
    }
}

private final class ProxyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let link: ProxyLink
    private let clientSide: Bool

    init(link: ProxyLink, clientSide: Bool) {
        self.link = link
        self.clientSide = clientSide
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if clientSide { link.fromClient(bytes) } else { link.fromServer(bytes) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if clientSide {
            link.outbound?.close(promise: nil)
        } else {
            link.release()
            link.inbound.close(promise: nil)
        }
    }
}

/// Listens on 127.0.0.1 and proxies every connection to `targetPort` through a ``ProxyLink``.
private func startSettingsDelayProxy(
    group: any EventLoopGroup,
    targetPort: Int,
    releaseAfter: Int
) async throws -> any Channel {
    try await ServerBootstrap(group: group)
        .childChannelInitializer { inbound in
            inbound.eventLoop.makeCompletedFuture {
                let link = ProxyLink(inbound: inbound, releaseAfter: releaseAfter)
                try inbound.pipeline.syncOperations.addHandler(ProxyHandler(link: link, clientSide: true))
                let bound = NIOLoopBound(link, eventLoop: inbound.eventLoop)
                ClientBootstrap(group: inbound.eventLoop)
                    .channelInitializer { outbound in
                        outbound.eventLoop.makeCompletedFuture {
                            try outbound.pipeline.syncOperations.addHandler(
                                ProxyHandler(link: bound.value, clientSide: false))
                        }
                    }
                    .connect(host: "127.0.0.1", port: targetPort)
                    .whenComplete { result in
                        switch result {
                        case .success(let outbound): bound.value.connected(outbound)
                        case .failure: bound.value.inbound.close(promise: nil)
                        }
                    }
            }
        }
        .bind(host: "127.0.0.1", port: 0)
        .get()
}

/// Sends `count` GETs of `/delayed` at once on `connection`; returns the failures.
private func burstOfRequests(
    _ connection: SPDYClientConnection,
    count: Int,
    token: String,
    delayMilliseconds: Int
) async -> [String] {
    await withTaskGroup(of: String?.self) { group in
        for i in 0..<count {
            group.addTask {
                do {
                    let path = "/delayed?probe=\(token)&ms=\(delayMilliseconds)&i=\(i)"
                    let (status, body) = try await get(connection, path)
                    return status == 200 && body == "done \(i)" ? nil : "#\(i): \(status) \(body)"
                } catch {
                    return "#\(i): \(error)"
                }
            }
        }
        var failures: [String] = []
        for await failure in group {
            if let failure { failures.append(failure) }
        }
        return failures
    }
}

/// Frames that look like SPDY/3 but break the protocol in a way that ends the session.
enum BogusFrame: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// A SYN_STREAM too short to hold its fixed fields and header block.
    case truncatedSynStream
    /// A SETTINGS whose entry count does not match its length.
    case settingsCountMismatch
    /// A SYN_STREAM whose header block is not zlib data.
    case corruptHeaderBlock
    /// A SYN_STREAM with an even (server-side) stream ID.
    case evenStreamID

    var testDescription: String { rawValue }

    func bytes() throws -> ByteBuffer {
        switch self {
        case .truncatedSynStream:
            return ByteBuffer(bytes: controlHeader(version: 3, type: 1, length: 4) + [0, 0, 0, 1])
        case .settingsCountMismatch:
            return ByteBuffer(
                bytes: controlHeader(version: 3, type: 4, length: 12) + [0, 0, 0, 5] + [0, 0, 0, 4, 0, 0, 0, 9])
        case .corruptHeaderBlock:
            let fixed: [UInt8] = [0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0]
            let garbage: [UInt8] = Array(repeating: 0xA5, count: 40)
            return ByteBuffer(bytes: controlHeader(version: 3, type: 1, flags: 1, length: 50) + fixed + garbage)
        case .evenStreamID:
            return try encodeFrames(
                [.synStream(.init(streamID: 2, priority: 3, flags: .fin, headers: requestHeaders("GET", "/")))],
                version: .v3
            )
        }
    }
}

// MARK: - Tests

@Suite("Network layer edge cases over real sockets", .serialized)
struct NetworkEdgeTests {
    static let identity = try! SPDYTLS.Identity.selfSigned()

    // MARK: Large bodies

    @Test(
        "100 MiB request and response bodies under flow control over plain TCP",
        .timeLimit(.minutes(1)),
        arguments: [SPDYVersion.v3_1, .v3]
    )
    func hugeBodiesPlain(version: SPDYVersion) async throws {
        let server = try startServer(.plain(version)) { $0.maxRequestBodySize = 128 << 20 }
        let client = try SPDYClient(configuration: .init(plainVersion: version))
        let connection = try await client.connect(host: "127.0.0.1", port: server.port!, tls: false)
        #expect(connection.version == version)
        try await transferHugeBodies(connection)
        try await client.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }

    @Test("100 MiB request and response bodies over TLS (SPDY/3.1 by ALPN)", .timeLimit(.minutes(1)))
    func hugeBodiesTLS() async throws {
        let server = try startServer(.tls(Self.identity, versions: SPDYVersion.negotiationPreference)) {
            $0.maxRequestBodySize = 128 << 20
        }
        let client = try SPDYClient(configuration: .init(verifyCertificates: false))
        let connection = try await client.connect(host: "127.0.0.1", port: server.port!, tls: true)
        #expect(connection.version == .v3_1)
        try await transferHugeBodies(connection)
        try await client.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }

    @Test(
        "The async client's body has backpressure: unread, the server stalls within a window; read, it all arrives",
        .timeLimit(.minutes(1)),
        arguments: [SPDYVersion.v3_1, .v3, .v2]
    )
    func asyncBodyBackpressure(version: SPDYVersion) async throws {
        let server = try startServer(.plain(version))
        let client = try SPDYClient(configuration: .init(plainVersion: version))
        let connection = try await client.connect(host: "127.0.0.1", port: server.port!, tls: false)
        let (token, probe) = StreamProbe.make()
        let total = 64 << 20
        let response = try await connection.request(
            SPDYClientRequest(path: "/pattern?bytes=\(total)&probe=\(token)", scheme: "http", authority: "127.0.0.1")
        )
        #expect(response.statusCode == 200)
        // Nobody reads the body: the server must stall.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(20)
        var lastWritten = -1
        var quietSamples = 0
        while quietSamples < 5 && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            let written = probe.state.written
            quietSamples = written == lastWritten ? quietSamples + 1 : 0
            lastWritten = written
        }
        let stalled = probe.state
        #expect(quietSamples >= 5, "the response never stalled: \(stalled)")
        // SPDY/3: the 64 KiB window, the body's few buffered chunks, the stream channel's and
        // the socket's buffers. SPDY/2 has no window: the caps of the stream channels and the
        // kernel's socket buffers hold it.
        let bound = version == .v2 ? 24 << 20 : 4 << 20
        #expect(stalled.written < bound, "\(stalled.written) bytes went out to a reader that reads nothing")
        // Reading it resumes and completes the response.
        var verifier = PatternVerifier()
        for try await chunk in response.body { verifier.consume(chunk) }
        #expect(verifier.count == total)
        #expect(verifier.firstMismatch == nil)
        #expect(probe.state.finished)
        try await client.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }

    @Test(
        "A streamed upload from an async sequence arrives whole; a sequence that throws resets the stream",
        .timeLimit(.minutes(1)),
        arguments: [SPDYVersion.v3_1, .v2]
    )
    func streamedUpload(version: SPDYVersion) async throws {
        let server = try startServer(.plain(version))
        let client = try SPDYClient(configuration: .init(plainVersion: version))
        let connection = try await client.connect(host: "127.0.0.1", port: server.port!, tls: false)
        let total = 8 << 20
        let chunks = AsyncStream<ByteBuffer> { continuation in
            var offset = 0
            while offset < total {
                let chunk = Pattern.chunk(at: offset, maxLength: min(40_000, total - offset))
                offset += chunk.readableBytes
                continuation.yield(chunk)
            }
            continuation.finish()
        }
        let request = SPDYClientRequest(method: "POST", path: "/upload", scheme: "http", authority: "127.0.0.1")
        let response = try await connection.request(headers: request.spdyHeaders, streamingBody: chunks)
        #expect(response.statusCode == 200)
        #expect(String(buffer: try await response.collectBody()) == "bytes=\(total) mismatch=none")

        struct Broken: Error {}
        let failing = AsyncThrowingStream<ByteBuffer, any Error> { continuation in
            continuation.yield(Pattern.chunk(at: 0, maxLength: 1000))
            continuation.finish(throwing: Broken())
        }
        await #expect(throws: Broken.self) {
            _ = try await connection.request(headers: request.spdyHeaders, streamingBody: failing)
        }
        // The connection goes on.
        #expect(try await get(connection, "/after").status == 200)
        try await client.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }

    // MARK: Concurrency

    @Test(
        "1 000 concurrent streams on one connection: the client queues what MAX_CONCURRENT_STREAMS=100 refuses",
        .timeLimit(.minutes(1)),
        arguments: [SPDYVersion.v3_1, .v2]
    )
    func thousandStreams(version: SPDYVersion) async throws {
        let server = try startServer(.plain(version))
        let client = try SPDYClient(configuration: .init(plainVersion: version))
        let connection = try await client.connect(host: "127.0.0.1", port: server.port!, tls: false)
        // The server's SETTINGS (sent before anything is read) precedes the PING reply: the client
        // knows MAX_CONCURRENT_STREAMS=100 from here on.
        try await connection.ping().get()
        let (token, probe) = StreamProbe.make()
        let failures = await burstOfRequests(connection, count: 1000, token: token, delayMilliseconds: 50)
        #expect(failures.isEmpty, "\(failures.count) of 1000 requests failed, e.g. \(failures.prefix(3))")
        let peak = probe.state.peak
        #expect(peak <= 100, "the server handled \(peak) requests at once")
        #expect(peak >= 20, "the client kept only \(peak) streams open at once")
        try await client.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }

    @Test(
        "1 000 requests submitted before the server's SETTINGS arrive: refused streams are queued and retried",
        .timeLimit(.minutes(1))
    )
    func thousandStreamsBeforeSettings() async throws {
        let server = try startServer(.plain(.v3_1))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // The proxy holds the server's SETTINGS back until 101 SYN_STREAMs have gone to the server.
        let proxy = try await startSettingsDelayProxy(group: group, targetPort: server.port!, releaseAfter: 101)
        let client = try SPDYClient(configuration: .init(plainVersion: .v3_1))
        let connection = try await client.connect(host: "127.0.0.1", port: proxy.localAddress!.port!, tls: false)
        let (token, probe) = StreamProbe.make()
        let failures = await burstOfRequests(connection, count: 1000, token: token, delayMilliseconds: 300)
        #expect(failures.isEmpty, "\(failures.count) of 1000 requests failed, e.g. \(failures.prefix(3))")
        #expect(probe.state.peak <= 100)
        try await client.shutdown()
        try await proxy.close()
        try await group.shutdownGracefully()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }

    @Test("200 connections at once, each doing a request", .timeLimit(.minutes(1)))
    func twoHundredConnections() async throws {
        let server = try startServer(.plain(.v3_1))
        let port = server.port!
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let client = try SPDYClient(configuration: .init(plainVersion: .v3_1), group: group)
        let results = await withTaskGroup(of: Result<SPDYClientConnection, any Error>.self) { tasks in
            for i in 0..<200 {
                tasks.addTask {
                    do {
                        let connection = try await client.connect(host: "127.0.0.1", port: port, tls: false)
                        let (status, body) = try await get(connection, "/connection/\(i)")
                        guard status == 200, body == "hello /connection/\(i)" else {
                            throw SPDYClientError.submitFailed("#\(i): \(status) \(body)")
                        }
                        return .success(connection)
                    } catch {
                        return .failure(error)
                    }
                }
            }
            var results: [Result<SPDYClientConnection, any Error>] = []
            for await result in tasks { results.append(result) }
            return results
        }
        let connections = results.compactMap { try? $0.get() }
        let errors = results.compactMap { result -> String? in
            if case .failure(let error) = result { "\(error)" } else { nil }
        }
        #expect(connections.count == 200, "errors: \(errors.prefix(3))")
        #expect(server.connectionCount == connections.count)
        for connection in connections {
            connection.close()
        }
        for connection in connections {
            try #require(await closes(connection.channel))
        }
        #expect(await eventually { server.connectionCount == 0 })
        try await group.shutdownGracefully()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }

    // MARK: Shutdown and timeouts

    @Test(
        "Graceful shutdown: responses in flight finish, new connections are refused, shutdown returns",
        .timeLimit(.minutes(1))
    )
    func gracefulShutdown() async throws {
        let server = try startServer(.plain(.v3_1))
        let port = server.port!
        let client = try SPDYClient(configuration: .init(plainVersion: .v3_1, connectTimeout: .seconds(5)))
        let connections = [
            try await client.connect(host: "127.0.0.1", port: port, tls: false),
            try await client.connect(host: "127.0.0.1", port: port, tls: false),
        ]
        let chunks = 10
        let expected = (0..<chunks).map { "chunk \($0)\n" }.joined()
        let inFlight = 6
        let (started, startedContinuation) = AsyncStream<Void>.makeStream()
        let bodies = Task {
            await withTaskGroup(of: Result<String, any Error>.self) { group in
                for i in 0..<inFlight {
                    group.addTask {
                        var signalled = false
                        defer {
                            // A request that failed before its first chunk counts as started too.
                            if !signalled { startedContinuation.yield() }
                        }
                        do {
                            let response = try await connections[i % 2].request(
                                SPDYClientRequest(
                                    path: "/slow?chunks=\(chunks)&ms=100&i=\(i)", scheme: "http",
                                    authority: "127.0.0.1")
                            )
                            var body = ""
                            var iterator = response.body.makeAsyncIterator()
                            if let first = try await iterator.next() {
                                body += String(buffer: first)
                            }
                            signalled = true
                            startedContinuation.yield()
                            while let chunk = try await iterator.next() {
                                body += String(buffer: chunk)
                            }
                            return .success(body)
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                var bodies: [Result<String, any Error>] = []
                for await body in group { bodies.append(body) }
                return bodies
            }
        }
        // Every response has started (its first chunk arrived) before the shutdown begins.
        var startedIterator = started.makeAsyncIterator()
        for _ in 0..<inFlight {
            await startedIterator.next()
        }
        #expect(server.connectionCount == 2)

        let clock = ContinuousClock()
        let shutdownStart = clock.now
        let shutdown = Task {
            try await server.shutdownGracefully(timeout: .seconds(30))
            return clock.now - shutdownStart
        }
        // New connections are refused (or closed unserved) once the shutdown has begun.
        let refused = await eventually(timeout: .seconds(10)) {
            do {
                _ = try await getOnNewConnection(client, port: port, tls: false, "/late")
                return false
            } catch {
                return true
            }
        }
        #expect(refused, "the server kept accepting new connections during the shutdown")
        // A request sent on an existing connection now must not hang (served or refused).
        let late = Task { () -> Bool in
            do {
                _ = try await get(connections[0], "/late-on-old-connection")
                return true
            } catch {
                return false
            }
        }

        for result in await bodies.value {
            switch result {
            case .success(let body): #expect(body == expected)
            case .failure(let error): Issue.record("a response in flight failed: \(error)")
            }
        }
        let elapsed = try await shutdown.value
        #expect(elapsed < .seconds(20), "the shutdown waited for its deadline: \(elapsed)")
        _ = await late.value
        for connection in connections {
            #expect(await closes(connection.channel), "the server left a connection open after its shutdown")
        }
        #expect(server.connectionCount == 0)
        await #expect(throws: (any Error).self) {
            _ = try await getOnNewConnection(client, port: port, tls: false, "/after")
        }
        try await client.shutdown()
    }

    @Test(
        "Idle timeout: traffic keeps a connection open; an idle one gets GOAWAY and is closed", .timeLimit(.minutes(1)))
    func idleTimeout() async throws {
        let server = try startServer(.plain(.v3)) { $0.idleTimeout = .seconds(1) }
        let port = server.port!
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (channel, log) = try await rawConnect(port: port, group: group, decoding: .v3)
        let clock = ContinuousClock()
        // A PING every 100 ms for 2.5 s, longer than the idle timeout, keeps the connection open.
        for i in 0..<25 {
            try await channel.writeAndFlush(
                try encodeFrames([.ping(.init(id: UInt32(2 * i + 1)))], version: .v3))
            try await Task.sleep(for: .milliseconds(100))
        }
        let lastActivity = clock.now
        #expect(channel.isActive, "the connection was closed although it was not idle")
        #expect(log.goAways.isEmpty)
        #expect(await eventually { log.pingIDs.count == 25 }, "PINGs answered: \(log.pingIDs.count)")

        // Then silence: GOAWAY and close.
        try #require(await closes(channel), "the idle connection was not closed")
        let idleFor = clock.now - lastActivity
        #expect(idleFor >= .milliseconds(800), "closed after only \(idleFor) of silence")
        #expect(log.goAways.map(\.status) == [.ok])
        #expect(log.state.decodingError == nil)

        // The same with the client library: a connection that did a request and went quiet.
        let client = try SPDYClient(configuration: .init(plainVersion: .v3))
        let connection = try await client.connect(host: "127.0.0.1", port: port, tls: false)
        #expect(try await get(connection, "/before-idle").status == 200)
        #expect(await closes(connection.channel), "the idle client connection was not closed")
        #expect(await eventually { server.connectionCount == 0 })

        try await client.shutdown()
        try await group.shutdownGracefully()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }

    // MARK: Peers that go away

    @Test(
        "A peer that closes its connection mid-response: the stream is freed and the server keeps serving",
        .timeLimit(.minutes(1)),
        arguments: [SPDYVersion.v3_1, .v2]
    )
    func peerClosesMidResponse(version: SPDYVersion) async throws {
        let server = try startServer(.plain(version))
        let port = server.port!
        let client = try SPDYClient(configuration: .init(plainVersion: version))
        let connection = try await client.connect(host: "127.0.0.1", port: port, tls: false)
        let (token, probe) = StreamProbe.make()
        let response = try await connection.request(
            SPDYClientRequest(path: "/pattern?bytes=\(1 << 30)&probe=\(token)", scheme: "http", authority: "127.0.0.1")
        )
        #expect(response.statusCode == 200)
        var verifier = PatternVerifier()
        for try await chunk in response.body {
            verifier.consume(chunk)
            if verifier.count >= 1 << 20 { break }
        }
        #expect(verifier.firstMismatch == nil)
        try await connection.channel.close()

        #expect(await eventually { probe.state.failed }, "the handler's writes never failed: \(probe.state)")
        #expect(!probe.state.finished)
        #expect(await eventually { server.connectionCount == 0 })
        #expect(try await getOnNewConnection(client, port: port, tls: false, "/next") == (200, "hello /next"))
        try await client.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }

    @Test("A peer that closes mid-request-body, or resets a stream mid-response", .timeLimit(.minutes(1)))
    func peerAbandonsStreams() async throws {
        let server = try startServer(.plain(.v3))
        let port = server.port!
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = try SPDYClient(configuration: .init(plainVersion: .v3))

        // Half a POST body, then the connection closes.
        let (uploader, _) = try await rawConnect(port: port, group: group, decoding: .v3)
        var upload = try encodeFrames(
            [
                .synStream(.init(streamID: 1, priority: 3, headers: requestHeaders("POST", "/upload"))),
                .data(.init(streamID: 1, payload: Pattern.chunk(at: 0, maxLength: 10_000))),
            ],
            version: .v3
        )
        try await uploader.writeAndFlush(upload)
        #expect(await eventually { server.connectionCount == 1 })
        try await uploader.close()
        #expect(await eventually { server.connectionCount == 0 })
        #expect(
            try await getOnNewConnection(client, port: port, tls: false, "/after-upload") == (
                200, "hello /after-upload"
            ))

        // A response in progress, then RST_STREAM CANCEL: the stream is freed, the connection lives on.
        let (token, probe) = StreamProbe.make()
        let (reader, log) = try await rawConnect(port: port, group: group, decoding: .v3)
        upload = try encodeFrames(
            [
                .synStream(
                    .init(
                        streamID: 1, priority: 3, flags: .fin,
                        headers: requestHeaders("GET", "/pattern?bytes=\(1 << 30)&probe=\(token)")))
            ],
            version: .v3
        )
        try await reader.writeAndFlush(upload)
        // No WINDOW_UPDATE from this peer: the server sends one 64 KiB window and waits.
        #expect(await eventually { log.state.dataBytes >= 32 << 10 })
        try await reader.writeAndFlush(
            try encodeFrames([.rstStream(.init(streamID: 1, status: .cancel)), .ping(.init(id: 1))], version: .v3))
        #expect(await eventually { probe.state.failed }, "the handler's writes never failed: \(probe.state)")
        #expect(await eventually { log.pingIDs == [1] }, "the connection stopped answering")
        #expect(reader.isActive)
        #expect(await eventually { server.connectionCount == 1 })
        #expect(log.goAways.isEmpty)
        try await reader.close()
        #expect(await eventually { server.connectionCount == 0 })

        try await client.shutdown()
        try await group.shutdownGracefully()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }

    @Test(
        "A client that stops reading: the response writer and channel stay bounded, others are served",
        .timeLimit(.minutes(1)),
        arguments: [SPDYVersion.v2, .v3_1]
    )
    func clientStopsReading(version: SPDYVersion) async throws {
        let server = try startServer(.plain(version))
        let port = server.port!
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (channel, log) = try await rawConnect(port: port, group: group, decoding: nil, autoRead: false)
        let (token, probe) = StreamProbe.make()
        let total = 1 << 30
        var frames: [SPDYFrame] = []
        if version != .v2 {
            // Open every flow-control window wide: only TCP backpressure holds the server back.
            frames.append(.settings(.init(entries: [.init(id: .initialWindowSize, value: 0x7fff_ffff)])))
            frames.append(.windowUpdate(.init(streamID: .zero, deltaWindowSize: 0x7fff_ffff - 65_536)))
        }
        frames.append(
            .synStream(
                .init(
                    streamID: 1, priority: 3, flags: .fin,
                    headers: requestHeaders("GET", "/pattern?bytes=\(total)&probe=\(token)"))))
        try await channel.writeAndFlush(try encodeFrames(frames, version: version))

        // Wait until the response stalls: no progress for half a second.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        var lastWritten = -1
        var quietSamples = 0
        while quietSamples < 5 && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            let written = probe.state.written
            quietSamples = written == lastWritten && written > 0 ? quietSamples + 1 : 0
            lastWritten = written
        }
        let stalled = probe.state
        #expect(quietSamples >= 5, "the response never stalled: \(stalled)")
        #expect(!stalled.finished && !stalled.failed)
        #expect(stalled.written < 64 << 20, "\(stalled.written) bytes went out to a client that reads nothing")
        #expect(stalled.maxWriterBuffered <= 512 << 10, "the writer buffered \(stalled.maxWriterBuffered) bytes")
        #expect(stalled.maxChannelBuffered <= 512 << 10, "the channel buffered \(stalled.maxChannelBuffered) bytes")

        // Another client is served meanwhile.
        let client = try SPDYClient(configuration: .init(plainVersion: version))
        #expect(try await getOnNewConnection(client, port: port, tls: false, "/meanwhile") == (200, "hello /meanwhile"))
        #expect(server.connectionCount >= 1)

        // Reading again resumes the response.
        channel.setOption(.autoRead, value: true).whenFailure { Issue.record("autoRead: \($0)") }
        channel.read()
        #expect(
            await eventually { probe.state.written >= stalled.written + (8 << 20) },
            "the response did not resume: \(probe.state)")
        #expect(await eventually { log.state.dataBytes > stalled.written })
        let resumed = probe.state
        #expect(resumed.maxWriterBuffered <= 512 << 10, "the writer buffered \(resumed.maxWriterBuffered) bytes")
        #expect(resumed.maxChannelBuffered <= 512 << 10, "the channel buffered \(resumed.maxChannelBuffered) bytes")

        try await channel.close()
        #expect(await eventually { probe.state.failed })
        #expect(await eventually { server.connectionCount == 0 })
        try await client.shutdown()
        try await group.shutdownGracefully()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }

    // MARK: Bad input

    @Test(
        "Garbage instead of a TLS handshake closes only that connection",
        .timeLimit(.minutes(1)),
        arguments: [
            [UInt8](repeating: 0xA5, count: 300),
            [0x16, 0x03, 0x01, 0x00, 0x20] + [UInt8](repeating: 0x42, count: 200),
            Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8),
        ]
    )
    func garbageInsteadOfTLS(garbage: [UInt8]) async throws {
        let server = try startServer(.tls(Self.identity, versions: SPDYVersion.negotiationPreference))
        let port = server.port!
        let client = try SPDYClient(configuration: .init(verifyCertificates: false))
        let established = try await client.connect(host: "127.0.0.1", port: port, tls: true)
        #expect(try await get(established, "/first") == (200, "hello /first"))

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (raw, _) = try await rawConnect(port: port, group: group, decoding: nil)
        try await raw.writeAndFlush(ByteBuffer(bytes: garbage))
        try #require(await closes(raw), "the server left the connection open")

        #expect(try await get(established, "/second") == (200, "hello /second"))
        #expect(server.connectionCount == 1)
        try await client.shutdown()
        try await group.shutdownGracefully()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }

    @Test(
        "With HTTP/1.1 off, a TLS client whose ALPN offers only http/1.1 is closed; others are served",
        .timeLimit(.minutes(1)))
    func alpnWithoutSPDY() async throws {
        let server = try startServer(.tls(Self.identity, versions: SPDYVersion.negotiationPreference)) {
            $0.servesHTTP1 = false
        }
        let port = server.port!
        let client = try SPDYClient(configuration: .init(verifyCertificates: false))
        let established = try await client.connect(host: "127.0.0.1", port: port, tls: true)

        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        configuration.applicationProtocols = ["http/1.1"]
        let context = try NIOSSLContext(configuration: configuration)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (raw, log) = try await rawConnect(port: port, group: group, decoding: nil, tls: context)
        // The server may have closed already, right after the handshake.
        try? await raw.writeAndFlush(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
        try #require(await closes(raw), "the server left the connection open")
        #expect(log.state.dataBytes == 0, "the server answered a connection that did not negotiate SPDY")

        #expect(try await get(established, "/still") == (200, "hello /still"))
        #expect(await eventually { server.connectionCount == 1 })
        try await client.shutdown()
        try await group.shutdownGracefully()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }

    @Test(
        "A half-open connection (connects, sends nothing) is closed by its timeout; others are served",
        .timeLimit(.minutes(1)),
        arguments: [true, false]
    )
    func halfOpenConnection(tls: Bool) async throws {
        let timeout = TimeAmount.milliseconds(1500)
        let server: SPDYServer
        if tls {
            server = try startServer(.tls(Self.identity, versions: SPDYVersion.negotiationPreference)) {
                $0.handshakeTimeout = timeout
            }
        } else {
            server = try startServer(.plain(.v3_1)) {
                $0.idleTimeout = timeout
                // Serving HTTP/1.1 too, the server waits this long for the first bytes.
                $0.handshakeTimeout = timeout
            }
        }
        let port = server.port!
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let clock = ContinuousClock()
        let opened = clock.now
        let (silent, _) = try await rawConnect(port: port, group: group, decoding: nil)

        let client = try SPDYClient(configuration: .init(plainVersion: .v3_1, verifyCertificates: false))
        #expect(try await getOnNewConnection(client, port: port, tls: tls, "/while") == (200, "hello /while"))

        try #require(await closes(silent), "the server left the silent connection open")
        let openFor = clock.now - opened
        #expect(openFor >= .milliseconds(1200), "closed after \(openFor), before the timeout")
        #expect(try await getOnNewConnection(client, port: port, tls: tls, "/after") == (200, "hello /after"))
        #expect(await eventually { server.connectionCount == 0 })
        try await client.shutdown()
        try await group.shutdownGracefully()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }

    @Test(
        "A bogus SPDY frame over plain TCP gets GOAWAY PROTOCOL_ERROR and a close; others are served",
        .timeLimit(.minutes(1)),
        arguments: BogusFrame.allCases
    )
    func bogusFrame(frame: BogusFrame) async throws {
        let server = try startServer(.plain(.v3))
        let port = server.port!
        let client = try SPDYClient(configuration: .init(plainVersion: .v3))
        let established = try await client.connect(host: "127.0.0.1", port: port, tls: false)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (raw, log) = try await rawConnect(port: port, group: group, decoding: .v3)
        try await raw.writeAndFlush(try frame.bytes())
        try #require(await closes(raw), "the server left the connection open")
        #expect(log.goAways.map(\.status) == [.protocolError])
        #expect(log.state.decodingError == nil)

        #expect(try await get(established, "/still") == (200, "hello /still"))
        #expect(await eventually { server.connectionCount == 1 })
        try await client.shutdown()
        try await group.shutdownGracefully()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }
}
