import NIOCore
import NIOPosix
import NIOSPDY
import SPDY

/// What one stream brought back: every header block (SYN_REPLY, then HEADERS), the body and
/// how it closed.
struct StreamResult: Sendable {
    var headerBlocks: [SPDYHeaders] = []
    var body = ByteBuffer()
    var status: SPDYStreamStatus = .ok
    var connectionClosed = false

    /// The first value of `name` in any header block.
    subscript(_ name: String) -> String? {
        for block in headerBlocks { if let value = block[name] { return value } }
        return nil
    }

    func values(_ name: String) -> [String] { headerBlocks.flatMap { $0.values(name: name) } }
}

/// A stream handler that collects a ``StreamResult``.
final class CollectingHandler: SPDYStreamHandler {
    private var result = StreamResult()
    private let promise: EventLoopPromise<StreamResult>

    init(promise: EventLoopPromise<StreamResult>) { self.promise = promise }

    override func onHeader(_ headers: SPDYHeaders) { result.headerBlocks.append(headers) }
    override func onData(_ data: ByteBuffer) {
        var data = data
        result.body.writeBuffer(&data)
    }
    override func onClose(_ status: SPDYStreamStatus) {
        result.status = status
        promise.succeed(result)
    }
    override func onConnectionClosed(error: (any Error)?) {
        result.connectionClosed = true
        result.status = .cancel
        promise.succeed(result)
    }
}

/// `spdy-interop client --scenario netty|spdystream --port P [--host H]`: runs a scenario
/// against a peer server and prints one line per check; exits 0 when all passed.
struct InteropClient {
    let options: Options
    let checks = Checks(prefix: "client")
    let host: String
    let port: Int
    let authority: String

    init(options: Options) {
        self.options = options
        host = options["host"] ?? "127.0.0.1"
        port = options.int("port", default: 0)
        authority = "\(host):\(port)"
    }

    func request(
        _ connection: SPDYClientConnection,
        _ method: String,
        _ path: String,
        headers: [(name: String, value: String)] = [],
        body: ByteBuffer? = nil
    ) -> EventLoopFuture<StreamResult> {
        let promise = connection.eventLoop.makePromise(of: StreamResult.self)
        let request = SPDYClientRequest(
            method: method, path: path, scheme: "http", authority: authority, headers: headers, body: body)
        connection.request(request, handler: CollectingHandler(promise: promise))
        return promise.futureResult
    }

    /// Connects and hooks the frame counters before any request.
    func connect(version: SPDYVersion) async throws -> (SPDYClient, SPDYClientConnection, FrameStats) {
        let client = try SPDYClient(configuration: .init(plainVersion: version))
        let connection = try await client.connect(host: host, port: port, tls: false)
        let stats = try await connection.eventLoop.submit {
            let handler = try connection.channel.pipeline.syncOperations.handler(type: SPDYConnection.self)
            return FrameStats.of(handler)
        }.get()
        return (client, connection, stats)
    }

    func stats<T: Sendable>(
        _ connection: SPDYClientConnection, _ stats: FrameStats, _ read: @escaping @Sendable (FrameStats) -> T
    ) async throws -> T {
        try await connection.eventLoop.submit { read(stats) }.get()
    }

    func run() async throws -> Never {
        switch options["scenario"] {
        case "netty": try await netty()
        case "spdystream": try await spdystream()
        default:
            say("client: unknown scenario \(options["scenario"] ?? "")")
            exit(2)
        }
        checks.finish()
    }

    /// Checks of a `/echo` or `/bytes` answer.
    func checkBody(_ result: StreamResult, _ what: String, size: Int, seed: Int) {
        let mismatch = Pattern.firstMismatch(result.body, seed: seed)
        guard result.status == .ok, result.body.readableBytes == size, mismatch == nil else {
            checks.check(
                false, what,
                "status \(result.status), \(result.body.readableBytes) of \(size) bytes, "
                    + "first wrong byte \(mismatch.map { String($0) } ?? "none"), closed \(result.connectionClosed)")
            return
        }
    }

    // MARK: - Against Netty (SPDY/3.1)

    /// PING both ways, 100 concurrent streams (50 uploads of 256 KiB echoed, 50 downloads of
    /// 1 MiB), RST_STREAM, then GOAWAY from us.
    func netty() async throws {
        let (client, connection, stats) = try await connect(version: .v3_1)
        checks.check(connection.version == .v3_1, "speaks SPDY/3.1")

        try await connection.ping().get()
        checks.check(true, "PING answered by the peer")

        let ping = try await request(connection, "GET", "/ping").get()
        checks.check(ping.status == .ok && ping["x-ping-id"] != nil, "peer's PING answered (GET /ping)", "\(ping)")

        let upload = 256 * 1024
        let download = 1024 * 1024
        // The bodies are made first and the 100 requests submitted in one event-loop turn, so
        // all 100 SYN_STREAMs leave before any response can complete.
        let bodies = (0..<100).map { i in i % 2 == 0 ? Pattern.buffer(count: upload, seed: i) : nil }
        let futures = try await connection.eventLoop.submit {
            (0..<100).map { i -> EventLoopFuture<StreamResult> in
                if let body = bodies[i] {
                    return request(
                        connection, "POST", "/echo", headers: [("x-test", "value-\(i)"), ("x-seed", String(i))],
                        body: body)
                }
                return request(connection, "GET", "/bytes/\(download)?seed=\(i)")
            }
        }.get()
        var good = 0
        var problems: [String] = []
        for (i, future) in futures.enumerated() {
            let result = try await future.get()
            let size = i % 2 == 0 ? upload : download
            let mismatch = Pattern.firstMismatch(result.body, seed: i)
            var problem: String?
            if result.status != .ok || result.connectionClosed {
                problem = "stream \(i) closed with \(result.status) (connection closed: \(result.connectionClosed))"
            } else if result.body.readableBytes != size {
                problem = "stream \(i): \(result.body.readableBytes) of \(size) bytes"
            } else if let mismatch {
                problem = "stream \(i): wrong byte at \(mismatch)"
            } else if result[":status"] != "200 OK" {
                problem = "stream \(i): :status \(result[":status"] ?? "none")"
            } else if i % 2 == 0,
                result["x-request-size"] != String(upload) || result["x-echo"] != "value-\(i)"
                    || result["x-pattern"] != "ok"
            {
                problem =
                    "stream \(i): x-request-size \(result["x-request-size"] ?? "-") x-echo \(result["x-echo"] ?? "-") x-pattern \(result["x-pattern"] ?? "-")"
            }
            if let problem { problems.append(problem) } else { good += 1 }
        }
        checks.check(
            good == 100, "100 concurrent streams: 50 x 256 KiB echoed, 50 x 1 MiB downloaded, bytes and headers",
            problems.prefix(5).joined(separator: "; "))

        let rst = try await request(connection, "GET", "/rst").get()
        checks.check(rst.status == .cancel && rst.headerBlocks.isEmpty, "RST_STREAM CANCEL received", "\(rst.status)")

        try await connection.ping().get()
        let counts = try await self.stats(connection, stats) { $0.summary }
        say("client: \(counts)")
        let (wuSent, wuReceived, peerPings, maxOpen) = try await self.stats(connection, stats) {
            ($0.windowUpdatesSent, $0.windowUpdatesReceived, $0.peerPings, $0.maxOpenStreams)
        }
        checks.check(wuSent.streams > 0, "WINDOW_UPDATE sent on streams", "\(wuSent.streams)")
        checks.check(wuSent.session > 0, "WINDOW_UPDATE sent on the session (stream 0)", "\(wuSent.session)")
        checks.check(wuReceived.streams > 0, "WINDOW_UPDATE received on streams", "\(wuReceived.streams)")
        checks.check(
            wuReceived.session > 0, "WINDOW_UPDATE received on the session (stream 0)", "\(wuReceived.session)")
        checks.check(peerPings > 0, "peer's PING received", "\(peerPings)")
        checks.check(maxOpen >= 100, "100 streams open at once", "\(maxOpen)")

        // GOAWAY from us: the peer sees it, and the connection closes cleanly.
        connection.close()
        let closed: Void? = try? await connection.channel.closeFuture.get()
        checks.check(closed != nil, "connection closed after our GOAWAY")
        let goAwaySent = try? await self.stats(connection, stats) { $0.goAwaySent }
        checks.check(goAwaySent ?? true, "GOAWAY sent")
        try? await client.shutdown()
    }

    // MARK: - Against spdystream (SPDY/3)

    /// Headers both ways, echo and download under 64 KiB (spdystream never sends
    /// WINDOW_UPDATE), RST_STREAM, HTTP/1.1 connection headers, PING both ways, GOAWAY.
    func spdystream() async throws {
        let (client, connection, stats) = try await connect(version: .v3)
        checks.check(connection.version == .v3, "speaks SPDY/3")

        try await connection.ping().get()
        checks.check(true, "PING answered by the peer")

        // Request headers checked by the peer, response headers checked here.
        let headers = try await request(
            connection, "GET", "/headers",
            headers: [("x-test", "hello"), ("x-multi", "a"), ("x-multi", "b"), ("accept", "*/*")]
        ).get()
        checks.check(
            headers.status == .ok && headers[":status"] == "200 OK" && headers[":version"] == "HTTP/1.1",
            "GET /headers answered 200 OK", "\(headers.status) \(headers.headerBlocks)")
        checks.check(headers["echo-x-test"] == "hello", "response header echo-x-test", "\(headers.headerBlocks)")
        checks.check(
            headers.values("echo-x-multi") == ["a", "b"], "response header echo-x-multi with two values",
            "\(headers.values("echo-x-multi"))")
        checks.check(
            headers["content-type"] == "text/plain", "response header content-type",
            "\(headers["content-type"] ?? "none")")

        // Bodies under 64 KiB both ways, several streams at once.
        let size = 60_000
        var echoes: [EventLoopFuture<StreamResult>] = []
        for i in 0..<8 {
            echoes.append(
                request(
                    connection, "POST", "/echo", headers: [("x-test", "echo-\(i)"), ("x-seed", String(i))],
                    body: Pattern.buffer(count: size, seed: i)))
        }
        var problems: [String] = []
        for (i, future) in echoes.enumerated() {
            let result = try await future.get()
            if result.status != .ok || result.body.readableBytes != size
                || Pattern.firstMismatch(result.body, seed: i) != nil
            {
                problems.append("echo \(i): \(result.status), \(result.body.readableBytes) bytes")
            } else if result["x-request-size"] != String(size) || result["x-echo"] != "echo-\(i)"
                || result["x-pattern"] != "ok"
            {
                problems.append("echo \(i): headers \(result.headerBlocks)")
            }
        }
        checks.check(
            problems.isEmpty, "8 concurrent POST /echo of 60000 bytes: bytes and headers",
            problems.joined(separator: "; "))

        let bytes = try await request(connection, "GET", "/bytes/\(size)?seed=7").get()
        checks.check(
            bytes.status == .ok && bytes.body.readableBytes == size && Pattern.firstMismatch(bytes.body, seed: 7) == nil
                && bytes["content-length"] == String(size),
            "GET /bytes/60000: bytes and content-length", "\(bytes.status) \(bytes.body.readableBytes)")

        let rst = try await request(connection, "GET", "/rst").get()
        checks.check(
            rst.status == .cancel && !rst.connectionClosed, "RST_STREAM CANCEL received",
            "\(rst.status) \(rst.connectionClosed)")

        // A request carrying HTTP/1.1 connection-specific headers (as a proxy would forward them):
        // SPDY/3 forbids them on the wire, and spdystream drops the connection when it sees one.
        let forwarded = try await request(
            connection, "GET", "/headers",
            headers: [
                ("connection", "keep-alive"), ("keep-alive", "timeout=5"), ("proxy-connection", "keep-alive"),
                ("transfer-encoding", "chunked"), ("host", authority), ("x-test", "forwarded"),
            ]
        ).get()
        checks.check(
            forwarded.status == .ok && forwarded["echo-x-test"] == "forwarded",
            "request with HTTP/1.1 connection headers accepted",
            "\(forwarded.status) closed \(forwarded.connectionClosed)")

        let ping = try await request(connection, "GET", "/ping").get()
        checks.check(
            ping.status == .ok && ping["x-ping-id"] != nil, "peer's PING answered (GET /ping)", "\(ping.status)")

        let counts = try await self.stats(connection, stats) { $0.summary }
        say("client: \(counts)")
        let peerPings = try await self.stats(connection, stats) { $0.peerPings }
        checks.check(peerPings > 0, "peer's PING received", "\(peerPings)")

        connection.close()
        let closed: Void? = try? await connection.channel.closeFuture.get()
        checks.check(closed != nil, "connection closed after our GOAWAY")
        try? await client.shutdown()
    }
}
