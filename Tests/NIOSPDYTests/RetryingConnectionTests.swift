import NIOCore
import NIOPosix
import NIOSPDY
import SPDY
import SPDYTestSupport
import Testing

/// A lost connection, a silent link and a refused stream, placed exactly by a relay in front
/// of a real server: what ``SPDYRetryingConnection`` and the client's keep-alive do about them.
@Suite struct RetryingConnectionTests {
    /// A plain SPDY/3.1 server, a relay breaking its first connection in front of it, and a
    /// client with a short keep-alive.
    struct Setup {
        let server: SPDYServer
        let relay: FaultyRelay
        let client: SPDYClient

        static let identity = try! SPDYTLS.Identity.selfSigned()

        static func start(_ fault: FaultyRelay.Fault, tls: Bool = false) async throws -> Setup {
            let server = try startServer(
                tls ? .tls(identity, versions: SPDYVersion.negotiationPreference) : .plain(.v3_1))
            let relay = try await FaultyRelay(targetPort: server.port!, fault: fault, group: server.group)
            let client = try SPDYClient(
                configuration: .init(
                    plainVersion: .v3_1, verifyCertificates: false, connectTimeout: .seconds(5),
                    keepAlive: SPDYKeepAlive(interval: .milliseconds(300), timeout: .milliseconds(300))))
            return Setup(server: server, relay: relay, client: client)
        }

        func retrying(_ retries: Int = 3) throws -> SPDYRetryingConnection {
            SPDYRetryingConnection(
                client: client, host: "127.0.0.1", port: relay.port, tls: false,
                policy: try SPDYRetryPolicy(maxRetries: retries, initialBackoff: .milliseconds(20)))
        }

        func stop() async throws {
            try await client.shutdown()
            try await relay.stop()
            try await server.shutdownGracefully(timeout: .seconds(1))
        }
    }

    static func get(_ path: String) -> SPDYClientRequest {
        SPDYClientRequest(path: path, scheme: "http", authority: "127.0.0.1")
    }

    @Test func aGETCutOffMidResponseIsSentAgainAndArrivesWhole() async throws {
        let setup = try await Setup.start(.resetAfterServerBytes(300_000))
        let connection = try setup.retrying()
        let size = 4 << 20
        let response = try await connection.execute(Self.get("/pattern?bytes=\(size)"), maxBodyBytes: size)
        var verifier = PatternVerifier()
        verifier.consume(response.body)
        #expect(response.statusCode == 200)
        #expect(verifier.count == size)
        #expect(verifier.firstMismatch == nil)
        #expect(connection.retryCount == 1)
        #expect(connection.connectionCount == 2)
        connection.close()
        try await setup.stop()
    }

    @Test func aPOSTWhoseConnectionIsLostAfterItWentOutIsNotSentAgain() async throws {
        // The client's SETTINGS, SYN_STREAM and the first part of the body pass; then RST.
        let setup = try await Setup.start(.resetAfterClientBytes(20_000))
        let connection = try setup.retrying()
        let request = SPDYClientRequest(
            method: "POST", path: "/upload", scheme: "http", authority: "127.0.0.1", body: Pattern.body(count: 60_000))
        await #expect(throws: (any Error).self) {
            _ = try await connection.execute(request)
        }
        #expect(connection.retryCount == 0)
        // The connection is made again for the next request.
        let response = try await connection.execute(Self.get("/after"))
        #expect(String(buffer: response.body) == "hello /after")
        #expect(connection.connectionCount == 2)
        connection.close()
        try await setup.stop()
    }

    @Test func aGETWhoseConnectionIsLostAfterItWentOutIsSentAgain() async throws {
        let setup = try await Setup.start(.resetAfterClientBytes(20_000))
        let connection = try setup.retrying()
        // A GET with a body large enough to cross the fault.
        let request = SPDYClientRequest(
            method: "GET", path: "/echo", scheme: "http", authority: "127.0.0.1", body: Pattern.body(count: 60_000))
        let response = try await connection.execute(request)
        #expect(response.statusCode == 200)
        #expect(connection.retryCount == 1)
        connection.close()
        try await setup.stop()
    }

    @Test func keepAliveFindsASilentLinkAndTheRequestIsRetried() async throws {
        let setup = try await Setup.start(.silenceAfterServerBytes(200_000))
        let connection = try setup.retrying()
        let size = 2 << 20
        let started = ContinuousClock.now
        let response = try await connection.execute(Self.get("/pattern?bytes=\(size)"), maxBodyBytes: size)
        #expect(response.body.readableBytes == size)
        #expect(connection.retryCount == 1)
        // Found within the keep-alive's interval and timeout (0.3 + 0.3 s, checks up to twice
        // that), not after TCP's minutes.
        #expect(ContinuousClock.now - started < .seconds(10))
        connection.close()
        try await setup.stop()
    }

    @Test(arguments: [false, true])
    func withoutRetriesASilentLinkEndsTheRequestWithPingUnanswered(tls: Bool) async throws {
        let setup = try await Setup.start(.silenceAfterServerBytes(200_000), tls: tls)
        let connection = try await setup.client.connect(host: "127.0.0.1", port: setup.relay.port, tls: tls)
        let response = try await connection.request(Self.get("/pattern?bytes=\(2 << 20)"))
        let started = ContinuousClock.now
        await #expect(throws: (any Error).self) {
            _ = try await response.collectBody()
        }
        // At most two intervals and the timeout (1.2 s), with room for a loaded machine; over
        // TLS the streams do not wait for the close_notify the silent peer never sends (5 s).
        #expect(ContinuousClock.now - started < .seconds(4))
        let error = try await connection.eventLoop.submit { connection.connection.closeError }.get()
        #expect(error as? SPDYConnectionTimeout == .pingUnanswered)
        try await setup.stop()
    }

    @Test func aSlowServerThatAnswersPingsIsNotTakenForDead() async throws {
        let setup = try await Setup.start(.resetAfterServerBytes(.max))
        let connection = try setup.retrying(0)
        // Five chunks 400 ms apart: longer gaps than the keep-alive's 300 + 300 ms.
        let response = try await connection.execute(Self.get("/slow?chunks=5&ms=400"))
        #expect(String(buffer: response.body) == (0..<5).map { "chunk \($0)\n" }.joined())
        #expect(connection.connectionCount == 1)
        connection.close()
        try await setup.stop()
    }

    @Test func aServerThatIsGoneFailsCleanlyOnceTheRetriesAreSpent() async throws {
        let port = freeLocalPort()
        let client = try SPDYClient(configuration: .init(plainVersion: .v3_1, connectTimeout: .seconds(2)))
        let connection = SPDYRetryingConnection(
            client: client, host: "127.0.0.1", port: port, tls: false,
            policy: try SPDYRetryPolicy(maxRetries: 2, initialBackoff: .milliseconds(10)))
        await #expect(throws: (any Error).self) {
            _ = try await connection.execute(Self.get("/"))
        }
        #expect(connection.retryCount == 2)
        #expect(connection.connectionCount == 3)
        try await client.shutdown()
    }
}

@Suite struct RetryPolicyTests {
    @Test func whatIsSentAgain() throws {
        let policy = try SPDYRetryPolicy(maxRetries: 2)
        #expect(policy.allowsRetry(method: "GET", failure: .connectionLost, attempt: 1))
        #expect(policy.allowsRetry(method: "put", failure: .connectionLost, attempt: 2))
        #expect(!policy.allowsRetry(method: "GET", failure: .connectionLost, attempt: 3))
        #expect(!policy.allowsRetry(method: "POST", failure: .connectionLost, attempt: 1))
        #expect(!policy.allowsRetry(method: "PATCH", failure: .connectionLost, attempt: 1))
        #expect(policy.allowsRetry(method: "POST", failure: .notProcessed, attempt: 1))
        #expect(!(try SPDYRetryPolicy(maxRetries: 0)).allowsRetry(method: "GET", failure: .notProcessed, attempt: 1))
    }

    @Test func backoffGrowsToItsCapWithJitter() throws {
        let policy = try SPDYRetryPolicy(initialBackoff: .milliseconds(100), maxBackoff: .seconds(1))
        for _ in 0..<50 {
            let first = policy.backoff(beforeRetry: 1)
            #expect(first >= .milliseconds(50) && first <= .milliseconds(100))
            let third = policy.backoff(beforeRetry: 3)
            #expect(third >= .milliseconds(200) && third <= .milliseconds(400))
            let late = policy.backoff(beforeRetry: 1000)
            #expect(late >= .milliseconds(500) && late <= .seconds(1))
        }
        let huge = try SPDYRetryPolicy(initialBackoff: .seconds(100), maxBackoff: .hours(1_000_000))
        #expect(huge.backoff(beforeRetry: 200) <= .hours(1_000_000))
    }

    @Test func badPoliciesAreRefused() {
        #expect(throws: SPDYClientError.invalidRetryPolicy) { try SPDYRetryPolicy(maxRetries: -1) }
        #expect(throws: SPDYClientError.invalidRetryPolicy) {
            try SPDYRetryPolicy(initialBackoff: .seconds(2), maxBackoff: .seconds(1))
        }
        #expect(throws: SPDYClientError.invalidRetryPolicy) { try SPDYRetryPolicy(initialBackoff: .milliseconds(-1)) }
    }
}
