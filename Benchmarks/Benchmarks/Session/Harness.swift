import NIOCore
import SPDY

/// The bytes one session wrote that its peer has not read yet.
///
/// The `send` callback appends to ``buffer``; ``deliver(to:)`` hands it to the peer's
/// `recv(_:)` and clears it. Two buffers alternate: the peer's frame decoder keeps a
/// reference to the last buffer it was given (it adopts an input buffer without copying
/// when nothing is pending) until the next one arrives, and clearing a buffer that is
/// still referenced would make NIO allocate new storage. With two, the buffer being
/// refilled is never the one the decoder holds, so the harness allocates nothing once
/// both buffers have grown.
final class Outbox {
    private(set) var buffer: ByteBuffer
    private var spare: ByteBuffer

    init(capacity: Int) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
        spare = ByteBufferAllocator().buffer(capacity: capacity)
    }

    /// The `send` callback's body: takes everything.
    @inline(__always)
    func write(_ bytes: ByteBuffer) -> Int {
        buffer.writeImmutableBuffer(bytes)
        return bytes.readableBytes
    }

    /// Gives what was written to `session`; returns the number of bytes moved.
    @inline(__always)
    func deliver(to session: SPDYSession) throws -> Int {
        let count = buffer.readableBytes
        guard count > 0 else { return 0 }
        try session.recv(buffer)
        swap(&buffer, &spare)
        buffer.clear()
        return count
    }
}

/// A client and a server session connected in memory, and the state of the workload
/// their callbacks drive.
final class SessionLink {
    let client: SPDYSession
    let server: SPDYSession
    let toServer: Outbox
    let toClient: Outbox

    /// Client streams closed (requests completed).
    var completed = 0
    /// DATA payload bytes the client received.
    var receivedBytes = 0

    /// Creates the pair; `respond` is the server's `onRequestReceived`.
    init(
        configuration: SPDYSession.Configuration,
        outboxCapacity: Int,
        respond: @escaping (SPDYSession, SPDYStreamID) throws -> Void
    ) throws {
        let toServer = Outbox(capacity: outboxCapacity)
        let toClient = Outbox(capacity: outboxCapacity)
        self.toServer = toServer
        self.toClient = toClient
        client = try SPDYSession(
            role: .client,
            version: .v3_1,
            configuration: configuration,
            callbacks: SPDYSessionCallbacks(send: { _, bytes in toServer.write(bytes) })
        )
        server = try SPDYSession(
            role: .server,
            version: .v3_1,
            configuration: configuration,
            callbacks: SPDYSessionCallbacks(
                send: { _, bytes in toClient.write(bytes) },
                onRequestReceived: respond
            )
        )
        client.callbacks.onDataChunkReceived = { [unowned self] _, _, _, chunk in
            self.receivedBytes &+= chunk.readableBytes
        }
        client.callbacks.onStreamClosed = { [unowned self] _, _, _ in
            self.completed &+= 1
        }
    }

    /// One round: the client sends, the server reads and sends, the client reads.
    /// Returns the number of bytes moved.
    @inline(__always)
    func pumpOnce() throws -> Int {
        try client.send()
        var moved = try toServer.deliver(to: server)
        try server.send()
        moved += try toClient.deliver(to: client)
        return moved
    }
}

/// A response body of `count` bytes served from `source` without copying: each read
/// returns a slice of it, going round when the body is longer than the source.
///
/// `source` is kept small (1 MiB for the 1 GiB transfer) because NIO cannot slice a
/// `ByteBuffer` at an offset past 16 MiB without copying the bytes.
struct SlicedBody {
    let source: ByteBuffer
    let count: Int

    /// The next piece after `offset` bytes were sent: at most `length` bytes, never
    /// crossing the end of `source`.
    @inline(__always)
    func piece(at offset: Int, length: Int) -> SPDYDataReadResult {
        let inSource = offset % source.readableBytes
        let n = min(length, count - offset, source.readableBytes - inSource)
        let slice = source.getSlice(at: source.readerIndex + inSource, length: n)!
        return .data(slice, endOfData: offset + n == count)
    }
}

/// Bytes of a fixed pseudo-random pattern.
func patternBuffer(_ count: Int) -> ByteBuffer {
    var buffer = ByteBufferAllocator().buffer(capacity: count)
    var seed: UInt32 = 0x1234_5678
    for _ in 0..<count {
        seed = seed &* 1_664_525 &+ 1_013_904_223
        buffer.writeInteger(UInt8(truncatingIfNeeded: seed >> 24))
    }
    return buffer
}
