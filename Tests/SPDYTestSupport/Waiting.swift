import Dispatch
import Foundation
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

/// Runs blocking work (waiting for a child process, polling with sleeps, `EventLoopFuture.wait()`)
/// on a Dispatch thread and awaits its result. Async tests share the few threads of Swift's
/// cooperative pool (one per core): blocking one of them stalls every other async test for as
/// long as the blocking lasts, and their connections then time out.
public func offCooperativePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try body() })
        }
    }
}
