import NIOCore
import SPDY

// The workloads the `Session` benchmarks and the `SessionProfile` executable share.

/// The response body of the request workload.
let responseBodySize = 1024
/// The transfer workload's body is served from a source this big (see ``SlicedBody``).
let transferSourceSize = 1 << 20

let requestHeaders: SPDYHeaders = [
    (":method", "GET"),
    (":path", "/assets/img-1234.png"),
    (":version", "HTTP/1.1"),
    (":host", "www.example.com"),
    (":scheme", "https"),
    ("accept", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"),
    ("accept-encoding", "gzip, deflate, br"),
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"),
]

let responseHeaders: SPDYHeaders = [
    (":status", "200 OK"),
    (":version", "HTTP/1.1"),
    ("content-type", "image/png"),
    ("content-length", "\(responseBodySize)"),
]

/// The server side of the request benchmark: answers every request with the same 1 KiB
/// body, through one data provider shared by all streams (so the harness allocates
/// nothing per request). Each stream's progress is kept in a preallocated array.
final class ResponseServer {
    let body = SlicedBody(source: patternBuffer(responseBodySize), count: responseBodySize)
    /// Bytes sent per stream, indexed by stream ID / 2 (client streams are 1, 3, 5, …).
    var sent: [Int]
    private(set) var provider: SPDYDataProvider!

    /// A server for `count` requests.
    init(count: Int) {
        sent = [Int](repeating: 0, count: count)
        provider = SPDYDataProvider { [unowned self] _, id, length in
            let index = Int(id.rawValue) >> 1
            let offset = self.sent[index]
            let result = self.body.piece(at: offset, length: length)
            if case .data(let slice, _) = result {
                self.sent[index] = offset + slice.readableBytes
            }
            return result
        }
    }

    func reset() {
        for i in sent.indices { sent[i] = 0 }
    }

    func respond(_ session: SPDYSession, _ id: SPDYStreamID) throws {
        try session.submitResponse(streamID: id, headers: responseHeaders, dataProvider: provider)
    }
}

/// The server side of the transfer benchmark: one response of `size` bytes.
final class TransferServer {
    let body: SlicedBody
    var sent = 0

    init(size: Int) {
        body = SlicedBody(source: patternBuffer(transferSourceSize), count: size)
    }

    var provider: SPDYDataProvider {
        SPDYDataProvider { [unowned self] _, _, length in
            let result = self.body.piece(at: self.sent, length: length)
            if case .data(let slice, _) = result {
                self.sent += slice.readableBytes
            }
            return result
        }
    }

    func respond(_ session: SPDYSession, _ id: SPDYStreamID) throws {
        try session.submitResponse(streamID: id, headers: responseHeaders, dataProvider: provider)
    }
}

/// The transfer workload: a client and server pair where the client's one request is
/// answered with `size` bytes in DATA frames of `payloadSize` bytes, the client
/// advertising `window` bytes of receive window (the protocol's 64 KiB when `nil`).
struct TransferWorkload {
    let source: TransferServer
    let link: SessionLink

    init(size: Int, payloadSize: Int, window: Int?) throws {
        source = TransferServer(size: size)
        link = try SessionLink(
            configuration: .init(dataFramePayloadSize: payloadSize),
            outboxCapacity: 1 << 18,
            respond: source.respond
        )
        if let window { try link.advertiseReceiveWindow(window) }
    }

    /// Sends the request and moves bytes until the response is complete.
    func run() throws {
        try link.client.submitRequest(priority: 3, headers: requestHeaders)
        while link.completed < 1 {
            let moved = try link.pumpOnce()
            precondition(moved > 0, "the sessions stalled after \(link.receivedBytes) bytes")
        }
        precondition(link.receivedBytes == source.body.count && source.sent == source.body.count)
    }
}
