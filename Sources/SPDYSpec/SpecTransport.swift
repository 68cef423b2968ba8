import NIOConcurrencyHelpers
import NIOCore

/// A byte pipe to the server under test. The catalogue's cases see the server only through
/// it, so they run the same against a server on the network and against an in-memory session.
public protocol SpecTransport: AnyObject, Sendable {
    /// Writes bytes to the server.
    func write(_ bytes: ByteBuffer) async throws
    /// What arrived since the last call, and whether the server closed the connection.
    func take() -> (bytes: ByteBuffer, closed: Bool)
    /// Closes the connection.
    func close() async
    /// Stops (`false`) or resumes reading from the connection: a client that stops reading
    /// makes the server's writes back up (the robustness case of a slow reader).
    func setReading(_ reading: Bool) async
}

extension SpecTransport {
    /// A transport with nothing to back up (in memory) ignores it.
    public func setReading(_ reading: Bool) async {}
}

/// Received bytes waiting for a case, filled by a channel handler or an in-memory server.
final class ReceivedBytes: Sendable {
    private struct State {
        var bytes = ByteBuffer()
        var closed = false
    }
    private let state = NIOLockedValueBox(State())

    func append(_ buffer: ByteBuffer) {
        state.withLockedValue { state in
            var buffer = buffer
            state.bytes.writeBuffer(&buffer)
        }
    }

    func markClosed() {
        state.withLockedValue { $0.closed = true }
    }

    func take() -> (bytes: ByteBuffer, closed: Bool) {
        state.withLockedValue { state in
            let bytes = state.bytes
            state.bytes = ByteBuffer()
            return (bytes, state.closed)
        }
    }
}
