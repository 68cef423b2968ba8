import ArgumentParser
import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import SPDY
import SPDYToolSupport

/// `spdyload`: a load generator for SPDY servers, in the manner of nghttp2's h2load.
struct Spdyload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spdyload",
        abstract: "Benchmarking tool for SPDY servers.",
        usage:
            "spdyload [-n <N>] [-c <N>] [-m <N>] [-t <N>] [-D <SECONDS>] [-23] [--spdy3-1] [--no-tls] [--retry <N>] "
            + "[--ping-interval <SECONDS>] [--checksums <FILE>] [--json] <URI>...",
        discussion: """
            Opens -c connections over -t threads and keeps up to -m requests in flight on each, \
            until -n requests are done (split evenly between the connections), or for -D \
            seconds. Several URIs are requested in turn; they must share scheme, host and port. \
            https:// URIs negotiate the version by ALPN (certificates are not verified: this is \
            a load generator); http:// URIs need --no-tls and a version flag.

            Prints requests/s, bytes/s (response bodies), the counts of succeeded (status below \
            400), failed (status 400 or above) and errored (reset or connection lost) requests, \
            the status classes, and min/mean/p50/p90/p99/max of the time for a request (from \
            submitting it to the end of the response) and of the time to its first byte (to the \
            SYN_REPLY). --json prints the same as one JSON object.

            --retry N makes each connection a retrying one: a request whose connection is \
            lost (reset, closed, or found dead by the keep-alive PING) is sent again on a new \
            connection, up to N times, with exponential backoff from 100 ms to 5 s, when its \
            method is idempotent; a refused one (REFUSED_STREAM, GOAWAY, no connection) \
            whatever its method. A retried response starts over. --ping-interval S sends a \
            PING when streams are open and nothing has arrived for S seconds, and closes the \
            connection if nothing arrives within S more (30 and 15 by default). --checksums \
            FILE takes lines in sha256sum's format whose name is a request path \
            ("<hex>  /big.bin"): each 2xx response to a listed path is checked, and the \
            report counts verified and corrupted bodies; a corrupted one makes the exit \
            status 1.
            """
    )

    @Option(name: [.customShort("n"), .customLong("requests")], help: "Total number of requests.")
    var requests = 1

    @Option(name: [.customShort("c"), .customLong("clients")], help: "Number of concurrent connections.")
    var clients = 1

    @Option(
        name: [.customShort("m"), .customLong("max-concurrent-streams")],
        help: "Requests in flight on each connection.")
    var streams = 1

    @Option(name: [.customShort("t"), .customLong("threads")], help: "Number of event loop threads.")
    var threads = 1

    @Option(
        name: [.customShort("D"), .customLong("duration")],
        help: "Run for this many seconds instead of a number of requests (-n is ignored).")
    var duration: Double?

    @Option(
        name: [.customShort("H"), .customLong("header")],
        help: "Add or override a request header, 'name: value' (also ':method: POST').")
    var headers: [String] = []

    @Option(name: [.customShort("d"), .customLong("data")], help: "Send the contents of FILE as each request's body.")
    var dataFile: String?

    @Option(
        name: .customLong("keep-open"),
        help: "Keep the connections open (idle) this many seconds after the last request (for memory measurements).")
    var keepOpen: Double = 0

    @Option(
        name: [.customShort("w"), .customLong("window-bits")],
        help: "Advertise a receive window of 2^N bytes (N in 16...30) for every stream and, on SPDY/3.1, the session.")
    var windowBits: Int?

    @Option(name: [.customShort("T"), .customLong("timeout")], help: "Give up connecting after this many seconds.")
    var connectTimeout: Double = 10

    @Flag(name: .customLong("no-tls"), help: "Plain TCP (http:// URIs); needs -2, -3 or --spdy3-1.")
    var noTLS = false

    @Option(
        name: .customLong("retry"),
        help: "Send a request again up to N times when its connection is lost (idempotent methods) or it is refused.")
    var retries: Int?

    @Option(
        name: .customLong("ping-interval"),
        help: "PING after this many seconds without a byte while streams are open; close if no answer in as many more.")
    var pingInterval: Double?

    @Option(
        name: .customLong("checksums"),
        help: "Check 2xx bodies against a sha256sum-format FILE keyed by request path (\"<hex>  /path\").")
    var checksumFile: String?

    @OptionGroup var versions: VersionOptions

    @Flag(name: .customLong("json"), help: "Print the results as one JSON object.")
    var json = false

    @Argument(help: "The URIs to request.")
    var uris: [String] = []

    mutating func validate() throws {
        guard !uris.isEmpty else { throw ValidationError("give at least one URI") }
        guard requests >= 1 else { throw ValidationError("-n must be at least 1") }
        guard clients >= 1 else { throw ValidationError("-c must be at least 1") }
        guard streams >= 1 else { throw ValidationError("-m must be at least 1") }
        guard threads >= 1 else { throw ValidationError("-t must be at least 1") }
        if let duration, duration <= 0 { throw ValidationError("-D must be positive") }
        if let windowBits, !(16...30).contains(windowBits) {
            throw ValidationError("-w: specify the integer in the range [16, 30], inclusive")
        }
        if duration == nil && requests < clients {
            throw ValidationError("-n must be at least -c (every connection makes one request or more)")
        }
        if let retries, retries < 0 { throw ValidationError("--retry must not be negative") }
        if let pingInterval, !(pingInterval > 0 && pingInterval <= 86_400) {
            throw ValidationError("--ping-interval must be in the range (0, 86400] seconds")
        }
        if noTLS && versions.version == nil {
            throw ValidationError("Specify SPDY protocol version using either -2, -3 or --spdy3-1.")
        }
    }

    func run() async throws {
        let targets = try uris.map { try LoadTarget(uri: $0) }
        guard Set(targets.map(\.authorityKey)).count == 1 else {
            throw ToolError("all URIs must have the same scheme, host and port")
        }
        let first = targets[0]
        if first.tls == noTLS {
            throw ToolError(noTLS ? "--no-tls needs http:// URIs" : "http:// URIs need --no-tls and a version flag")
        }
        let body = try dataFile.map { path in
            guard let bytes = FileManager.default.contents(atPath: path) else {
                throw ToolError("cannot read \(path)")
            }
            return ByteBuffer(bytes: bytes)
        }
        let extra = try headers.map(HeaderOverride.parse)
        let requestHeaders = targets.map { $0.headers(overrides: extra, bodyLength: body?.readableBytes) }
        let checksums = try checksumFile.map(Checksums.init(path:))
        let expectedDigests = requestHeaders.map { block in block[":path"].flatMap { checksums?.digest(for: $0) } }
        let policy = try retries.map { try SPDYRetryPolicy(maxRetries: $0) }
        let keepAlive = pingInterval.map { seconds in
            let time = TimeAmount.nanoseconds(Int64(seconds * 1e9))
            return SPDYKeepAlive(interval: time, timeout: time)
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let client = try SPDYClient(
            configuration: .init(
                versions: versions.versions,
                plainVersion: versions.version ?? .v3_1,
                verifyCertificates: false,
                connectTimeout: .milliseconds(Int64(connectTimeout * 1000)),
                maxConcurrentStreams: UInt32(max(streams, 100)),
                initialWindowSize: windowBits.map { UInt32(1) << UInt32($0) },
                keepAlive: keepAlive ?? SPDYKeepAlive()
            ),
            group: group
        )
        let plan = LoadPlan(
            total: duration == nil ? requests : nil,
            clients: clients,
            streamsPerClient: streams,
            deadline: duration.map { NIODeadline.now() + .nanoseconds(Int64($0 * 1e9)) }
        )
        if !json {
            print("starting benchmark...")
            let total = duration.map { "for \($0) s" } ?? "\(requests) total requests"
            print("spawning \(threads) thread(s): \(clients) total client(s). \(total)")
        }
        let start = NIODeadline.now()
        let results = await withTaskGroup(of: ClientResult.self) { tasks in
            for index in 0..<clients {
                tasks.addTask {
                    await runClient(
                        index: index, client: client, target: first, plan: plan,
                        requests: LoadRequests(headers: requestHeaders, digests: expectedDigests, body: body),
                        policy: policy)
                }
            }
            var all: [ClientResult] = []
            for await result in tasks { all.append(result) }
            return all
        }
        let elapsed = NIODeadline.now() - start
        if keepOpen > 0 {
            try await Task.sleep(for: .milliseconds(Int(keepOpen * 1000)))
        }
        for result in results {
            result.connection?.close()
            result.retryingConnection?.close()
        }
        try? await client.shutdown()
        try? await group.shutdownGracefully()

        let report = LoadReport(
            results: results, elapsed: elapsed, plan: plan, threads: threads, checked: checksums != nil)
        if json {
            print(try report.json())
        } else {
            print(report.text())
        }
        if report.completed == 0 || report.requests.corrupted > 0 {
            throw ExitCode(1)
        }
    }
}

/// How the work is divided.
struct LoadPlan: Sendable {
    /// Total requests, or `nil` in duration mode.
    let total: Int?
    let clients: Int
    let streamsPerClient: Int
    let deadline: NIODeadline?

    /// The requests connection `index` makes (`nil`: until the deadline).
    func quota(of index: Int) -> Int? {
        guard let total else { return nil }
        return total / clients + (index < total % clients ? 1 : 0)
    }
}

/// What the requests send, and the SHA-256 their 2xx bodies must have (by header block).
struct LoadRequests: Sendable {
    let headers: [SPDYHeaders]
    let digests: [String?]
    let body: ByteBuffer?
}

/// Where a driver's requests go: one connection, or a retrying one.
enum LoadConnection {
    case single(SPDYClientConnection)
    case retrying(SPDYRetryingConnection)

    var eventLoop: any EventLoop {
        switch self {
        case .single(let connection): connection.eventLoop
        case .retrying(let connection): connection.eventLoop
        }
    }

    func request(headers: SPDYHeaders, body: ByteBuffer?, handler: SPDYStreamHandler) {
        switch self {
        case .single(let connection): connection.request(headers: headers, body: body, priority: 3, handler: handler)
        case .retrying(let connection):
            connection.request(headers: headers, body: body, priority: 3, handler: handler)
        }
    }
}

/// One connection's work and what it measured.
func runClient(
    index: Int,
    client: SPDYClient,
    target: LoadTarget,
    plan: LoadPlan,
    requests: LoadRequests,
    policy: SPDYRetryPolicy?
) async -> ClientResult {
    if let policy {
        // Connections are made (and made again) as requests need them: no connect time.
        let retrying = SPDYRetryingConnection(
            client: client, host: target.host, port: target.port, tls: target.tls, policy: policy)
        let driver = LoadDriver(
            connection: .retrying(retrying), quota: plan.quota(of: index), inFlight: plan.streamsPerClient,
            deadline: plan.deadline, requests: requests)
        var result = await driver.run()
        result.retried = retrying.retryCount
        result.retryingConnection = retrying
        return result
    }
    let connectStart = NIODeadline.now()
    let connection: SPDYClientConnection
    do {
        connection = try await client.connect(host: target.host, port: target.port, tls: target.tls)
    } catch {
        var result = ClientResult()
        result.connectError = "\(error)"
        result.errored = plan.quota(of: index) ?? 0
        return result
    }
    let connectTime = NIODeadline.now() - connectStart
    let driver = LoadDriver(
        connection: .single(connection),
        quota: plan.quota(of: index),
        inFlight: plan.streamsPerClient,
        deadline: plan.deadline,
        requests: requests
    )
    var result = await driver.run()
    result.connectTime = connectTime
    result.protocolName = connection.version.protocolName
    result.connection = connection
    return result
}

/// Keeps `inFlight` requests going on one connection until its quota or the deadline; all
/// its state lives on the connection's event loop.
final class LoadDriver: @unchecked Sendable {
    let connection: LoadConnection
    let quota: Int?
    let inFlight: Int
    let deadline: NIODeadline?
    let requests: LoadRequests
    private var started = 0
    private var open = 0
    /// The connection closed or failed: nothing more can be sent on it.
    fileprivate var connectionLost = false
    private var result = ClientResult()
    private var promise: EventLoopPromise<ClientResult>?

    init(connection: LoadConnection, quota: Int?, inFlight: Int, deadline: NIODeadline?, requests: LoadRequests) {
        self.connection = connection
        self.quota = quota
        self.inFlight = inFlight
        self.deadline = deadline
        self.requests = requests
    }

    func run() async -> ClientResult {
        let loop = connection.eventLoop
        let promise = loop.makePromise(of: ClientResult.self)
        loop.execute {
            self.promise = promise
            self.fill()
        }
        return (try? await promise.futureResult.get()) ?? ClientResult()
    }

    private var mayStart: Bool {
        if let quota { return started < quota }
        return NIODeadline.now() < deadline!
    }

    private func fill() {
        while open < inFlight && mayStart {
            let index = started % requests.headers.count
            let handler = LoadStreamHandler(
                driver: self, submitted: NIODeadline.now(), expectedDigest: requests.digests[index])
            started += 1
            open += 1
            result.started += 1
            connection.request(headers: requests.headers[index], body: requests.body, handler: handler)
        }
        if open == 0 {
            finish()
        }
    }

    /// Keeps the first few distinct errors that ended requests, for the report.
    fileprivate func noteError(_ error: any Error) {
        let text = String(describing: error)
        if result.requestErrors.count < 5, !result.requestErrors.contains(text) { result.requestErrors.append(text) }
    }

    private func finish() {
        guard let promise else { return }
        self.promise = nil
        promise.succeed(result)
    }

    fileprivate func completed(_ handler: LoadStreamHandler, status: SPDYStreamStatus) {
        open -= 1
        let now = NIODeadline.now()
        if status == .ok, let code = handler.statusCode {
            result.latencies.append(UInt64((now - handler.submitted).nanoseconds))
            if let first = handler.firstByte {
                result.timesToFirstByte.append(UInt64((first - handler.submitted).nanoseconds))
            }
            result.bodyBytes += handler.bodyBytes
            switch code {
            case 200..<300: result.status2xx += 1
            case 300..<400: result.status3xx += 1
            case 400..<500: result.status4xx += 1
            default: result.status5xx += 1
            }
            if code < 400 { result.succeeded += 1 } else { result.failed += 1 }
            if (200..<300).contains(code), let expected = handler.expectedDigest {
                if handler.digest() == expected { result.verified += 1 } else { result.corrupted += 1 }
            }
        } else {
            result.errored += 1
        }
        if connectionLost {
            // The rest of the quota can no longer be sent.
            if let quota { result.errored += quota - started }
            started = quota ?? started
            if open == 0 { finish() }
            return
        }
        fill()
    }
}

/// One request of the load.
final class LoadStreamHandler: SPDYStreamHandler {
    let driver: LoadDriver
    let submitted: NIODeadline
    var firstByte: NIODeadline?
    var statusCode: Int?
    var bodyBytes = 0
    /// The SHA-256 (lower-case hex) the body must have, when checked.
    let expectedDigest: String?
    private var hasher: SHA256?

    init(driver: LoadDriver, submitted: NIODeadline, expectedDigest: String?) {
        self.driver = driver
        self.submitted = submitted
        self.expectedDigest = expectedDigest
        if expectedDigest != nil { hasher = SHA256() }
    }

    /// The body's SHA-256 in lower-case hex.
    func digest() -> String? {
        hasher.map { $0.finalize().map { String(format: "%02x", $0) }.joined() }
    }

    override func onRetry() -> Bool {
        // The response starts over on the new connection.
        firstByte = nil
        statusCode = nil
        bodyBytes = 0
        if expectedDigest != nil { hasher = SHA256() }
        return true
    }

    override func onHeader(_ headers: SPDYHeaders) {
        if firstByte == nil { firstByte = NIODeadline.now() }
        if statusCode == nil, let status = headers[":status"] {
            statusCode = Int(status.prefix { $0.isNumber })
        }
    }

    override func onData(_ data: ByteBuffer) {
        bodyBytes += data.readableBytes
        if hasher != nil {
            data.withUnsafeReadableBytes { hasher!.update(bufferPointer: $0) }
        }
    }

    override func onClose(_ status: SPDYStreamStatus) {
        driver.completed(self, status: status)
    }

    override func onConnectionClosed(error: (any Error)?) {
        // A retrying connection makes a new connection for the next request.
        if case .single = driver.connection { driver.connectionLost = true }
        if let error { driver.noteError(error) }
        driver.completed(self, status: .cancel)
    }
}
