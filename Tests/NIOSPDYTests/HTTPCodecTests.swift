import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypes
import Testing

@testable import NIOSPDY
@testable import SPDY

// MARK: - A connection in an EmbeddedChannel, with the test as the peer

/// What a stream's HTTP handler saw: the parts it read, errors, whether it closed.
private final class PartLog<Part>: @unchecked Sendable {
    var parts: [Part] = []
    var errors: [any Error] = []
    var inactive = false
    var channel: (any Channel)?
}

/// Records the HTTP parts a codec passes on.
private final class PartRecorder<Part>: ChannelInboundHandler {
    typealias InboundIn = Part

    let log: PartLog<Part>

    init(_ log: PartLog<Part>) {
        self.log = log
    }

    func handlerAdded(context: ChannelHandlerContext) {
        log.channel = context.channel
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        log.parts.append(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        log.errors.append(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        log.inactive = true
    }
}

/// A ``SPDYConnection`` in an EmbeddedChannel whose streams carry a codec and a recorder;
/// the test is the peer and reads what goes on the wire.
private final class CodecHarness {
    let channel = EmbeddedChannel()
    let connection: SPDYConnection
    let version: SPDYVersion
    private let encoder: SPDYFrameEncoder
    private let decoder: SPDYFrameDecoder
    private var bodies: [SPDYStreamID: [UInt8]] = [:]

    /// - Parameter streamHandlers: the handlers each stream channel gets (codec first).
    init(
        role: SPDYRole,
        version: SPDYVersion,
        streamHandlers: (@Sendable () -> [any ChannelHandler])? = nil
    ) throws {
        self.version = version
        let session = try SPDYSession(role: role, version: version, configuration: .init(manualDataConsumption: true))
        var initializer: SPDYConnection.StreamInitializer?
        if let streamHandlers {
            initializer = { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandlers(streamHandlers())
                }
            }
        }
        connection = SPDYConnection(session: session, inboundStreamInitializer: role == .server ? initializer : nil)
        let peer: SPDYRole = role == .server ? .client : .server
        encoder = try SPDYFrameEncoder(version: version, compression: .default(for: peer))
        decoder = try SPDYFrameDecoder(version: version)
        try channel.pipeline.syncOperations.addHandler(connection)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        _ = try sent()
    }

    /// Opens a stream of ours with `handlers` in its pipeline.
    func openStream(_ handlers: @escaping @Sendable () -> [any ChannelHandler]) throws -> any Channel {
        try connection.createStreamChannel { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandlers(handlers())
                return channel
            }
        }.wait()
    }

    /// The peer sends `frames` in one read.
    func receive(_ frames: SPDYFrame...) throws {
        var buffer = channel.allocator.buffer(capacity: 0)
        for frame in frames { try encoder.encode(frame, into: &buffer) }
        try channel.writeInbound(buffer)
    }

    /// The frames the connection wrote since the last call (DATA as one `.data` frame per
    /// DATA frame, with its bytes), SETTINGS and WINDOW_UPDATE left out.
    func sent() throws -> [SPDYFrame] {
        while let bytes = try channel.readOutbound(as: ByteBuffer.self) { decoder.append(bytes: bytes) }
        var frames: [SPDYFrame] = []
        while let event = try decoder.nextFrame() {
            switch event {
            case .frame(.settings, _), .frame(.windowUpdate, _):
                break
            case .frame(let frame, _):
                frames.append(frame)
            case .dataChunk(let chunk):
                let id = chunk.header.streamID
                bodies[id, default: []] += chunk.payload.readableBytesView
                if chunk.isEndOfFrame {
                    let payload = ByteBuffer(bytes: bodies.removeValue(forKey: id) ?? [])
                    frames.append(.data(.init(streamID: id, flags: chunk.header.flags, payload: payload)))
                }
            }
        }
        return frames
    }
}

// MARK: - Frames and descriptions

private func request(
    _ id: UInt32 = 1,
    method: String = "GET",
    path: String = "/index.html?q=1",
    extra: [(String, String)] = [],
    omit: Set<String> = [],
    fin: Bool = true
) -> SPDYFrame {
    var pairs: [(name: String, value: String)] = [
        (":method", method), (":path", path), (":version", "HTTP/1.1"), (":host", "example.com"),
        (":scheme", "https"),
    ]
    pairs.removeAll { omit.contains($0.name) }
    pairs += extra.map { (name: $0.0, value: $0.1) }
    return .synStream(
        .init(streamID: SPDYStreamID(rawValue: id)!, priority: 3, flags: fin ? .fin : [], headers: SPDYHeaders(pairs)))
}

private func data(_ id: UInt32, _ text: String, fin: Bool = false) -> SPDYFrame {
    .data(.init(streamID: SPDYStreamID(rawValue: id)!, flags: fin ? .fin : [], payload: ByteBuffer(string: text)))
}

private func reply(_ id: UInt32, _ pairs: [(String, String)], fin: Bool = false) -> SPDYFrame {
    .synReply(
        .init(
            streamID: SPDYStreamID(rawValue: id)!, flags: fin ? .fin : [],
            headers: SPDYHeaders(pairs.map { (name: $0.0, value: $0.1) })))
}

/// One line per frame: the frame, its FIN, and its header block or body.
private func describe(_ frames: [SPDYFrame]) -> [String] {
    frames.map { frame in
        func block(_ headers: SPDYHeaders) -> String {
            headers.map { "\($0.name)=\($0.value)" }.sorted().joined(separator: " ")
        }
        func fin(_ flags: SPDYControlFlags) -> String { flags.contains(.fin) ? " FIN" : "" }
        switch frame {
        case .synStream(let syn): return "SYN_STREAM \(syn.streamID)\(fin(syn.flags)) \(block(syn.headers))"
        case .synReply(let reply): return "SYN_REPLY \(reply.streamID)\(fin(reply.flags)) \(block(reply.headers))"
        case .headers(let headers): return "HEADERS \(headers.streamID)\(fin(headers.flags)) \(block(headers.headers))"
        case .data(let data):
            let fin = data.flags.contains(.fin) ? " FIN" : ""
            return "DATA \(data.streamID)\(fin) \(String(buffer: data.payload).debugDescription)"
        case .rstStream(let rst): return "RST_STREAM \(rst.streamID) \(rst.status)"
        default: return "\(frame)"
        }
    }
}

private func headerBlock(_ frame: SPDYFrame?) -> SPDYHeaders? {
    switch frame {
    case .synStream(let syn)?: syn.headers
    case .synReply(let reply)?: reply.headers
    case .headers(let headers)?: headers.headers
    default: nil
    }
}

private typealias ServerLog = PartLog<HTTPServerRequestPart>

/// A server harness whose streams get ``SPDYToHTTP1ServerCodec`` and a recorder.
private func http1Server(_ version: SPDYVersion, _ log: ServerLog) throws -> CodecHarness {
    try CodecHarness(role: .server, version: version) {
        [SPDYToHTTP1ServerCodec(version: version), PartRecorder(log)]
    }
}

/// Writes `parts` on the stream the recorder sits in, then flushes.
private func respond(_ log: ServerLog, _ parts: HTTPServerResponsePart...) throws {
    let channel = try #require(log.channel)
    for part in parts { channel.write(part, promise: nil) }
    channel.flush()
}

private func responseHead(_ status: HTTPResponseStatus, _ headers: [(String, String)] = []) -> HTTPServerResponsePart {
    .head(HTTPResponseHead(version: .http1_1, status: status, headers: HTTPHeaders(headers)))
}

/// Refuses a request as soon as its head arrives (while the connection is still reading):
/// 413 without a body, then a full close.
private final class AnswerAndClose: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head = unwrapInboundIn(data) else { return }
        let head = HTTPResponseHead(version: .http1_1, status: .payloadTooLarge, headers: ["content-length": "0"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.close(promise: nil)
    }
}

// MARK: - Tests

@Suite("HTTP/1 and swift-http-types over SPDY streams")
struct HTTPCodecTests {
    @Test(
        "a request's pseudo-headers make the HTTP/1 head and the response its SYN_REPLY",
        arguments: SPDYVersion.allCases)
    func serverRoundTrip(version: SPDYVersion) throws {
        let log = ServerLog()
        let harness = try http1Server(version, log)
        try harness.receive(request(extra: [("accept", "text/html"), ("user-agent", "t")]))
        guard case .head(let head)? = log.parts.first else {
            Issue.record("no head: \(log.parts)")
            return
        }
        #expect(head.method == .GET)
        #expect(head.uri == "/index.html?q=1")
        #expect(head.version == .http1_1)
        #expect(head.headers["host"] == ["example.com"])
        #expect(head.headers["accept"] == ["text/html"])
        #expect(head.headers["user-agent"] == ["t"])
        #expect(!head.headers.contains { $0.name.hasPrefix(":") })
        #expect(log.parts.count == 2)
        if case .end(nil)? = log.parts.last {} else { Issue.record("no end: \(log.parts)") }

        try respond(
            log, responseHead(.ok, [("content-type", "text/plain")]), .body(.byteBuffer(ByteBuffer(string: "hello"))),
            .end(nil)
        )
        #expect(
            describe(try harness.sent()) == [
                "SYN_REPLY 1 :status=200 OK :version=HTTP/1.1 content-type=text/plain",
                "DATA 1 FIN \"hello\"",
            ])
    }

    @Test("SPDY/2: an application header named like a SPDY/2 pseudo-header is dropped, not merged into it")
    func spdy2Collisions() throws {
        for version in SPDYVersion.allCases {
            let log = ServerLog()
            let harness = try http1Server(version, log)
            try harness.receive(request())
            try respond(
                log,
                responseHead(
                    .ok,
                    [
                        ("status", "teapot"), ("version", "9"), ("url", "/x"), ("method", "M"), ("scheme", "s"),
                        ("host", "h"),
                    ]),
                .end(nil))
            let block = try #require(headerBlock(try harness.sent().first))
            #expect(block.values(name: ":status") == ["200 OK"], "\(version)")
            #expect(block.values(name: ":version") == ["HTTP/1.1"], "\(version)")
            if version == .v2 {
                #expect(block.count == 2, "\(block)")
            } else {
                // On SPDY/3 these are ordinary names.
                #expect(block["status"] == "teapot")
                #expect(block["url"] == "/x")
                #expect(block["host"] == "h")
            }
        }
    }

    @Test(
        "SPDY/2: a request header named like a pseudo-header never reaches the peer", arguments: [SPDYVersion.v2, .v3])
    func spdy2RequestCollisions(version: SPDYVersion) throws {
        let harness = try CodecHarness(role: .client, version: version)
        let log = PartLog<HTTPClientResponsePart>()
        let stream = try harness.openStream {
            [SPDYToHTTP1ClientCodec(version: version, scheme: "http"), PartRecorder(log)]
        }
        var headers = HTTPHeaders([("Host", "example.com"), ("method", "X"), ("url", "/evil"), ("version", "0")])
        headers.add(name: "scheme", value: "ftp")
        try stream.writeAndFlush(
            HTTPClientRequestPart.head(.init(version: .http1_1, method: .GET, uri: "/a", headers: headers))
        ).wait()
        stream.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let frames = try harness.sent()
        let block = try #require(headerBlock(frames.first))
        #expect(block.values(name: ":method") == ["GET"])
        #expect(block.values(name: ":path") == ["/a"])
        #expect(block.values(name: ":host") == ["example.com"])
        #expect(block.values(name: ":scheme") == ["http"])
        #expect(block.values(name: ":version") == ["HTTP/1.1"])
        #expect(!block.contains(name: "host"))
        if version == .v2 {
            #expect(block.count == 5, "\(block)")
        } else {
            #expect(block["url"] == "/evil")
            #expect(block["scheme"] == "ftp")
        }
    }

    @Test("connection-specific headers are dropped both ways, with the names Connection lists")
    func connectionSpecificHeaders() throws {
        let log = ServerLog()
        let harness = try http1Server(.v3_1, log)
        try harness.receive(
            request(extra: [
                ("connection", "close"), ("keep-alive", "timeout=5"), ("proxy-connection", "keep-alive"),
                ("transfer-encoding", "chunked"), ("upgrade", "h2c"), ("x-kept", "1"),
            ]))
        guard case .head(let head)? = log.parts.first else {
            Issue.record("no head")
            return
        }
        #expect(head.headers.map(\.name).sorted() == ["host", "x-kept"])

        try respond(
            log,
            responseHead(
                .ok,
                [
                    ("Connection", "close, X-Hop"), ("X-Hop", "1"), ("Keep-Alive", "timeout=5"),
                    ("Transfer-Encoding", "chunked"), ("Proxy-Connection", "x"), ("Upgrade", "h2c"), ("X-Kept", "2"),
                ]),
            .end(nil))
        let block = try #require(headerBlock(try harness.sent().first))
        #expect(block.map(\.name).sorted() == [":status", ":version", "x-kept"])
    }

    @Test("repeated headers go out as one NUL-joined value and come back as separate fields")
    func repeatedHeaders() throws {
        let log = ServerLog()
        let harness = try http1Server(.v3, log)
        try harness.receive(request(extra: [("accept-language", "en"), ("accept-language", "fr")]))
        guard case .head(let head)? = log.parts.first else {
            Issue.record("no head")
            return
        }
        #expect(head.headers["accept-language"] == ["en", "fr"])

        try respond(log, responseHead(.ok, [("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2")]), .end(nil))
        let block = try #require(headerBlock(try harness.sent().first))
        #expect(block.values(name: "set-cookie") == ["a=1; Path=/", "b=2"])
        // On the wire: one pair, the values NUL-joined.
        var serializer = HeaderBlockSerializer()
        try serializer.serialize(block, version: .v3, translateNames: false)
        #expect(String(decoding: serializer.block, as: UTF8.self).contains("a=1; Path=/\u{0}b=2"))
    }

    @Test("the reason phrase is filled when the application gives none")
    func reasonPhrase() throws {
        for (status, line) in [
            (HTTPResponseStatus.custom(code: 404, reasonPhrase: ""), "404 Not Found"),
            (.custom(code: 418, reasonPhrase: ""), "418 I'm a teapot"),
            (.custom(code: 299, reasonPhrase: ""), "299 OK"),
            (.custom(code: 200, reasonPhrase: "Fine"), "200 Fine"),
        ] {
            let log = ServerLog()
            let harness = try http1Server(.v3, log)
            try harness.receive(request())
            try respond(log, responseHead(status), .end(nil))
            let block = try #require(headerBlock(try harness.sent().first))
            #expect(block[":status"] == line)
        }
    }

    @Test("HEAD, 204 and 304 answer with FIN on the SYN_REPLY and no DATA, content-length kept")
    func bodilessResponses() throws {
        for (method, status) in [("HEAD", HTTPResponseStatus.ok), ("GET", .noContent), ("GET", .notModified)] {
            let log = ServerLog()
            let harness = try http1Server(.v3_1, log)
            try harness.receive(request(method: method))
            try respond(
                log, responseHead(status, [("content-length", "5")]), .body(.byteBuffer(ByteBuffer(string: "hello"))),
                .end(nil)
            )
            let frames = describe(try harness.sent())
            #expect(frames.count == 1, "\(method) \(status): \(frames)")
            #expect(frames.first?.hasPrefix("SYN_REPLY 1 FIN :status=\(status.code)") == true, "\(frames)")
            #expect(frames.first?.contains("content-length=5") == true)
        }
    }

    @Test("1xx heads are not sent: SPDY has no interim responses")
    func interimResponses() throws {
        let log = ServerLog()
        let harness = try http1Server(.v3, log)
        try harness.receive(request(method: "POST", extra: [("expect", "100-continue")], fin: false))
        try respond(log, responseHead(.continue))
        #expect(try harness.sent().isEmpty)
        try harness.receive(data(1, "x", fin: true))
        try respond(log, responseHead(.created), .end(nil))
        #expect(describe(try harness.sent()) == ["SYN_REPLY 1 FIN :status=201 Created :version=HTTP/1.1"])
    }

    @Test(
        "a request body shorter or longer than content-length is answered 400 (draft 3 §3.2.1), or reset once the answer began"
    )
    func contentLengthMismatch() throws {
        for (length, body) in [("10", "12345"), ("3", "12345")] {
            let log = ServerLog()
            let harness = try http1Server(.v3_1, log)
            try harness.receive(
                request(method: "POST", extra: [("content-length", length)], fin: false), data(1, body, fin: true))
            let text = "400 Bad Request: content-length says \(length) bytes but the body has 5\n"
            #expect(
                describe(try harness.sent()) == [
                    "SYN_REPLY 1 :status=400 Bad Request :version=HTTP/1.1 content-length=\(text.utf8.count) content-type=text/plain; charset=utf-8",
                    "DATA 1 FIN \(String(reflecting: text))",
                ], "\(length)")
            let codecError = log.errors.compactMap { $0 as? SPDYHTTPCodecError }.first
            #expect(codecError == .contentLengthMismatch(expected: Int(length)!, received: 5))
            // The handler never sees an end for a body that broke its length.
            #expect(!log.parts.contains { if case .end = $0 { true } else { false } })
            #expect(log.inactive)
        }
        // Once the handler's answer has begun, a body that breaks its length resets the stream.
        let started = ServerLog()
        let early = try http1Server(.v3_1, started)
        try early.receive(request(method: "POST", extra: [("content-length", "10")], fin: false))
        try respond(started, responseHead(.ok))
        _ = try early.sent()
        try early.receive(data(1, "12345", fin: true))
        #expect(describe(try early.sent()) == ["RST_STREAM 1 PROTOCOL_ERROR"])
        #expect(
            started.errors.contains { ($0 as? SPDYHTTPCodecError) == .contentLengthMismatch(expected: 10, received: 5) }
        )

        // A body that matches passes.
        let log = ServerLog()
        let harness = try http1Server(.v3_1, log)
        try harness.receive(
            request(method: "POST", extra: [("content-length", "5")], fin: false), data(1, "12"),
            data(1, "345", fin: true))
        #expect(log.errors.isEmpty)
        #expect(log.parts.count == 4)
        #expect(try harness.sent().isEmpty)
    }

    @Test("trailers: a HEADERS frame with FIN after the body, both ways")
    func trailers() throws {
        let log = ServerLog()
        let harness = try http1Server(.v3_1, log)
        try harness.receive(
            request(method: "POST", fin: false), data(1, "body"),
            .headers(.init(streamID: 1, flags: .fin, headers: [("x-checksum", "abc")])))
        guard case .end(let trailers?)? = log.parts.last else {
            Issue.record("no trailers: \(log.parts)")
            return
        }
        #expect(trailers["x-checksum"] == ["abc"])

        try respond(
            log, responseHead(.ok), .body(.byteBuffer(ByteBuffer(string: "part"))),
            .end(HTTPHeaders([("x-status", "done"), ("Connection", "close")])))
        #expect(
            describe(try harness.sent()) == [
                "SYN_REPLY 1 :status=200 OK :version=HTTP/1.1",
                "DATA 1 \"part\"",
                "HEADERS 1 FIN x-status=done",
            ])
    }

    @Test("a request the mapping cannot read is answered 400 and never reaches the handler")
    func badRequests() throws {
        let cases: [(SPDYFrame, String)] = [
            (request(path: "index.html"), "relative path"),
            (request(path: "/a b"), "space in path"),
            (request(path: "/caf\u{e9}"), "non-ASCII path"),
            (request(path: ""), "empty path"),
            (request(method: "GET", path: "*"), "* outside OPTIONS"),
            (request(method: "G T"), "method not a token"),
            (request(omit: [":host"]), "no :host"),
            (request(omit: [":method"]), "no :method"),
            (request(omit: [":version"]), "no :version"),
            (request(extra: [("content-length", "1, 2")]), "two lengths"),
        ]
        for (frame, name) in cases {
            let log = ServerLog()
            let harness = try http1Server(.v3_1, log)
            try harness.receive(frame)
            let frames = describe(try harness.sent())
            #expect(frames.first?.hasPrefix("SYN_REPLY 1 :status=400 Bad Request") == true, "\(name): \(frames)")
            #expect(frames.count == 2 && frames[1].hasPrefix("DATA 1 FIN"), "\(name): \(frames)")
            #expect(log.parts.isEmpty, "\(name)")
        }
        // Accepted targets: OPTIONS *, and absolute form.
        for (method, path) in [("OPTIONS", "*"), ("GET", "https://example.com/x")] {
            let log = ServerLog()
            _ = try http1Server(.v3_1, log).receive(request(method: method, path: path))
            guard case .head(let head)? = log.parts.first else {
                Issue.record("\(method) \(path) refused")
                continue
            }
            #expect(head.uri == path)
        }
    }

    @Test("a request whose peer has not finished gets 400 and then RST_STREAM CANCEL")
    func badRequestWithBodyPending() throws {
        let log = ServerLog()
        let harness = try http1Server(.v3_1, log)
        try harness.receive(request(path: "nope", fin: false))
        let frames = describe(try harness.sent())
        #expect(frames.count == 3, "\(frames)")
        #expect(frames.last == "RST_STREAM 1 CANCEL")
    }

    @Test("a bodiless answer and a close while the request is read: the SYN_REPLY leaves before RST_STREAM")
    func bodilessAnswerBeforeReset() throws {
        let harness = try CodecHarness(role: .server, version: .v3_1) {
            [SPDYToHTTP1ServerCodec(version: .v3_1), AnswerAndClose()]
        }
        try harness.receive(request(method: "POST", extra: [("content-length", "100000")], fin: false), data(1, "x"))
        #expect(
            describe(try harness.sent()) == [
                "SYN_REPLY 1 FIN :status=413 Payload Too Large :version=HTTP/1.1 content-length=0",
                "RST_STREAM 1 CANCEL",
            ])
    }

    @Test("HTTP/1 client: request trailers leave after the last DATA; response trailers end the response")
    func clientTrailers() throws {
        let harness = try CodecHarness(role: .client, version: .v3_1)
        let log = PartLog<HTTPClientResponsePart>()
        let stream = try harness.openStream { [SPDYToHTTP1ClientCodec(version: .v3_1), PartRecorder(log)] }
        let head = HTTPRequestHead(
            version: .http1_1, method: .POST, uri: "/up", headers: ["host": "h", "te": "trailers"])
        stream.write(HTTPClientRequestPart.head(head), promise: nil)
        stream.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: "data"))), promise: nil)
        stream.writeAndFlush(HTTPClientRequestPart.end(HTTPHeaders([("x-sum", "42")])), promise: nil)
        #expect(
            describe(try harness.sent()) == [
                "SYN_STREAM 1 :host=h :method=POST :path=/up :scheme=https :version=HTTP/1.1 te=trailers",
                "DATA 1 \"data\"",
                "HEADERS 1 FIN x-sum=42",
            ])
        try harness.receive(
            reply(1, [(":status", "200 OK"), (":version", "HTTP/1.1")]), data(1, "ok"),
            .headers(.init(streamID: 1, flags: .fin, headers: [("x-done", "yes"), (":status", "500")])))
        guard log.parts.count == 3, case .end(let trailers?) = log.parts[2] else {
            Issue.record("\(log.parts)")
            return
        }
        // Pseudo-headers in a trailing HEADERS frame are not trailers.
        #expect(trailers.map(\.name) == ["x-done"])
    }

    @Test(
        "HTTP/1 client: a GET is one SYN_STREAM with FIN; the reply becomes head, body, end",
        arguments: SPDYVersion.allCases)
    func clientRoundTrip(version: SPDYVersion) throws {
        let harness = try CodecHarness(role: .client, version: version)
        let log = PartLog<HTTPClientResponsePart>()
        let stream = try harness.openStream { [SPDYToHTTP1ClientCodec(version: version), PartRecorder(log)] }
        let head = HTTPRequestHead(
            version: .http1_1, method: .GET, uri: "/r?x=1",
            headers: HTTPHeaders([("Host", "example.com:8443"), ("Accept", "*/*"), ("Connection", "keep-alive")]))
        stream.write(HTTPClientRequestPart.head(head), promise: nil)
        stream.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        #expect(
            describe(try harness.sent()) == [
                "SYN_STREAM 1 FIN :host=example.com:8443 :method=GET :path=/r?x=1 :scheme=https :version=HTTP/1.1 accept=*/*"
            ])
        try harness.receive(
            reply(1, [(":status", "200"), (":version", "HTTP/1.1"), ("content-length", "2"), ("x-a", "1")]),
            data(1, "ok", fin: true))
        guard log.parts.count == 3, case .head(let response) = log.parts[0], case .body(let body) = log.parts[1],
            case .end(nil) = log.parts[2]
        else {
            Issue.record("\(log.parts)")
            return
        }
        #expect(response.status == .ok)
        #expect(response.status.reasonPhrase == "OK")
        #expect(response.headers["x-a"] == ["1"])
        #expect(String(buffer: body) == "ok")
    }

    @Test("HTTP/1 client: HEAD's content-length is not a body; a short body elsewhere resets")
    func clientContentLength() throws {
        for (method, fin, reset) in [("HEAD", true, false), ("GET", true, true)] {
            let harness = try CodecHarness(role: .client, version: .v3_1)
            let log = PartLog<HTTPClientResponsePart>()
            let stream = try harness.openStream { [SPDYToHTTP1ClientCodec(version: .v3_1), PartRecorder(log)] }
            let head = HTTPRequestHead(
                version: .http1_1, method: HTTPMethod(rawValue: method), uri: "/", headers: ["host": "h"])
            stream.write(HTTPClientRequestPart.head(head), promise: nil)
            stream.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            _ = try harness.sent()
            try harness.receive(
                reply(1, [(":status", "200 OK"), (":version", "HTTP/1.1"), ("content-length", "100")], fin: fin))
            if reset {
                #expect(describe(try harness.sent()) == ["RST_STREAM 1 PROTOCOL_ERROR"])
                #expect(
                    log.errors.contains {
                        ($0 as? SPDYHTTPCodecError) == .contentLengthMismatch(expected: 100, received: 0)
                    })
            } else {
                #expect(try harness.sent().isEmpty)
                #expect(log.errors.isEmpty)
                #expect(log.parts.count == 2)
            }
        }
    }

    @Test("HTTP/1 client: a head without Host fails its write; a reply without :status resets")
    func clientErrors() throws {
        let harness = try CodecHarness(role: .client, version: .v3)
        let log = PartLog<HTTPClientResponsePart>()
        let stream = try harness.openStream { [SPDYToHTTP1ClientCodec(version: .v3), PartRecorder(log)] }
        let noHost = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")
        #expect(throws: SPDYHTTPCodecError.missingHeader("host")) {
            try stream.writeAndFlush(HTTPClientRequestPart.head(noHost)).wait()
        }
        #expect(throws: SPDYHTTPCodecError.invalidWrite("an end before the head")) {
            try stream.writeAndFlush(HTTPClientRequestPart.end(nil)).wait()
        }
        stream.write(
            HTTPClientRequestPart.head(.init(version: .http1_1, method: .GET, uri: "/", headers: ["host": "h"])),
            promise: nil)
        stream.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        _ = try harness.sent()
        try harness.receive(reply(1, [(":version", "HTTP/1.1")], fin: true))
        #expect(describe(try harness.sent()) == ["RST_STREAM 1 PROTOCOL_ERROR"])
        #expect(log.errors.contains { ($0 as? SPDYHTTPCodecError) == .missingHeader(":status") })
    }

    @Test(
        "swift-http-types server: HTTPRequest from the pseudo-headers, HTTPResponse to SYN_REPLY",
        arguments: SPDYVersion.allCases)
    func httpTypesServer(version: SPDYVersion) throws {
        let log = PartLog<HTTPRequestPart>()
        let harness = try CodecHarness(role: .server, version: version) {
            [SPDYToHTTPServerCodec(version: version), PartRecorder(log)]
        }
        try harness.receive(
            request(
                method: "POST", extra: [("content-length", "4"), ("cookie", "a=1"), ("x-n", "1"), ("x-n", "2")],
                fin: false),
            data(1, "ping"), .headers(.init(streamID: 1, flags: .fin, headers: [("x-trailer", "t")])))
        guard log.parts.count == 3, case .head(let request) = log.parts[0], case .body(let body) = log.parts[1],
            case .end(let trailers?) = log.parts[2]
        else {
            Issue.record("\(log.parts)")
            return
        }
        #expect(request.method == .post)
        #expect(request.scheme == "https")
        #expect(request.authority == "example.com")
        #expect(request.path == "/index.html?q=1")
        #expect(request.headerFields[.contentLength] == "4")
        #expect(request.headerFields[values: HTTPField.Name("x-n")!] == ["1", "2"])
        #expect(request.headerFields[HTTPField.Name("host")!] == nil)
        #expect(String(buffer: body) == "ping")
        #expect(trailers[HTTPField.Name("x-trailer")!] == "t")

        let channel = try #require(log.channel)
        var fields = HTTPFields()
        fields[.contentType] = "text/plain"
        fields[.connection] = "close"
        fields.append(HTTPField(name: .setCookie, value: "a=1"))
        fields.append(HTTPField(name: .setCookie, value: "b=2"))
        channel.write(HTTPResponsePart.head(HTTPResponse(status: .init(code: 404), headerFields: fields)), promise: nil)
        channel.write(HTTPResponsePart.body(ByteBuffer(string: "gone")), promise: nil)
        var trailerFields = HTTPFields()
        trailerFields[HTTPField.Name("x-done")!] = "1"
        channel.writeAndFlush(HTTPResponsePart.end(trailerFields), promise: nil)
        #expect(
            describe(try harness.sent()) == [
                "SYN_REPLY 1 :status=404 Not Found :version=HTTP/1.1 content-type=text/plain set-cookie=a=1 set-cookie=b=2",
                "DATA 1 \"gone\"",
                "HEADERS 1 FIN x-done=1",
            ])
    }

    @Test("swift-http-types server: HEAD gets no body; a bad request gets 400")
    func httpTypesServerEdges() throws {
        let log = PartLog<HTTPRequestPart>()
        let harness = try CodecHarness(role: .server, version: .v3_1) {
            [SPDYToHTTPServerCodec(version: .v3_1), PartRecorder(log)]
        }
        try harness.receive(request(method: "HEAD"))
        let channel = try #require(log.channel)
        var fields = HTTPFields()
        fields[.contentLength] = "4"
        channel.write(HTTPResponsePart.head(HTTPResponse(status: .ok, headerFields: fields)), promise: nil)
        channel.write(HTTPResponsePart.body(ByteBuffer(string: "body")), promise: nil)
        channel.writeAndFlush(HTTPResponsePart.end(nil), promise: nil)
        #expect(describe(try harness.sent()) == ["SYN_REPLY 1 FIN :status=200 OK :version=HTTP/1.1 content-length=4"])

        try harness.receive(request(3, omit: [":scheme"]))
        let frames = describe(try harness.sent())
        #expect(frames.first?.hasPrefix("SYN_REPLY 3 :status=400 Bad Request") == true, "\(frames)")
        #expect(log.parts.count == 2)
    }

    @Test(
        "swift-http-types client: HTTPRequest to SYN_STREAM, the reply to HTTPResponse with its reason",
        arguments: SPDYVersion.allCases)
    func httpTypesClient(version: SPDYVersion) throws {
        let harness = try CodecHarness(role: .client, version: version)
        let log = PartLog<HTTPResponsePart>()
        let stream = try harness.openStream { [SPDYToHTTPClientCodec(version: version), PartRecorder(log)] }
        var fields = HTTPFields()
        fields[.contentLength] = "3"
        fields[.transferEncoding] = "chunked"
        let request = HTTPRequest(
            method: .put, scheme: "https", authority: "example.com", path: "/f", headerFields: fields)
        stream.write(HTTPRequestPart.head(request), promise: nil)
        stream.write(HTTPRequestPart.body(ByteBuffer(string: "abc")), promise: nil)
        stream.writeAndFlush(HTTPRequestPart.end(nil), promise: nil)
        let sent = describe(try harness.sent())
        #expect(
            sent == [
                "SYN_STREAM 1 :host=example.com :method=PUT :path=/f :scheme=https :version=HTTP/1.1 content-length=3",
                // The end rides on the last DATA frame, which was still queued.
                "DATA 1 FIN \"abc\"",
            ], "\(sent)")
        try harness.receive(
            reply(1, [(":status", "201 Made"), (":version", "HTTP/1.1"), ("location", "/f")]), data(1, "", fin: true))
        guard log.parts.count == 2, case .head(let response) = log.parts[0], case .end(nil) = log.parts[1] else {
            Issue.record("\(log.parts)")
            return
        }
        #expect(response.status.code == 201)
        #expect(response.status.reasonPhrase == "Made")
        #expect(response.headerFields[.location] == "/f")
    }
}
