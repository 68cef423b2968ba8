import NIOConcurrencyHelpers
import NIOCore
import SPDY

/// A connection to one server that is made again when it is lost, and that sends requests
/// again as its ``SPDYRetryPolicy`` allows: the client to use where the network or the
/// server may go away for a while (a link that drops, a server restarted under load).
///
/// Requests are submitted as on a ``SPDYClientConnection``, with a ``SPDYStreamHandler``, or
/// with ``execute(_:maxBodyBytes:)``. All of them share one SPDY connection at a time, made
/// on first use and made again by the first request that finds it closed or going away
/// (GOAWAY). Every callback runs on ``eventLoop``, whichever connection carries the request.
///
/// A request that fails is sent again, after the policy's backoff, when the policy allows it:
/// - Requests the server cannot have acted on (no connection, a refused stream, a connection
///   lost before the request went out) are sent again whatever their method.
/// - Requests whose connection was lost after they went out are sent again when their method
///   is idempotent. If part of the response had already reached the handler, it is asked
///   first (``SPDYStreamHandler/onRetry()``); the default answer is no, and the stream then
///   ends with ``SPDYStreamHandler/onConnectionClosed(error:)`` as it would without retries.
///
/// A dead link is found by the client's ``SPDYClient/Configuration-swift.struct/keepAlive``
/// (on by default), so a request on a connection whose network went silent fails, and may be
/// retried, after the keep-alive's interval and timeout instead of waiting for TCP.
public final class SPDYRetryingConnection: Sendable {
    /// The client whose configuration (TLS, versions, timeouts, keep-alive) the connections use.
    public let client: SPDYClient
    /// The server's host name or address.
    public let host: String
    /// The server's port.
    public let port: Int
    /// TLS (with ALPN) or plain TCP.
    public let tls: Bool
    /// The name sent by SNI and checked against the certificate, when not `host`.
    public let serverName: String?
    /// When requests are sent again.
    public let policy: SPDYRetryPolicy
    /// The event loop of every connection and every callback.
    public let eventLoop: any EventLoop

    private let state: NIOLoopBoundBox<State>
    private let counters = NIOLockedValueBox(Counters())

    private struct State {
        var connection: SPDYClientConnection?
        var connecting: EventLoopFuture<SPDYClientConnection>?
        var closed = false
    }

    private struct Counters {
        var retries = 0
        var connections = 0
    }

    /// Creates the connection; nothing is sent until the first request.
    ///
    /// - Parameters:
    ///   - client: The client whose configuration the connections use.
    ///   - host: The server's host name or address.
    ///   - port: The server's port.
    ///   - tls: TLS with ALPN (`true`) or plain TCP speaking the client's
    ///     ``SPDYClient/Configuration-swift.struct/plainVersion``.
    ///   - serverName: The name for SNI and the certificate check, when not `host`.
    ///   - policy: When requests are sent again.
    ///   - eventLoop: One of the client's event loops, or `nil` for the next one.
    public init(
        client: SPDYClient,
        host: String,
        port: Int,
        tls: Bool = true,
        serverName: String? = nil,
        policy: SPDYRetryPolicy,
        eventLoop: (any EventLoop)? = nil
    ) {
        self.client = client
        self.host = host
        self.port = port
        self.tls = tls
        self.serverName = serverName
        self.policy = policy
        let loop = eventLoop ?? client.group.next()
        self.eventLoop = loop
        self.state = NIOLoopBoundBox.makeBoxSendingValue(State(), eventLoop: loop)
    }

    /// How many times requests were sent again, in all.
    public var retryCount: Int { counters.withLockedValue { $0.retries } }

    /// How many connections were made, in all (the first included).
    public var connectionCount: Int { counters.withLockedValue { $0.connections } }

    /// Submits a request; `handler` sees its headers, body and close on ``eventLoop``.
    public func request(_ request: SPDYClientRequest, handler: SPDYStreamHandler) {
        self.request(headers: request.spdyHeaders, body: request.body, priority: request.priority, handler: handler)
    }

    /// Submits a request with a header block as it is (the caller provides `:method`,
    /// `:path`, `:version`, `:scheme` and `:host`).
    public func request(headers: SPDYHeaders, body: ByteBuffer?, priority: UInt8, handler: SPDYStreamHandler) {
        let attempt = Attempt(
            headers: headers, body: body, priority: priority, method: headers[":method"] ?? "GET", handler: handler)
        guard eventLoop.inEventLoop else {
            let bound = UncheckedSendable(attempt)
            eventLoop.execute { self.submit(bound.value) }
            return
        }
        submit(attempt)
    }

    /// Sends a request and collects its whole response, sending it again as the policy
    /// allows (after a partial response too: the collected part is dropped). Throws
    /// ``SPDYClientError/streamReset(_:)`` for a stream the server reset,
    /// ``SPDYClientError/bodyTooLarge(limit:)`` past `maxBodyBytes`, and the last attempt's
    /// error when no retry is left.
    public func execute(_ request: SPDYClientRequest, maxBodyBytes: Int = 16 << 20) async throws
        -> SPDYCollectedResponse
    {
        try await withCheckedThrowingContinuation { continuation in
            let handler = CollectingHandler(limit: maxBodyBytes, continuation: continuation)
            self.request(request, handler: handler)
        }
    }

    /// Sends GOAWAY on the current connection (requests in flight finish) and makes no
    /// other; later requests fail with ``SPDYClientError/connectionClosed``.
    public func close() {
        eventLoop.execute {
            self.state.value.closed = true
            self.state.value.connection?.close()
            self.state.value.connection = nil
        }
    }

    // MARK: On the event loop

    /// One request and how many times it has been sent.
    fileprivate struct Attempt {
        var headers: SPDYHeaders
        var body: ByteBuffer?
        var priority: UInt8
        var method: String
        var handler: SPDYStreamHandler
        var number = 1
    }

    private func submit(_ attempt: Attempt) {
        guard !state.value.closed else {
            attempt.handler.onConnectionClosed(error: SPDYClientError.connectionClosed)
            return
        }
        // Futures of this loop complete on it: the attempt stays where it belongs.
        let bound = UncheckedSendable(attempt)
        usableConnection().whenComplete { result in
            let attempt = bound.value
            switch result {
            case .success(let connection):
                let relay = RetryRelay(owner: self, attempt: attempt)
                connection.request(
                    headers: attempt.headers, body: attempt.body, priority: attempt.priority, handler: relay)
            case .failure(let error):
                self.failed(attempt, .notProcessed, error: error, responded: false)
            }
        }
    }

    /// The current connection if new streams may go on it, else a new one (shared by every
    /// request that asks while it is being made).
    private func usableConnection() -> EventLoopFuture<SPDYClientConnection> {
        if let connection = state.value.connection, connection.mayRetry {
            return eventLoop.makeSucceededFuture(connection)
        }
        if let connecting = state.value.connecting { return connecting }
        state.value.connection = nil
        counters.withLockedValue { $0.connections += 1 }
        let (client, host, port, tls, serverName, loop) = (client, host, port, tls, serverName, eventLoop)
        let future = eventLoop.makeFutureWithTask {
            try await client.connect(host: host, port: port, tls: tls, serverName: serverName, on: loop)
        }
        state.value.connecting = future
        // Registered first, so the state is current before any waiting request continues.
        future.whenComplete { result in
            self.state.value.connecting = nil
            guard case .success(let connection) = result else { return }
            if self.state.value.closed {
                connection.close()
            } else {
                self.state.value.connection = connection
            }
        }
        return future
    }

    /// A request failed: send it again after the backoff if the policy allows, else report.
    fileprivate func failed(_ attempt: Attempt, _ failure: SPDYRetryPolicy.Failure, error: any Error, responded: Bool) {
        let retry =
            !state.value.closed && policy.allowsRetry(method: attempt.method, failure: failure, attempt: attempt.number)
            && (!responded || attempt.handler.onRetry())
        guard retry else {
            if case SPDYClientError.streamReset(let status) = error {
                attempt.handler.onClose(status)
            } else {
                attempt.handler.onConnectionClosed(error: error)
            }
            return
        }
        counters.withLockedValue { $0.retries += 1 }
        var next = attempt
        next.number += 1
        attempt.handler.streamID = nil
        let bound = UncheckedSendable(next)
        eventLoop.scheduleTask(in: policy.backoff(beforeRetry: attempt.number)) {
            self.submit(bound.value)
        }
    }
}

/// The handler of one attempt: passes the callbacks on, and hands failures the policy may
/// answer back to the ``SPDYRetryingConnection``.
private final class RetryRelay: SPDYStreamHandler {
    let owner: SPDYRetryingConnection
    let attempt: SPDYRetryingConnection.Attempt
    private var responded = false

    init(owner: SPDYRetryingConnection, attempt: SPDYRetryingConnection.Attempt) {
        self.owner = owner
        self.attempt = attempt
    }

    override func onHeader(_ headers: SPDYHeaders) {
        responded = true
        attempt.handler.streamID = streamID
        attempt.handler.onHeader(headers)
    }

    override func onData(_ data: ByteBuffer) {
        responded = true
        attempt.handler.onData(data)
    }

    override func onClose(_ status: SPDYStreamStatus) {
        attempt.handler.streamID = streamID
        if status == .refusedStream && !responded {
            // Refused by RST_STREAM (after the connection's own retries) or by GOAWAY: the
            // server did no work on it.
            owner.failed(attempt, .notProcessed, error: SPDYClientError.streamReset(status), responded: false)
        } else {
            attempt.handler.onClose(status)
        }
    }

    override func onConnectionClosed(error: (any Error)?) {
        // Without a stream ID the SYN_STREAM never went out.
        let failure: SPDYRetryPolicy.Failure = streamID == nil ? .notProcessed : .connectionLost
        owner.failed(attempt, failure, error: error ?? SPDYClientError.connectionClosed, responded: responded)
    }
}

/// A whole response: what ``SPDYRetryingConnection/execute(_:maxBodyBytes:)`` returns.
public struct SPDYCollectedResponse: Sendable {
    /// The `:status` value, such as `200 OK`.
    public var status: String
    /// The numeric status code, or 0 when `:status` does not start with one.
    public var statusCode: Int { Int(status.prefix { $0.isNumber }) ?? 0 }
    /// The response headers (pseudo-headers included; HEADERS frames after the SYN_REPLY
    /// merged in).
    public var headers: SPDYHeaders
    /// The body.
    public var body: ByteBuffer
}

/// Collects a response for ``SPDYRetryingConnection/execute(_:maxBodyBytes:)``.
private final class CollectingHandler: SPDYStreamHandler {
    let limit: Int
    var continuation: CheckedContinuation<SPDYCollectedResponse, any Error>?
    var headers = SPDYHeaders()
    var body = ByteBuffer()
    var tooLarge = false

    init(limit: Int, continuation: CheckedContinuation<SPDYCollectedResponse, any Error>) {
        self.limit = limit
        self.continuation = continuation
    }

    override func onHeader(_ headers: SPDYHeaders) {
        for (name, value) in headers { self.headers.add(name: name, value: value) }
    }

    override func onData(_ data: ByteBuffer) {
        guard !tooLarge else { return }
        if body.readableBytes + data.readableBytes > limit {
            tooLarge = true
            return
        }
        var data = data
        body.writeBuffer(&data)
    }

    override func onRetry() -> Bool {
        headers = SPDYHeaders()
        body.clear()
        tooLarge = false
        return true
    }

    override func onClose(_ status: SPDYStreamStatus) {
        guard let continuation else { return }
        self.continuation = nil
        if tooLarge {
            continuation.resume(throwing: SPDYClientError.bodyTooLarge(limit: limit))
        } else if status != .ok {
            continuation.resume(throwing: SPDYClientError.streamReset(status))
        } else if let status = headers[":status"] ?? headers["status"] {
            continuation.resume(returning: SPDYCollectedResponse(status: status, headers: headers, body: body))
        } else {
            continuation.resume(throwing: SPDYClientError.closedWithoutResponse)
        }
    }

    override func onConnectionClosed(error: (any Error)?) {
        guard let continuation else { return }
        self.continuation = nil
        continuation.resume(throwing: error ?? SPDYClientError.connectionClosed)
    }
}
