import MetricsTestKit
import NIOCore
import NIOSPDY
import SPDY
import Testing

/// The counters an operator reads (SPDYMetrics through swift-metrics), checked against what
/// a real client and server did on a socket.
@Suite("Metrics")
struct MetricsTests {
    static let identity = try! SPDYTLS.Identity.selfSigned()

    /// The total of a counter with exactly these dimensions (role first, as SPDYMetrics puts it).
    func total(_ metrics: TestMetrics, _ label: String, _ dimensions: [(String, String)]) -> Int64 {
        metrics.counterTotal(label: label, dimensions: dimensions)
    }

    func meter(_ metrics: TestMetrics, _ label: String, role: String) throws -> Double? {
        try metrics.expectMeter(label, [("role", role)]).lastValue
    }

    @Test("Requests, a reset and a flow-control stall show in both sides' counters; nothing stays active")
    func countersOfAConnection() async throws {
        let serverMetrics = TestMetrics()
        let clientMetrics = TestMetrics()
        var clientConfiguration = SPDYClient.Configuration(plainVersion: .v3_1)
        clientConfiguration.metrics = SPDYMetrics(role: .client, factory: clientMetrics)
        // A 1 KiB window: the server's 5 MiB /big must stall.
        clientConfiguration.initialWindowSize = 1024
        let harness = try Harness.start(.plain(.v3_1), client: clientConfiguration) { server in
            server.metrics = SPDYMetrics(role: .server, factory: serverMetrics)
        }
        let connection = try await harness.connect(tls: false)
        let page = try await connection.request(SPDYClientRequest(path: "/index.html", authority: "x"))
        #expect(page.statusCode == 200)
        _ = try await page.collectBody()
        let post = try await connection.request(
            SPDYClientRequest(method: "POST", path: "/upload", authority: "x", body: ByteBuffer(string: "payload")))
        _ = try await post.collectBody()
        // The body of /big is dropped unread: the client resets the stream with CANCEL.
        do {
            let big = try await connection.request(SPDYClientRequest(path: "/big", authority: "x"))
            #expect(big.statusCode == 200)
        }
        try await waitUntil {
            total(
                serverMetrics, "spdy_resets_total",
                [("role", "server"), ("direction", "received"), ("status", "CANCEL")]) == 1
        }
        try await harness.stop()

        let server: [(String, String)] = [("role", "server")]
        let client: [(String, String)] = [("role", "client")]
        #expect(total(serverMetrics, "spdy_connections_total", server) == 1)
        #expect(total(clientMetrics, "spdy_connections_total", client) == 1)
        #expect(total(serverMetrics, "spdy_streams_opened_total", server + [("initiator", "remote")]) == 3)
        #expect(total(clientMetrics, "spdy_streams_opened_total", client + [("initiator", "local")]) == 3)
        #expect(total(serverMetrics, "spdy_streams_closed_total", server + [("status", "OK")]) == 2)
        #expect(total(serverMetrics, "spdy_streams_closed_total", server + [("status", "CANCEL")]) == 1)
        #expect(total(clientMetrics, "spdy_resets_total", client + [("direction", "sent"), ("status", "CANCEL")]) == 1)
        for (metrics, role) in [(serverMetrics, "server"), (clientMetrics, "client")] {
            let dimensions = [("role", role)]
            #expect(
                total(metrics, "spdy_frames_total", dimensions + [("direction", "sent"), ("type", "SETTINGS")]) >= 1)
            #expect(total(metrics, "spdy_bytes_total", dimensions + [("direction", "sent")]) > 0)
            #expect(total(metrics, "spdy_bytes_total", dimensions + [("direction", "received")]) > 0)
            // Everything that opened has closed.
            #expect(try meter(metrics, "spdy_connections_active", role: role) == 0)
            #expect(try meter(metrics, "spdy_streams_active", role: role) == 0)
        }
        #expect(
            total(serverMetrics, "spdy_frames_total", server + [("direction", "received"), ("type", "SYN_STREAM")]) == 3
        )
        #expect(
            total(serverMetrics, "spdy_frames_total", server + [("direction", "sent"), ("type", "SYN_REPLY")]) == 3)
        #expect(total(serverMetrics, "spdy_frames_total", server + [("direction", "received"), ("type", "DATA")]) >= 1)
        #expect(total(clientMetrics, "spdy_frames_total", client + [("direction", "received"), ("type", "DATA")]) >= 2)
        // What one side sent, the other received, but for the GOAWAY (16 bytes) a side may
        // write as the other is already closing.
        for (sender, senderRole, receiver, receiverRole) in [
            (serverMetrics, "server", clientMetrics, "client"), (clientMetrics, "client", serverMetrics, "server"),
        ] {
            let sent = total(sender, "spdy_bytes_total", [("role", senderRole), ("direction", "sent")])
            let received = total(receiver, "spdy_bytes_total", [("role", receiverRole), ("direction", "received")])
            #expect(
                received <= sent && sent - received <= 16,
                "\(senderRole) sent \(sent), \(receiverRole) received \(received)")
        }
        #expect(total(serverMetrics, "spdy_flow_control_stalls_total", server) >= 1)
        #expect(total(serverMetrics, "spdy_tls_handshake_failures_total", server) == 0)
    }

    @Test("A TLS handshake that fails is counted once")
    func tlsHandshakeFailure() async throws {
        let serverMetrics = TestMetrics()
        let harness = try Harness.start(
            .tls(Self.identity, versions: SPDYVersion.negotiationPreference),
            client: .init(verifyCertificates: true)
        ) { server in
            server.metrics = SPDYMetrics(role: .server, factory: serverMetrics)
        }
        // The client refuses the self-signed certificate: the server's handshake fails.
        await #expect(throws: (any Error).self) { _ = try await harness.connect(tls: true) }
        try await waitUntil { total(serverMetrics, "spdy_tls_handshake_failures_total", [("role", "server")]) >= 1 }
        try await harness.stop()
        #expect(total(serverMetrics, "spdy_tls_handshake_failures_total", [("role", "server")]) == 1)
        #expect(total(serverMetrics, "spdy_connections_total", [("role", "server")]) == 0)
    }

    @Test("A TLS server with metrics serves requests after the handshake (the failure counter leaves the pipeline)")
    func tlsServerWithMetricsServes() async throws {
        let serverMetrics = TestMetrics()
        let harness = try Harness.start(.tls(Self.identity, versions: SPDYVersion.negotiationPreference)) { server in
            server.metrics = SPDYMetrics(role: .server, factory: serverMetrics)
        }
        let connection = try await harness.connect(tls: true)
        let page = try await connection.request(SPDYClientRequest(path: "/index.html", authority: "x"))
        #expect(page.statusCode == 200)
        _ = try await page.collectBody()
        try await connection.channel.close()
        try await harness.stop()
        #expect(total(serverMetrics, "spdy_connections_total", [("role", "server")]) == 1)
        #expect(total(serverMetrics, "spdy_tls_handshake_failures_total", [("role", "server")]) == 0)
    }

    @Test("A peer past an abuse limit is counted by the limit")
    func abuseLimit() async throws {
        let serverMetrics = TestMetrics()
        let harness = try Harness.start(.plain(.v3_1)) { server in
            server.metrics = SPDYMetrics(role: .server, factory: serverMetrics)
            server.session.abuseLimits.controlFrames = .init(maximumCount: 20, window: .seconds(60))
        }
        let connection = try await harness.connect(tls: false)
        for _ in 0..<40 { try? await connection.ping().get() }
        try await waitUntil {
            total(serverMetrics, "spdy_abuse_limits_hit_total", [("role", "server"), ("limit", "control_frames")]) == 1
        }
        try await harness.stop()
    }

    /// Polls `condition` for up to 5 s (counters are handed over on the connection's event loop).
    func waitUntil(_ condition: () -> Bool) async throws {
        for _ in 0..<500 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("the condition did not become true within 5 s")
    }
}
