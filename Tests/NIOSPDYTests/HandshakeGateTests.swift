import NIOCore
import NIOPosix
import NIOSPDY
import SPDY
import SPDYTestSupport
import Testing

/// `maxConcurrentHandshakes`: past it the server stops accepting until handshakes end, so a
/// burst of clients waits in the backlog instead of sharing the CPU until all time out.
@Suite struct HandshakeGateTests {
    static let identity = try! SPDYTLS.Identity.selfSigned()

    @Test func aServerAtItsHandshakeLimitAcceptsOnlyWhenAHandshakeEnds() async throws {
        let server = try startServer(.tls(Self.identity, versions: SPDYVersion.negotiationPreference)) {
            $0.maxConcurrentHandshakes = 2
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // Two connections that never start their handshake hold both places.
        var silent: [any Channel] = []
        for _ in 0..<2 {
            silent.append(try await rawConnect(port: server.port!, group: group, decoding: nil).channel)
        }
        // Accepting has stopped: a client's handshake gets no answer.
        let client = try SPDYClient(
            configuration: .init(verifyCertificates: false, connectTimeout: .seconds(1)), group: group)
        await #expect(throws: (any Error).self) {
            _ = try await client.connect(host: "127.0.0.1", port: server.port!)
        }
        // One handshake ends (its connection closes): the server accepts again.
        try await silent[0].close()
        let connection = try await client.connect(host: "127.0.0.1", port: server.port!)
        let response = try await connection.request(SPDYClientRequest(path: "/gate", authority: "x"))
        #expect(String(buffer: try await response.collectBody()) == "hello /gate")
        try await connection.channel.close()
        try await silent[1].close()
        try await server.shutdownGracefully(timeout: .seconds(1))
        try await group.shutdownGracefully()
    }
}
