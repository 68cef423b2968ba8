import NIOCore
import NIOSPDY
import SPDY

/// One stream of a Kubernetes SPDY connection, for async code: its headers, the bytes the
/// peer sends on it, and writes of ours.
///
/// Reading has backpressure: while nobody iterates ``inbound`` (or it holds a few chunks
/// unread) the stream stops reading, and since spdystream has no flow control, the
/// connection stops reading the socket once the stream's buffer is full. Read every output
/// stream you asked for, concurrently.
public struct KubernetesStream: Sendable {
    /// The headers of the stream's SYN_STREAM.
    public let headers: SPDYHeaders
    /// The bytes the peer sends; it ends at the peer's FIN, RST_STREAM or the connection's
    /// end (spdystream ends streams all three ways). It can be iterated once.
    public let inbound: Inbound
    /// The stream's channel.
    public let channel: any Channel
    /// The stream's ID.
    public let streamID: SPDYStreamID?

    /// The `streamtype` header.
    public var streamType: String? { headers[KubernetesSPDY.Header.streamType] }

    /// Sends `bytes` as DATA; returns once the session has taken them (so a peer that does
    /// not read holds the writer back).
    public func write(_ bytes: ByteBuffer) async throws {
        guard bytes.readableBytes > 0 else { return }
        try await channel.writeAndFlush(SPDYStreamPayload.data(bytes)).get()
    }

    /// Sends the UTF-8 bytes of `text`.
    public func write(_ text: String) async throws {
        try await write(channel.allocator.buffer(string: text))
    }

    /// Ends our side of the stream with FIN (after what was written).
    public func finish() async throws {
        try await channel.writeAndFlush(SPDYStreamPayload.data(channel.allocator.buffer(capacity: 0), fin: true)).get()
    }

    /// Resets the stream (RST_STREAM CANCEL unless both sides are done).
    public func reset() {
        channel.close(promise: nil)
    }

    /// The bytes of a stream, as an async sequence.
    public struct Inbound: AsyncSequence, Sendable {
        /// A piece of the stream.
        public typealias Element = ByteBuffer
        typealias Producer = NIOThrowingAsyncSequenceProducer<
            ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark,
            KubernetesStreamHandler.Delegate
        >
        let producer: Producer

        /// Iterates the bytes.
        public struct AsyncIterator: AsyncIteratorProtocol {
            var iterator: Producer.AsyncIterator

            /// The next piece, or `nil` once the stream has ended.
            public mutating func next() async throws -> ByteBuffer? {
                try await iterator.next()
            }
        }

        /// Makes the iterator (once).
        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(iterator: producer.makeAsyncIterator())
        }

        /// Reads everything up to the end, at most `limit` bytes (more is an error).
        public func collect(upTo limit: Int) async throws -> ByteBuffer {
            var all = ByteBuffer()
            for try await var chunk in self {
                guard all.readableBytes + chunk.readableBytes <= limit else {
                    throw KubernetesStreamError.tooLarge(limit: limit)
                }
                all.writeBuffer(&chunk)
            }
            return all
        }
    }
}

/// Errors of ``KubernetesStream``.
public enum KubernetesStreamError: Error, Sendable, Hashable {
    /// A stream carried more than the reader accepts.
    case tooLarge(limit: Int)
    /// A stream the peer opened was refused (reset), for this reason.
    case rejected(String)
}

/// Runs a stream of a Kubernetes connection: answers (server) or sends (client) the
/// SYN_STREAM, then feeds the DATA to a ``KubernetesStream/Inbound`` as fast as it is read.
final class KubernetesStreamHandler: ChannelDuplexHandler {
    typealias InboundIn = SPDYStreamPayload
    typealias OutboundIn = SPDYStreamPayload
    typealias OutboundOut = SPDYStreamPayload

    /// Tells the handler when the reader wants more, or went away.
    struct Delegate: NIOAsyncSequenceProducerDelegate {
        let handler: NIOLoopBound<KubernetesStreamHandler>

        func produceMore() {
            let handler = self.handler
            handler.eventLoop.execute { handler.value.produceMore() }
        }

        func didTerminate() {
            let handler = self.handler
            handler.eventLoop.execute { handler.value.readerLeft() }
        }
    }

    enum Role {
        /// The peer opened the stream: answer its SYN_STREAM with an empty SYN_REPLY at
        /// once, as apimachinery does (spdystream drops DATA that precedes the reply), unless
        /// the check names a reason to refuse it: then RST_STREAM CANCEL, as apimachinery
        /// resets a stream its handler rejects.
        case accept(check: KubernetesConnection.StreamCheck?)
        /// We open it with these headers and wait for the peer's SYN_REPLY.
        case open(SPDYHeaders)
    }

    private let role: Role
    private var opened: EventLoopPromise<KubernetesStream>?
    private var source: KubernetesStream.Inbound.Producer.Source?
    private var context: ChannelHandlerContext?
    private var wantsMore = true
    private var readPending = false
    private var finished = false
    private var error: (any Error)?

    init(role: Role, opened: EventLoopPromise<KubernetesStream>) {
        self.role = role
        self.opened = opened
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private var started = false

    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        if case .open(let headers) = role {
            context.writeAndFlush(
                wrapOutboundOut(
                    .headers(
                        .init(
                            kind: .synStream(priority: 0, associatedStreamID: .zero, unidirectional: false),
                            headers: headers))),
                promise: nil)
        }
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let payload):
            if let opened {
                self.opened = nil
                let headers: SPDYHeaders
                switch role {
                case .accept(let check):
                    headers = payload.headers
                    if let reason = check?(headers) {
                        opened.fail(KubernetesStreamError.rejected(reason))
                        finished = true
                        context.close(promise: nil)
                        return
                    }
                    context.writeAndFlush(wrapOutboundOut(.headers(.init(kind: .synReply, headers: []))), promise: nil)
                case .open(let sent):
                    headers = sent
                }
                let sequence = KubernetesStream.Inbound.Producer.makeSequence(
                    backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8),
                    finishOnDeinit: false,
                    delegate: Delegate(handler: NIOLoopBound(self, eventLoop: context.eventLoop))
                )
                source = sequence.source
                opened.succeed(
                    KubernetesStream(
                        headers: headers, inbound: .init(producer: sequence.sequence), channel: context.channel,
                        streamID: (context.channel as? SPDYStreamChannel)?.streamID))
            }
            if payload.fin { finish() }
        case .data(let bytes, let fin):
            if bytes.readableBytes > 0, let source, !finished {
                if case .stopProducing = source.yield(bytes) { wantsMore = false }
            }
            if fin { finish() }
        }
    }

    func read(context: ChannelHandlerContext) {
        if wantsMore || finished {
            context.read()
        } else {
            readPending = true
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.error == nil { self.error = error }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let opened {
            self.opened = nil
            opened.fail(error ?? SPDYStreamError.connectionClosed)
        }
        // spdystream ends a stream with FIN, RST_STREAM or the connection's close alike:
        // for a reader each is the end of the stream.
        finish()
        context.fireChannelInactive()
    }

    private func produceMore() {
        wantsMore = true
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    private func readerLeft() {
        wantsMore = true
        if let context, readPending {
            readPending = false
            context.read()
        }
    }

    private func finish() {
        guard !finished else { return }
        finished = true
        source?.finish()
    }
}

extension KubernetesStream {
    /// Sets a stream channel up as a stream the peer opened; the future has the stream once
    /// its SYN_STREAM has been read (and answered with SYN_REPLY).
    static func accept(
        on channel: any Channel,
        check: KubernetesConnection.StreamCheck?
    ) -> EventLoopFuture<KubernetesStream> {
        let opened = channel.eventLoop.makePromise(of: KubernetesStream.self)
        do {
            try channel.pipeline.syncOperations.addHandler(
                KubernetesStreamHandler(role: .accept(check: check), opened: opened))
        } catch {
            opened.fail(error)
        }
        return opened.futureResult
    }

    /// Sets a new stream channel up to open a stream with `headers`; the future has the
    /// stream once the peer's SYN_REPLY came.
    static func open(on channel: any Channel, headers: SPDYHeaders) -> EventLoopFuture<KubernetesStream> {
        let opened = channel.eventLoop.makePromise(of: KubernetesStream.self)
        do {
            try channel.pipeline.syncOperations.addHandler(
                KubernetesStreamHandler(role: .open(headers), opened: opened))
        } catch {
            opened.fail(error)
        }
        return opened.futureResult
    }
}
