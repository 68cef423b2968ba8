import MetricsTestKit
import NIOCore
import NIOPosix
import NIOSPDY
import SPDY
import SPDYTestSupport
import Testing

/// Peers that vanish mid-work — reset in the middle of 100 streams, reset in the middle of a
/// frame — and what the survivor keeps: by the counts an operator reads (SPDYMetrics'
/// active connections and streams, the connection's stream channels), nothing.
@Suite struct VanishingPeerTests {
    /// Counts a download's bytes and how it ended.
    final class CountingHandler: SPDYStreamHandler, @unchecked Sendable {
        var bytes = 0
        var ended = false
        var lost = false

        override func onData(_ data: ByteBuffer) { bytes += data.readableBytes }
        override func onClose(_ status: SPDYStreamStatus) { ended = true }
        override func onConnectionClosed(error: (any Error)?) {
            ended = true
            lost = true
        }
    }

    static func meter(_ metrics: TestMetrics, _ label: String, _ role: String) -> Double? {
        try? metrics.expectMeter(label, [("role", role)]).lastValue
    }

    /// Closes `channel` with RST (SO_LINGER 0), as a killed process's socket or a middlebox does.
    static func reset(_ channel: any Channel) async throws {
        try await (channel as! any SocketOptionProvider).setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        try await channel.close()
    }

    static func startServer(_ metrics: TestMetrics) throws -> SPDYServer {
        try SPDYTestSupport.startServer(.plain(.v3_1)) { $0.metrics = SPDYMetrics(role: .server, factory: metrics) }
    }

    @Test func aClientResetInTheMiddleOf100StreamsLeavesNothingOnTheServer() async throws {
        let metrics = TestMetrics()
        let server = try Self.startServer(metrics)
        let client = try SPDYClient(configuration: .init(plainVersion: .v3_1))
        let connection = try await client.connect(host: "127.0.0.1", port: server.port!, tls: false)
        let handlers = (0..<100).map { _ in CountingHandler() }
        for handler in handlers {
            connection.request(
                SPDYClientRequest(path: "/pattern?bytes=\(8 << 20)", scheme: "http", authority: "127.0.0.1"),
                handler: handler)
        }
        #expect(await eventually { Self.meter(metrics, "spdy_streams_active", "server") == 100 })
        try await Self.reset(connection.channel)

        #expect(await eventually { Self.meter(metrics, "spdy_streams_active", "server") == 0 })
        #expect(await eventually { Self.meter(metrics, "spdy_connections_active", "server") == 0 })
        // Every stream opened is counted closed, those the reset cut off with the connection.
        let opened = metrics.counterTotal(
            label: "spdy_streams_opened_total", dimensions: [("role", "server"), ("initiator", "remote")])
        let cutOff = metrics.counterTotal(
            label: "spdy_streams_closed_total", dimensions: [("role", "server"), ("status", "CONNECTION_CLOSED")])
        let closedOK = metrics.counterTotal(
            label: "spdy_streams_closed_total", dimensions: [("role", "server"), ("status", "OK")])
        #expect(opened == 100)
        #expect(cutOff + closedOK == 100 && cutOff > 0)
        // The server goes on serving.
        let next = try await client.connect(host: "127.0.0.1", port: server.port!, tls: false)
        let response = try await next.request(
            SPDYClientRequest(path: "/next", scheme: "http", authority: "127.0.0.1"))
        #expect(String(buffer: try await response.collectBody()) == "hello /next")
        try await next.channel.close()
        try await client.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(1))
    }

    @Test(arguments: [5, 14, 40])
    func aResetInTheMiddleOfAFrameLeavesNothingOnTheServer(cut: Int) async throws {
        let metrics = TestMetrics()
        let server = try Self.startServer(metrics)
        let (channel, _) = try await rawConnect(port: server.port!, group: server.group, decoding: nil)
        let frames = try encodeFrames(
            [
                .synStream(
                    .init(
                        streamID: SPDYStreamID(rawValue: 1)!, priority: 0, flags: .fin,
                        headers: requestHeaders("GET", "/pattern?bytes=1000000")))
            ], version: .v3_1)
        #expect(frames.readableBytes > cut)
        try await channel.writeAndFlush(frames.getSlice(at: frames.readerIndex, length: cut)!)
        #expect(await eventually { Self.meter(metrics, "spdy_connections_active", "server") == 1 })
        try await Self.reset(channel)

        #expect(await eventually { Self.meter(metrics, "spdy_connections_active", "server") == 0 })
        #expect(Self.meter(metrics, "spdy_streams_active", "server") ?? 0 == 0)
        let client = try SPDYClient(configuration: .init(plainVersion: .v3_1))
        let next = try await client.connect(host: "127.0.0.1", port: server.port!, tls: false)
        let response = try await next.request(SPDYClientRequest(path: "/ok", scheme: "http", authority: "127.0.0.1"))
        #expect(String(buffer: try await response.collectBody()) == "hello /ok")
        try await next.channel.close()
        try await client.shutdown()
        try await server.shutdownGracefully(timeout: .seconds(1))
    }

    @Test func aClientWhoseLinkWentSilentIsFoundByTheServersKeepAlive() async throws {
        let metrics = TestMetrics()
        let server = try SPDYTestSupport.startServer(.plain(.v3_1)) {
            $0.metrics = SPDYMetrics(role: .server, factory: metrics)
            $0.keepAlive = SPDYKeepAlive(interval: .milliseconds(300), timeout: .milliseconds(300))
        }
        // The link goes silent in the middle of a response: the server's stream waits for
        // window that never comes, and neither the idle (5 min) nor the write timeout (the
        // relay still reads) would end it soon.
        let relay = try await FaultyRelay(
            targetPort: server.port!, fault: .silenceAfterServerBytes(100_000), group: server.group)
        let client = try SPDYClient(configuration: .init(plainVersion: .v3_1, keepAlive: nil))
        let connection = try await client.connect(host: "127.0.0.1", port: relay.port, tls: false)
        let handler = CountingHandler()
        connection.request(
            SPDYClientRequest(path: "/pattern?bytes=\(8 << 20)", scheme: "http", authority: "127.0.0.1"),
            handler: handler)
        // The stream opened (a counter: the keep-alive may close it before a poll would see
        // it active), then the connection is closed within the keep-alive's times.
        #expect(
            await eventually {
                metrics.counterTotal(
                    label: "spdy_streams_opened_total", dimensions: [("role", "server"), ("initiator", "remote")]) == 1
            })
        #expect(
            await eventually(timeout: .seconds(10)) { Self.meter(metrics, "spdy_connections_active", "server") == 0 })
        #expect(Self.meter(metrics, "spdy_streams_active", "server") == 0)
        try await connection.channel.close()
        try await client.shutdown()
        try await relay.stop()
        try await server.shutdownGracefully(timeout: .seconds(1))
    }

    @Test func aServerResetInTheMiddleOf100StreamsEndsEveryStreamOnTheClient() async throws {
        let server = try SPDYTestSupport.startServer(.plain(.v3_1))
        let relay = try await FaultyRelay(
            targetPort: server.port!, fault: .resetAfterServerBytes(2 << 20), group: server.group)
        let clientMetrics = TestMetrics()
        var configuration = SPDYClient.Configuration(plainVersion: .v3_1)
        configuration.metrics = SPDYMetrics(role: .client, factory: clientMetrics)
        let client = try SPDYClient(configuration: configuration)
        let connection = try await client.connect(host: "127.0.0.1", port: relay.port, tls: false)
        let handlers = (0..<100).map { _ in CountingHandler() }
        for handler in handlers {
            connection.request(
                SPDYClientRequest(path: "/pattern?bytes=\(1 << 20)", scheme: "http", authority: "127.0.0.1"),
                handler: handler)
        }
        #expect(await closes(connection.channel))
        let ended = try await connection.eventLoop.submit { handlers.allSatisfy(\.ended) }.get()
        let lost = try await connection.eventLoop.submit { handlers.filter(\.lost).count }.get()
        #expect(ended)
        // 100 MiB were asked for and 2 MiB passed: most streams cannot have finished.
        #expect(lost > 90)
        #expect(try await connection.eventLoop.submit { connection.connection.streamChannelCount }.get() == 0)
        #expect(await eventually { Self.meter(clientMetrics, "spdy_streams_active", "client") == 0 })
        #expect(await eventually { Self.meter(clientMetrics, "spdy_connections_active", "client") == 0 })
        try await client.shutdown()
        try await relay.stop()
        try await server.shutdownGracefully(timeout: .seconds(1))
    }
}
