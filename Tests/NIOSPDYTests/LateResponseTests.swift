import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import SPDY
import SPDYTestSupport
import Testing

@Suite("Responses that outlive their connection")
struct LateResponseTests {
    @Test("An async responder that answers after the client went away is dropped; the server keeps serving")
    func answerAfterClose() async throws {
        let answered = NIOLockedValueBox(0)
        let server = try SPDYServer(
            configuration: .init(host: "127.0.0.1", port: 0, transport: .plain(.v3_1), threads: 1)
        ) { request in
            if request.path == "/slow" {
                try await Task.sleep(for: .milliseconds(300))
                answered.withLockedValue { $0 += 1 }
                return .text("late\n")
            }
            return .text("fast\n")
        }
        try server.start()
        let client = try SPDYClient(configuration: .init(plainVersion: .v3_1))
        for _ in 0..<5 {
            let connection = try await client.connect(host: "127.0.0.1", port: server.port!, tls: false)
            let request = Task {
                try await connection.request(
                    headers: [
                        (":method", "GET"), (":path", "/slow"), (":version", "HTTP/1.1"), (":scheme", "http"),
                        (":host", "127.0.0.1"),
                    ])
            }
            try await Task.sleep(for: .milliseconds(50))
            // Abruptly: the TCP connection goes away while the responder works.
            try? await connection.channel.close()
            _ = try? await request.value
        }
        // Every slow responder finishes after its connection closed.
        let deadline = ContinuousClock.now + .seconds(10)
        while answered.withLockedValue({ $0 }) < 5 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(answered.withLockedValue { $0 } == 5)
        let connection = try await client.connect(host: "127.0.0.1", port: server.port!, tls: false)
        let response = try await connection.request(
            headers: [
                (":method", "GET"), (":path", "/"), (":version", "HTTP/1.1"), (":scheme", "http"),
                (":host", "127.0.0.1"),
            ])
        #expect(response.statusCode == 200)
        #expect(String(buffer: try await response.collectBody()) == "fast\n")
        connection.close()
        try await client.shutdown()
        try await server.shutdownGracefully()
    }

    @Test("A responder still working when the server shuts down answers into nothing, without crashing")
    func answerAfterShutdown() async throws {
        let started = NIOLockedValueBox(false)
        let answered = NIOLockedValueBox(false)
        let server = try SPDYServer(
            configuration: .init(host: "127.0.0.1", port: 0, transport: .plain(.v3), threads: 1)
        ) { _ in
            started.withLockedValue { $0 = true }
            try? await Task.sleep(for: .milliseconds(500))
            answered.withLockedValue { $0 = true }
            return .text("too late\n")
        }
        try server.start()
        let client = try SPDYClient(configuration: .init(plainVersion: .v3))
        let connection = try await client.connect(host: "127.0.0.1", port: server.port!, tls: false)
        let request = Task {
            try await connection.request(
                headers: [
                    (":method", "GET"), (":path", "/"), (":version", "HTTP/1.1"), (":scheme", "http"),
                    (":host", "127.0.0.1"),
                ])
        }
        while !started.withLockedValue({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
        try await server.shutdownGracefully(timeout: .milliseconds(50))
        _ = try? await request.value
        let deadline = ContinuousClock.now + .seconds(10)
        while !answered.withLockedValue({ $0 }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        // Give the late answer time to reach the (gone) connection.
        try await Task.sleep(for: .milliseconds(200))
        #expect(answered.withLockedValue { $0 })
        try await client.shutdown()
    }
}
