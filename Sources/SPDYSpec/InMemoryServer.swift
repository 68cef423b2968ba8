import NIOConcurrencyHelpers
import NIOCore
import SPDY

/// A server `SPDYSession` in memory behind a ``SpecTransport``: the catalogue's own tests run
/// against it, with no network. It answers every request with 200 and a small body, and
/// `/big` with 200 000 bytes; as draft 3 §3.2.1 asks, a request missing one of the five
/// required headers, or whose body does not add up to its `content-length`, gets 400.
public final class InMemoryServer: SpecTransport, @unchecked Sendable {
    // Everything below is touched with `lock` held: the session is not thread-safe.
    private let lock = NIOLock()
    private let session: SPDYSession
    private let received: ReceivedBytes
    private var requests: [SPDYStreamID: (headers: SPDYHeaders, bodyLength: Int)] = [:]

    /// A server session of `version` with `configuration`.
    public init(version: SPDYVersion, configuration: SPDYSession.Configuration = .init()) throws {
        let received = ReceivedBytes()
        self.received = received
        var callbacks = SPDYSessionCallbacks()
        callbacks.send = { _, bytes in
            received.append(bytes)
            return bytes.readableBytes
        }
        session = try SPDYSession(role: .server, version: version, configuration: configuration, callbacks: callbacks)
        session.callbacks.onControlFrameReceived = { [unowned self] _, frame, _ in
            if case .synStream(let syn) = frame {
                requests[syn.streamID] = (syn.headers, 0)
            }
        }
        session.callbacks.onDataChunkReceived = { [unowned self] _, _, id, bytes in
            requests[id]?.bodyLength += bytes.readableBytes
        }
        session.callbacks.onRequestReceived = { [unowned self] session, id in
            guard let request = requests.removeValue(forKey: id) else { return }
            let headers = request.headers
            let complete = [":method", ":path", ":version", ":host", ":scheme"].allSatisfy {
                headers.contains(name: $0)
            }
            let declared = headers.first(name: "content-length")
            let status: String
            let body: ByteBuffer
            if !complete || (declared != nil && declared != String(request.bodyLength)) {
                status = "400 Bad Request"
                body = ByteBuffer(string: "bad request\n")
            } else {
                status = "200 OK"
                body =
                    headers.first(name: ":path") == "/big"
                    ? ByteBuffer(repeating: 0x61, count: 200_000) : ByteBuffer(string: "spdyspec\n")
            }
            try session.submitResponse(
                streamID: id,
                headers: [
                    (":status", status), (":version", "HTTP/1.1"), ("content-type", "text/plain"),
                    ("content-length", String(body.readableBytes)),
                ],
                dataProvider: .buffer(body))
        }
    }

    /// Feeds the bytes to the server session and collects what it sends back; the session's
    /// end (it wants neither to read nor to write) is the connection's close.
    public func write(_ bytes: ByteBuffer) async throws {
        lock.withLock {
            _ = try? session.recv(bytes)
            try? session.send()
            if !session.wantRead && !session.wantWrite {
                received.markClosed()
            }
        }
    }

    /// What the server session sent since the last call, and whether it has ended.
    public func take() -> (bytes: ByteBuffer, closed: Bool) {
        received.take()
    }

    /// Ends the connection as the client's close would.
    public func close() async {
        lock.withLock { received.markClosed() }
    }
}
