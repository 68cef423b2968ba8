import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import NIOSSL
import SPDY
import Testing

// MARK: - A well-behaved client

/// Asks for `path` and returns the status code and the body as text.
public func get(_ connection: SPDYClientConnection, _ path: String) async throws -> (status: Int, body: String) {
    let response = try await connection.request(SPDYClientRequest(path: path, scheme: "http", authority: "127.0.0.1"))
    let body = try await response.collectBody()
    return (response.statusCode, String(buffer: body))
}

/// A well-behaved client making requests one after the other (20 ms apart) until `finish`,
/// which checks that every one succeeded in time.
public final class GoodTraffic: Sendable {
    public struct Result: Sendable {
        public var count = 0
        public var failures: [String] = []
        public var worst: Duration = .zero
    }

    private let stop = NIOLockedValueBox(false)
    private let task: Task<Result, Never>

    public init(_ connection: SPDYClientConnection) {
        let stop = self.stop
        task = Task {
            var result = Result()
            let clock = ContinuousClock()
            // At least one request, even when the attack was over before this task first ran
            // (on a loaded machine a task can start late): the check is that it is served.
            repeat {
                let started = clock.now
                do {
                    let answer = try await get(connection, "/good\(result.count)")
                    if answer != (200, "hello /good\(result.count)") {
                        result.failures.append("#\(result.count): \(answer)")
                    }
                } catch {
                    result.failures.append("#\(result.count): \(error)")
                    break
                }
                result.worst = max(result.worst, clock.now - started)
                result.count += 1
                try? await Task.sleep(for: .milliseconds(20))
            } while !stop.withLockedValue({ $0 })
            return result
        }
    }

    /// Stops and checks the requests made.
    public func finish(sourceLocation: SourceLocation = #_sourceLocation) async {
        stop.withLockedValue { $0 = true }
        let result = await task.value
        #expect(result.failures.isEmpty, "the good client failed: \(result.failures)", sourceLocation: sourceLocation)
        #expect(result.count > 0, "the good client made no request", sourceLocation: sourceLocation)
        #expect(result.worst < .seconds(5), "a good request took \(result.worst)", sourceLocation: sourceLocation)
    }
}
