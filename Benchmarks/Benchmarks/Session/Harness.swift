import NIOCore
import SPDY

/// The bytes one session wrote that its peer has not read yet: a socket's send buffer.
///
/// The `send` callback appends to ``buffer`` up to ``capacity`` bytes and then takes
/// nothing more (the session's "would block"), as a socket with a full send buffer
/// does; ``deliver(to:)`` hands the bytes to the peer's `recv(_:)` and clears it. Two
/// buffers alternate: the peer's frame decoder keeps a reference to the last buffer it
/// was given (it adopts an input buffer without copying when nothing is pending) until
/// the next one arrives, and clearing a buffer that is still referenced would make NIO
/// allocate new storage. With two, the buffer being refilled is never the one the
/// decoder holds, so the harness allocates nothing once both buffers have grown.
final class Outbox {
    private(set) var buffer: ByteBuffer
    private var spare: ByteBuffer
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
        spare = ByteBufferAllocator().buffer(capacity: capacity)
    }

    /// The `send` callback's body: takes what fits.
    @inline(__always)
    func write(_ bytes: ByteBuffer) -> Int {
        let room = capacity - buffer.readableBytes
        if bytes.readableBytes <= room {
            buffer.writeImmutableBuffer(bytes)
            return bytes.readableBytes
        }
        guard room > 0 else { return 0 }
        buffer.writeImmutableBuffer(bytes.getSlice(at: bytes.readerIndex, length: room)!)
        return room
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

    /// Has the client advertise `window` bytes of receive window for every stream
    /// (SETTINGS INITIAL_WINDOW_SIZE) and for the SPDY/3.1 session (WINDOW_UPDATE on
    /// stream 0) instead of the protocol's 64 KiB: what a client tuned for bulk
    /// downloads does. Call before the first request.
    func advertiseReceiveWindow(_ window: Int) throws {
        try client.submitSettings(entries: [.init(id: .initialWindowSize, value: UInt32(window))])
        try client.submitWindowUpdate(streamID: .zero, delta: window - SPDYProtocol.defaultInitialWindowSize)
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
    var seed: UInt32 = 0x1234_5678
    let bytes = (0..<count).map { _ in
        seed = seed &* 1_664_525 &+ 1_013_904_223
        return UInt8(truncatingIfNeeded: seed >> 24)
    }
    return ByteBuffer(bytes: bytes)
}
