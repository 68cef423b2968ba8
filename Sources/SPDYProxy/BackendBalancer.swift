import NIOConcurrencyHelpers
import NIOCore

/// Picks the backend for each new backend connection: round-robin over the configured
/// backends, skipping for a while one that refused a connection (all event loops share it).
final class BackendBalancer: Sendable {
    private struct State {
        var next = 0
        /// When each backend may be tried again after a refusal.
        var downUntil: [NIODeadline?]
    }

    let backends: [SPDYProxyConfiguration.Backend]
    private let retryDelay: TimeAmount
    private let state: NIOLockedValueBox<State>
    /// The time a refusal is measured by: the system's, or a test's own.
    private let now: @Sendable () -> NIODeadline

    init(
        backends: [SPDYProxyConfiguration.Backend],
        retryDelay: TimeAmount,
        now: @escaping @Sendable () -> NIODeadline = { .now() }
    ) {
        precondition(!backends.isEmpty, "a proxy needs at least one backend")
        self.backends = backends
        self.retryDelay = retryDelay
        self.now = now
        self.state = NIOLockedValueBox(State(downUntil: Array(repeating: nil, count: backends.count)))
    }

    /// The backends to try for one request, in order: from the next in turn, those not marked
    /// down first, then the ones marked down (a request is not refused while any backend might
    /// answer).
    func order() -> [Int] {
        let now = self.now()
        return state.withLockedValue { state in
            let start = state.next
            state.next = (state.next + 1) % backends.count
            var up: [Int] = []
            var down: [Int] = []
            for offset in 0..<backends.count {
                let index = (start + offset) % backends.count
                if let until = state.downUntil[index], until > now {
                    down.append(index)
                } else {
                    up.append(index)
                }
            }
            return up + down
        }
    }

    /// Marks a backend as refusing connections.
    func markDown(_ index: Int) {
        let until = now() + retryDelay
        state.withLockedValue { $0.downUntil[index] = until }
    }

    /// Marks a backend as answering again.
    func markUp(_ index: Int) {
        state.withLockedValue { state in
            if state.downUntil[index] != nil { state.downUntil[index] = nil }
        }
    }
}
