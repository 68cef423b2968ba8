import NIOConcurrencyHelpers
import NIOCore
import NIOSPDY
import SPDY

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The routes of the interop server:
///
/// - `GET /bytes/N?seed=S`: N bytes of the pattern with seed S (`content-length`, `x-seed`).
/// - `POST /echo`: the request body back, with `x-request-size`, `x-echo` (every value of the
///   request's `x-test`) and, when the request has `x-seed`, `x-pattern: ok` or where the
///   body first differs from the pattern.
/// - `GET /headers`: `echo-NAME` for every request header `x-NAME`; the body lists every
///   request header as `name: value` lines.
/// - `GET /rst`: answered with RST_STREAM CANCEL.
/// - `GET /ping`: the server pings the client and answers once the reply is back.
/// - `GET /conn-headers`: a handler that adds HTTP/1.1 connection-specific headers
///   (`connection`, `keep-alive`, `proxy-connection`, `transfer-encoding`), which SPDY/3
///   forbids on the wire.
final class InteropHandler: SPDYRequestHandler {
    private var route: (path: String, query: [String: String]) {
        let parts = path.split(separator: "?", maxSplits: 1)
        var query: [String: String] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                query[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
            }
        }
        return (String(parts.first ?? ""), query)
    }

    override func doGET() {
        let (path, query) = route
        let seed = Int(query["seed"] ?? "0") ?? 0
        if path.hasPrefix("/bytes/"), let count = Int(path.dropFirst("/bytes/".count)) {
            sendResponse(200)
            sendHeader("content-type", "application/octet-stream")
            sendHeader("content-length", String(count))
            sendHeader("x-seed", String(seed))
            wfile.write(Pattern.buffer(count: count, seed: seed))
        } else if path == "/headers" {
            sendResponse(200)
            sendHeader("content-type", "text/plain")
            var body = ""
            for (name, value) in requestHeaders {
                body += "\(name): \(value)\n"
                if name.hasPrefix("x-") { sendHeader("echo-" + name, value) }
            }
            wfile.write(body)
        } else if path == "/rst" {
            startStreaming()  // no response: the stream is reset instead
            resetStream(status: .cancel)
        } else if path == "/ping" {
            guard let connection else { return sendError(500) }
            let writer = startStreaming()
            let (id, reply) = connection.sendPing()
            let handler = NIOLoopBound(self, eventLoop: writer.eventLoop)
            reply.whenSuccess {
                let handler = handler.value
                handler.sendResponse(200)
                handler.sendHeader("content-type", "text/plain")
                handler.sendHeader("x-ping-id", String(id))
                handler.endHeaders()
                writer.write("pong \(id)\n")
                writer.finish()
            }
        } else if path == "/conn-headers" {
            sendResponse(200)
            sendHeader("content-type", "text/plain")
            sendHeader("connection", "keep-alive")
            sendHeader("keep-alive", "timeout=5")
            sendHeader("proxy-connection", "keep-alive")
            sendHeader("transfer-encoding", "chunked")
            wfile.write("ok\n")
        } else {
            sendError(404)
        }
    }

    override func doPOST() {
        guard route.path == "/echo" else { return sendError(404) }
        sendResponse(200)
        sendHeader("content-type", "application/octet-stream")
        sendHeader("x-request-size", String(rfile.readableBytes))
        for value in requestHeaders.values(name: "x-test") {
            sendHeader("x-echo", value)
        }
        if let seed = requestHeaders["x-seed"].flatMap({ Int($0) }) {
            let mismatch = Pattern.firstMismatch(rfile, seed: seed)
            sendHeader("x-pattern", mismatch.map { "bad at \($0)" } ?? "ok")
        }
        wfile.write(rfile)
    }

    override func handle() {
        // Hook the frame counters on the connection's first request.
        if let connection { _ = FrameStats.of(connection) }
        super.handle()
        if let connection {
            InteropServer.shared?.noteRequest(connection)
        }
    }
}

/// `spdy-interop server --version 3|3.1 [--port P] [--connections N] [--expect a,b,...]`
///
/// Prints `PORT p` once listening. With `--connections N` it exits after N connections have
/// closed, non-zero unless every connection met every expectation (see ``expectations``).
final class InteropServer: @unchecked Sendable {
    nonisolated(unsafe) static var shared: InteropServer?

    let checks = Checks(prefix: "server")
    let expected: [String]
    let connectionsToServe: Int
    private let lock = NIOLock()
    private var hooked: Set<ObjectIdentifier> = []
    private var closed = 0
    private var done: EventLoopPromise<Void>?

    /// What `--expect` can ask of each connection.
    static let expectations: [String: @Sendable (FrameStats) -> Bool] = [
        "goaway-received": { $0.goAwayReceived },
        "peer-ping": { $0.peerPings > 0 },
        "ping-reply": { $0.pingReplies > 0 },
        "wu-sent-stream": { $0.windowUpdatesSent.streams > 0 },
        "wu-sent-session": { $0.windowUpdatesSent.session > 0 },
        "wu-received-stream": { $0.windowUpdatesReceived.streams > 0 },
        "wu-received-session": { $0.windowUpdatesReceived.session > 0 },
        "100-streams": { $0.maxOpenStreams >= 100 },
    ]

    init(expected: [String], connections: Int) {
        self.expected = expected
        self.connectionsToServe = connections
    }

    func noteRequest(_ connection: SPDYConnection) {
        let id = ObjectIdentifier(connection)
        let isNew = lock.withLock { hooked.insert(id).inserted }
        guard isNew else { return }
        let stats = FrameStats.of(connection)
        connection.addObserver { [self] event in
            if case .closed(let error) = event { connectionClosed(stats, error: error) }
        }
    }

    private func connectionClosed(_ stats: FrameStats, error: (any Error)?) {
        say("server: connection closed: \(stats.summary) error=\(error.map { "\($0)" } ?? "none")")
        checks.check(error == nil, "connection closed without error", "\(error.map { "\($0)" } ?? "")")
        for name in expected {
            checks.check(Self.expectations[name]?(stats) ?? false, name)
        }
        let finished = lock.withLock {
            closed += 1
            return closed == connectionsToServe
        }
        if finished { done?.succeed(()) }
    }

    func run(options: Options) async throws -> Never {
        let server = try SPDYServer(
            configuration: .init(
                host: "127.0.0.1",
                port: options.int("port", default: 0),
                transport: .plain(options.version),
                idleTimeout: .seconds(120)
            ),
            handler: InteropHandler.self
        )
        try server.start()
        let promise = server.group.next().makePromise(of: Void.self)
        done = promise
        say("PORT \(server.port ?? 0)")
        guard connectionsToServe > 0 else {
            try await promise.futureResult.get()  // runs until killed
            exit(0)
        }
        try await promise.futureResult.get()
        try? await server.shutdownGracefully(timeout: .seconds(2))
        checks.finish()
    }
}
