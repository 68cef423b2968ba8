import NIOCore
import NIOEmbedded
import NIOSPDY
import SPDY
import SPDYTestSupport
import Testing

// Deterministic tests of SPDYConnection and its stream channels: the connection runs in an
// EmbeddedChannel, the test plays the peer with frames it encodes itself, and decodes what
// the connection wrote. Nothing waits for time: every step runs to completion when called.

// MARK: - What a stream channel's pipeline saw

/// One thing a stream channel's pipeline saw.
private enum StreamEvent: Equatable {
    case active
    case headers(SPDYHeadersPayload.Kind?, fin: Bool)
    case data(Int, fin: Bool)
    case writable(Bool)
    case error(SPDYStreamError)
    case otherError(String)
    case inactive
}

/// The stream channels the test's initializer set up, with what each saw. Everything runs on
/// the embedded event loop, on the test's thread.
private final class StreamLog: @unchecked Sendable {
    final class Stream {
        let channel: any Channel
        var events: [StreamEvent] = []
        var headers: [SPDYHeaders] = []
        var body: [UInt8] = []

        init(channel: any Channel) {
            self.channel = channel
        }

        /// The data events' sizes added up, and the FIN, ignoring how the bytes were split.
        var dataSummary: (bytes: Int, fin: Bool) {
            var bytes = 0
            var fin = false
            for case .data(let count, let end) in events {
                bytes += count
                fin = fin || end
            }
            return (bytes, fin)
        }
    }

    var streams: [Stream] = []

    func add(_ channel: any Channel) -> Stream {
        let stream = Stream(channel: channel)
        streams.append(stream)
        return stream
    }
}

/// Records what reaches the end of a stream channel's pipeline.
private final class StreamRecorder: ChannelInboundHandler {
    typealias InboundIn = SPDYStreamPayload

    private let stream: StreamLog.Stream

    init(_ stream: StreamLog.Stream) {
        self.stream = stream
    }

    func channelActive(context: ChannelHandlerContext) {
        stream.events.append(.active)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let payload):
            stream.events.append(.headers(payload.kind, fin: payload.fin))
            stream.headers.append(payload.headers)
        case .data(let bytes, let fin):
            stream.events.append(.data(bytes.readableBytes, fin: fin))
            stream.body += bytes.readableBytesView
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        stream.events.append(.writable(context.channel.isWritable))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? SPDYStreamError {
            stream.events.append(.error(error))
        } else {
            stream.events.append(.otherError("\(error)"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stream.events.append(.inactive)
    }
}

/// Counts the read() calls that pass it on their way to the socket: placed before the
/// connection, it shows whether the connection forwards them.
private final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer

    var reads = 0

    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

// MARK: - The connection in an EmbeddedChannel

/// A ``SPDYConnection`` (the role under test) in an EmbeddedChannel, with the test as its
/// peer: ``receive(_:)`` feeds frames the peer sends, ``sent()`` decodes what the connection
/// wrote.
private final class EmbeddedSPDY {
    static let local = try! SocketAddress(ipAddress: "192.0.2.1", port: 443)
    static let remote = try! SocketAddress(ipAddress: "198.51.100.7", port: 50123)

    let channel = EmbeddedChannel()
    let connection: SPDYConnection
    let readCounter = ReadCounter()
    let log = StreamLog()
    let version: SPDYVersion
    private let encoder: SPDYFrameEncoder
    private let decoder: SPDYFrameDecoder
    private let initializer: SPDYConnection.StreamInitializer
    private var dataFrame: (id: SPDYStreamID, flags: SPDYDataFlags, length: Int)?
    /// The bytes of the DATA frames decoded so far, by stream.
    private(set) var sentBodies: [SPDYStreamID: [UInt8]] = [:]
    /// The control frames decoded so far.
    private(set) var sentFrames: [SPDYFrame] = []

    /// - Parameters:
    ///   - childAutoRead: `false` has the initializer turn `autoRead` off on each stream channel.
    ///   - pushInitializer: on a client, whether pushed streams get a channel.
    init(
        role: SPDYRole = .server,
        version: SPDYVersion = .v3,
        streams: SPDYConnection.StreamConfiguration = .init(),
        childAutoRead: Bool = true,
        pushInitializer: Bool = false
    ) throws {
        self.version = version
        let log = self.log
        initializer = { channel in
            channel.eventLoop.makeCompletedFuture {
                if !childAutoRead {
                    try channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
                }
                try channel.pipeline.syncOperations.addHandler(StreamRecorder(log.add(channel)))
            }
        }
        let session = try SPDYSession(
            role: role, version: version, configuration: .init(manualDataConsumption: true))
        connection = SPDYConnection(
            session: session,
            streamConfiguration: streams,
            inboundStreamInitializer: role == .server ? initializer : nil,
            pushStreamInitializer: role == .client && pushInitializer ? initializer : nil
        )
        let peer: SPDYRole = role == .server ? .client : .server
        encoder = try SPDYFrameEncoder(version: version, compression: .default(for: peer))
        decoder = try SPDYFrameDecoder(version: version)
        channel.localAddress = Self.local
        try channel.pipeline.syncOperations.addHandler(readCounter)
        try channel.pipeline.syncOperations.addHandler(connection)
        try channel.connect(to: Self.remote).wait()
        channel.remoteAddress = Self.remote
    }

    /// The peer sends `frames` (one read).
    func receive(_ frames: SPDYFrame...) throws {
        try receive(frames)
    }

    /// The peer sends `frames` (one read).
    func receive(_ frames: [SPDYFrame]) throws {
        try channel.writeInbound(try encoded(frames))
    }

    /// The bytes of `frames` as the peer sends them.
    func encoded(_ frames: [SPDYFrame]) throws -> ByteBuffer {
        var buffer = channel.allocator.buffer(capacity: 0)
        for frame in frames {
            try encoder.encode(frame, into: &buffer)
        }
        return buffer
    }

    /// What the connection wrote since the last call, one line a frame.
    func sent() throws -> [String] {
        while let bytes = try channel.readOutbound(as: ByteBuffer.self) {
            decoder.append(bytes: bytes)
        }
        var lines: [String] = []
        while let event = try decoder.nextFrame() {
            switch event {
            case .frame(let frame, _):
                sentFrames.append(frame)
                lines.append(describe(frame))
            case .dataChunk(let chunk):
                let header = chunk.header
                sentBodies[header.streamID, default: []] += chunk.payload.readableBytesView
                let length = (dataFrame?.length ?? 0) + chunk.payload.readableBytes
                dataFrame = (header.streamID, header.flags, length)
                if chunk.isEndOfFrame {
                    let fin = header.flags.contains(.fin) ? " FIN" : ""
                    lines.append("DATA \(header.streamID)\(fin) \(length)")
                    dataFrame = nil
                }
            }
        }
        return lines
    }

    /// Expects ``sent()`` to be `expected`.
    func expectSent(_ expected: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let frames = try sent()
        #expect(frames == expected, sourceLocation: sourceLocation)
    }

    /// Opens a stream of ours with the recorder; returns its channel and record.
    func openStream() throws -> (any Channel, StreamLog.Stream) {
        let promise = channel.eventLoop.makePromise(of: (any Channel).self)
        connection.createStreamChannel(promise: promise, initializer: initializer)
        let stream = try #require(try outcome(promise.futureResult)?.get())
        let record = try #require(log.streams.last)
        #expect(record.channel === stream)
        return (stream, record)
    }

    /// Closes the connection's channel and runs what that scheduled.
    func close() {
        channel.close(promise: nil)
        channel.embeddedEventLoop.run()
    }

    private func describe(_ frame: SPDYFrame) -> String {
        func fin(_ flags: SPDYControlFlags) -> String { flags.contains(.fin) ? " FIN" : "" }
        switch frame {
        case .synStream(let syn):
            let unidirectional = syn.flags.contains(.unidirectional) ? " UNIDIRECTIONAL" : ""
            let associated = syn.associatedStreamID == .zero ? "" : " assoc=\(syn.associatedStreamID)"
            return "SYN_STREAM \(syn.streamID)\(fin(syn.flags))\(unidirectional)\(associated) pri=\(syn.priority)"
        case .synReply(let reply): return "SYN_REPLY \(reply.streamID)\(fin(reply.flags))"
        case .headers(let headers): return "HEADERS \(headers.streamID)\(fin(headers.flags))"
        case .rstStream(let rst): return "RST_STREAM \(rst.streamID) \(rst.status)"
        case .settings(let settings): return "SETTINGS \(settings.entries.map { "\($0.id)=\($0.value)" })"
        case .ping(let ping): return "PING \(ping.id)"
        case .goAway(let goAway): return "GOAWAY \(goAway.lastGoodStreamID) \(goAway.status)"
        case .windowUpdate(let update): return "WINDOW_UPDATE \(update.streamID) \(update.deltaWindowSize)"
        case .data(let data): return "DATA \(data.streamID) \(data.payload.readableBytes)"
        default: return "\(frame)"
        }
    }
}

// MARK: - Frames and payloads

private func synStream(
    _ id: SPDYStreamID, method: String = "POST", path: String = "/upload", priority: UInt8 = 3, fin: Bool = false
) -> SPDYFrame {
    .synStream(.init(streamID: id, priority: priority, flags: fin ? .fin : [], headers: requestHeaders(method, path)))
}

private func data(_ id: SPDYStreamID, _ bytes: [UInt8], fin: Bool = false) -> SPDYFrame {
    .data(.init(streamID: id, flags: fin ? .fin : [], payload: ByteBuffer(bytes: bytes)))
}

private func data(_ id: SPDYStreamID, count: Int, fin: Bool = false) -> SPDYFrame {
    data(id, pattern(count), fin: fin)
}

private func pattern(_ count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }
}

private let responseHeaders: SPDYHeaders = [(":status", "200 OK"), (":version", "HTTP/1.1")]

private func headersPayload(_ headers: SPDYHeaders, fin: Bool = false) -> SPDYStreamPayload {
    .headers(.init(headers: headers, fin: fin))
}

private func dataPayload(_ count: Int, fin: Bool = false) -> SPDYStreamPayload {
    .data(ByteBuffer(bytes: pattern(count)), fin: fin)
}

/// The outcome of a future, if it has completed (on the embedded loop, everything that can
/// complete has by the time the call that caused it returns).
private func outcome<Value>(_ future: EventLoopFuture<Value>) -> Result<Value, any Error>? {
    var result: Result<Value, any Error>?
    future.assumeIsolated().whenComplete { result = $0 }
    return result
}

/// The error a future failed with, if it did.
private func failure<Value>(_ future: EventLoopFuture<Value>) -> (any Error)? {
    guard case .failure(let error) = outcome(future) else { return nil }
    return error
}

private func succeeded<Value>(_ future: EventLoopFuture<Value>) -> Bool {
    if case .success = outcome(future) { return true }
    return false
}

// MARK: - Tests

@Suite("Stream channels of SPDYConnection, on an EmbeddedChannel")
struct StreamChannelTests {
    @Test("A SYN_STREAM opens a stream channel that reads its headers, DATA and FIN in order")
    func inboundStream() throws {
        let peer = try EmbeddedSPDY()
        defer { peer.close() }
        try peer.receive(synStream(1, priority: 2))
        try peer.receive(data(1, Array("hello".utf8)))
        try peer.receive(data(1, Array(" world".utf8), fin: true))

        let stream = try #require(peer.log.streams.first)
        #expect(peer.log.streams.count == 1)
        #expect(
            stream.events == [
                .active,
                .headers(.synStream(priority: 2, associatedStreamID: .zero, unidirectional: false), fin: false),
                .data(5, fin: false),
                .data(6, fin: true),
            ])
        #expect(stream.headers.first?[":method"] == "POST")
        #expect(stream.headers.first?[":path"] == "/upload")
        #expect(String(decoding: stream.body, as: UTF8.self) == "hello world")

        let child = stream.channel
        #expect(child.isActive)
        #expect(child.parent === peer.channel)
        #expect(child.localAddress == EmbeddedSPDY.local)
        #expect(child.remoteAddress == EmbeddedSPDY.remote)
        #expect(try child.syncOptions?.getOption(SPDYStreamChannelOptions.streamID) == 1)
        #expect((child as? SPDYStreamChannel)?.streamID == 1)
        #expect(peer.connection.streamChannelCount == 1)
        // 11 bytes consumed: far from half the window, so no WINDOW_UPDATE.
        try peer.expectSent([])

        // The answer: a SYN_REPLY, then DATA, the last with FIN; both sides done closes it.
        child.write(headersPayload(responseHeaders), promise: nil)
        child.write(dataPayload(5000), promise: nil)
        let last = child.writeAndFlush(dataPayload(100, fin: true))
        try peer.expectSent(["SYN_REPLY 1", "DATA 1 4096", "DATA 1 FIN 1004"])
        #expect(peer.sentBodies[1] == pattern(5000) + pattern(100))
        #expect(succeeded(last))
        #expect(stream.events.last == .inactive)
        #expect(!stream.events.contains { if case .error = $0 { true } else { false } })
        #expect(peer.connection.streamChannelCount == 0)
        peer.channel.embeddedEventLoop.run()
        #expect(succeeded(child.closeFuture))
    }

    @Test(
        "Receive backpressure: a stream's unread DATA gets no WINDOW_UPDATE; reading grants it at half the window",
        arguments: [SPDYVersion.v3, .v3_1])
    func receiveBackpressure(version: SPDYVersion) throws {
        let peer = try EmbeddedSPDY(version: version, childAutoRead: false)
        defer { peer.close() }
        // The SPDY/3.1 session window comes back as DATA arrives, whoever reads it.
        func sessionUpdate(_ delta: Int) -> [String] { version == .v3_1 ? ["WINDOW_UPDATE 0 \(delta)"] : [] }
        try peer.receive(synStream(1), data(1, count: 30000))
        let stream = try #require(peer.log.streams.first)
        // Nobody reads: everything waits in the stream channel, no window is granted.
        #expect(stream.events == [.active])
        try peer.expectSent([])

        stream.channel.read()
        #expect(stream.events.count == 3)
        #expect(stream.dataSummary == (30000, false))
        // 30 000 bytes consumed: less than half of the 64 KiB window.
        try peer.expectSent([])

        // The rest of the stream's window, unread: the stream is granted nothing.
        try peer.receive(data(1, count: 20000), data(1, count: 15536))
        #expect(stream.dataSummary == (30000, false))
        try peer.expectSent(sessionUpdate(65536))

        stream.channel.read()
        #expect(stream.dataSummary == (65536, false))
        #expect(stream.body == pattern(30000) + pattern(20000) + pattern(15536))
        try peer.expectSent(["WINDOW_UPDATE 1 65536"])

        // The window granted is the window used: 35 536 more bytes are accepted, and held.
        try peer.receive(data(1, count: 35536, fin: true))
        try peer.expectSent(sessionUpdate(35536))
        #expect(stream.dataSummary == (65536, false))
        stream.channel.read()
        #expect(stream.dataSummary == (101072, true))
        #expect(stream.events.last == .data(35536, fin: true))
        // The peer has finished: a WINDOW_UPDATE would be for nothing.
        try peer.expectSent([])
    }

    @Test("SPDY/3.1: a stream nobody reads does not hold up the others (the session window comes back on receipt)")
    func unreadStreamDoesNotBlockOthers() throws {
        let peer = try EmbeddedSPDY(version: .v3_1, childAutoRead: false)
        defer { peer.close() }
        // Stream 3 fills its window, which is all of the session's, and is never read.
        try peer.receive(synStream(1), synStream(3), data(3, count: 65536))
        try peer.expectSent(["WINDOW_UPDATE 0 65536"])
        // So the peer may go on with stream 1, whose reader gets it and grants more.
        try peer.receive(data(1, count: 40000))
        try peer.expectSent(["WINDOW_UPDATE 0 40000"])
        let (first, third) = (peer.log.streams[0], peer.log.streams[1])
        first.channel.read()
        #expect(first.dataSummary == (40000, false))
        try peer.expectSent(["WINDOW_UPDATE 1 40000"])
        #expect(third.dataSummary == (0, false))
        #expect(peer.channel.isActive)
    }

    @Test("SPDY/2: a stream over its inbound cap stops the connection's reads until it reads")
    func spdy2PerStreamCap() throws {
        let peer = try EmbeddedSPDY(
            version: .v2, streams: .init(maxBufferedInboundBytesPerStream: 10_000), childAutoRead: false)
        defer { peer.close() }
        peer.channel.read()
        #expect(peer.readCounter.reads == 1)

        try peer.receive(synStream(1), data(1, count: 10_000))
        let stream = try #require(peer.log.streams.first)
        // At the cap, not over it: reads go on.
        peer.channel.read()
        #expect(peer.readCounter.reads == 2)

        try peer.receive(data(1, count: 1))
        peer.channel.read()
        peer.channel.read()
        #expect(peer.readCounter.reads == 2, "the connection read on with a stream over its cap")

        stream.channel.read()
        #expect(stream.dataSummary == (10_001, false))
        #expect(peer.readCounter.reads == 3, "the held read was not passed on once the stream read")
        peer.channel.read()
        #expect(peer.readCounter.reads == 4)
        // SPDY/2 has no windows.
        try peer.expectSent([])
    }

    @Test("SPDY/2: the streams together over the connection's inbound cap stop its reads until one reads")
    func spdy2ConnectionCap() throws {
        let peer = try EmbeddedSPDY(
            version: .v2, streams: .init(maxBufferedInboundBytesPerStream: 1 << 20, maxBufferedInboundBytes: 15_000),
            childAutoRead: false)
        defer { peer.close() }
        try peer.receive(synStream(1), data(1, count: 8000), synStream(3), data(3, count: 7000))
        peer.channel.read()
        #expect(peer.readCounter.reads == 1)

        try peer.receive(data(3, count: 1000))
        peer.channel.read()
        #expect(peer.readCounter.reads == 1, "16 000 bytes held against a cap of 15 000")

        let first = try #require(peer.log.streams.first)
        first.channel.read()
        #expect(first.dataSummary == (8000, false))
        #expect(peer.readCounter.reads == 2)
        #expect(peer.log.streams[1].dataSummary == (0, false))
    }

    @Test("The frame-completion timer stands still while the connection holds reads back, then restarts")
    func frameTimerWhileReadingPaused() throws {
        let peer = try EmbeddedSPDY(streams: .init(maxBufferedInboundBytesPerStream: 10_000), childAutoRead: false)
        defer { peer.close() }
        peer.connection.frameCompletionTimeout = .seconds(30)
        // Past the stream's cap, with half of the next DATA frame in the same read.
        let bytes = try peer.encoded([synStream(1), data(1, count: 10_001), data(1, count: 100)])
        try peer.channel.writeInbound(bytes.getSlice(at: bytes.readerIndex, length: bytes.readableBytes - 50)!)
        let stream = try #require(peer.log.streams.first)
        peer.channel.read()
        #expect(peer.readCounter.reads == 0)

        // The connection does not read: the unfinished frame is not the peer's fault.
        peer.channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(peer.channel.isActive, "closed for a frame it did not read")
        try peer.expectSent([])

        // Reading resumes, and the peer has the whole timeout again to finish the frame.
        stream.channel.read()
        #expect(peer.readCounter.reads == 1)
        peer.channel.embeddedEventLoop.advanceTime(by: .seconds(29))
        #expect(peer.channel.isActive)
        peer.channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        try peer.expectSent(["GOAWAY 1 PROTOCOL_ERROR"])
        #expect(!peer.channel.isActive)
        #expect(peer.connection.closeError as? SPDYConnectionTimeout == .frameIncomplete)
    }

    @Test("Sending: SYN_REPLY, DATA within the peer's window, writability by watermarks, outbound limit, FIN")
    func sendSide() throws {
        let peer = try EmbeddedSPDY(
            streams: .init(outboundHighWatermark: 16384, outboundLowWatermark: 8192, maxBufferedOutboundBytes: 32768))
        defer { peer.close() }
        // The peer's stream windows start at 4 KiB.
        try peer.receive(
            .settings(.init(entries: [.init(id: .initialWindowSize, value: 4096)])),
            synStream(1, method: "GET", path: "/", fin: true))
        let stream = try #require(peer.log.streams.first)
        let child = stream.channel

        child.write(headersPayload(responseHeaders), promise: nil)
        let first = child.writeAndFlush(dataPayload(4096))
        try peer.expectSent(["SYN_REPLY 1", "DATA 1 4096"])
        #expect(succeeded(first))
        #expect(child.isWritable)

        // The window is used up: 20 000 bytes wait, past the high watermark.
        let waiting = child.writeAndFlush(dataPayload(20000))
        try peer.expectSent([])
        #expect(outcome(waiting) == nil)
        #expect(!child.isWritable)
        #expect(stream.events.last == .writable(false))

        // A writer that ignores writability: over 32 KiB waiting fails the write.
        let tooMuch = child.writeAndFlush(dataPayload(20000))
        #expect(failure(tooMuch) as? SPDYStreamError == .outboundBufferFull(limit: 32768))
        let more = child.writeAndFlush(dataPayload(1000))
        #expect(outcome(more) == nil)

        // 16 KiB of window: 16 KiB go out, 4 616 bytes are left, below the low watermark.
        try peer.receive(.windowUpdate(.init(streamID: 1, deltaWindowSize: 16384)))
        try peer.expectSent(Array(repeating: "DATA 1 4096", count: 4))
        #expect(child.isWritable)
        #expect(stream.events.last == .writable(true))
        #expect(outcome(waiting) == nil)

        // close(mode: .output) queues the FIN behind what waits.
        let closed = child.close(mode: .output)
        #expect(outcome(closed) == nil)
        try peer.receive(.windowUpdate(.init(streamID: 1, deltaWindowSize: 65536)))
        // What waits goes out write by write, never splitting a write that would not fit.
        try peer.expectSent(["DATA 1 3616", "DATA 1 FIN 1000"])
        #expect(succeeded(waiting))
        #expect(succeeded(more))
        #expect(succeeded(closed))
        #expect(peer.sentBodies[1] == pattern(4096) + pattern(20000) + pattern(1000))
        // Both sides are done: the stream closed cleanly.
        #expect(stream.events.last == .inactive)
        #expect(!stream.events.contains { if case .error = $0 { true } else { false } })
    }

    @Test("Trailers written after DATA that waits for window follow that DATA on the wire")
    func trailersFollowQueuedData() throws {
        let peer = try EmbeddedSPDY(streams: .init())
        defer { peer.close() }
        try peer.receive(
            .settings(.init(entries: [.init(id: .initialWindowSize, value: 4096)])),
            synStream(1, method: "GET", path: "/", fin: true))
        let stream = try #require(peer.log.streams.first)
        let child = stream.channel
        child.write(headersPayload(responseHeaders), promise: nil)
        child.write(dataPayload(6000), promise: nil)
        let trailers = child.writeAndFlush(headersPayload([("x-checksum", "1")], fin: true))
        // 4 KiB of window: the rest of the DATA waits, and so do the trailers.
        try peer.expectSent(["SYN_REPLY 1", "DATA 1 4096"])
        #expect(outcome(trailers) == nil)
        try peer.receive(.windowUpdate(.init(streamID: 1, deltaWindowSize: 8192)))
        try peer.expectSent(["DATA 1 1904", "HEADERS 1 FIN"])
        #expect(succeeded(trailers))
        #expect(stream.events.last == .inactive)
    }

    @Test("Sending follows the connection's writability: stream channels turn unwritable with it, DATA waits")
    func parentWritability() throws {
        let peer = try EmbeddedSPDY()
        defer { peer.close() }
        try peer.receive(
            synStream(1, method: "GET", path: "/", fin: true), synStream(3, method: "GET", path: "/", fin: true))
        let (first, second) = (peer.log.streams[0], peer.log.streams[1])
        first.channel.writeAndFlush(headersPayload(responseHeaders), promise: nil)
        try peer.expectSent(["SYN_REPLY 1"])

        peer.channel.isWritable = false
        peer.channel.pipeline.fireChannelWritabilityChanged()
        #expect(!first.channel.isWritable && !second.channel.isWritable)
        #expect(first.events.last == .writable(false) && second.events.last == .writable(false))
        // The session may take the frame (completing the write), but nothing is written.
        let body = first.channel.writeAndFlush(dataPayload(100, fin: true))
        try peer.expectSent([])
        #expect(first.events.last == .writable(false))

        peer.channel.isWritable = true
        peer.channel.pipeline.fireChannelWritabilityChanged()
        try peer.expectSent(["DATA 1 FIN 100"])
        #expect(succeeded(body))
        #expect(first.events.last == .inactive)
        #expect(second.channel.isWritable)
        #expect(second.events.last == .writable(true))
    }

    @Test("A full close before both sides are done sends RST_STREAM CANCEL")
    func fullCloseResets() throws {
        let peer = try EmbeddedSPDY()
        defer { peer.close() }
        try peer.receive(synStream(1))
        let stream = try #require(peer.log.streams.first)
        let closed = stream.channel.close()
        try peer.expectSent(["RST_STREAM 1 CANCEL"])
        #expect(succeeded(closed))
        #expect(
            stream.events == [
                .active,
                .headers(.synStream(priority: 3, associatedStreamID: .zero, unidirectional: false), fin: false),
                .inactive,
            ])
        #expect(peer.connection.streamChannelCount == 0)
        // DATA the peer sent before it saw the reset is dropped quietly.
        try peer.receive(data(1, count: 10))
        #expect(stream.events.count == 3)
    }

    @Test("The peer's RST_STREAM reaches the pipeline as resetByPeer, then channelInactive")
    func peerReset() throws {
        let peer = try EmbeddedSPDY()
        defer { peer.close() }
        try peer.receive(synStream(1))
        let stream = try #require(peer.log.streams.first)
        let write = stream.channel.writeAndFlush(headersPayload(responseHeaders))
        try peer.expectSent(["SYN_REPLY 1"])
        #expect(succeeded(write))

        try peer.receive(.rstStream(.init(streamID: 1, status: .cancel)))
        #expect(Array(stream.events.suffix(2)) == [.error(.resetByPeer(.cancel)), .inactive])
        #expect(!stream.channel.isActive)
        try peer.expectSent([])
        let late = stream.channel.writeAndFlush(dataPayload(10))
        #expect(failure(late) != nil)
        #expect(peer.connection.streamChannelCount == 0)
    }

    @Test("When the connection closes, every stream channel gets connectionClosed, then channelInactive")
    func connectionClosed() throws {
        let peer = try EmbeddedSPDY()
        try peer.receive(synStream(1), synStream(3))
        #expect(peer.log.streams.count == 2)
        peer.close()
        for stream in peer.log.streams {
            #expect(Array(stream.events.suffix(2)) == [.error(.connectionClosed), .inactive])
            #expect(succeeded(stream.channel.closeFuture))
        }
        #expect(peer.connection.isClosed)
    }

    @Test("Client: streams get IDs 1, 3 with their SYN_STREAM; GOAWAY refuses those above its last good ID")
    func clientStreams() throws {
        let peer = try EmbeddedSPDY(role: .client)
        defer { peer.close() }
        let (first, firstLog) = try peer.openStream()
        #expect(try first.syncOptions?.getOption(SPDYStreamChannelOptions.streamID) == SPDYStreamID?.none)
        #expect(first.isActive)
        let request = first.writeAndFlush(headersPayload(requestHeaders("GET", "/a"), fin: true))
        #expect(succeeded(request))
        try peer.expectSent(["SYN_STREAM 1 FIN pri=3"])
        #expect(try first.syncOptions?.getOption(SPDYStreamChannelOptions.streamID) == 1)

        let (second, secondLog) = try peer.openStream()
        second.write(
            SPDYStreamPayload.headers(
                .init(
                    kind: .synStream(priority: 1, associatedStreamID: .zero, unidirectional: false),
                    headers: requestHeaders("POST", "/b"))),
            promise: nil)
        second.write(dataPayload(10), promise: nil)
        second.flush()
        try peer.expectSent(["SYN_STREAM 3 pri=1", "DATA 3 10"])
        #expect(try second.syncOptions?.getOption(SPDYStreamChannelOptions.streamID) == 3)
        if case .synStream(let syn) = peer.sentFrames.last {
            #expect(syn.headers[":path"] == "/b")
        } else {
            Issue.record("no SYN_STREAM: \(peer.sentFrames)")
        }

        try peer.receive(.synReply(.init(streamID: 1, headers: responseHeaders)))
        #expect(firstLog.events == [.active, .headers(.synReply, fin: false)])

        // The server processed stream 1 only.
        try peer.receive(.goAway(.init(lastGoodStreamID: 1, status: .ok)))
        #expect(Array(secondLog.events.suffix(2)) == [.error(.refusedByGoAway(lastGoodStreamID: 1)), .inactive])
        #expect(SPDYStreamError.refusedByGoAway(lastGoodStreamID: 1).mayBeRetried)
        #expect(firstLog.events == [.active, .headers(.synReply, fin: false)])
        #expect(first.isActive)
        try peer.receive(data(1, Array("ok".utf8), fin: true))
        #expect(Array(firstLog.events.suffix(2)) == [.data(2, fin: true), .inactive])
        try peer.expectSent([])
    }

    /// A client requests `/` on stream 1; the server pushes stream 2 (and `more` after it).
    private func push(to peer: EmbeddedSPDY, _ more: SPDYFrame...) throws {
        let (channel, _) = try peer.openStream()
        channel.writeAndFlush(headersPayload(requestHeaders("GET", "/"), fin: true), promise: nil)
        try peer.expectSent(["SYN_STREAM 1 FIN pri=3"])
        let frames: [SPDYFrame] = [
            .synStream(
                .init(
                    streamID: 2, associatedStreamID: 1, priority: 3, flags: .unidirectional,
                    headers: [(":scheme", "http"), (":host", "127.0.0.1"), (":path", "/pushed")]))
        ]
        try peer.receive(frames + more)
    }

    @Test("Client: a pushed stream without a push initializer is refused with RST_STREAM CANCEL")
    func pushRefused() throws {
        let peer = try EmbeddedSPDY(role: .client)
        defer { peer.close() }
        try push(to: peer)
        try peer.expectSent(["RST_STREAM 2 CANCEL"])
        #expect(peer.log.streams.count == 1)
    }

    @Test("Client: a pushed stream with a push initializer reads its headers and body")
    func pushAccepted() throws {
        let peer = try EmbeddedSPDY(role: .client, pushInitializer: true)
        defer { peer.close() }
        try push(to: peer, data(2, Array("pushed".utf8), fin: true))
        try peer.expectSent([])
        let pushed = try #require(peer.log.streams.last)
        #expect(peer.log.streams.count == 2)
        #expect(
            pushed.events == [
                .active, .headers(.synStream(priority: 3, associatedStreamID: 1, unidirectional: true), fin: false),
                .data(6, fin: true), .inactive,
            ])
    }

    @Test("PING: the promise succeeds on the echo, pending ones fail on close; observers come and go")
    func pingsAndObservers() throws {
        let peer = try EmbeddedSPDY()
        var seen: [String] = []
        var closedEvents = 0
        let token = peer.connection.addObserver { event in
            switch event {
            case .frame(.controlSent(let frame, _)): seen.append("sent \(frame.type.map { "\($0)" } ?? "?")")
            case .frame(.controlReceived(let frame, _)): seen.append("received \(frame.type.map { "\($0)" } ?? "?")")
            case .frame(let other): seen.append("other \(other)")
            case .active: seen.append("active")
            case .closed: seen.append("closed")
            }
        }
        peer.connection.addObserver { event in
            if case .closed(let error) = event {
                closedEvents += 1
                #expect(error == nil)
            }
        }

        let reply = peer.connection.ping()
        try peer.expectSent(["PING 2"])
        #expect(peer.connection.outstandingPings == 1)
        #expect(outcome(reply) == nil)
        try peer.receive(.ping(.init(id: 2)))
        #expect(succeeded(reply))
        #expect(peer.connection.outstandingPings == 0)
        #expect(seen.count == 2)
        #expect(seen.first?.hasPrefix("sent ") == true)
        #expect(seen.last?.hasPrefix("received ") == true)

        peer.connection.removeObserver(token)
        let (id, pending) = peer.connection.sendPing()
        #expect(id == 4)
        try peer.expectSent(["PING 4"])
        // The peer's own PING is echoed.
        try peer.receive(.ping(.init(id: 1)))
        try peer.expectSent(["PING 1"])
        #expect(seen.count == 2, "a removed observer was called: \(seen)")

        peer.close()
        #expect(failure(pending) as? SPDYStreamError == .connectionClosed)
        #expect(peer.connection.outstandingPings == 0)
        #expect(closedEvents == 1)
        #expect(seen.count == 2)
        // After the close, a PING fails at once.
        #expect(failure(peer.connection.ping()) as? SPDYStreamError == .connectionClosed)
    }

    @Test("ChannelShouldQuiesceEvent: GOAWAY, the stream in flight completes, then the channel closes")
    func quiesce() throws {
        let peer = try EmbeddedSPDY()
        defer { peer.close() }
        try peer.receive(synStream(1))
        let stream = try #require(peer.log.streams.first)

        peer.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        try peer.expectSent(["GOAWAY 1 OK"])
        #expect(peer.channel.isActive)

        // A stream the peer opens after the GOAWAY is not served.
        try peer.receive(synStream(3))
        #expect(peer.log.streams.count == 1)

        try peer.receive(data(1, Array("body".utf8), fin: true))
        #expect(stream.events.last == .data(4, fin: true))
        #expect(peer.channel.isActive)

        stream.channel.write(headersPayload(responseHeaders), promise: nil)
        stream.channel.writeAndFlush(dataPayload(10, fin: true), promise: nil)
        peer.channel.embeddedEventLoop.run()
        try peer.expectSent(["SYN_REPLY 1", "DATA 1 FIN 10"])
        #expect(stream.events.last == .inactive)
        #expect(!stream.events.contains { if case .error = $0 { true } else { false } })
        #expect(!peer.channel.isActive, "the connection stayed open after its last stream")
        #expect(peer.connection.isClosed)
    }
}
