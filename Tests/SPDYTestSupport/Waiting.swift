import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import NIOSSL
import SPDY
import Testing

// MARK: - Waiting without hanging

/// Polls `condition` until it holds or `timeout` passes (for state no future reports).
public func eventually(
    timeout: Duration = .seconds(20),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

/// Whether `channel` closes within `timeout` (so a connection left open fails the test, not its time limit).
public func closes(_ channel: any Channel, within timeout: TimeAmount = .seconds(15)) async -> Bool {
    let promise = channel.eventLoop.makePromise(of: Bool.self)
    channel.closeFuture.whenComplete { _ in promise.succeed(true) }
    let timer = channel.eventLoop.scheduleTask(in: timeout) { promise.succeed(false) }
    let closed = (try? await promise.futureResult.get()) ?? false
    timer.cancel()
    return closed
}
