import NIOCore
import SPDY

/// The HTTP exchange on one SPDY stream, whichever way the application sees HTTP (NIOHTTP1
/// or swift-http-types): the state of the message we receive and of the one we send, shared
/// by the four mapping codecs, which only turn heads and trailers into their own types.
///
/// Received: the first header block is the head, later ones are trailers (held until the
/// FIN); DATA is counted against the head's `content-length`, and a body that is longer or
/// shorter resets the stream with PROTOCOL_ERROR.
///
/// Sent: a head waits until the next part or a flush, so a message without a body leaves as
/// one frame with FIN (a GET as one SYN_STREAM, a 204 as one SYN_REPLY); the end becomes an
/// empty DATA frame with FIN, or a HEADERS frame with FIN carrying the trailers, which the
/// stream channel sends only after the last DATA.
struct SPDYHTTPMessageStream {
    /// What a received payload carries for the application, in the codec's own head type,
    /// and why the rest of it could not be passed on. The codec passes the parts on itself,
    /// once this stream's state is no longer being changed (a handler may answer from its
    /// `channelRead`, which writes through the codec).
    struct Received<Head> {
        var head: Head?
        var body: ByteBuffer?
        /// The message ended (FIN), with these trailers.
        var end: SPDYHeaders??
        var failure: ReadFailure?
    }

    /// Why a received payload could not be passed on (whole).
    enum ReadFailure {
        /// The head is not an HTTP message (`parseHead` threw): a server answers 400.
        case head(SPDYHTTPCodecError)
        /// The body broke its `content-length`: the stream is reset.
        case body(SPDYHTTPCodecError)
    }

    /// What a received payload means.
    private enum Classified {
        case head(SPDYHeaders, fin: Bool)
        case body(ByteBuffer, fin: Bool)
        case trailers(fin: Bool)
        case ignored
    }

    private enum InboundState {
        case head
        case body
        case finished
    }

    private enum OutboundState {
        case head
        case body
        case finished
    }

    private var inbound = InboundState.head
    private var expectedLength: Int?
    private var receivedLength = 0
    private var trailers: SPDYHeaders?

    private var outbound = OutboundState.head

    /// Whether our head has been written or queued (an error can then only reset the stream).
    var answerBegun: Bool {
        if case .head = outbound { return false }
        return true
    }
    private var pendingHead: (block: SPDYHeaders, promise: EventLoopPromise<Void>?)?
    private var dropsBody = false

    // MARK: Receiving

    /// Reads a payload from the peer: `parseHead` turns the first header block into the
    /// codec's head and says how long the body must be (`nil`: unchecked).
    mutating func read<Head>(
        _ payload: SPDYStreamPayload,
        parseHead: (SPDYHeaders) throws(SPDYHTTPCodecError) -> (head: Head, bodyLength: Int?)
    ) -> Received<Head> {
        var received = Received<Head>()
        let classified: Classified
        do {
            classified = try classify(payload)
        } catch {
            received.failure = .body(error)
            return received
        }
        let fin: Bool
        switch classified {
        case .head(let block, let headFin):
            let parsed: (head: Head, bodyLength: Int?)
            do {
                parsed = try parseHead(block)
            } catch {
                abandonInbound()
                received.failure = .head(error)
                return received
            }
            expectedLength = parsed.bodyLength
            received.head = parsed.head
            fin = headFin
        case .body(let bytes, let bodyFin):
            if bytes.readableBytes > 0 { received.body = bytes }
            fin = bodyFin
        case .trailers(let trailersFin):
            fin = trailersFin
        case .ignored:
            return received
        }
        guard fin else { return received }
        do {
            received.end = .some(try finish())
        } catch {
            received.failure = .body(error)
        }
        return received
    }

    /// Classifies a payload from the peer. Throws when DATA goes past `content-length`.
    private mutating func classify(_ payload: SPDYStreamPayload) throws(SPDYHTTPCodecError) -> Classified {
        switch payload {
        case .headers(let headers):
            switch inbound {
            case .head:
                inbound = .body
                return .head(headers.headers, fin: headers.fin)
            case .body:
                if let more = SPDYHTTPHeaderMapping.trailers(headers.headers) {
                    if trailers == nil {
                        trailers = more
                    } else {
                        for (name, value) in more { trailers!.add(name: name, value: value) }
                    }
                }
                return .trailers(fin: headers.fin)
            case .finished:
                return .ignored
            }
        case .data(let bytes, let fin):
            // The session allows DATA only after the head.
            guard inbound == .body else { return .ignored }
            receivedLength += bytes.readableBytes
            if let expectedLength, receivedLength > expectedLength {
                inbound = .finished
                throw .contentLengthMismatch(expected: expectedLength, received: receivedLength)
            }
            return .body(bytes, fin: fin)
        }
    }

    /// The received message ended (FIN): checks the length and returns its trailers.
    private mutating func finish() throws(SPDYHTTPCodecError) -> SPDYHeaders? {
        inbound = .finished
        if let expectedLength, receivedLength != expectedLength {
            throw .contentLengthMismatch(expected: expectedLength, received: receivedLength)
        }
        defer { trailers = nil }
        return trailers
    }

    /// Stops reading the received message: what follows is ignored.
    mutating func abandonInbound() {
        inbound = .finished
    }

    // MARK: Sending

    /// Queues our head; it is written with the next part or flush. `noBody`: body parts
    /// written for this message are dropped (a response to HEAD, a 204 or a 304).
    mutating func writeHead(
        _ block: SPDYHeaders,
        noBody: Bool,
        promise: EventLoopPromise<Void>?
    ) throws(SPDYHTTPCodecError) {
        guard outbound == .head else { throw .invalidWrite("a second head") }
        outbound = .body
        dropsBody = noBody
        pendingHead = (block, promise)
    }

    /// Writes body bytes (after the head, if it is still waiting).
    mutating func writeBody(
        _ bytes: ByteBuffer,
        context: ChannelHandlerContext,
        promise: EventLoopPromise<Void>?
    ) throws(SPDYHTTPCodecError) {
        guard outbound == .body else {
            throw .invalidWrite(outbound == .head ? "a body before the head" : "a body after the end")
        }
        // The head of a message without a body keeps waiting, so the end can carry FIN on it.
        if dropsBody || bytes.readableBytes == 0 {
            promise?.succeed(())
            return
        }
        writePendingHead(context: context)
        context.write(NIOAny(SPDYStreamPayload.data(bytes, fin: false)), promise: promise)
    }

    /// Ends our message: FIN on the waiting head, on an empty DATA frame, or on a HEADERS
    /// frame with the trailers.
    mutating func writeEnd(
        trailers: SPDYHeaders?,
        context: ChannelHandlerContext,
        promise: EventLoopPromise<Void>?
    ) throws(SPDYHTTPCodecError) {
        guard outbound == .body else {
            throw .invalidWrite(outbound == .head ? "an end before the head" : "a second end")
        }
        outbound = .finished
        if let trailers, !trailers.isEmpty {
            writePendingHead(context: context)
            let payload = SPDYStreamPayload.headers(.init(headers: trailers, fin: true))
            context.write(NIOAny(payload), promise: promise)
        } else if let (block, headPromise) = pendingHead {
            pendingHead = nil
            let payload = SPDYStreamPayload.headers(.init(headers: block, fin: true))
            context.write(NIOAny(payload), promise: Self.combine(headPromise, promise))
        } else {
            let payload = SPDYStreamPayload.data(context.channel.allocator.buffer(capacity: 0), fin: true)
            context.write(NIOAny(payload), promise: promise)
        }
    }

    /// Writes a head that is still waiting (before a flush).
    mutating func writePendingHead(context: ChannelHandlerContext) {
        guard let (block, promise) = pendingHead else { return }
        pendingHead = nil
        context.write(NIOAny(SPDYStreamPayload.headers(.init(headers: block, fin: false))), promise: promise)
    }

    /// Nothing more may be written (the codec answered or reset the stream itself).
    mutating func abandonOutbound() {
        outbound = .finished
        if let (_, promise) = pendingHead {
            pendingHead = nil
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    private static func combine(
        _ first: EventLoopPromise<Void>?,
        _ second: EventLoopPromise<Void>?
    ) -> EventLoopPromise<Void>? {
        guard let first else { return second }
        if let second { first.futureResult.cascade(to: second) }
        return first
    }

    // MARK: Failing

    /// Answers a request the mapping cannot read with 400 Bad Request (draft 3 §3.2.1: a
    /// request without all of the required headers gets 400) and refuses the rest of it; the
    /// application never sees the request.
    mutating func answerBadRequest(context: ChannelHandlerContext, for error: SPDYHTTPCodecError) {
        abandonInbound()
        guard outbound == .head else {
            reset(context: context, for: error)
            return
        }
        outbound = .finished
        let text = "400 Bad Request: \(error)\n"
        var block = SPDYHeaders()
        block.add(name: ":status", value: "400 Bad Request")
        block.add(name: ":version", value: "HTTP/1.1")
        block.add(name: "content-type", value: "text/plain; charset=utf-8")
        block.add(name: "content-length", value: String(text.utf8.count))
        context.write(NIOAny(SPDYStreamPayload.headers(.init(headers: block, fin: false))), promise: nil)
        let body = context.channel.allocator.buffer(string: text)
        context.write(NIOAny(SPDYStreamPayload.data(body, fin: true)), promise: nil)
        context.flush()
        (context.channel as? SPDYStreamChannel)?.closeAfterAnswer()
    }

    /// Resets the stream with PROTOCOL_ERROR for `error` and tells the pipeline: a message
    /// that broke the mapping's rules (`content-length`, a head that is not HTTP).
    mutating func reset(context: ChannelHandlerContext, for error: SPDYHTTPCodecError) {
        abandonInbound()
        abandonOutbound()
        context.fireErrorCaught(error)
        if context.channel is SPDYStreamChannel {
            context.triggerUserOutboundEvent(SPDYResetStreamEvent(status: .protocolError), promise: nil)
        } else {
            context.close(promise: nil)
        }
    }
}
