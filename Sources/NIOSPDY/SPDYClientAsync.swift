import NIOCore
import SPDY

extension SPDYClientResponse {
    /// A response body as it arrives, with backpressure: while nobody iterates it (or it
    /// holds more than a few chunks), the stream stops reading, so no window is granted and
    /// the server stops sending. Dropping the iterator before the end resets the stream
    /// with RST_STREAM CANCEL.
    public struct Body: AsyncSequence, Sendable {
        /// A piece of the body.
        public typealias Element = ByteBuffer
        typealias Producer = NIOThrowingAsyncSequenceProducer<
            ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark,
            ResponseBodyDelegate
        >

        let producer: Producer

        /// Iterates the body.
        public struct AsyncIterator: AsyncIteratorProtocol {
            var iterator: Producer.AsyncIterator

            /// The next piece, or `nil` at the end of the body.
            public mutating func next() async throws -> ByteBuffer? {
                try await iterator.next()
            }
        }

        /// Makes an iterator (a body can be iterated once).
        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(iterator: producer.makeAsyncIterator())
        }
    }
}

/// Tells a response's stream when its body's reader wants more, or went away.
struct ResponseBodyDelegate: NIOAsyncSequenceProducerDelegate {
    let handler: NIOLoopBound<AsyncResponseHandler>

    func produceMore() {
        let handler = self.handler
        handler.eventLoop.execute { handler.value.produceMore() }
    }

    func didTerminate() {
        let handler = self.handler
        handler.eventLoop.execute { handler.value.bodyDropped() }
    }
}

extension SPDYClientConnection {
    /// Opens a stream channel: runs `initializer` on it and returns its output (such as an
    /// `NIOAsyncChannel<SPDYStreamPayload, SPDYStreamPayload>`). The stream's SYN_STREAM goes
    /// out when its first header block is written and flushed.
    public func openStream<Output: Sendable>(
        _ initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Output>
    ) async throws -> Output {
        try await eventLoop.flatSubmit {
            self.connection.createStreamChannel(initializer: initializer)
        }.get()
    }

    /// Sends a request with a header block as it is and returns the response head; the body
    /// streams in ``SPDYClientResponse/body``, with backpressure.
    public func request(headers: SPDYHeaders, body: ByteBuffer? = nil, priority: UInt8 = 3) async throws
        -> SPDYClientResponse
    {
        let upload: AsyncResponseHandler.Upload = body.map { .buffer($0) } ?? .none
        return try await withCheckedThrowingContinuation { head in
            eventLoop.execute {
                self.submit(
                    AsyncResponseHandler.Request(headers: headers, upload: upload, priority: priority), head,
                    attempts: 1)
            }
        }
    }

    /// Sends a request whose body comes from an async sequence (a streamed upload): each
    /// piece is written once the previous one has gone to the connection, so a slow server
    /// slows the sequence down. The last DATA frame carries FIN when the sequence ends; an
    /// error thrown by the sequence resets the stream with RST_STREAM CANCEL.
    public func request<Upload: AsyncSequence & Sendable>(
        headers: SPDYHeaders,
        streamingBody body: Upload,
        priority: UInt8 = 3
    ) async throws -> SPDYClientResponse where Upload.Element == ByteBuffer {
        let upload = AsyncResponseHandler.Upload.stream { channel in
            for try await chunk in body where chunk.readableBytes > 0 {
                try await channel.writeAndFlush(SPDYStreamPayload.data(chunk, fin: false))
            }
            try await channel.writeAndFlush(SPDYStreamPayload.data(ByteBuffer(), fin: true))
        }
        return try await withCheckedThrowingContinuation { head in
            eventLoop.execute {
                self.submit(
                    AsyncResponseHandler.Request(headers: headers, upload: upload, priority: priority), head,
                    attempts: 1)
            }
        }
    }

    func submit(
        _ request: AsyncResponseHandler.Request,
        _ head: CheckedContinuation<SPDYClientResponse, any Error>,
        attempts: Int
    ) {
        guard mayOpenStreams else {
            head.resume(throwing: SPDYClientError.connectionClosed)
            return
        }
        let handler = AsyncResponseHandler(client: self, request: request, head: head, attempts: attempts)
        streamStarted()
        let opened = connection.openLocalStream(autoRead: false) {
            try $0.pipeline.syncOperations.addHandler(handler)
        }
        if opened == nil {
            streamEnded()
            head.resume(throwing: SPDYClientError.connectionClosed)
        }
    }
}

/// Runs one async request on its stream channel: sends it, hands the response head to the
/// caller, and feeds the body to a ``SPDYClientResponse/Body`` as fast as it is read.
final class AsyncResponseHandler: ChannelInboundHandler {
    typealias InboundIn = SPDYStreamPayload
    typealias OutboundOut = SPDYStreamPayload

    enum Upload: Sendable {
        case none
        case buffer(ByteBuffer)
        case stream(@Sendable (any Channel) async throws -> Void)
    }

    struct Request: Sendable {
        var headers: SPDYHeaders
        var upload: Upload
        var priority: UInt8
    }

    private let client: SPDYClientConnection
    private let request: Request
    private let attempts: Int
    private var head: CheckedContinuation<SPDYClientResponse, any Error>?
    private var source: SPDYClientResponse.Body.Producer.Source?
    private var context: ChannelHandlerContext?
    private var wantsMore = true
    private var responded = false
    private var finished = false
    private var error: (any Error)?

    init(
        client: SPDYClientConnection,
        request: Request,
        head: CheckedContinuation<SPDYClientResponse, any Error>,
        attempts: Int
    ) {
        self.client = client
        self.request = request
        self.head = head
        self.attempts = attempts
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        let priority = min(request.priority, client.version.lowestPriority)
        var endsWithHeaders = true
        if case .buffer(let body) = request.upload, body.readableBytes > 0 { endsWithHeaders = false }
        if case .stream = request.upload { endsWithHeaders = false }
        context.write(
            wrapOutboundOut(
                .headers(
                    .init(
                        kind: .synStream(priority: priority, associatedStreamID: .zero, unidirectional: false),
                        headers: request.headers, fin: endsWithHeaders))),
            promise: nil)
        if case .buffer(let body) = request.upload, body.readableBytes > 0 {
            context.write(wrapOutboundOut(.data(body, fin: true)), promise: nil)
        }
        context.flush()
        if case .stream(let upload) = request.upload {
            let channel = context.channel
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            Task {
                do {
                    try await upload(channel)
                } catch {
                    handler.eventLoop.execute { handler.value.uploadFailed(error) }
                }
            }
        }
        context.read()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let payload):
            responded = true
            if let head {
                self.head = nil
                let sequence = SPDYClientResponse.Body.Producer.makeSequence(
                    backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8),
                    finishOnDeinit: false,
                    delegate: ResponseBodyDelegate(handler: NIOLoopBound(self, eventLoop: context.eventLoop))
                )
                source = sequence.source
                let headers = payload.headers
                head.resume(
                    returning: SPDYClientResponse(
                        status: headers[":status"] ?? "", headers: headers,
                        body: SPDYClientResponse.Body(producer: sequence.sequence)))
            }
            if payload.fin { finishBody(nil) }
        case .data(let bytes, let fin):
            responded = true
            if bytes.readableBytes > 0, let source, !finished {
                if case .stopProducing = source.yield(bytes) { wantsMore = false }
            }
            if fin { finishBody(nil) }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if wantsMore { context.read() }
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.error == nil { self.error = error }
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.streamEnded()
        let failure = error.map(Self.clientError)
        if let head {
            self.head = nil
            if case SPDYStreamError.resetByPeer(.refusedStream)? = error, !responded,
                attempts < SPDYClientConnection.maxAttempts, client.mayRetry
            {
                if case .stream = request.upload {
                    head.resume(throwing: SPDYClientError.streamReset(.refusedStream))
                } else {
                    client.submit(request, head, attempts: attempts + 1)
                }
            } else {
                // No error means no reset: a stream closed cleanly is not reported as one.
                head.resume(throwing: failure ?? SPDYClientError.closedWithoutResponse)
            }
        }
        finishBody(failure)
        context.fireChannelInactive()
    }

    /// The request body's sequence threw: the server must not take the request as complete,
    /// so the stream is reset, and the caller gets the sequence's error.
    func uploadFailed(_ error: any Error) {
        if self.error == nil { self.error = error }
        context?.close(promise: nil)
    }

    /// The body's reader wants more.
    func produceMore() {
        wantsMore = true
        context?.read()
    }

    /// The body's reader went away before the end: reset the stream.
    func bodyDropped() {
        wantsMore = false
        if !finished { context?.close(promise: nil) }
    }

    private func finishBody(_ error: (any Error)?) {
        guard !finished else { return }
        finished = true
        if let error { source?.finish(error) } else { source?.finish() }
    }

    static func clientError(_ error: any Error) -> any Error {
        switch error {
        case SPDYStreamError.resetByPeer(let status), SPDYStreamError.resetLocally(let status):
            SPDYClientError.streamReset(status)
        case SPDYStreamError.refusedByGoAway:
            SPDYClientError.streamReset(.refusedStream)
        case SPDYStreamError.connectionClosed:
            SPDYClientError.connectionClosed
        case SPDYStreamError.cannotOpen(let reason):
            SPDYClientError.submitFailed(reason)
        default:
            error
        }
    }
}
