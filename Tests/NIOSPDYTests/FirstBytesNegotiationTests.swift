import NIOCore
import NIOEmbedded
import NIOSPDY
import SPDY
import Testing

/// Collects what reaches the end of the pipeline, to check that no byte is lost or reordered.
private final class ByteCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    var received = ByteBuffer()
    var readCompletes = 0
    /// How many bytes had arrived when each user event came.
    var events: [(event: String, afterBytes: Int)] = []

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        events.append(("\(event)", received.readableBytes))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        received.writeBuffer(&bytes)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        readCompletes += 1
    }
}

@Suite("One port: the first bytes tell SPDY from HTTP/1.1 (plain TCP)")
struct FirstBytesNegotiationTests {
    /// A SYN_STREAM header of `version` followed by some payload bytes, as a client opens.
    static func spdyBytes(version: UInt8) -> [UInt8] {
        [0x80, version, 0x00, 0x01, 0x01, 0x00, 0x00, 0x0a] + Array(0..<10)
    }

    static let httpBytes = Array("GET /index.html HTTP/1.1\r\nHost: example\r\n\r\n".utf8)

    @Test(
        "detect: 0x80 0x02 is SPDY/2, 0x80 0x03 the configured SPDY/3 version, one other byte is HTTP/1.1",
        arguments: [
            ([0x80, 0x02], SPDYVersion.v3_1, SPDYNegotiation.Selection?.some(.spdy(.v2))),
            ([0x80, 0x03], .v3_1, .spdy(.v3_1)),
            ([0x80, 0x03], .v3, .spdy(.v3)),
            ([0x80, 0x03, 0x00, 0x01], .v3, .spdy(.v3)),
            ([0x47], .v3_1, .http11),
            ([0x50, 0x4f], .v3_1, .http11),
            ([0x80, 0x04], .v3_1, .http11),
            ([0x80], .v3_1, nil),
            ([], .v3_1, nil),
        ] as [([UInt8], SPDYVersion, SPDYNegotiation.Selection?)]
    )
    func detect(bytes: [UInt8], spdy3Version: SPDYVersion, expected: SPDYNegotiation.Selection?) {
        #expect(SPDYFirstBytesNegotiationHandler<Void>.detect(bytes, spdy3Version: spdy3Version) == expected)
    }

    /// An embedded channel with the handler (reporting to `decided`) and a collector after it.
    private func makeChannel(
        spdy3Version: SPDYVersion = .v3_1,
        timeout: TimeAmount? = .seconds(10),
        configure: @escaping (SPDYNegotiation.Selection, any Channel) -> EventLoopFuture<SPDYNegotiation.Selection>
    ) throws -> (EmbeddedChannel, SPDYFirstBytesNegotiationHandler<SPDYNegotiation.Selection>, ByteCollector) {
        let channel = EmbeddedChannel()
        let handler = SPDYFirstBytesNegotiationHandler<SPDYNegotiation.Selection>(
            spdy3Version: spdy3Version, timeout: timeout, completionHandler: configure)
        let collector = ByteCollector()
        try channel.pipeline.syncOperations.addHandlers([handler, collector])
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, handler, collector)
    }

    @Test(
        "Split reads (one byte, then the rest) reach the next handler whole and in order; the handler leaves",
        arguments: [
            (spdyBytes(version: 3), SPDYNegotiation.Selection.spdy(.v3_1)),
            (spdyBytes(version: 2), .spdy(.v2)),
            (httpBytes, .http11),
        ]
    )
    func splitReads(bytes: [UInt8], expected: SPDYNegotiation.Selection) throws {
        var decided: [SPDYNegotiation.Selection] = []
        let (channel, handler, collector) = try makeChannel { selection, channel in
            decided.append(selection)
            return channel.eventLoop.makeSucceededFuture(selection)
        }
        try channel.writeInbound(ByteBuffer(bytes: bytes.prefix(1)))
        // One byte tells HTTP/1.1 (not 0x80), never SPDY.
        #expect(decided == (bytes[0] == 0x80 ? [] : [.http11]))
        try channel.writeInbound(ByteBuffer(bytes: bytes.dropFirst(1).prefix(3)))
        try channel.writeInbound(ByteBuffer(bytes: bytes.dropFirst(4)))
        #expect(decided == [expected])
        #expect(collector.received == ByteBuffer(bytes: bytes))
        #expect(try handler.protocolNegotiationResult.wait() == expected)
        #expect(throws: ChannelPipelineError.notFound) {
            try channel.pipeline.syncOperations.context(
                handlerType: SPDYFirstBytesNegotiationHandler<SPDYNegotiation.Selection>.self)
        }
        _ = try channel.finish()
    }

    @Test("Reads arriving while the pipeline is being set up are held, then passed on in order")
    func readsDuringConfiguration() throws {
        let loop = EmbeddedEventLoop()
        let pending = loop.makePromise(of: SPDYNegotiation.Selection.self)
        let channel = EmbeddedChannel(loop: loop)
        let handler = SPDYFirstBytesNegotiationHandler<SPDYNegotiation.Selection> { _, _ in pending.futureResult }
        let collector = ByteCollector()
        try channel.pipeline.syncOperations.addHandlers([handler, collector])
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()

        let bytes = Self.spdyBytes(version: 3)
        try channel.writeInbound(ByteBuffer(bytes: bytes.prefix(2)))
        try channel.writeInbound(ByteBuffer(bytes: bytes.dropFirst(2).prefix(5)))
        try channel.writeInbound(ByteBuffer(bytes: bytes.dropFirst(7)))
        #expect(collector.received.readableBytes == 0, "bytes went on before the pipeline was ready")
        pending.succeed(.spdy(.v3_1))
        #expect(collector.received == ByteBuffer(bytes: bytes))
        #expect(collector.readCompletes >= 1)
        // Later reads go straight through.
        try channel.writeInbound(ByteBuffer(bytes: [1, 2, 3]))
        #expect(collector.received == ByteBuffer(bytes: bytes + [1, 2, 3]))
        _ = try channel.finish()
    }

    @Test("A half-close that arrives while the pipeline is being set up reaches it after the held bytes")
    func halfCloseDuringConfiguration() throws {
        let loop = EmbeddedEventLoop()
        let pending = loop.makePromise(of: SPDYNegotiation.Selection.self)
        let channel = EmbeddedChannel(loop: loop)
        let handler = SPDYFirstBytesNegotiationHandler<SPDYNegotiation.Selection> { _, _ in pending.futureResult }
        let collector = ByteCollector()
        try channel.pipeline.syncOperations.addHandlers([handler, collector])
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()

        let bytes = Self.spdyBytes(version: 3)
        try channel.writeInbound(ByteBuffer(bytes: bytes))
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(collector.events.isEmpty)
        pending.succeed(.spdy(.v3_1))
        #expect(collector.received == ByteBuffer(bytes: bytes))
        #expect(collector.events.map(\.afterBytes) == [bytes.count])
        _ = try channel.finish()
    }

    @Test(
        "A client that sends nothing (or only 0x80) is closed at the timeout; the result fails",
        arguments: [[], [0x80]])
    func timeout(bytes: [UInt8]) throws {
        var called = false
        let (channel, handler, _) = try makeChannel(timeout: .seconds(3)) { selection, channel in
            called = true
            return channel.eventLoop.makeSucceededFuture(selection)
        }
        if !bytes.isEmpty { try channel.writeInbound(ByteBuffer(bytes: bytes)) }
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(2900))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(!channel.isActive)
        #expect(!called)
        #expect(throws: SPDYServerNegotiationError.timedOut) { try handler.protocolNegotiationResult.wait() }
    }

    @Test("A client that shuts its side before the two bytes is closed")
    func inputClosedFirst() throws {
        let (channel, handler, _) = try makeChannel { selection, channel in
            channel.eventLoop.makeSucceededFuture(selection)
        }
        try channel.writeInbound(ByteBuffer(bytes: [0x80]))
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(!channel.isActive)
        #expect(throws: SPDYServerNegotiationError.closedBeforeFirstBytes) {
            try handler.protocolNegotiationResult.wait()
        }
    }
}
