import NIOConcurrencyHelpers
import NIOCore
import NIOSPDY
import SPDY
import SPDYTestSupport
import Testing

@Suite("Concurrent uploads past the server's request body budget")
struct UploadBudgetTests {
    /// Sends `uploads` POSTs of `size` bytes at once on one connection and returns each
    /// answer (status and body, or the error) that came back within `timeout`.
    private func uploadAtOnce(
        _ uploads: Int, size: Int, version: SPDYVersion, timeout: Duration
    ) async throws -> (answered: Bool, answers: [String]) {
        let server = try startServer(.plain(version))
        let client = try SPDYClient(configuration: .init(plainVersion: version))
        let connection = try await client.connect(host: "127.0.0.1", port: server.port!, tls: false)
        let answers = NIOLockedValueBox<[String]>([])
        let body = ByteBuffer(repeating: 0x41, count: size)
        let work = Task {
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<uploads {
                    group.addTask {
                        let answer: String
                        do {
                            let response = try await connection.request(
                                SPDYClientRequest(
                                    method: "POST", path: "/upload\(index)", scheme: "http", authority: "127.0.0.1",
                                    body: body))
                            answer = "\(response.statusCode) \(String(buffer: try await response.collectBody()))"
                        } catch {
                            answer = "\(error)"
                        }
                        answers.withLockedValue { $0.append(answer) }
                    }
                }
            }
        }
        let answered = await eventually(timeout: timeout) { answers.withLockedValue { $0.count } == uploads }
        let seen = answers.withLockedValue { $0 }
        // A connection left stuck is closed by the server's shutdown, which ends the requests.
        try await server.shutdownGracefully(timeout: .seconds(2))
        await work.value
        try await client.shutdown()
        return (answered, seen)
    }

    /// Three 2 MiB uploads at once on one connection are 6 MiB of request bodies, past the
    /// default budget of 4 MiB: the streams past it wait while the oldest goes on, and each
    /// one is answered in turn.
    @Test(.timeLimit(.minutes(1)), arguments: [SPDYVersion.v2, .v3, .v3_1])
    func uploadsPastTheBudgetComplete(version: SPDYVersion) async throws {
        let size = 2 << 20
        let (answered, seen) = try await uploadAtOnce(3, size: size, version: version, timeout: .seconds(20))
        #expect(answered, "\(seen.count) of 3 uploads answered within 20 s")
        // The server checks the body against its pattern: only the count matters here.
        #expect(seen.allSatisfy { $0.hasPrefix("200 bytes=\(size) ") }, "\(seen)")
    }

    /// A hundred 256 KiB uploads at once (MAX_CONCURRENT_STREAMS): the streams waiting for the
    /// budget hold a window's worth each (100 × 64 KiB), which must not make the connection
    /// stop reading the oldest upload's DATA.
    @Test(.timeLimit(.minutes(1)), arguments: [SPDYVersion.v3, .v3_1])
    func manyUploadsAtOnceComplete(version: SPDYVersion) async throws {
        let size = 256 << 10
        let (answered, seen) = try await uploadAtOnce(100, size: size, version: version, timeout: .seconds(30))
        #expect(answered, "\(seen.count) of 100 uploads answered within 30 s")
        #expect(seen.allSatisfy { $0.hasPrefix("200 bytes=\(size) ") }, "\(seen.prefix(3))")
    }
}
