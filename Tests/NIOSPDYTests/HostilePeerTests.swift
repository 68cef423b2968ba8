import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import NIOSSL
import SPDY
import SPDYTestSupport
import Testing

// MARK: - A well-behaved client kept busy during an attack

/// Requests made one after another on an established connection until ``finish()``; every one
/// must succeed, none may take longer than `latencyBound`.
/// A server, a good client connected to it with traffic running, and an event loop group for
/// the attackers.
private struct Battlefield {
    let server: SPDYServer
    let client: SPDYClient
    let good: SPDYClientConnection
    let traffic: GoodTraffic
    let group: MultiThreadedEventLoopGroup
    let version: SPDYVersion

    var port: Int { server.port! }

    init(
        _ version: SPDYVersion = .v3_1,
        _ tweak: (inout SPDYServer.Configuration) -> Void = { _ in }
    ) async throws {
        self.version = version
        server = try startServer(.plain(version), tweak)
        client = try SPDYClient(configuration: .init(plainVersion: version))
        good = try await client.connect(host: "127.0.0.1", port: server.port!, tls: false)
        traffic = GoodTraffic(good)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// A raw attacker connection that decodes what it receives.
    func attacker(autoRead: Bool = true) async throws -> (channel: any Channel, log: FrameLog) {
        try await rawConnect(port: port, group: group, decoding: version, autoRead: autoRead)
    }

    /// Checks the good client and that only its connection is left, then shuts down.
    func finish(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        await traffic.finish(sourceLocation: sourceLocation)
        #expect(try await get(good, "/after") == (200, "hello /after"), sourceLocation: sourceLocation)
        let count = server.connectionCount
        #expect(
            await eventually { server.connectionCount == 1 },
            "connections left: \(server.connectionCount) (was \(count))", sourceLocation: sourceLocation)
        try await client.shutdown()
        try await group.shutdownGracefully()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }
}

// MARK: - Helpers

private func id(_ raw: UInt32) -> SPDYStreamID { SPDYStreamID(rawValue: raw)! }

private func syn(_ raw: UInt32, fin: Bool = true, path: String = "/") -> SPDYFrame {
    .synStream(.init(streamID: id(raw), priority: 3, flags: fin ? .fin : [], headers: requestHeaders("GET", path)))
}

extension FrameLog {
    var resets: [SPDYFrame.RstStream] {
        state.frames.compactMap { if case .rstStream(let reset) = $0 { reset } else { nil } }
    }
}

/// Writes `bytes` and waits until the server closes the connection; returns whether it did.
private func sendAndExpectClose(_ channel: any Channel, _ bytes: ByteBuffer) async -> Bool {
    try? await channel.writeAndFlush(bytes)
    return await closes(channel, within: .seconds(20))
}

/// A header block written as zlib stored blocks (no compression, no dictionary), which lets
/// a test send what our encoder refuses to write: empty names, raw bytes. `first` starts the
/// zlib stream; later blocks continue it, as the connection's single compression context does.
private func storedHeaderBlock(_ pairs: [([UInt8], [UInt8])], version: SPDYVersion, first: Bool) -> [UInt8] {
    var raw: [UInt8] = []
    func length(_ n: Int) {
        if version == .v2 {
            raw += [UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]
        } else {
            raw += [UInt8(n >> 24 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]
        }
    }
    length(pairs.count)
    for (name, value) in pairs {
        length(name.count)
        raw += name
        length(value.count)
        raw += value
    }
    let n = raw.count
    let stored: [UInt8] = [0x00, UInt8(n & 0xff), UInt8(n >> 8), UInt8(~n & 0xff), UInt8(~n >> 8 & 0xff)]
    return (first ? [0x78, 0x01] : []) + stored + raw
}

/// A SYN_STREAM (SPDY/3 layout) around a hand-made header block.
private func rawSynStream(_ raw: UInt32, block: [UInt8], fin: Bool = true) -> [UInt8] {
    let fixed: [UInt8] = [
        UInt8(raw >> 24), UInt8(raw >> 16 & 0xff), UInt8(raw >> 8 & 0xff), UInt8(raw & 0xff), 0, 0, 0, 0, 0x60, 0,
    ]
    return controlHeader(version: 3, type: 1, flags: fin ? 1 : 0, length: fixed.count + block.count) + fixed + block
}

private func utf8(_ string: String) -> [UInt8] { Array(string.utf8) }

/// The request headers as byte pairs, for hand-made blocks.
private let requestPairs: [([UInt8], [UInt8])] = requestHeaders("GET", "/").map { (utf8($0.name), utf8($0.value)) }

/// A header block with one value of `size` bytes of "a": tiny when compressed.
private func bombHeaders(size: Int) -> SPDYHeaders {
    var headers = requestHeaders("GET", "/bomb")
    headers.add(name: "x-bomb", value: String(repeating: "a", count: size))
    return headers
}

// MARK: - A hostile server for attacks on our client

/// Answers the first bytes a client sends with `answer` (once), then reads and ignores the rest.
private final class HostileServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let answer: @Sendable () -> ByteBuffer
    private var answered = false

    init(answer: @escaping @Sendable () -> ByteBuffer) {
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        answered = true
        context.writeAndFlush(wrapOutboundOut(answer()), promise: nil)
    }
}

private func startHostileServer(
    group: any EventLoopGroup,
    answer: @escaping @Sendable () -> ByteBuffer
) async throws -> any Channel {
    try await ServerBootstrap(group: group)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(HostileServerHandler(answer: answer))
            }
        }
        .bind(host: "127.0.0.1", port: 0)
        .get()
}

/// Connects our client to a hostile server that answers its first request with `frames`
/// (encoded as a SPDY/3.1 server does); the request must fail and the client must close.
private func attackClient(with frames: [SPDYFrame], sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let encoder = try SPDYFrameEncoder(version: .v3_1, compression: .default(for: .server))
    var attack = ByteBuffer()
    for frame in frames {
        try encoder.encode(frame, into: &attack)
    }
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let hostile = try await startHostileServer(group: group) { [attack] in attack }
    let client = try SPDYClient(configuration: .init(plainVersion: .v3_1))
    let connection = try await client.connect(host: "127.0.0.1", port: hostile.localAddress!.port!, tls: false)
    await #expect(throws: (any Error).self, sourceLocation: sourceLocation) {
        _ = try await get(connection, "/")
    }
    #expect(await closes(connection.channel), "the client kept the connection open", sourceLocation: sourceLocation)
    try await client.shutdown()
    try await hostile.close()
    try await group.shutdownGracefully()
}

// MARK: - Cases

/// Control frames and header blocks too large or never finished.
enum OversizedFrame: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// A SETTINGS frame announcing 2^24−1 bytes, all of them sent.
    case hugeSettings
    /// A SYN_STREAM whose header block inflates past 64 KiB (128 KiB of one value).
    case hugeHeaderBlock
    /// A SETTINGS header announcing 100 000 bytes, then a byte every 200 ms.
    case dribbledControlFrame
    /// A SYN_STREAM whose header block arrives a byte every 200 ms.
    case dribbledHeaderBlock
    /// A DATA frame announcing 2^24−1 bytes on an open stream, then a byte every 200 ms.
    case dribbledDataFrame

    var testDescription: String { rawValue }
}

/// Frames that carry nothing (CVE-2019-9518).
enum EmptyFrame: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case data
    case headers

    var testDescription: String { rawValue }
}

/// The protocol breaches listed besides the attack classes, with the answer each gets.
enum Breach: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// A SYN_STREAM reusing the ID of an open stream: RST_STREAM PROTOCOL_ERROR.
    case streamIDReuse
    /// A SYN_STREAM with an ID lower than one already used.
    case streamIDOutOfOrder
    /// A control frame of version 4: ignored.
    case wrongVersion
    /// A SPDY/2 SYN_STREAM on a SPDY/3 session.
    case spdy2FrameOnSPDY3
    /// DATA on a stream the client already closed (FIN): RST_STREAM STREAM_ALREADY_CLOSED.
    case dataOnClosedStream
    /// DATA on a stream that was never opened: RST_STREAM INVALID_STREAM.
    case dataOnUnopenedStream
    /// A WINDOW_UPDATE taking a stream's window past 2^31−1.
    case streamWindowOverflow
    /// A WINDOW_UPDATE taking the session window past 2^31−1.
    case sessionWindowOverflow
    /// Header values with bytes 0x80–0xff, and control bytes.
    case binaryHeaderValues

    var testDescription: String { rawValue }
}

// MARK: - Tests

@Suite("Hostile peers: the attacks HTTP/2 servers face, over 127.0.0.1", .serialized)
struct HostilePeerTests {
    // MARK: 1. zlib bomb

    @Test("1. A zlib bomb in SYN_STREAM gets GOAWAY PROTOCOL_ERROR and a close", .timeLimit(.minutes(1)))
    func zlibBombAgainstServer() async throws {
        let field = try await Battlefield()
        // 8 MiB of "a" compresses to about 8 KiB; the limit is 64 KiB, the bomb cut-off 256 KiB.
        let encoder = try SPDYFrameEncoder(version: .v3_1, compression: .default(for: .server))
        var bomb = ByteBuffer()
        try encoder.encode(
            .synStream(.init(streamID: id(1), priority: 3, flags: .fin, headers: bombHeaders(size: 8 << 20))),
            into: &bomb)
        #expect(bomb.readableBytes < 64 << 10)
        let (raw, log) = try await field.attacker()
        #expect(await sendAndExpectClose(raw, bomb), "the bomb's connection was left open")
        #expect(log.goAways.map(\.status) == [.protocolError])
        try await field.finish()
    }

    @Test(
        "1. A zlib bomb in SYN_REPLY from a hostile server: our client closes the connection", .timeLimit(.minutes(1)))
    func zlibBombAgainstClient() async throws {
        var headers: SPDYHeaders = [(":status", "200 OK"), (":version", "HTTP/1.1")]
        headers.add(name: "x-bomb", value: String(repeating: "a", count: 8 << 20))
        try await attackClient(with: [.synReply(.init(streamID: id(1), headers: headers))])
    }

    // MARK: 2. Huge and never-ending frames

    @Test(
        "2. Huge or never-finished control frames and header blocks get an answer or a close",
        .timeLimit(.minutes(1)),
        arguments: OversizedFrame.allCases
    )
    func oversizedFrames(kind: OversizedFrame) async throws {
        let field = try await Battlefield {
            $0.frameCompletionTimeout = .seconds(2)
            // Longer than the frame timeout, so that only the latter can close the dribbler,
            // and than a pause of the good client on a loaded machine.
            $0.idleTimeout = .seconds(4)
        }
        let (raw, log) = try await field.attacker()
        let clock = ContinuousClock()
        let started = clock.now
        switch kind {
        case .hugeSettings:
            var bytes = ByteBuffer(bytes: controlHeader(version: 3, type: 4, length: (1 << 24) - 1))
            bytes.writeRepeatingByte(0, count: (1 << 24) - 1)
            #expect(await sendAndExpectClose(raw, bytes))
            #expect(log.goAways.map(\.status) == [.protocolError])
        case .hugeHeaderBlock:
            var headers = requestHeaders("GET", "/huge")
            headers.add(name: "x-big", value: String(repeating: "b", count: 128 << 10))
            let frames = try encodeFrames(
                [
                    .synStream(.init(streamID: id(1), priority: 3, flags: .fin, headers: headers)),
                    syn(3, path: "/next"),
                ],
                version: .v3_1)
            try await raw.writeAndFlush(frames)
            // A stream error: the stream is reset, the connection goes on (stream 3 is served).
            #expect(await eventually { log.state.dataBytes > 0 })
            #expect(log.resets.map(\.status) == [.frameTooLarge])
            #expect(log.resets.map(\.streamID) == [id(1)])
            #expect(raw.isActive)
            try await raw.close()
        case .dribbledControlFrame, .dribbledHeaderBlock, .dribbledDataFrame:
            var bytes: ByteBuffer
            switch kind {
            case .dribbledControlFrame:
                // A SETTINGS frame within the size limit, never finished.
                bytes = ByteBuffer(bytes: controlHeader(version: 3, type: 4, length: 100_000))
                bytes.writeRepeatingByte(0, count: 100)
            case .dribbledHeaderBlock:
                bytes = try encodeFrames([syn(1)], version: .v3_1)
            default:
                bytes = try encodeFrames([syn(1, fin: false)], version: .v3_1)
                try await raw.writeAndFlush(bytes)
                bytes = ByteBuffer(bytes: [0, 0, 0, 1, 0, 0xff, 0xff, 0xff] + Array(repeating: 0x61, count: 100))
            }
            // A byte every 200 ms: traffic enough to keep the idle timer from firing.
            while raw.isActive, let byte = bytes.readSlice(length: 1) {
                try? await raw.writeAndFlush(byte)
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(await closes(raw, within: .seconds(10)), "the dribbling connection was left open")
            let openFor = clock.now - started
            #expect(openFor >= .milliseconds(1800), "closed after \(openFor), before the frame timeout")
            #expect(log.goAways.map(\.status) == [.protocolError])
        }
        try await field.finish()
    }

    // MARK: 3. Stream exhaustion

    @Test("3. SYN_STREAMs beyond MAX_CONCURRENT_STREAMS get RST_STREAM REFUSED_STREAM", .timeLimit(.minutes(1)))
    func streamExhaustion() async throws {
        let field = try await Battlefield { $0.maxConcurrentStreams = 50 }
        let (raw, log) = try await field.attacker()
        // Streams left open (no FIN) on a slow path, then 100 more than allowed.
        let frames = (0..<150).map { syn(UInt32(2 * $0 + 1), fin: false, path: "/slow?chunks=1000&ms=1000") }
        try await raw.writeAndFlush(try encodeFrames(frames, version: .v3_1))
        #expect(await eventually { log.resets.count == 100 })
        #expect(log.resets.allSatisfy { $0.status == .refusedStream })
        #expect(log.resets.map(\.streamID.rawValue).min() == 101)
        #expect(log.goAways.isEmpty)
        try await raw.close()
        try await field.finish()
    }

    // MARK: 4. Rapid reset

    @Test("4. Rapid reset (SYN_STREAM + RST_STREAM loops, CVE-2023-44487) gets GOAWAY", .timeLimit(.minutes(1)))
    func rapidReset() async throws {
        let field = try await Battlefield()
        let (raw, log) = try await field.attacker()
        var frames: [SPDYFrame] = []
        for n in 0..<1000 {
            let stream = UInt32(2 * n + 1)
            frames += [syn(stream, path: "/delayed?ms=1000"), .rstStream(.init(streamID: id(stream), status: .cancel))]
        }
        #expect(await sendAndExpectClose(raw, try encodeFrames(frames, version: .v3_1)))
        #expect(log.goAways.map(\.status) == [.protocolError])
        try await field.finish()
    }

    // MARK: 5. PING flood from a peer that never reads

    @Test(
        "5. A PING flood from a peer that never reads: GOAWAY or close, at most maxQueuedFrames echoes queued (CVE-2019-9512)",
        .timeLimit(.minutes(1)),
        arguments: [false, true]
    )
    func pingFlood(rateLimited: Bool) async throws {
        let field = try await Battlefield {
            $0.writeTimeout = .seconds(2)
            if !rateLimited {
                // Only maxQueuedFrames is left to stop it.
                $0.session.abuseLimits.controlFrames = .init(maximumCount: .max, window: .seconds(1))
            }
        }
        let (raw, log) = try await field.attacker(autoRead: false)
        let encoder = try SPDYFrameEncoder(version: .v3_1, compression: .default(for: .client))
        var flood = ByteBuffer()
        for n in 0..<500_000 {
            try encoder.encode(.ping(.init(id: UInt32(2 * n + 1))), into: &flood)
        }
        raw.writeAndFlush(flood, promise: nil)
        #expect(await eventually { field.server.connectionCount == 1 }, "the non-reading flooder was left open")
        // Now read what the server managed to send before closing.
        try? await raw.setOption(ChannelOptions.autoRead, value: true).get()
        #expect(await closes(raw))
        #expect(log.pingIDs.count <= 10_001)
        #expect(log.goAways.allSatisfy { $0.status == .protocolError })
        try await field.finish()
    }

    // MARK: 6. SETTINGS flood

    @Test("6. A SETTINGS flood (CVE-2019-9515) gets GOAWAY PROTOCOL_ERROR", .timeLimit(.minutes(1)))
    func settingsFlood() async throws {
        let field = try await Battlefield()
        let (raw, log) = try await field.attacker()
        let frames = (0..<10_000).map { n in
            SPDYFrame.settings(.init(entries: [.init(id: .initialWindowSize, value: UInt32(65_536 + n))]))
        }
        #expect(await sendAndExpectClose(raw, try encodeFrames(frames, version: .v3_1)))
        #expect(log.goAways.map(\.status) == [.protocolError])
        try await field.finish()
    }

    // MARK: 7. Empty frames

    @Test(
        "7. An empty-frame flood (CVE-2019-9518) gets GOAWAY PROTOCOL_ERROR",
        .timeLimit(.minutes(1)),
        arguments: EmptyFrame.allCases
    )
    func emptyFrameFlood(kind: EmptyFrame) async throws {
        let field = try await Battlefield()
        let (raw, log) = try await field.attacker()
        let empty: SPDYFrame =
            switch kind {
            case .data: .data(.init(streamID: id(1), payload: ByteBuffer()))
            case .headers: .headers(.init(streamID: id(1), headers: SPDYHeaders()))
            }
        let frames = [syn(1, fin: false)] + Array(repeating: empty, count: 10_000)
        #expect(await sendAndExpectClose(raw, try encodeFrames(frames, version: .v3_1)))
        #expect(log.goAways.map(\.status) == [.protocolError])
        try await field.finish()
    }

    // MARK: 8. Slow readers and tiny windows

    @Test(
        "8. Tiny windows, dribbled WINDOW_UPDATEs and a non-reader of large responses: no unbounded buffering",
        .timeLimit(.minutes(1)),
        arguments: [SPDYVersion.v3_1, .v2]
    )
    func slowReader(version: SPDYVersion) async throws {
        let field = try await Battlefield(version) { $0.writeTimeout = .seconds(2) }
        let (raw, log) = try await field.attacker(autoRead: version != .v2)
        let (token, probe) = StreamProbe.make()
        var frames: [SPDYFrame] = []
        if version != .v2 {
            // A one-byte window for every stream.
            frames.append(.settings(.init(entries: [.init(id: .initialWindowSize, value: 1)])))
        }
        for n in 0..<20 {
            frames.append(syn(UInt32(2 * n + 1), path: "/pattern?bytes=\(64 << 20)&probe=\(token)"))
        }
        try await raw.writeAndFlush(try encodeFrames(frames, version: version))
        if version == .v2 {
            // No flow control: the server fills the socket, then stops, then closes on its write timeout.
            #expect(await eventually { field.server.connectionCount == 1 }, "the non-reader was left open")
        } else {
            // Dribble one-byte WINDOW_UPDATEs for a while: the server sends a byte at a time.
            for round in 0..<20 {
                let updates = (0..<20).map { n in
                    SPDYFrame.windowUpdate(.init(streamID: id(UInt32(2 * n + 1)), deltaWindowSize: 1))
                }
                try await raw.writeAndFlush(try encodeFrames(updates, version: version))
                _ = round
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(log.state.dataBytes <= 20 * 21)
            #expect(raw.isActive)
            try await raw.close()
        }
        // The response writers pushed back: they never held more than a few chunks.
        #expect(probe.state.maxWriterBuffered < 1 << 20, "a writer held \(probe.state.maxWriterBuffered) bytes")
        #expect(await eventually { probe.state.failed }, "the handler was not told the stream went away")
        try await field.finish()
    }

    // MARK: 9. WINDOW_UPDATE storm

    @Test("9. A WINDOW_UPDATE storm (CVE-2019-9513 pattern) costs little and is served", .timeLimit(.minutes(1)))
    func windowUpdateStorm() async throws {
        let field = try await Battlefield()
        let (raw, log) = try await field.attacker()
        // Streams of every priority kept open, then 100 000 WINDOW_UPDATEs spread over them and the session.
        var frames: [SPDYFrame] = (0..<8).map { n in
            .synStream(
                .init(
                    streamID: id(UInt32(2 * n + 1)), priority: UInt8(n), flags: .fin,
                    headers: requestHeaders("GET", "/slow?chunks=100&ms=100")))
        }
        for n in 0..<100_000 {
            frames.append(
                .windowUpdate(.init(streamID: id(n % 9 == 8 ? 0 : UInt32(2 * (n % 9) + 1)), deltaWindowSize: 1)))
        }
        let clock = ContinuousClock()
        let started = clock.now
        try await raw.writeAndFlush(try encodeFrames(frames, version: .v3_1))
        // The server answers a PING after the storm once it has worked through it.
        try await raw.writeAndFlush(try encodeFrames([.ping(.init(id: 7))], version: .v3_1))
        #expect(await eventually { log.pingIDs.contains(7) })
        let took = clock.now - started
        #expect(took < .seconds(10), "100 000 WINDOW_UPDATEs took \(took)")
        #expect(log.goAways.isEmpty)
        #expect(raw.isActive)
        try await raw.close()
        try await field.finish()
    }

    // MARK: 10. Zero-length header names and values

    @Test(
        "10. Zero-length header names get RST_STREAM PROTOCOL_ERROR, then GOAWAY when repeated (CVE-2019-9516)",
        .timeLimit(.minutes(1))
    )
    func zeroLengthHeaders() async throws {
        let field = try await Battlefield(.v3)
        let (raw, log) = try await field.attacker()
        var bytes: [UInt8] = []
        for n in 0..<1000 {
            let pairs = requestPairs + [([], utf8("x")), (utf8("x-empty"), [])]
            bytes += rawSynStream(UInt32(2 * n + 1), block: storedHeaderBlock(pairs, version: .v3, first: n == 0))
        }
        #expect(await sendAndExpectClose(raw, ByteBuffer(bytes: bytes)))
        #expect(log.resets.count >= 100)
        #expect(log.resets.allSatisfy { $0.status == .protocolError })
        #expect(log.goAways.map(\.status) == [.protocolError])
        try await field.finish()
    }

    // MARK: 11. Reset flood

    @Test("11. Provoking RST_STREAMs in a flood (CVE-2019-9514) gets GOAWAY", .timeLimit(.minutes(1)))
    func resetFlood() async throws {
        let field = try await Battlefield()
        let (raw, log) = try await field.attacker()
        // SYN_REPLY for streams the server never opened: each one provokes RST_STREAM PROTOCOL_ERROR.
        let frames = (0..<10_000).map { n in
            SPDYFrame.synReply(.init(streamID: id(UInt32(2 * n + 2)), headers: [(":status", "200 OK")]))
        }
        #expect(await sendAndExpectClose(raw, try encodeFrames(frames, version: .v3_1)))
        #expect(log.resets.count >= 100 && log.resets.count <= 201)
        #expect(log.resets.allSatisfy { $0.status == .protocolError })
        #expect(log.goAways.map(\.status) == [.protocolError])
        try await field.finish()
    }

    @Test("5/11. A PING flood from a hostile server: our client sends GOAWAY and closes", .timeLimit(.minutes(1)))
    func pingFloodAgainstClient() async throws {
        try await attackClient(with: (0..<10_000).map { n in .ping(.init(id: UInt32(2 * n + 2))) })
    }

    // MARK: 12. Slowloris

    @Test(
        "12. Slowloris: idle, half-open and never-finished TLS connections are closed; the limit holds",
        .timeLimit(.minutes(1))
    )
    func slowloris() async throws {
        let identity = try SPDYTLS.Identity.selfSigned()
        let server = try startServer(.tls(identity, versions: SPDYVersion.negotiationPreference)) {
            $0.handshakeTimeout = .seconds(1)
            $0.idleTimeout = .seconds(1)
            $0.maxConnections = 40
        }
        let port = server.port!
        let client = try SPDYClient(configuration: .init(verifyCertificates: false))
        let good = try await client.connect(host: "127.0.0.1", port: port, tls: true)
        let traffic = GoodTraffic(good)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var attackers: [any Channel] = []
        for n in 0..<60 {
            let (raw, _) = try await rawConnect(port: port, group: group, decoding: nil)
            switch n % 3 {
            case 0: break  // connects, sends nothing
            case 1: try await raw.writeAndFlush(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01]))  // a ClientHello begun
            default:
                try? await raw.writeAndFlush(ByteBuffer(bytes: [0x16]))  // one byte, then a half-close
                try? await raw.close(mode: .output)
            }
            attackers.append(raw)
        }
        // Never more than maxConnections at once, and all closed by their timeouts.
        #expect(server.connectionCount <= 40)
        for raw in attackers {
            #expect(await closes(raw, within: .seconds(10)))
        }
        await traffic.finish()
        #expect(try await get(good, "/after") == (200, "hello /after"))
        #expect(await eventually { server.connectionCount == 1 })
        try await client.shutdown()
        try await group.shutdownGracefully()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }

    // MARK: Protocol breaches

    @Test("Protocol breaches get the protocol's answer", .timeLimit(.minutes(1)), arguments: Breach.allCases)
    func breach(kind: Breach) async throws {
        let version: SPDYVersion = kind == .spdy2FrameOnSPDY3 ? .v3 : .v3_1
        // The session's own answers: on a port serving HTTP/1.1 too, a first frame that is not
        // a SPDY/2 or /3 control frame (DATA, an unknown version) is HTTP/1.1's to refuse.
        let field = try await Battlefield(version) { $0.servesHTTP1 = false }
        let (raw, log) = try await field.attacker()
        var bytes = ByteBuffer()
        var expectClose = true
        switch kind {
        case .streamIDReuse:
            bytes = try encodeFrames([syn(1, fin: false), syn(1)], version: version)
            expectClose = false
        case .streamIDOutOfOrder:
            bytes = try encodeFrames([syn(5), syn(3)], version: version)
        case .wrongVersion:
            // Ignored (as spdylay does); the PING after it is answered.
            bytes = ByteBuffer(bytes: controlHeader(version: 4, type: 6, length: 4) + [0, 0, 0, 1])
            bytes.writeImmutableBuffer(try encodeFrames([.ping(.init(id: 9))], version: version))
            expectClose = false
        case .spdy2FrameOnSPDY3:
            bytes = try encodeFrames([syn(1)], version: .v2)
        case .dataOnClosedStream:
            bytes = try encodeFrames(
                [
                    syn(1, path: "/slow?chunks=50&ms=100"),
                    .data(.init(streamID: id(1), payload: ByteBuffer(string: "x"))),
                ],
                version: version)
            expectClose = false
        case .dataOnUnopenedStream:
            bytes = try encodeFrames(
                [.data(.init(streamID: id(7), payload: ByteBuffer(string: "x")))], version: version)
            expectClose = false
        case .streamWindowOverflow:
            bytes = try encodeFrames(
                [
                    syn(1, path: "/slow?chunks=50&ms=100"),
                    .windowUpdate(.init(streamID: id(1), deltaWindowSize: 0x7fff_ffff)),
                ], version: version)
            expectClose = false
        case .sessionWindowOverflow:
            bytes = try encodeFrames(
                [.windowUpdate(.init(streamID: .zero, deltaWindowSize: 0x7fff_ffff))], version: version)
        case .binaryHeaderValues:
            let pairs = requestPairs + [(utf8("x-binary"), [0x80, 0xff, 0xfe, 0x01, 0x7f, 0x09])]
            bytes = ByteBuffer(bytes: rawSynStream(1, block: storedHeaderBlock(pairs, version: .v3, first: true)))
            expectClose = false
        }
        if expectClose {
            #expect(await sendAndExpectClose(raw, bytes), "the connection was left open")
            #expect(log.goAways.map(\.status) == [.protocolError])
        } else {
            try await raw.writeAndFlush(bytes)
            #expect(await eventually { !log.resets.isEmpty || log.state.dataBytes > 0 || !log.pingIDs.isEmpty })
            try await Task.sleep(for: .milliseconds(300))
            switch kind {
            case .streamIDReuse:
                #expect(log.resets.map(\.status) == [.protocolError])
            case .wrongVersion:
                #expect(log.pingIDs == [9])
                #expect(log.resets.isEmpty)
            case .streamWindowOverflow:
                #expect(log.resets.map(\.status) == [.flowControlError])
            case .dataOnClosedStream:
                #expect(log.resets.map(\.status) == [.streamAlreadyClosed])
            case .dataOnUnopenedStream:
                #expect(log.resets.map(\.status) == [.invalidStream])
                #expect(log.resets.map(\.streamID) == [id(7)])
            default:
                // Accepted or refused, but never the whole session.
                #expect(log.resets.allSatisfy { $0.status == .protocolError })
            }
            #expect(log.goAways.isEmpty)
            #expect(raw.isActive)
            try await raw.close()
        }
        try await field.finish()
    }
}
