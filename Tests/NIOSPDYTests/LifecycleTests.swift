import Logging
import NIOCore
import NIOPosix
import SPDY
import ServiceLifecycle
import Testing

@testable import NIOSPDY

/// The server in a swift-service-lifecycle `ServiceGroup`: a graceful shutdown lets the
/// request in flight finish, then the service returns.
@Suite("Lifecycle: SPDYServer as a Service")
struct LifecycleTests {
    @Test("graceful shutdown of a ServiceGroup: GOAWAY, the request in flight finishes, run() returns")
    func gracefulShutdown() async throws {
        let server = try startServer(.plain(.v3_1))
        let port = server.port!
        let serviceGroup = ServiceGroup(
            services: [server], gracefulShutdownSignals: [], logger: Logger(label: "test.lifecycle"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await serviceGroup.run() }
            let client = try SPDYClient(configuration: .init(plainVersion: .v3_1))
            let connection = try await client.connect(host: "127.0.0.1", port: port, tls: false)
            // Five chunks 100 ms apart: still running when the shutdown starts.
            let response = try await connection.request(
                SPDYClientRequest(path: "/slow?chunks=5&ms=100", scheme: "http", authority: "127.0.0.1"))
            #expect(response.statusCode == 200)
            await serviceGroup.triggerGracefulShutdown()
            let body = String(buffer: try await response.collectBody())
            #expect(body == (0..<5).map { "chunk \($0)\n" }.joined())
            // run() returned: the group's task ends, and the connection was closed by the server.
            try await tasks.next()
            #expect(try await connection.channel.closeFuture.get() == ())
            #expect(server.connectionCount == 0)
            await #expect(throws: (any Error).self) {
                _ = try await client.connect(host: "127.0.0.1", port: port, tls: false)
            }
            try await client.shutdown()
        }
    }
}
