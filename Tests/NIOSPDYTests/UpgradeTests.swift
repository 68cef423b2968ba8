import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSPDY
import SPDY
import SPDYTestSupport
import SPDYUpgrade
import Testing

/// Everything a raw client received, as bytes.
private final class ByteLog: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let box = NIOLockedValueBox(ByteBuffer())

    var bytes: ByteBuffer { box.withLockedValue { $0 } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        box.withLockedValue { _ = $0.writeBuffer(&chunk) }
    }
}

@Suite("HTTP/1.1 upgraded to SPDY/3.1 (SPDYUpgrade), as Kubernetes does it")
struct UpgradeTests {
    static let supported = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]

    /// A server that upgrades to SPDY/3 framing and answers each stream with SYN_REPLY
    /// `x-stream-protocol: <chosen>` and FIN.
    static func startServer(group: any EventLoopGroup) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureSPDYUpgradeServer(supportedProtocols: supported) {
                        channel, _, chosen in
                        let session = try SPDYSession(
                            role: .server, version: .v3, configuration: .init(manualDataConsumption: true))
                        let chosen = chosen ?? "none"
                        let connection = SPDYConnection(session: session) { stream in
                            stream.eventLoop.makeCompletedFuture {
                                try stream.pipeline.syncOperations.addHandler(Replier(streamProtocol: chosen))
                            }
                        }
                        try channel.pipeline.syncOperations.addHandler(connection)
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    final class Replier: ChannelInboundHandler, Sendable {
        typealias InboundIn = SPDYStreamPayload
        typealias OutboundOut = SPDYStreamPayload
        let streamProtocol: String
        init(streamProtocol: String) { self.streamProtocol = streamProtocol }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .headers = unwrapInboundIn(data) {
                context.writeAndFlush(
                    wrapOutboundOut(.headers(.init(headers: [("x-stream-protocol", streamProtocol)], fin: true))),
                    promise: nil)
            }
        }
    }

    static func request(_ lines: [String]) -> String {
        (["POST /api/v1/namespaces/default/pods/demo/exec?command=echo HTTP/1.1", "Host: 127.0.0.1"] + lines
            + ["Content-Length: 0", "", ""]).joined(separator: "\r\n")
    }

    /// Sends `bytes` on a new connection and returns what came back: once the server closed
    /// the connection, or once `expectAfterHead` bytes followed the response head.
    static func exchange(
        _ bytes: ByteBuffer, port: Int, group: any EventLoopGroup, expectAfterHead: Int = .max
    ) async throws -> ByteBuffer {
        let log = ByteLog()
        let client = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(log) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await client.writeAndFlush(bytes)
        _ = await eventually(timeout: .seconds(5)) {
            let text = String(buffer: log.bytes)
            if let end = text.range(of: "\r\n\r\n"),
                text.utf8.distance(from: end.upperBound, to: text.endIndex) >= expectAfterHead
            {
                return true
            }
            return !client.isActive
        }
        try? await client.close()
        return log.bytes
    }

    @Test("101 with the first protocol offered that the server speaks; a SYN_STREAM sent behind the head is served")
    func upgradesWithoutLosingBytes() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await Self.startServer(group: group)
        // Repeated lines and a comma list; v5 is not spoken, v4 is.
        var bytes = ByteBuffer(
            string: Self.request([
                "Connection: Upgrade", "Upgrade: SPDY/3.1", "X-Stream-Protocol-Version: v5.channel.k8s.io",
                "X-Stream-Protocol-Version: v4.channel.k8s.io, v3.channel.k8s.io",
            ]))
        // kubectl's error stream SYN_STREAM, in the same write as the request head.
        var syn = try encodeFrames(
            [.synStream(.init(streamID: 1, priority: 0, flags: .fin, headers: [("streamtype", "error")]))],
            version: .v3)
        bytes.writeBuffer(&syn)
        // A SYN_REPLY is at least 18 bytes.
        var answer = try await Self.exchange(bytes, port: server.localAddress!.port!, group: group, expectAfterHead: 18)
        let text = String(buffer: answer)
        #expect(text.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"), "\(text.prefix(200))")
        #expect(text.contains("X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"))
        #expect(text.lowercased().contains("upgrade: spdy/3.1\r\n"))
        // What follows the 101 is SPDY: the SYN_REPLY to stream 1.
        let headEnd = text.range(of: "\r\n\r\n")!
        answer.moveReaderIndex(forwardBy: text.utf8.distance(from: text.startIndex, to: headEnd.upperBound))
        let decoder = try SPDYFrameDecoder(version: .v3)
        decoder.append(bytes: answer)
        var replies: [SPDYFrame.SynReply] = []
        while let event = try decoder.nextFrame() {
            if case .frame(.synReply(let reply), _) = event { replies.append(reply) }
        }
        #expect(replies.map(\.streamID) == [1])
        #expect(replies.first?.headers["x-stream-protocol"] == "v4.channel.k8s.io")
        try await server.close()
        try await group.shutdownGracefully()
    }

    @Test(
        "Refusals as the kubelet gives them: 400 without upgrade headers or a protocol, 403 naming the accepted ones",
        arguments: [
            (["Upgrade: SPDY/3.1", "X-Stream-Protocol-Version: v4.channel.k8s.io"], "400"),
            (["Connection: Upgrade", "Upgrade: h2c", "X-Stream-Protocol-Version: v4.channel.k8s.io"], "400"),
            (["Connection: Upgrade", "Upgrade: SPDY/3.1"], "400"),
            (["Connection: Upgrade", "Upgrade: SPDY/3.1", "X-Stream-Protocol-Version: portforward.k8s.io"], "403"),
        ]
    )
    func refusals(lines: [String], status: String) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await Self.startServer(group: group)
        let answer = String(
            buffer: try await Self.exchange(
                ByteBuffer(string: Self.request(lines)), port: server.localAddress!.port!, group: group))
        #expect(answer.hasPrefix("HTTP/1.1 \(status) "), "\(answer.prefix(200))")
        if status == "403" {
            #expect(
                answer.contains(
                    "X-Accepted-Stream-Protocol-Versions: v4.channel.k8s.io, v3.channel.k8s.io, v2.channel.k8s.io, channel.k8s.io\r\n"
                ))
        }
        try await server.close()
        try await group.shutdownGracefully()
    }
}
