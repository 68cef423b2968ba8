import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import NIOSSL
import SPDY
import Testing

// MARK: - Body pattern

/// Large bodies are a repeating pattern whose period (a prime) never lines up with DATA frame
/// or read sizes, so a lost, duplicated or reordered piece shows up as a mismatch. Bodies are
/// assembled from slices of one block and checked with `memcmp` (ByteBuffer equality): no
/// byte-by-byte loops over 100 MiB in a debug build.
public enum Pattern {
    public static let period = 65_521
    public static let block: ByteBuffer = {
        let bytes = (0..<period).map { UInt8(truncatingIfNeeded: ($0 &* 7) ^ ($0 >> 8)) }
        return ByteBuffer(bytes: bytes)
    }()

    /// The pattern from `offset` on, at most `maxLength` bytes and never past the end of a period.
    public static func chunk(at offset: Int, maxLength: Int) -> ByteBuffer {
        let phase = offset % period
        return block.getSlice(at: block.readerIndex + phase, length: min(maxLength, period - phase))!
    }

    /// The first `count` bytes of the pattern.
    public static func body(count: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(count)
        while buffer.readableBytes < count {
            buffer.writeImmutableBuffer(chunk(at: buffer.readableBytes, maxLength: count - buffer.readableBytes))
        }
        return buffer
    }
}

/// Checks bytes as they arrive against the pattern and counts them.
public struct PatternVerifier {
    public private(set) var count = 0
    public private(set) var firstMismatch: Int?

    public init() {}

    public mutating func consume(_ bytes: ByteBuffer) {
        var bytes = bytes
        while bytes.readableBytes > 0 {
            let expected = Pattern.chunk(at: count, maxLength: bytes.readableBytes)
            let received = bytes.readSlice(length: expected.readableBytes)!
            if firstMismatch == nil && received != expected {
                firstMismatch = count
            }
            count += received.readableBytes
        }
    }

    public var summary: String { "bytes=\(count) mismatch=\(firstMismatch.map { String($0) } ?? "none")" }
}

// MARK: - Probes shared by handlers and tests

/// What a server-side handler reports to the test that started it, looked up by a token in the path.
public final class StreamProbe: Sendable {
    public struct State: Sendable {
        public init() {}

        /// Bytes handed to the response writer.
        public var written = 0
        /// The most bytes the response writer held after a write.
        public var maxWriterBuffered = 0
        /// The most bytes waiting in the channel's outbound buffer after a write.
        public var maxChannelBuffered = 0
        /// A write future failed (the stream or connection closed).
        public var failed = false
        /// The whole body was written.
        public var finished = false
        /// Requests being handled now, and the most at once.
        public var active = 0
        public var peak = 0
    }

    private let box = NIOLockedValueBox(State())
    private static let registry = NIOLockedValueBox<[String: StreamProbe]>([:])

    public var state: State { box.withLockedValue { $0 } }

    public func update(_ body: (inout State) -> Void) {
        box.withLockedValue { body(&$0) }
    }

    public static func named(_ token: String) -> StreamProbe {
        registry.withLockedValue { probes in
            if let probe = probes[token] { return probe }
            let probe = StreamProbe()
            probes[token] = probe
            return probe
        }
    }

    /// A new probe and its token.
    public static func make() -> (token: String, probe: StreamProbe) {
        let token = String(UInt64.random(in: 1...UInt64.max), radix: 36)
        return (token, named(token))
    }
}

// MARK: - Server side

public func queryValue(_ path: String, _ name: String) -> String? {
    guard let query = path.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
    for pair in query.split(separator: "&") {
        let parts = pair.split(separator: "=", maxSplits: 1)
        if parts.count == 2 && parts[0] == name { return String(parts[1]) }
    }
    return nil
}

/// Streams `total` bytes of the pattern, one period per write, waiting on each write's future
/// (the writer's backpressure), and reports to `probe`.
public func streamPattern(
    _ writer: SPDYResponseWriter,
    total: Int,
    probe: StreamProbe?,
    channel: any Channel
) {
    @Sendable func send(_ sent: Int) {
        guard sent < total else {
            probe?.update { $0.finished = true }
            writer.finish()
            return
        }
        let chunk = Pattern.chunk(at: sent, maxLength: total - sent)
        let written = writer.write(chunk)
        if let probe {
            // On the event loop: the handler runs there and write futures complete there.
            let writerBuffered = writer.bufferedBytes
            let channelBuffered = (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
            probe.update {
                $0.written = sent + chunk.readableBytes
                $0.maxWriterBuffered = max($0.maxWriterBuffered, writerBuffered)
                $0.maxChannelBuffered = max($0.maxChannelBuffered, channelBuffered)
            }
        }
        written.whenComplete { result in
            switch result {
            // Through the event loop, so a writer that never pushes back fails the test, not the stack.
            case .success: channel.eventLoop.execute { send(sent + chunk.readableBytes) }
            case .failure: probe?.update { $0.failed = true }
            }
        }
    }
    send(0)
}

/// The request handler of these tests.
///
/// - `GET /pattern?bytes=N[&probe=T]`: N bytes of the pattern, streamed with backpressure.
/// - `GET /slow?chunks=N&ms=D`: "chunk i\n" every D ms, N times.
/// - `GET /delayed?probe=T&ms=D&i=I`: "done I" after D ms, counting requests in progress.
/// - `POST /upload`: checks the body against the pattern and answers `bytes=N mismatch=none`.
/// - anything else: `hello <path>`.
public final class EdgeHandler: SPDYRequestHandler {
    override public func doGET() {
        let route = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        switch route {
        case "/pattern":
            let total = Int(queryValue(path, "bytes") ?? "") ?? 0
            guard let channel = connection?.channel else { return sendError(500) }
            sendResponse(200)
            sendHeader("content-type", "application/octet-stream")
            let probe = queryValue(path, "probe").map(StreamProbe.named)
            streamPattern(startStreaming(), total: total, probe: probe, channel: channel)
        case "/slow":
            let chunks = Int(queryValue(path, "chunks") ?? "") ?? 1
            let delay = TimeAmount.milliseconds(Int64(queryValue(path, "ms") ?? "") ?? 10)
            guard let loop = connection?.eventLoop else { return sendError(500) }
            sendResponse(200)
            let writer = startStreaming()
            @Sendable func step(_ index: Int) {
                guard index < chunks else {
                    writer.finish()
                    return
                }
                writer.write("chunk \(index)\n")
                loop.scheduleTask(in: delay) { step(index + 1) }
            }
            step(0)
        case "/delayed":
            let probe = StreamProbe.named(queryValue(path, "probe") ?? "")
            let delay = TimeAmount.milliseconds(Int64(queryValue(path, "ms") ?? "") ?? 10)
            let body = "done \(queryValue(path, "i") ?? "")"
            guard let loop = connection?.eventLoop else { return sendError(500) }
            probe.update {
                $0.active += 1
                $0.peak = max($0.peak, $0.active)
            }
            sendResponse(200)
            let writer = startStreaming()
            loop.scheduleTask(in: delay) {
                probe.update { $0.active -= 1 }
                writer.write(body)
                writer.finish()
            }
        default:
            sendResponse(200)
            sendHeader("content-type", "text/plain")
            wfile.write("hello \(path)")
        }
    }

    override public func doPOST() {
        var verifier = PatternVerifier()
        verifier.consume(rfile)
        sendResponse(200)
        sendHeader("content-type", "text/plain")
        wfile.write(verifier.summary)
    }
}

public func startServer(
    _ transport: SPDYServer.Transport,
    _ tweak: (inout SPDYServer.Configuration) -> Void = { _ in }
) throws -> SPDYServer {
    var configuration = SPDYServer.Configuration(host: "127.0.0.1", port: 0, transport: transport, threads: 2)
    // A test task starved on a loaded machine may connect and write its first bytes seconds
    // apart; the 10 s default for the handshake (and, on plain TCP, the first bytes) would
    // close its connection. Tests of that timer set it themselves.
    configuration.handshakeTimeout = .seconds(60)
    tweak(&configuration)
    let server = try SPDYServer(configuration: configuration, handler: EdgeHandler.self)
    try server.start()
    return server
}
