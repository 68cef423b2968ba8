import NIOConcurrencyHelpers
import NIOCore

/// Bounds the TLS handshakes a server has in progress: past the limit, the listening sockets
/// stop accepting, and new connections wait in the kernel's backlog (their handshake timer
/// not yet running) until handshakes finish.
///
/// Without it a burst of connections (10,000 clients at once) starts every handshake
/// together; they share the CPU, all finish late, and most miss the handshake timeout, so
/// the server does the work of thousands of handshakes and completes few. With it the
/// handshakes in progress finish within the timeout and the rest follow, as fast as the CPU
/// allows.
final class HandshakeGate: Sendable {
    private struct State {
        var inProgress = 0
        /// Listening channels whose `read` was held back.
        var held: [ObjectIdentifier: any Channel] = [:]
    }

    let limit: Int
    private let state = NIOLockedValueBox(State())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Counts a handshake that starts; call the returned closure when it ends, however it
    /// ends (more calls are ignored).
    func started() -> @Sendable () -> Void {
        state.withLockedValue { $0.inProgress += 1 }
        let done = NIOLockedValueBox(false)
        return { [self] in
            guard
                !done.withLockedValue({ done in
                    defer { done = true }
                    return done
                })
            else { return }
            let release = state.withLockedValue { state -> [any Channel] in
                state.inProgress -= 1
                guard state.inProgress < limit else { return [] }
                defer { state.held = [:] }
                return Array(state.held.values)
            }
            // Channel operations may be called from any thread.
            for channel in release { channel.read() }
        }
    }

    /// Whether a listening channel may accept now; if not, it is remembered and read again
    /// when a handshake ends.
    fileprivate func mayAccept(_ channel: any Channel) -> Bool {
        state.withLockedValue { state in
            guard state.inProgress >= limit else { return true }
            state.held[ObjectIdentifier(channel)] = channel
            return false
        }
    }

    /// The handler for a listening channel's pipeline.
    func acceptHandler() -> some ChannelOutboundHandler & Sendable { AcceptHandler(gate: self) }
}

/// Holds a listening channel's reads (its accepts) while the gate is closed.
private final class AcceptHandler: ChannelOutboundHandler, Sendable {
    typealias OutboundIn = Any

    let gate: HandshakeGate

    init(gate: HandshakeGate) {
        self.gate = gate
    }

    func read(context: ChannelHandlerContext) {
        if gate.mayAccept(context.channel) { context.read() }
    }
}
