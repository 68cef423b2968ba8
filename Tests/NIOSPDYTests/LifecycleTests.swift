import Logging
import NIOCore
import NIOPosix
import SPDY
import SPDYTestSupport
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

    @Test(
        "a client that half-closes after its request gets the whole answer, then GOAWAY and a close",
        arguments: [SPDYVersion.v3_1, .v2]
    )
    func halfClosedInput(version: SPDYVersion) async throws {
        let server = try startServer(.plain(version))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (raw, log) = try await rawConnect(port: server.port!, group: group, decoding: version)
        let request = SPDYFrame.synStream(
            .init(streamID: 1, priority: 3, flags: .fin, headers: requestHeaders("GET", "/slow?chunks=3&ms=50")))
        try await raw.writeAndFlush(try encodeFrames([request], version: version))
        try await raw.close(mode: .output)
        #expect(await closes(raw, within: .seconds(10)))
        #expect(log.state.dataBytes == "chunk 0\nchunk 1\nchunk 2\n".utf8.count)
        #expect(log.goAways.map(\.status) == [.ok])
        #expect(await eventually { server.connectionCount == 0 })
        try await group.shutdownGracefully()
        try await server.shutdownGracefully(timeout: .seconds(5))
    }
}
