import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import SPDY
import SPDYProxy
import SPDYTestSupport
import Testing

// The attacks of spdyd's hostile-peer tests (NIOSPDYTests/HostilePeerTests.swift) repeated
// against a SPDYReverseProxy in front of an EchoBackend, and the attacks only a proxy faces:
// downloads nobody reads, uploads that never end, resets of requests the backend is working
// on, an HTTP/1.1 request head dribbled a byte at a time. The proxy's front is a SPDYServer,
// so it must give the answers spdyd gives; behind it, no backend connection may be left over.

// MARK: - A proxy under attack

/// The well-behaved client of a ``ProxyBattlefield``: `/status/200?good=N` through the proxy,
/// one request after another (20 ms apart) until ``finish(sourceLocation:)``.
private final class ProxyTraffic: Sendable {
    private struct Outcome: Sendable {
        var served = 0
        var slowest = Duration.zero
        var failure: String?
    }

    private let running = NIOLockedValueBox(true)
    private let task: Task<Outcome, Never>

    init(_ connection: SPDYClientConnection) {
        let running = running
        task = Task {
            var outcome = Outcome()
            let clock = ContinuousClock()
            // At least one request, however late the task starts.
            repeat {
                let asked = clock.now
                do {
                    let answer = try await request(connection, "/status/200?good=\(outcome.served)")
                    let text = String(buffer: answer.body)
                    guard answer.response.statusCode == 200, text == "status 200\n" else {
                        outcome.failure = "#\(outcome.served): \(answer.response.statusCode) \(text)"
                        return outcome
                    }
                } catch {
                    outcome.failure = "#\(outcome.served): \(error)"
                    return outcome
                }
                outcome.slowest = max(outcome.slowest, clock.now - asked)
                outcome.served += 1
                try? await Task.sleep(for: .milliseconds(20))
            } while running.withLockedValue { $0 }
            return outcome
        }
    }

    /// Stops the requests and checks them: all served, none slower than 5 seconds.
    func finish(sourceLocation: SourceLocation) async {
        running.withLockedValue { $0 = false }
        let outcome = await task.value
        #expect(
            outcome.failure == nil, "the good client failed: \(outcome.failure ?? "")", sourceLocation: sourceLocation)
        #expect(outcome.served > 0, "the good client was never served", sourceLocation: sourceLocation)
        #expect(outcome.slowest < .seconds(5), "a good request took \(outcome.slowest)", sourceLocation: sourceLocation)
    }
}

/// An ``EchoBackend``, a proxy in front of it (two event loops), a good SPDY client making
/// requests through the proxy all along, and an event loop group for the attackers.
private struct ProxyBattlefield {
    let echo: EchoBackend
    let proxy: ProxyUnderTest
    let client: SPDYClient
    let good: SPDYClientConnection
    let traffic: ProxyTraffic
    let group: MultiThreadedEventLoopGroup
    let version: SPDYVersion

    var port: Int { proxy.port }
    var server: SPDYServer { proxy.proxy.server }

    /// - Parameter tls: the front serves TLS (a self-signed identity, ALPN) instead of plain TCP.
    init(
        _ version: SPDYVersion = .v3_1,
        tls: Bool = false,
        proxy proxyTweak: (inout SPDYProxyConfiguration) -> Void = { _ in },
        server serverTweak: (inout SPDYServer.Configuration) -> Void = { _ in }
    ) async throws {
        self.version = version
        let identity = try tls ? SPDYTLS.Identity.selfSigned() : nil
        echo = try EchoBackend()
        proxy = try ProxyUnderTest(backends: [echo.port], version: version, threads: 2, proxyTweak) {
            // As startServer does: a starved test task may write its first bytes late.
            $0.handshakeTimeout = .seconds(60)
            if let identity { $0.transport = .tls(identity, versions: SPDYVersion.negotiationPreference) }
            serverTweak(&$0)
        }
        if tls {
            client = try SPDYClient(configuration: .init(verifyCertificates: false))
            good = try await client.connect(host: "127.0.0.1", port: proxy.port, tls: true)
        } else {
            (client, good) = try await proxy.connect()
        }
        traffic = ProxyTraffic(good)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// A raw attacker connection that decodes what it receives.
    func attacker(autoRead: Bool = true) async throws -> (channel: any Channel, log: FrameLog) {
        try await rawConnect(port: port, group: group, decoding: version, autoRead: autoRead)
    }

    /// The access log's entries for requests whose URI starts with `prefix` (the attacker's).
    func entries(_ prefix: String) -> [SPDYProxyAccessLogEntry] {
        proxy.entries().filter { $0.uri.hasPrefix(prefix) }
    }

    /// Requests the backend received whose URI starts with `prefix`.
    func backendRequests(_ prefix: String) -> Int {
        echo.requestHeads.count { $0.uri.hasPrefix(prefix) }
    }

    /// Whether the backend connections come down to the pooled idle ones, and the one the
    /// good client may be using.
    func backendConnectionsSettle() async -> Bool {
        await eventually { echo.openConnectionCount <= (await proxy.proxy.idleBackendConnections()) + 1 }
    }

    /// Checks the good client, that only its connection is left on the front and no backend
    /// connection beyond the pooled idle ones, then shuts everything down.
    func finish(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        await traffic.finish(sourceLocation: sourceLocation)
        let after = try await request(good, "/status/200?after")
        #expect(after.response.statusCode == 200, "a request after the attack", sourceLocation: sourceLocation)
        let count = server.connectionCount
        #expect(
            await eventually { server.connectionCount == 1 },
            "front connections left: \(server.connectionCount) (was \(count))", sourceLocation: sourceLocation)
        let balanced = await eventually { await proxy.proxy.idleBackendConnections() == echo.openConnectionCount }
        let idle = await proxy.proxy.idleBackendConnections()
        #expect(
            balanced, "backend connections leaked: \(echo.openConnectionCount) open, \(idle) idle in the pool",
            sourceLocation: sourceLocation)
        try await client.shutdown()
        try await group.shutdownGracefully()
        try await proxy.stop()
        #expect(
            await eventually { echo.openConnectionCount == 0 }, "backend connections open after the proxy stopped",
            sourceLocation: sourceLocation)
        try await echo.close()
    }
}

// MARK: - Frames

private func id(_ raw: UInt32) -> SPDYStreamID { SPDYStreamID(rawValue: raw)! }

private func syn(_ raw: UInt32, fin: Bool = true, path: String = "/", method: String = "GET") -> SPDYFrame {
    .synStream(.init(streamID: id(raw), priority: 3, flags: fin ? .fin : [], headers: requestHeaders(method, path)))
}

extension FrameLog {
    fileprivate var resets: [SPDYFrame.RstStream] {
        state.frames.compactMap { if case .rstStream(let reset) = $0 { reset } else { nil } }
    }

    /// The status of every SYN_REPLY (`:status`, or SPDY/2's `status`).
    fileprivate var replyStatuses: [String] {
        state.frames.compactMap {
            guard case .synReply(let reply) = $0 else { return nil }
            return reply.headers.first(name: ":status") ?? reply.headers.first(name: "status")
        }
    }
}

/// Writes `bytes` and returns whether the proxy closes the connection within 20 seconds.
private func sendAndExpectClose(_ channel: any Channel, _ bytes: ByteBuffer) async -> Bool {
    try? await channel.writeAndFlush(bytes)
    return await closes(channel, within: .seconds(20))
}

/// A SPDY/3 SYN_STREAM (priority 3) whose header block is written by hand, as zlib stored
/// blocks: no compression, so it can carry what our encoder refuses to write (empty names,
/// raw bytes). `opening` starts the connection's zlib stream; later blocks continue it.
private func handMadeSynStream(_ stream: UInt32, _ pairs: [([UInt8], [UInt8])], opening: Bool) -> [UInt8] {
    func word(_ value: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(value).bigEndian) { Array($0) } }
    let block = word(pairs.count) + pairs.flatMap { word($0.0.count) + $0.0 + word($0.1.count) + $0.1 }
    let size = UInt16(block.count)
    let stored = [0x00, UInt8(size & 0xff), UInt8(size >> 8), UInt8(~size & 0xff), UInt8(~size >> 8)]
    let payload = word(Int(stream)) + [0, 0, 0, 0, 0x60, 0] + (opening ? [0x78, 0x01] : []) + stored + block
    return controlHeader(version: 3, type: 1, flags: 1, length: payload.count) + payload
}

/// The request's headers as byte pairs, for hand-made header blocks.
private func requestPairs(_ path: String) -> [([UInt8], [UInt8])] {
    requestHeaders("GET", path).map { (Array($0.name.utf8), Array($0.value.utf8)) }
}

// MARK: - Memory and raw HTTP/1.1

/// This process's resident memory (VmRSS), in KiB.
private func residentKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return 0 }
    return Int(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") ?? 0
}

/// Keeps the text an HTTP/1.1 connection receives.
private final class TextRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let text: NIOLockedValueBox<String>

    init(text: NIOLockedValueBox<String>) {
        self.text = text
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        text.withLockedValue { $0 += String(buffer: bytes) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A raw TCP connection to the proxy's port that speaks HTTP/1.1 by hand.
private func rawHTTP1(
    port: Int, group: any EventLoopGroup
) async throws -> (channel: any Channel, text: NIOLockedValueBox<String>) {
    let text = NIOLockedValueBox("")
    let channel = try await ClientBootstrap(group: group)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(TextRecorder(text: text))
            }
        }
        .connect(host: "127.0.0.1", port: port)
        .get()
    return (channel, text)
}

// MARK: - Cases

/// What a ``SessionAttack`` must get from the proxy's front, as it gets it from spdyd.
enum SessionAnswer: Sendable {
    /// GOAWAY PROTOCOL_ERROR and a close, after `resets` RST_STREAM PROTOCOL_ERROR.
    case goAway(resets: ClosedRange<Int>)
    /// The session goes on: exactly these RST_STREAMs, SYN_REPLY statuses (their first three
    /// characters) and PING echoes (besides the PING each attack ends with).
    case streamAnswers(resets: [SPDYStreamStatus] = [], replies: [String] = [], pings: [UInt32] = [])
}

/// An attack made of bytes sent at once, answered by the SPDY session in front of the proxy
/// (spdyd's attack classes 1, 2, 4, 6, 7, 10 and 11, and its protocol breaches), plus two
/// requests the proxy's backend hop could not carry as they are.
enum SessionAttack: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// A SYN_STREAM inflating to 8 MiB.
    case zlibBomb
    /// A SETTINGS frame announcing 2^24−1 bytes, all of them sent.
    case hugeSettings
    /// A SYN_STREAM whose header block inflates past 64 KiB: a stream error; the next is served.
    case hugeHeaderBlock
    /// SYN_STREAM + RST_STREAM, 1000 times (CVE-2023-44487).
    case rapidReset
    /// 10 000 SETTINGS frames (CVE-2019-9515).
    case settingsFlood
    /// 10 000 empty DATA frames on an upload being forwarded (CVE-2019-9518).
    case emptyDataFlood
    /// 10 000 empty HEADERS frames on an upload being forwarded (CVE-2019-9518).
    case emptyHeadersFlood
    /// 1000 SYN_STREAMs with a zero-length header name (CVE-2019-9516).
    case zeroLengthHeaders
    /// 10 000 SYN_REPLYs for streams never opened, each provoking a reset (CVE-2019-9514).
    case resetFlood
    // Breaches that end the session:
    /// Stream 3 after stream 5: GOAWAY.
    case streamIDOutOfOrder
    /// A SPDY/2 SYN_STREAM on a SPDY/3 session: GOAWAY.
    case spdy2FrameOnSPDY3
    /// A WINDOW_UPDATE taking the session window past 2^31−1: GOAWAY.
    case sessionWindowOverflow
    // Breaches answered on their stream, or ignored:
    /// A SYN_STREAM for a stream already open (an upload being forwarded): reset.
    case streamIDReuse
    /// DATA after the FIN of a request the backend is working on: STREAM_ALREADY_CLOSED.
    case dataOnClosedStream
    /// DATA on stream 7, never opened: INVALID_STREAM.
    case dataOnUnopenedStream
    /// A WINDOW_UPDATE taking a forwarded request's window past 2^31−1: FLOW_CONTROL_ERROR.
    case streamWindowOverflow
    /// A control frame of version 4: ignored, as spdylay does.
    case wrongVersion
    /// Header values with bytes 0x80–0xff and control bytes: refused before the proxy sees them.
    case binaryHeaderValues
    /// A header value of bytes 0x80–0xff only (HTTP/1.1's obs-text): forwarded and answered.
    case obsTextHeaderValue
    /// A `:path` with a space, which no HTTP/1.1 request line can carry: 400 from the front.
    case spaceInPath

    var testDescription: String { rawValue }

    var version: SPDYVersion {
        switch self {
        case .zeroLengthHeaders, .spdy2FrameOnSPDY3: .v3
        default: .v3_1
        }
    }

    /// The protocol breaches get the session's own answers: on a port serving HTTP/1.1 too, a
    /// first frame that is not a SPDY control frame would be HTTP/1.1's to refuse.
    var servesHTTP1: Bool {
        switch self {
        case .wrongVersion, .dataOnUnopenedStream, .spdy2FrameOnSPDY3: false
        default: true
        }
    }

    var answer: SessionAnswer {
        switch self {
        case .zlibBomb, .hugeSettings, .rapidReset, .settingsFlood, .emptyDataFlood, .emptyHeadersFlood,
            .streamIDOutOfOrder, .spdy2FrameOnSPDY3, .sessionWindowOverflow:
            .goAway(resets: 0...0)
        case .zeroLengthHeaders: .goAway(resets: 100...1000)
        case .resetFlood: .goAway(resets: 100...201)
        case .hugeHeaderBlock: .streamAnswers(resets: [.frameTooLarge], replies: ["404"])
        case .streamIDReuse, .binaryHeaderValues: .streamAnswers(resets: [.protocolError])
        case .wrongVersion: .streamAnswers(pings: [9])
        case .dataOnClosedStream: .streamAnswers(resets: [.streamAlreadyClosed])
        case .dataOnUnopenedStream: .streamAnswers(resets: [.invalidStream])
        case .streamWindowOverflow: .streamAnswers(resets: [.flowControlError])
        case .obsTextHeaderValue: .streamAnswers(replies: ["200"])
        case .spaceInPath: .streamAnswers(replies: ["400"])
        }
    }

    /// The attacker's bytes. Streams that must stay open a while ask for `/slow/5000`; paths
    /// starting `/never` must not reach the backend.
    func bytes() throws -> ByteBuffer {
        var frames: [SPDYFrame] = []
        switch self {
        case .zlibBomb:
            // 8 MiB of "a" compresses to about 8 KiB (as a server compresses; a client's
            // default hardly does); the limit is 64 KiB, the bomb cut-off 256 KiB.
            var headers = requestHeaders("GET", "/never")
            headers.add(name: "x-bomb", value: String(repeating: "a", count: 8 << 20))
            let encoder = try SPDYFrameEncoder(version: version, compression: .default(for: .server))
            var bomb = ByteBuffer()
            try encoder.encode(
                .synStream(.init(streamID: id(1), priority: 3, flags: .fin, headers: headers)), into: &bomb)
            return bomb
        case .hugeSettings:
            var bytes = ByteBuffer(bytes: controlHeader(version: 3, type: 4, length: (1 << 24) - 1))
            bytes.writeRepeatingByte(0, count: (1 << 24) - 1)
            return bytes
        case .hugeHeaderBlock:
            var headers = requestHeaders("GET", "/never")
            headers.add(name: "x-big", value: String(repeating: "b", count: 128 << 10))
            frames = [
                .synStream(.init(streamID: id(1), priority: 3, flags: .fin, headers: headers)), syn(3, path: "/next"),
            ]
        case .rapidReset:
            for n in 0..<1000 {
                let stream = UInt32(2 * n + 1)
                frames += [syn(stream, path: "/slow/1000"), .rstStream(.init(streamID: id(stream), status: .cancel))]
            }
        case .settingsFlood:
            frames = (0..<10_000).map { n in
                .settings(.init(entries: [.init(id: .initialWindowSize, value: UInt32(65_536 + n))]))
            }
        case .emptyDataFlood, .emptyHeadersFlood:
            let empty: SPDYFrame =
                self == .emptyDataFlood
                ? .data(.init(streamID: id(1), payload: ByteBuffer()))
                : .headers(.init(streamID: id(1), headers: SPDYHeaders()))
            frames = [syn(1, fin: false, path: "/sink", method: "POST")] + Array(repeating: empty, count: 10_000)
        case .zeroLengthHeaders:
            var bytes: [UInt8] = []
            for n in 0..<1000 {
                let pairs = requestPairs("/never") + [([], Array("x".utf8)), (Array("x-empty".utf8), [])]
                bytes += handMadeSynStream(UInt32(2 * n + 1), pairs, opening: n == 0)
            }
            return ByteBuffer(bytes: bytes)
        case .resetFlood:
            frames = (0..<10_000).map { n in
                .synReply(.init(streamID: id(UInt32(2 * n + 2)), headers: [(":status", "200 OK")]))
            }
        case .streamIDReuse:
            frames = [syn(1, fin: false, path: "/sink", method: "POST"), syn(1, path: "/never")]
        case .streamIDOutOfOrder:
            frames = [syn(5, path: "/slow/5000"), syn(3, path: "/never")]
        case .wrongVersion:
            var bytes = ByteBuffer(bytes: controlHeader(version: 4, type: 6, length: 4) + [0, 0, 0, 1])
            bytes.writeImmutableBuffer(try encodeFrames([.ping(.init(id: 9))], version: version))
            return bytes
        case .spdy2FrameOnSPDY3:
            return try encodeFrames([syn(1, path: "/never")], version: .v2)
        case .dataOnClosedStream:
            frames = [syn(1, path: "/slow/5000"), .data(.init(streamID: id(1), payload: ByteBuffer(string: "x")))]
        case .dataOnUnopenedStream:
            frames = [.data(.init(streamID: id(7), payload: ByteBuffer(string: "x")))]
        case .streamWindowOverflow:
            frames = [syn(1, path: "/slow/5000"), .windowUpdate(.init(streamID: id(1), deltaWindowSize: 0x7fff_ffff))]
        case .sessionWindowOverflow:
            frames = [.windowUpdate(.init(streamID: .zero, deltaWindowSize: 0x7fff_ffff))]
        case .binaryHeaderValues, .obsTextHeaderValue:
            let value: [UInt8] =
                self == .obsTextHeaderValue ? [0x80, 0xff, 0xfe] : [0x80, 0xff, 0xfe, 0x01, 0x7f, 0x09]
            let path = self == .obsTextHeaderValue ? "/headers" : "/never"
            return ByteBuffer(
                bytes: handMadeSynStream(1, requestPairs(path) + [(Array("x-v".utf8), value)], opening: true))
        case .spaceInPath:
            frames = [syn(1, path: "/never here")]
        }
        return try encodeFrames(frames, version: version)
    }
}

/// A frame begun and never finished, dribbled a byte every 200 ms (spdyd's attack class 2).
enum DribbledFrame: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// A SETTINGS header announcing 100 000 bytes.
    case controlFrame
    /// A SYN_STREAM's header block.
    case headerBlock
    /// A DATA frame announcing 2^24−1 bytes, on an upload the proxy is forwarding.
    case dataFrame

    var testDescription: String { rawValue }
}

/// An upload that starts and then goes silent.
enum EndlessUpload: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// SPDY to `/echo`: the backend answers at once and echoes what came; then nothing
    /// moves, and the started response is cut off with RST_STREAM INTERNAL_ERROR.
    case spdyEcho
    /// SPDY to `/sink`: the backend answers only at the end; 504, then RST_STREAM CANCEL.
    case spdySink
    /// HTTP/1.1 to `/sink` with a content-length never reached: 504 and a close.
    case http1Sink

    var testDescription: String { rawValue }
}

// MARK: - Tests

@Suite("spdyproxy: hostile peers", .serialized)
struct ProxyHostilePeerTests {
    // MARK: spdyd's attacks, repeated

    @Test(
        "1, 2, 4, 6, 7, 10, 11 and protocol breaches: the proxy's front answers as spdyd does, the backend sees nothing it should not",
        .timeLimit(.minutes(1)),
        arguments: SessionAttack.allCases
    )
    func sessionAttack(_ attack: SessionAttack) async throws {
        let field = try await ProxyBattlefield(attack.version, server: { $0.servesHTTP1 = attack.servesHTTP1 })
        let (raw, log) = try await field.attacker()
        var bytes = try attack.bytes()
        switch attack.answer {
        case .goAway(let resets):
            #expect(bytes.readableBytes < 64 << 10 || attack != .zlibBomb)
            #expect(await sendAndExpectClose(raw, bytes), "the attacker's connection was left open")
            #expect(log.goAways.map(\.status) == [.protocolError])
            #expect(resets.contains(log.resets.count), "\(log.resets.count) RST_STREAM")
            #expect(log.resets.allSatisfy { $0.status == .protocolError })
        case .streamAnswers(let resets, let replies, let pings):
            // A PING last: the session answers frames in order, so once its echo is in,
            // every answer of the session's own is too (the backend's may still be coming).
            bytes.writeImmutableBuffer(try encodeFrames([.ping(.init(id: 99))], version: attack.version))
            try await raw.writeAndFlush(bytes)
            #expect(await eventually { log.pingIDs.contains(99) && log.replyStatuses.count >= replies.count })
            #expect(log.resets.map(\.status) == resets)
            #expect(log.replyStatuses.map { String($0.prefix(3)) } == replies)
            #expect(log.pingIDs == pings + [99])
            #expect(log.goAways.isEmpty)
            #expect(raw.isActive)
            if attack == .dataOnUnopenedStream { #expect(log.resets.map(\.streamID) == [id(7)]) }
            if attack == .obsTextHeaderValue {
                #expect(field.echo.requestHeads.contains { $0.headers.contains(name: "x-v") })
            }
            try await raw.close()
        }
        #expect(field.backendRequests("/never") == 0, "a request the front refused reached the backend")
        try await field.finish()
    }

    @Test(
        "2. Frames begun and never finished, dribbled: GOAWAY PROTOCOL_ERROR at the frame timeout",
        .timeLimit(.minutes(1)),
        arguments: DribbledFrame.allCases
    )
    func dribbledFrame(kind: DribbledFrame) async throws {
        let field = try await ProxyBattlefield(server: {
            $0.frameCompletionTimeout = .seconds(2)
            $0.idleTimeout = .milliseconds(1500)
        })
        let (raw, log) = try await field.attacker()
        let clock = ContinuousClock()
        let started = clock.now
        var bytes: ByteBuffer
        switch kind {
        case .controlFrame:
            bytes = ByteBuffer(bytes: controlHeader(version: 3, type: 4, length: 100_000))
            bytes.writeRepeatingByte(0, count: 100)
        case .headerBlock:
            bytes = try encodeFrames([syn(1, path: "/dribbled")], version: .v3_1)
        case .dataFrame:
            // The request goes to the backend; its body never comes.
            try await raw.writeAndFlush(try encodeFrames([syn(1, fin: false, path: "/dribbled")], version: .v3_1))
            bytes = ByteBuffer(bytes: [0, 0, 0, 1, 0, 0xff, 0xff, 0xff] + Array(repeating: 0x61, count: 100))
        }
        // A byte every 200 ms, enough traffic to keep the 1.5-second idle timer from firing:
        // what ends the connection is the 2-second frame timeout.
        for index in bytes.readableBytesView.indices where raw.isActive {
            try? await raw.writeAndFlush(bytes.getSlice(at: index, length: 1)!)
            try await Task.sleep(for: .milliseconds(200))
        }
        let closed = await closes(raw, within: .seconds(10))
        let lasted = clock.now - started
        #expect(closed && lasted >= .milliseconds(1800), "closed: \(closed), after \(lasted)")
        #expect(log.goAways.map(\.status) == [.protocolError])
        if kind == .dataFrame {
            #expect(await eventually { field.entries("/dribbled").map(\.outcome) == [.clientAborted] })
        } else {
            #expect(field.backendRequests("/dribbled") == 0)
        }
        try await field.finish()
    }

    @Test("3. SYN_STREAMs beyond MAX_CONCURRENT_STREAMS get RST_STREAM REFUSED_STREAM", .timeLimit(.minutes(1)))
    func streamExhaustion() async throws {
        let field = try await ProxyBattlefield(server: { $0.maxConcurrentStreams = 50 })
        let (raw, log) = try await field.attacker()
        // 150 uploads left open (no FIN): the first 50 wait at the backend for their bodies,
        // the other 100 are refused, and nothing more.
        let uploads = (1...150).map { syn(UInt32(2 * $0 - 1), fin: false, path: "/slow/1000?upload=\($0)") }
        try await raw.writeAndFlush(try encodeFrames(uploads, version: .v3_1))
        #expect(await eventually { log.resets.count == 100 })
        let refused = (50..<150).map { id(UInt32(2 * $0 + 1)) }
        #expect(log.resets.map(\.streamID) == refused && log.resets.allSatisfy { $0.status == .refusedStream })
        #expect(log.goAways.isEmpty)
        #expect(await eventually { field.backendRequests("/slow/") == 50 }, "\(field.backendRequests("/slow/"))")
        try await raw.close()
        // Closing the connection ends the 50 exchanges and their backend connections.
        #expect(await eventually { field.entries("/slow/").count == 50 })
        #expect(field.entries("/slow/").allSatisfy { $0.outcome == .clientAborted })
        #expect(field.backendRequests("/slow/") == 50, "a refused stream reached the backend")
        try await field.finish()
    }

    @Test(
        "5. A PING flood from a peer that never reads: GOAWAY or close, at most maxQueuedFrames echoes (CVE-2019-9512)",
        .timeLimit(.minutes(1)),
        arguments: [false, true]
    )
    func pingFlood(rateLimited: Bool) async throws {
        let field = try await ProxyBattlefield(server: {
            $0.writeTimeout = .seconds(2)
            if !rateLimited {
                // Only maxQueuedFrames is left to stop it.
                $0.session.abuseLimits.controlFrames = .init(maximumCount: .max, window: .seconds(1))
            }
        })
        let (raw, log) = try await field.attacker(autoRead: false)
        let flood = try encodeFrames((0..<500_000).map { .ping(.init(id: UInt32(2 * $0 + 1))) }, version: .v3_1)
        raw.writeAndFlush(flood, promise: nil)
        // The front drops the flooder (by GOAWAY, or by its write timeout)...
        let dropped = await eventually { field.server.connectionCount == 1 }
        #expect(dropped, "the non-reading flooder was left open")
        // ...having queued at most maxQueuedFrames echoes: reading now shows them, then the close.
        try? await raw.setOption(ChannelOptions.autoRead, value: true).get()
        #expect(await closes(raw))
        #expect(log.pingIDs.count <= 10_001, "\(log.pingIDs.count) echoes")
        #expect(Set(log.goAways.map(\.status)).isSubset(of: [.protocolError]))
        try await field.finish()
    }

    @Test(
        "8. Tiny windows, dribbled WINDOW_UPDATEs and a non-reader of large downloads: the proxy stops reading the backend",
        .timeLimit(.minutes(1)),
        arguments: [SPDYVersion.v3_1, .v2]
    )
    func slowReader(version: SPDYVersion) async throws {
        let field = try await ProxyBattlefield(version, server: { $0.writeTimeout = .seconds(2) })
        let (raw, log) = try await field.attacker(autoRead: version != .v2)
        let streams = 20
        var frames: [SPDYFrame] = []
        if version != .v2 {
            // A one-byte window for every stream.
            frames.append(.settings(.init(entries: [.init(id: .initialWindowSize, value: 1)])))
        }
        frames += (0..<streams).map { syn(UInt32(2 * $0 + 1), path: "/bytes/\(64 << 20)?n=\($0)") }
        try await raw.writeAndFlush(try encodeFrames(frames, version: version))
        #expect(await eventually { field.backendRequests("/bytes/") == streams })
        if version == .v2 {
            // No flow control: the proxy fills the socket, stops, and closes on its write timeout.
            #expect(await eventually { field.server.connectionCount == 1 }, "the non-reader was left open")
        } else {
            // One-byte WINDOW_UPDATEs for a while: the proxy sends a byte at a time.
            let updates = try encodeFrames(
                (0..<streams).map { .windowUpdate(.init(streamID: id(UInt32(2 * $0 + 1)), deltaWindowSize: 1)) },
                version: version)
            for _ in 0..<20 {
                try await raw.writeAndFlush(updates)
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(log.state.dataBytes <= streams * 21)
            #expect(raw.isActive)
            try await raw.close()
        }
        // Every exchange ended with the client, and none took more from its backend than a
        // stream channel's watermark and a read batch (plus, on SPDY/2, the socket buffers).
        #expect(await eventually { field.entries("/bytes/").count == streams })
        let entries = field.entries("/bytes/")
        #expect(entries.allSatisfy { $0.outcome == .clientAborted }, "\(entries.map(\.outcome))")
        let taken = entries.map(\.responseBytes)
        print(
            "slow reader \(version): the proxy took \(taken.reduce(0, +) >> 10) KiB from the backend, at most \(taken.max() ?? 0) bytes a stream"
        )
        if version == .v2 {
            #expect(taken.reduce(0, +) < 64 << 20, "the proxy took \(taken) bytes from the backends")
        } else {
            #expect(taken.allSatisfy { $0 < 1 << 20 }, "the proxy took \(taken) bytes from the backends")
        }
        try await field.finish()
    }

    @Test("9. A WINDOW_UPDATE storm (CVE-2019-9513 pattern) costs little and is served", .timeLimit(.minutes(1)))
    func windowUpdateStorm() async throws {
        let field = try await ProxyBattlefield()
        let (raw, log) = try await field.attacker()
        // Eight requests of every priority waiting for their backend; 100 000 one-byte
        // WINDOW_UPDATEs taking turns over their streams and the session; a PING, echoed
        // only once the storm is through.
        let streams = (0..<8).map { id(UInt32(2 * $0 + 1)) }
        let targets = streams + [.zero]
        let requests = streams.enumerated().map { priority, stream in
            SPDYFrame.synStream(
                .init(
                    streamID: stream, priority: UInt8(priority), flags: .fin,
                    headers: requestHeaders("GET", "/slow/10000?priority=\(priority)")))
        }
        let storm = (0..<100_000).map { SPDYFrame.windowUpdate(.init(streamID: targets[$0 % 9], deltaWindowSize: 1)) }
        let took = try await ContinuousClock().measure {
            try await raw.writeAndFlush(try encodeFrames(requests + storm + [.ping(.init(id: 7))], version: .v3_1))
            #expect(await eventually { log.pingIDs == [7] }, "the PING after the storm was not answered")
        }
        #expect(took < .seconds(10), "100 000 WINDOW_UPDATEs took \(took)")
        #expect(log.goAways.isEmpty && log.resets.isEmpty && raw.isActive, "\(log.state.frames.suffix(3))")
        // The requests went on to the backend meanwhile; closing ends them.
        #expect(await eventually { field.backendRequests("/slow/") == 8 })
        try await raw.close()
        #expect(
            await eventually { field.entries("/slow/").map(\.outcome) == Array(repeating: .clientAborted, count: 8) })
        try await field.finish()
    }

    @Test(
        "12. Slowloris: idle, half-open and never-finished handshakes are closed; the connection limit holds",
        .timeLimit(.minutes(1)),
        arguments: [true, false]
    )
    func slowloris(tls: Bool) async throws {
        let field = try await ProxyBattlefield(
            tls: tls,
            server: {
                $0.handshakeTimeout = .seconds(1)
                $0.idleTimeout = .seconds(1)
                $0.maxConnections = 40
            })
        // Over TLS, a ClientHello begun; over plain TCP, the first byte of a SPDY control frame.
        let begun: [UInt8] = tls ? [0x16, 0x03, 0x01, 0x02, 0x00, 0x01] : [0x80]
        var attackers: [any Channel] = []
        for n in 0..<60 {
            let (raw, _) = try await rawConnect(port: field.port, group: field.group, decoding: nil)
            switch n % 3 {
            case 0: break  // connects, sends nothing
            case 1: try? await raw.writeAndFlush(ByteBuffer(bytes: begun))
            default:
                try? await raw.writeAndFlush(ByteBuffer(bytes: begun.prefix(1)))  // one byte, then a half-close
                try? await raw.close(mode: .output)
            }
            attackers.append(raw)
        }
        #expect(field.server.connectionCount <= 40)
        for raw in attackers {
            #expect(await closes(raw, within: .seconds(10)))
        }
        #expect(field.echo.connectionCount <= 1, "an attacker's connection reached the backend")
        try await field.finish()
    }

    // MARK: Attacks on the proxy's forwarding

    @Test(
        "Large downloads on 20 streams that are never read: the proxy takes a bounded amount from the backend",
        .timeLimit(.minutes(1)))
    func unreadDownloads() async throws {
        let field = try await ProxyBattlefield()
        let (raw, _) = try await field.attacker(autoRead: false)
        let streams = 20
        // Flow control out of the way: only the unread socket holds the proxy back.
        let frames: [SPDYFrame] =
            [
                .settings(.init(entries: [.init(id: .initialWindowSize, value: 0x7fff_ffff)])),
                .windowUpdate(.init(streamID: .zero, deltaWindowSize: 0x7fff_ffff - 65_536)),
            ] + (0..<streams).map { syn(UInt32(2 * $0 + 1), path: "/bytes/1073741824?n=\($0)") }
        let baseline = residentKiB()
        try await raw.writeAndFlush(try encodeFrames(frames, version: .v3_1))
        #expect(await eventually { field.backendRequests("/bytes/") == streams })
        // Hold until this process's memory has not grown for a second (2 to 10 seconds), or
        // stop at once past the bound: a proxy that buffered would take 20 GiB.
        let bound = 100 << 10
        let clock = ContinuousClock()
        let started = clock.now
        var peak = baseline
        var lastGrowth = started
        while clock.now - started < .seconds(10) {
            let resident = residentKiB()
            if resident > peak + 256 {
                peak = resident
                lastGrowth = clock.now
            }
            if peak - baseline > bound { break }
            if clock.now - started >= .seconds(2) && clock.now - lastGrowth >= .seconds(1) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(peak - baseline < bound, "the test process grew \(peak - baseline) KiB (baseline \(baseline) KiB)")
        #expect(raw.isActive, "the proxy closed the non-reader early")
        try await raw.close()
        // The exchanges end with the connection; their backend connections are closed.
        #expect(await eventually { field.entries("/bytes/").count == streams })
        let entries = field.entries("/bytes/")
        #expect(entries.allSatisfy { $0.outcome == .clientAborted }, "\(entries.map(\.outcome))")
        let taken = entries.map(\.responseBytes).reduce(0, +)
        #expect(taken < 64 << 20, "the proxy took \(taken >> 10) KiB from the backend")
        #expect(taken > 1 << 20, "the attack was not real: \(taken) bytes")
        print(
            "unread downloads: the proxy took \(taken >> 10) KiB from the backend for \(streams) streams; "
                + "this process's VmRSS \(baseline) KiB, peak +\(peak - baseline) KiB")
        #expect(
            await field.backendConnectionsSettle(),
            "the backend connections of the unread downloads are still open: \(field.echo.openConnectionCount)")
        try await field.finish()
    }

    @Test(
        "An upload that never finishes ends at the proxy's timeout; its backend connection is closed",
        .timeLimit(.minutes(1)),
        arguments: EndlessUpload.allCases
    )
    func endlessUpload(kind: EndlessUpload) async throws {
        let field = try await ProxyBattlefield(proxy: { $0.timeout = .seconds(1) })
        let clock = ContinuousClock()
        let started = clock.now
        let path = kind == .spdyEcho ? "/echo" : "/sink"
        let body = Pattern.body(count: 10_000)
        if kind == .http1Sink {
            let (raw, text) = try await rawHTTP1(port: field.port, group: field.group)
            var bytes = ByteBuffer(
                string: "POST \(path) HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 1000000\r\n\r\n")
            bytes.writeImmutableBuffer(body)
            try await raw.writeAndFlush(bytes)
            #expect(await closes(raw, within: .seconds(10)), "the proxy left the connection open")
            let answer = text.withLockedValue { $0 }
            #expect(answer.hasPrefix("HTTP/1.1 504 "), "\(answer)")
        } else {
            let (raw, log) = try await field.attacker()
            try await raw.writeAndFlush(
                try encodeFrames(
                    [syn(1, fin: false, path: path, method: "POST"), .data(.init(streamID: id(1), payload: body))],
                    version: .v3_1))
            #expect(await eventually { !log.resets.isEmpty }, "the stream was not ended")
            if kind == .spdyEcho {
                // The backend answered and echoed: the started response is cut off.
                #expect(log.replyStatuses.map { $0.prefix(3) } == ["200"])
                #expect(log.state.dataBytes == body.readableBytes)
                #expect(log.resets.map(\.status) == [.internalError])
            } else {
                #expect(log.replyStatuses.map { $0.prefix(3) } == ["504"])
                #expect(log.resets.map(\.status) == [.cancel])
            }
            #expect(log.goAways.isEmpty)
            #expect(raw.isActive, "a stream's timeout closed the connection")
            try await raw.close()
        }
        let took = clock.now - started
        #expect(took >= .milliseconds(900) && took < .seconds(5), "ended after \(took)")
        #expect(await eventually { field.entries(path).count == 1 })
        let entry = try #require(field.entries(path).first)
        #expect(entry.status == 504 || kind == .spdyEcho, "\(entry.line)")
        // The exchange ended on the proxy's timeout, and the access log says so.
        #expect(entry.outcome == .timedOut, "\(entry.line)")
        #expect(entry.requestBytes == body.readableBytes, "\(entry.line)")
        #expect(
            await field.backendConnectionsSettle(),
            "the upload's backend connection is still open")
        try await field.finish()
    }

    @Test(
        "Rapid reset of streams whose backend requests are in flight: backend connections closed, GOAWAY past the limit",
        .timeLimit(.minutes(1)))
    func rapidResetInFlight() async throws {
        let field = try await ProxyBattlefield()
        let (raw, log) = try await field.attacker()
        // One compression context for all the SYN_STREAMs of the connection.
        let encoder = try SPDYFrameEncoder(version: .v3_1, compression: .default(for: .client))
        let batch = 50
        var next: UInt32 = 1
        // 4 rounds reset 200 streams, the most allowed in 30 seconds; the fifth goes past.
        for round in 0..<5 {
            let ids = (0..<batch).map { next + 2 * UInt32($0) }
            next += 2 * UInt32(batch)
            var syns = ByteBuffer()
            for stream in ids { try encoder.encode(syn(stream, path: "/slow/5000?s=\(stream)"), into: &syns) }
            try await raw.writeAndFlush(syns)
            // Every request is at the backend, waiting for its answer...
            #expect(
                await eventually { field.backendRequests("/slow/") == (round + 1) * batch },
                "round \(round): \(field.backendRequests("/slow/")) requests at the backend")
            // ...when its stream is reset.
            let resets = try encodeFrames(
                ids.map { .rstStream(.init(streamID: id($0), status: .cancel)) }, version: .v3_1)
            if round < 4 {
                try await raw.writeAndFlush(resets)
                #expect(
                    await eventually { field.entries("/slow/").count == (round + 1) * batch },
                    "round \(round): \(field.entries("/slow/").count) exchanges ended")
                #expect(
                    await field.backendConnectionsSettle(),
                    "round \(round): the reset requests' backend connections are still open")
            } else {
                #expect(await sendAndExpectClose(raw, resets), "the connection was left open")
            }
        }
        #expect(log.goAways.map(\.status) == [.protocolError])
        #expect(log.replyStatuses.isEmpty, "a reset request was answered")
        #expect(await eventually { field.entries("/slow/").count == 5 * batch })
        #expect(field.entries("/slow/").allSatisfy { $0.outcome == .clientAborted })
        try await field.finish()
    }

    @Test(
        "HTTP/1.1 slowloris: request heads dribbled a byte at a time, and an idle keep-alive connection, are closed by the request-head timeout",
        .timeLimit(.minutes(1)))
    func http1Slowloris() async throws {
        let field = try await ProxyBattlefield(server: { $0.http1 = .init(requestHeadTimeout: .seconds(1)) })
        let clock = ContinuousClock()
        // A keep-alive connection served once, then silent.
        let (idle, idleText) = try await rawHTTP1(port: field.port, group: field.group)
        try await idle.writeAndFlush(ByteBuffer(string: "GET /status/200?idle HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n"))
        #expect(await eventually { idleText.withLockedValue { $0.hasSuffix("status 200\n") } })
        let served = clock.now
        // Twenty heads that never end, a byte every 100 ms each.
        var dribblers: [any Channel] = []
        for _ in 0..<20 {
            dribblers.append(try await rawHTTP1(port: field.port, group: field.group).channel)
        }
        let started = clock.now
        var head = ByteBuffer(string: "GET /slowloris HTTP/1.1\r\nhost: 127.0.0.1\r\nx-long: ")
        head.writeRepeatingByte(UInt8(ascii: "a"), count: 200)
        while dribblers.contains(where: \.isActive), clock.now - started < .seconds(10),
            let byte = head.readSlice(length: 1)
        {
            for raw in dribblers where raw.isActive { try? await raw.writeAndFlush(byte) }
            try await Task.sleep(for: .milliseconds(100))
        }
        for raw in dribblers {
            #expect(await closes(raw, within: .seconds(10)), "a dribbling connection was left open")
        }
        let openFor = clock.now - started
        #expect(openFor >= .milliseconds(900) && openFor < .seconds(5), "the dribblers were closed after \(openFor)")
        #expect(await closes(idle, within: .seconds(10)), "the idle keep-alive connection was left open")
        #expect(clock.now - served >= .milliseconds(900))
        #expect(field.backendRequests("/slowloris") == 0)
        try await field.finish()
    }
}
