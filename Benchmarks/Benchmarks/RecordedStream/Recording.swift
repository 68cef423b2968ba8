import NIOCore
import SPDY

// The recorded-connection workloads the `RecordedStream` benchmarks and the
// `SessionProfile` executable share (`Profile/Recording.swift` is a link to this file).
//
// A SPDY/3 connection as the C reference library (spdylay) would have written it, recorded
// with our own frame encoder at that library's header-compression settings, then fed to a
// fresh `SPDYSession` through `recv(_:)` in 16 KiB pieces, as a socket delivers it. The
// same bytes (`SessionProfile recorded dump DIR`) are what a C harness feeds to
// `spdylay_session_mem_recv`, so the two receive paths can be compared.

/// The two recorded byte streams and how they are made.
enum RecordedConnection {
    /// Requests (and responses) in a recording.
    static let requestCount = 10_000
    /// The response body: one DATA frame of this size per response, with FIN.
    static let bodySize = 4096
    /// The size of the pieces handed to `recv(_:)`.
    static let pieceSize = 16 * 1024

    /// spdylay's deflater for a client session (`spdylay_session_client_new`: header
    /// compression off, i.e. `Z_NO_COMPRESSION`; windowBits 11, memLevel 1, `spdylay_zlib.c`).
    static let clientCompression = SPDYHeaderCompression(level: 0, windowBits: 11, memoryLevel: 1)
    /// spdylay's deflater for a server session (`spdylay_session_server_new`: level 9,
    /// windowBits 11, memLevel 1).
    static let serverCompression = SPDYHeaderCompression(level: 9, windowBits: 11, memoryLevel: 1)

    /// The ID of the `index`-th request's stream: 1, 3, 5, …
    static func streamID(_ index: Int) -> SPDYStreamID {
        SPDYStreamID(1 + 2 * index)!
    }

    /// A browser's GET for an image of a gallery page (only `:path` and `referer` vary).
    static func requestHeaders(_ index: Int) -> SPDYHeaders {
        [
            (":method", "GET"),
            (":path", "/assets/img-\(1000 + index * 7 % 9000).png"),
            (":version", "HTTP/1.1"),
            (":host", "www.example.com"),
            (":scheme", "https"),
            ("accept", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"),
            ("accept-encoding", "gzip, deflate, br"),
            ("accept-language", "en-US,en;q=0.9,de;q=0.8"),
            (
                "user-agent",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                    + "Chrome/124.0.6367.91 Safari/537.36"
            ),
            (
                "cookie",
                "_ga=GA1.2.1283746512.1700000000; _gid=GA1.2.918273645.1700000000; "
                    + "sessionid=3f9a6c2e8b1d4f7a9c0e5b2d8f1a3c6e; theme=dark; lang=en-US"
            ),
            ("referer", "https://www.example.com/gallery/page-\(index / 50)"),
            ("cache-control", "no-cache"),
        ]
    }

    /// A static file server's answer: the `date` moves on every 1 000 responses, the
    /// `etag` and `last-modified` are the image's.
    static func responseHeaders(_ index: Int) -> SPDYHeaders {
        let image = 1000 + index * 7 % 9000
        let second = 10 + index / 1000
        return [
            (":status", "200 OK"),
            (":version", "HTTP/1.1"),
            ("accept-ranges", "bytes"),
            ("cache-control", "public, max-age=31536000"),
            ("content-length", "\(bodySize)"),
            ("content-type", "image/png"),
            ("date", "Tue, 05 Nov 2024 15:25:\(second) GMT"),
            ("etag", "\"6729f1c4-\(String(image * 4099, radix: 16))\""),
            ("last-modified", "Tue, 05 Nov 2024 10:\(10 + image % 50):\(10 + image % 47) GMT"),
            ("server", "nginx/1.22.1"),
        ]
    }

    /// The response body: bytes of a fixed pseudo-random pattern.
    static let body: ByteBuffer = {
        var seed: UInt32 = 0x1234_5678
        var buffer = ByteBufferAllocator().buffer(capacity: bodySize)
        for _ in 0..<bodySize {
            seed = seed &* 1_664_525 &+ 1_013_904_223
            buffer.writeInteger(UInt8(truncatingIfNeeded: seed >> 24))
        }
        return buffer
    }()

    /// The client's side of the connection: `requestCount` SYN_STREAMs with FIN (GETs, no
    /// body) on streams 1, 3, 5, …, header blocks compressed as a spdylay client does.
    static func recordRequests() -> ByteBuffer {
        let encoder = try! SPDYFrameEncoder(version: .v3, compression: clientCompression)
        var buffer = ByteBuffer()
        for index in 0..<requestCount {
            let syn = SPDYFrame.SynStream(
                streamID: streamID(index),
                priority: 3,
                flags: .fin,
                headers: requestHeaders(index)
            )
            try! encoder.encode(.synStream(syn), into: &buffer)
        }
        return buffer
    }

    /// The server's side: for each request, a SYN_REPLY and one 4 KiB DATA frame with FIN,
    /// header blocks compressed as a spdylay server does.
    static func recordResponses() -> ByteBuffer {
        let encoder = try! SPDYFrameEncoder(version: .v3, compression: serverCompression)
        var buffer = ByteBuffer()
        for index in 0..<requestCount {
            let id = streamID(index)
            try! encoder.encode(.synReply(.init(streamID: id, headers: responseHeaders(index))), into: &buffer)
            try! encoder.encode(.data(.init(streamID: id, flags: .fin, payload: body)), into: &buffer)
        }
        return buffer
    }

    /// `stream` cut into `pieceSize` pieces, each in a buffer of its own (NIO copies a
    /// slice that starts past 16 MiB, so slices of the 41 MB response stream would not do).
    static func pieces(of stream: ByteBuffer) -> [ByteBuffer] {
        var rest = stream
        var pieces: [ByteBuffer] = []
        while rest.readableBytes > 0 {
            let length = min(pieceSize, rest.readableBytes)
            var piece = ByteBufferAllocator().buffer(capacity: length)
            piece.writeImmutableBuffer(rest.readSlice(length: length)!)
            pieces.append(piece)
        }
        return pieces
    }
}

/// A fresh session that a recording is fed into, with callbacks that only count.
///
/// The callbacks are the ones the C harness sets on spdylay: a control frame received
/// (`on_ctrl_recv_callback`), a DATA chunk received (`on_data_chunk_recv_callback`) and a
/// stream closed (`on_stream_close_callback`).
final class RecordedReceiver {
    let session: SPDYSession
    /// Control frames received.
    var controlFrames = 0
    /// DATA payload bytes received.
    var dataBytes = 0
    /// Streams closed.
    var closedStreams = 0

    /// The callbacks hold `self` as `unowned(unsafe)`: the receiver owns the session,
    /// so it outlives every callback, and the callbacks pay no reference counting (the
    /// C harness passes a plain `user_data` pointer).
    private init(role: SPDYRole) throws {
        // The default configuration, whose limits are the C library's: MAX_CONCURRENT_STREAMS
        // unlimited (2^31 − 1) both ways and 64 KiB stream windows (4 KiB of DATA per stream
        // never needs a WINDOW_UPDATE). SPDY/3 has no session window, so the 40 MiB of
        // responses need none either. Header compression of what we send is spdylay's too
        // (level 0 for a client, 9 for a server, windowBits 11, memLevel 1).
        session = try SPDYSession(
            role: role,
            version: .v3,
            configuration: .init(),
            callbacks: SPDYSessionCallbacks(send: { _, bytes in bytes.readableBytes })
        )
        session.callbacks.onControlFrameReceived = { [unowned(unsafe) self] _, _, _ in
            self.controlFrames &+= 1
        }
        session.callbacks.onDataChunkReceived = { [unowned(unsafe) self] _, _, _, chunk in
            self.dataBytes &+= chunk.readableBytes
        }
        session.callbacks.onStreamClosed = { [unowned(unsafe) self] _, _, _ in
            self.closedStreams &+= 1
        }
    }

    /// A server session for the recorded requests.
    ///
    /// It never answers: each request's FIN shuts the stream's receiving side, and the
    /// stream stays open, half closed, waiting for a reply. So after the recording the
    /// session holds 10 000 open streams, as spdylay's does; neither refuses any, since
    /// both leave MAX_CONCURRENT_STREAMS at 2^31 − 1 by default.
    static func server() throws -> RecordedReceiver {
        try RecordedReceiver(role: .server)
    }

    /// A client session that has sent the requests the recorded responses answer: they
    /// are submitted and sent (to a `send` callback that discards the bytes) here, as the
    /// C harness does with `spdylay_submit_request` and `spdylay_session_send`. Each
    /// stream is then open with its sending side shut (the requests carry FIN); the
    /// SYN_REPLY and the DATA frame with FIN close it.
    static func client() throws -> RecordedReceiver {
        let receiver = try RecordedReceiver(role: .client)
        for index in 0..<RecordedConnection.requestCount {
            try receiver.session.submitRequest(priority: 3, headers: RecordedConnection.requestHeaders(index))
        }
        try receiver.session.send()
        precondition(receiver.session.openStreamCount == RecordedConnection.requestCount)
        return receiver
    }

    /// Feeds `pieces` to the session, one `recv(_:)` each: the measured work. Not inlined,
    /// so that a profiler can count exactly this (`--toggle-collect='*feedPieces*'`).
    @inline(never)
    func feedPieces(_ pieces: [ByteBuffer]) throws {
        for piece in pieces {
            try session.recv(piece)
        }
    }

    /// Checks that the server took every request.
    func checkRequestsReceived() {
        let n = RecordedConnection.requestCount
        precondition(controlFrames == n, "\(controlFrames) of \(n) SYN_STREAMs received")
        precondition(session.openStreamCount == n, "\(session.openStreamCount) of \(n) streams open")
        precondition(dataBytes == 0 && closedStreams == 0)
    }

    /// Checks that the client took every response and closed every stream.
    func checkResponsesReceived() {
        let n = RecordedConnection.requestCount
        precondition(controlFrames == n, "\(controlFrames) of \(n) SYN_REPLYs received")
        precondition(dataBytes == n * RecordedConnection.bodySize, "\(dataBytes) bytes of DATA received")
        precondition(closedStreams == n && session.openStreamCount == 0, "\(closedStreams) of \(n) streams closed")
    }
}
