import NIOCore
import Testing

@testable import SPDY

@Suite("Session: client and server in memory")
struct SessionExchangeTests {
    @Test("A POST with a body and a response with a body, every version", arguments: SPDYVersion.allCases)
    func requestResponse(version: SPDYVersion) throws {
        let pair = try SessionPair(version: version)
        let upload = PatternSource(10_000)
        let id = try pair.client.session.submitRequest(
            priority: 0,
            headers: requestHeaders(method: "POST"),
            dataProvider: upload.provider,
            streamUserData: "request-1"
        )
        #expect(id == 1)
        try pair.pump()
        #expect(pair.server.received[1] == PatternSource.bytes(10_000))
        #expect(pair.server.events.contains(.requestReceived(1)))
        guard case .synStream(let syn) = pair.server.frames.first else {
            Issue.record("no SYN_STREAM: \(pair.server.frames)")
            return
        }
        #expect(syn.headers[":method"] == "POST")
        #expect(syn.headers[":path"] == "/")
        #expect(syn.priority == 0)
        #expect(!syn.flags.contains(.fin))

        let download = PatternSource(70_000)
        try pair.server.session.submitResponse(streamID: 1, headers: responseHeaders(), dataProvider: download.provider)
        try pair.pump()
        #expect(pair.client.received[1] == PatternSource.bytes(70_000))
        #expect(pair.client.events.last == .streamClosed(1, .ok))
        #expect(pair.server.events.last == .streamClosed(1, .ok))
        #expect(pair.client.session.openStreamCount == 0)
        #expect(pair.server.session.openStreamCount == 0)
        // DATA frames carry at most 4096 bytes; FIN only on the last.
        let sent = pair.server.events.compactMap { event -> (SPDYDataFlags, Int)? in
            if case .dataSent(_, let flags, let length) = event { return (flags, length) }
            return nil
        }
        #expect(sent.count == 18)
        #expect(sent.allSatisfy { $0.1 <= 4096 })
        #expect(sent.dropLast().allSatisfy { $0.0 == [] })
        #expect(sent.last?.0 == .fin)
    }
}

extension SessionExchangeTests {
    @Test("Client stream IDs are odd and increase by 2 on the wire; server pushes use even IDs")
    func streamIDs() throws {
        let pair = try SessionPair(version: .v3)
        var ids: [SPDYStreamID] = []
        for i in 0..<5 {
            ids.append(
                try pair.client.session.submitRequest(priority: UInt8(7 - i), headers: requestHeaders(path: "/\(i)")))
        }
        #expect(ids == [1, 3, 5, 7, 9])
        try pair.pump()
        let onWire = pair.server.frames.compactMap { frame -> SPDYStreamID? in
            if case .synStream(let f) = frame { return f.streamID }
            return nil
        }
        // Submitted order, whatever the priorities.
        #expect(onWire == [1, 3, 5, 7, 9])
        let pushed = try pair.server.session.submitSynStream(
            flags: .unidirectional,
            priority: 3,
            headers: [(":path", "/style.css"), (":host", "example.org"), (":scheme", "https")],
            associatedStreamID: 1
        )
        #expect(pushed == 2)
        #expect(pair.client.session.isLocallyInitiated(1))
        #expect(!pair.client.session.isLocallyInitiated(2))
        #expect(!pair.client.session.isLocallyInitiated(.zero))
        #expect(pair.server.session.isLocallyInitiated(2))
    }

    @Test("Server push: a unidirectional stream associated with the request", arguments: SPDYVersion.allCases)
    func serverPush(version: SPDYVersion) throws {
        let pair = try SessionPair(version: version)
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders())
        try pair.pump()
        let pushed = try pair.server.session.submitSynStream(
            flags: .unidirectional,
            priority: 0,
            headers: [
                (":path", "/pushed.js"), (":host", "example.org"), (":scheme", "https"), (":status", "200 OK"),
                (":version", "HTTP/1.1"),
            ],
            associatedStreamID: 1
        )
        pair.server.session.submitData(streamID: pushed, flags: .fin, dataProvider: .string("pushed body"))
        try pair.server.session.submitResponse(
            streamID: 1, headers: responseHeaders(), dataProvider: .string("main body"))
        try pair.pump()
        guard case .synStream(let syn) = pair.client.frames.first(where: { $0.type == .synStream }) else {
            Issue.record("the client saw no push: \(pair.client.frames)")
            return
        }
        #expect(syn.streamID == 2)
        #expect(syn.associatedStreamID == 1)
        #expect(syn.flags == .unidirectional)
        #expect(syn.headers[":path"] == "/pushed.js")
        #expect(pair.client.received[2] == Array("pushed body".utf8))
        #expect(pair.client.received[1] == Array("main body".utf8))
        #expect(pair.client.events.contains(.streamClosed(2, .ok)))
        #expect(pair.client.events.contains(.streamClosed(1, .ok)))
        // The pushed stream is the server's half-closed stream: the client never writes on it.
        #expect(pair.server.events.contains(.streamClosed(2, .ok)))
    }

    @Test("RST_STREAM CANCEL on a request also closes the streams pushed for it")
    func cancelClosesPushedStreams() throws {
        let pair = try SessionPair(version: .v3)
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders())
        try pair.pump()
        for path in ["/a", "/b"] {
            try pair.server.session.submitSynStream(
                flags: .unidirectional,
                priority: 0,
                headers: [(":path", path), (":host", "example.org"), (":scheme", "https")],
                associatedStreamID: 1
            )
        }
        try pair.pump()
        #expect(pair.client.session.openStreamIDs == [1, 2, 4])
        try pair.client.session.submitRstStream(streamID: 1, status: .cancel)
        try pair.pump()
        #expect(pair.client.session.openStreamCount == 0)
        #expect(
            pair.client.events.suffix(3) == [
                .streamClosed(2, .cancel), .streamClosed(4, .cancel), .streamClosed(1, .cancel),
            ])
        // The server closes the pushed streams when it receives the CANCEL.
        #expect(pair.server.events.contains(.streamClosed(2, .cancel)))
        #expect(pair.server.events.contains(.streamClosed(4, .cancel)))
        #expect(pair.server.events.contains(.streamClosed(1, .cancel)))
    }

    @Test("PING: the peer echoes; the reply fires the callback on the sender", arguments: SPDYVersion.allCases)
    func ping(version: SPDYVersion) throws {
        let pair = try SessionPair(version: version)
        #expect(pair.client.session.submitPing() == 1)
        #expect(pair.client.session.submitPing() == 3)
        #expect(pair.server.session.submitPing() == 2)
        try pair.pump()
        #expect(pair.client.events.filter { $0 == .controlReceived(.ping, nil) }.count == 3)
        #expect(pair.server.events.filter { $0 == .controlReceived(.ping, nil) }.count == 3)
        let pings = pair.client.frames.compactMap { frame -> UInt32? in
            if case .ping(let p) = frame { return p.id }
            return nil
        }
        #expect(pings.sorted() == [1, 2, 3])
    }

    @Test("GOAWAY: no new streams after it, streams in flight finish, then neither side wants I/O")
    func goAway() throws {
        let pair = try SessionPair(version: .v3)
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders())
        try pair.pump()
        pair.server.session.submitGoAway(status: .ok)
        try pair.pump()
        #expect(pair.client.session.peerLastGoodStreamID == 1)
        #expect(pair.client.session.hasReceivedGoAway)
        #expect(pair.server.session.hasSentGoAway)
        guard case .goAway(let goAway) = pair.client.frames.last else {
            Issue.record("no GOAWAY: \(pair.client.frames)")
            return
        }
        #expect(goAway == .init(lastGoodStreamID: 1, status: .ok))
        // A new request is refused at send time.
        let refused = try pair.client.session.submitRequest(priority: 0, headers: requestHeaders(path: "/late"))
        pair.client.clearEvents()
        try pair.pump()
        #expect(
            pair.client.events == [
                .controlNotSent(.synStream, refused, .synStreamNotAllowed), .streamClosed(refused, .internalError),
            ]
        )
        // Stream 1 still completes.
        try pair.server.session.submitResponse(streamID: 1, headers: responseHeaders(), dataProvider: .string("done"))
        try pair.pump()
        #expect(pair.client.received[1] == Array("done".utf8))
        #expect(!pair.client.session.wantRead && !pair.client.session.wantWrite)
        #expect(!pair.server.session.wantRead && !pair.server.session.wantWrite)
        // A second GOAWAY is not sent.
        pair.server.session.submitGoAway()
        pair.server.clearEvents()
        try pair.server.session.send()
        #expect(pair.server.events == [.controlNotSent(.goAway, nil, .goAwayAlreadySent)])
    }

    @Test("GOAWAY closes our streams above the peer's last good stream with REFUSED_STREAM")
    func goAwayRefusesLaterStreams() throws {
        let pair = try SessionPair(version: .v3)
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders())
        try pair.pump()
        pair.server.session.submitGoAway()
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders(path: "/2"))
        try pair.client.session.send()
        // Stream 3 is on its way when the GOAWAY (last good 1) arrives.
        try pair.server.session.send()
        try pair.client.session.recv(bytes: pair.server.takeOutbox())
        #expect(pair.client.events.contains(.streamClosed(3, .refusedStream)))
        #expect(pair.client.session.openStreamIDs == [1])
    }

    @Test("fail_session: GOAWAY goes out, then the session wants neither reading nor writing")
    func failSession() throws {
        let pair = try SessionPair(version: .v3)
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders())
        try pair.pump()
        pair.client.session.failSession(status: .internalError)
        #expect(pair.client.session.wantWrite)
        try pair.client.session.send()
        #expect(!pair.client.session.wantRead)
        #expect(!pair.client.session.wantWrite)
        try pair.server.session.recv(bytes: pair.client.takeOutbox())
        guard case .goAway(let goAway) = pair.server.frames.last else {
            Issue.record("no GOAWAY")
            return
        }
        #expect(goAway.status == .internalError)
        #expect(goAway.lastGoodStreamID == 0)
    }

    @Test("SYN_STREAMs wait for the peer's MAX_CONCURRENT_STREAMS; other frames still go out")
    func maxConcurrentStreamsGate() throws {
        let pair = try SessionPair(version: .v3)
        try pair.server.session.submitSettings(entries: [.init(id: .maxConcurrentStreams, value: 1)])
        try pair.pump()
        #expect(pair.client.session.remoteSetting(.maxConcurrentStreams) == 1)
        for i in 0..<3 {
            try pair.client.session.submitRequest(priority: 0, headers: requestHeaders(path: "/\(i)"))
        }
        #expect(pair.client.session.outboundQueueSize == 3)
        try pair.client.session.send()
        #expect(pair.client.session.outboundQueueSize == 2)
        #expect(!pair.client.session.wantWrite)
        // A PING still goes out while SYN_STREAMs wait.
        pair.client.session.submitPing()
        #expect(pair.client.session.wantWrite)
        try pair.client.session.send()
        #expect(pair.client.session.outboundQueueSize == 2)
        try pair.pump()
        var served: [SPDYStreamID] = []
        for id: SPDYStreamID in [1, 3, 5] {
            #expect(pair.server.session.openStreamIDs == [id])
            try pair.server.session.submitResponse(streamID: id, headers: responseHeaders())
            try pair.pump()
            served.append(id)
        }
        #expect(pair.client.session.openStreamCount == 0)
        #expect(pair.client.session.outboundQueueSize == 0)
    }

    @Test("Streams beyond our own MAX_CONCURRENT_STREAMS are refused with REFUSED_STREAM")
    func refusedStream() throws {
        let pair = try SessionPair(version: .v3)
        try pair.server.session.submitSettings(entries: [.init(id: .maxConcurrentStreams, value: 1)])
        // The client sends two requests before it learns the limit.
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders(path: "/1"))
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders(path: "/2"))
        try pair.client.session.send()
        try pair.server.session.recv(bytes: pair.client.takeOutbox())
        #expect(pair.server.events.contains(.invalidControlReceived(.synStream, 3, .refusedStream)))
        try pair.pump()
        #expect(pair.client.events.contains(.streamClosed(3, .refusedStream)))
        #expect(pair.client.session.openStreamIDs == [1])
    }

    @Test("PING goes before DATA: a stream yields to higher-priority frames between DATA frames")
    func dataBackoff() throws {
        let pair = try SessionPair(version: .v3)
        try pair.client.session.submitRequest(priority: 3, headers: requestHeaders())
        try pair.pump()
        var pinged = false
        let source = PatternSource(16384)
        let base = source.provider
        let provider = SPDYDataProvider { session, id, length in
            if !pinged {
                pinged = true
                session.submitPing()
            }
            return try base.read(session, id, length)
        }
        try pair.server.session.submitResponse(streamID: 1, headers: responseHeaders(), dataProvider: provider)
        pair.server.clearEvents()
        try pair.server.session.send()
        let order = pair.server.events.filter {
            if case .dataSent = $0 { return true }
            if case .controlSent = $0 { return true }
            return false
        }
        #expect(
            order == [
                .controlSent(.synReply, 1), .dataSent(1, [], 4096), .controlSent(.ping, nil), .dataSent(1, [], 4096),
                .dataSent(1, [], 4096), .dataSent(1, .fin, 4096),
            ]
        )
    }

    @Test("Deferred data waits for resumeData; resume twice is refused")
    func deferredData() throws {
        let pair = try SessionPair(version: .v3)
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders())
        try pair.pump()
        var chunks: [String] = []
        let provider = SPDYDataProvider { _, _, _ in
            guard let next = chunks.first else { return .deferred }
            chunks.removeFirst()
            return .data(ByteBuffer(string: next), endOfData: next == "end")
        }
        try pair.server.session.submitResponse(streamID: 1, headers: responseHeaders(), dataProvider: provider)
        try pair.pump()
        #expect(pair.server.session.outboundQueueSize == 0)
        #expect(!pair.server.session.resumeData(streamID: 3))
        chunks = ["hello ", "world "]
        #expect(pair.server.session.resumeData(streamID: 1))
        #expect(!pair.server.session.resumeData(streamID: 1))
        try pair.pump()
        #expect(pair.client.received[1] == Array("hello world ".utf8))
        chunks = ["end"]
        #expect(pair.server.session.resumeData(streamID: 1))
        try pair.pump()
        #expect(pair.client.received[1] == Array("hello world end".utf8))
        #expect(pair.client.events.last == .streamClosed(1, .ok))
    }

    @Test("A deferred provider replaced after submission, as the reference's application replaces read_cb")
    func replacedDeferredProvider() throws {
        let pair = try SessionPair(version: .v3)
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders())
        try pair.pump()
        try pair.server.session.submitResponse(
            streamID: 1, headers: responseHeaders(), dataProvider: SPDYDataProvider { _, _, _ in .deferred })
        try pair.pump()
        #expect(pair.server.session.outboundQueueSize == 0)
        #expect(!pair.server.session.replaceDataProvider(streamID: 3, with: .string("nothing")))
        #expect(pair.server.session.replaceDataProvider(streamID: 1, with: .string("replaced")))
        #expect(pair.server.session.resumeData(streamID: 1))
        try pair.pump()
        #expect(pair.client.received[1] == Array("replaced".utf8))
        #expect(pair.client.events.last == .streamClosed(1, .ok))
        // Once all DATA went out there is nothing left to replace.
        #expect(!pair.server.session.replaceDataProvider(streamID: 1, with: .string("late")))
    }

    @Test("A provider still waiting behind its SYN_REPLY or SYN_STREAM can be replaced too")
    func replacedQueuedProvider() throws {
        let pair = try SessionPair(version: .v3)
        let id = try pair.client.session.submitRequest(
            priority: 0, headers: requestHeaders(method: "POST"), dataProvider: .string("first body"))
        #expect(pair.client.session.replaceDataProvider(streamID: id, with: .string("second body")))
        try pair.pump()
        try pair.server.session.submitResponse(streamID: id, headers: responseHeaders(), dataProvider: .string("a"))
        #expect(pair.server.session.replaceDataProvider(streamID: id, with: .string("b")))
        try pair.pump()
        #expect(pair.server.received[id] == Array("second body".utf8))
        #expect(pair.client.received[id] == Array("b".utf8))
    }

    @Test("A temporal failure of a data provider resets only its stream with INTERNAL_ERROR")
    func temporalFailure() throws {
        let pair = try SessionPair(version: .v3)
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders(path: "/bad"))
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders(path: "/good"))
        try pair.pump()
        let failing = SPDYDataProvider { _, _, _ in throw SPDYError.temporalCallbackFailure }
        try pair.server.session.submitResponse(streamID: 1, headers: responseHeaders(), dataProvider: failing)
        try pair.server.session.submitResponse(streamID: 3, headers: responseHeaders(), dataProvider: .string("ok"))
        try pair.pump()
        #expect(pair.client.events.contains(.controlReceived(.rstStream, 1)))
        #expect(pair.client.events.contains(.streamClosed(1, .internalError)))
        #expect(pair.client.received[3] == Array("ok".utf8))
        #expect(pair.client.events.contains(.streamClosed(3, .ok)))
    }

    @Test("Any other data provider failure, or too many bytes, fails send()")
    func providerFailure() throws {
        struct Boom: Error {}
        for provider in [
            SPDYDataProvider { _, _, _ in throw Boom() },
            SPDYDataProvider { _, _, length in .data(ByteBuffer(repeating: 0, count: length + 1), endOfData: true) },
        ] {
            let pair = try SessionPair(version: .v3)
            try pair.client.session.submitRequest(priority: 0, headers: requestHeaders())
            try pair.pump()
            try pair.server.session.submitResponse(streamID: 1, headers: responseHeaders(), dataProvider: provider)
            #expect(throws: (any Error).self) { try pair.server.session.send() }
        }
    }

    @Test("An error thrown in a callback comes out of recv() and send() after the work is done")
    func callbackErrorsPropagate() throws {
        struct Marker: Error, Equatable { let name: String }
        let pair = try SessionPair(version: .v3)
        pair.server.session.callbacks.onControlFrameReceived = { _, _, _ in throw Marker(name: "recv") }
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders())
        try pair.client.session.send()
        #expect(throws: Marker(name: "recv")) {
            try pair.server.session.recv(bytes: pair.client.takeOutbox())
        }
        // The frame was processed all the same.
        #expect(pair.server.session.openStreamIDs == [1])
        pair.client.session.callbacks.onControlFrameSent = { _, _ in throw Marker(name: "send") }
        pair.client.session.submitPing()
        #expect(throws: Marker(name: "send")) { try pair.client.session.send() }
        #expect(pair.client.session.outboundQueueSize == 0)
    }

    @Test("recv() reads through the recv callback until it would block; EOF comes out as an error")
    func recvCallback() throws {
        let pair = try SessionPair(version: .v3)
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders())
        try pair.client.session.send()
        var pending = pair.client.takeOutbox()
        var eof = false
        var asked: [Int] = []
        pair.server.session.callbacks.recv = { _, length in
            asked.append(length)
            if eof { throw SPDYError.eof }
            guard !pending.isEmpty else { return nil }
            let n = min(length, 7, pending.count)
            defer { pending.removeFirst(n) }
            return ByteBuffer(bytes: pending.prefix(n))
        }
        try pair.server.session.recv()
        #expect(pair.server.session.openStreamIDs == [1])
        #expect(asked.allSatisfy { $0 == 16384 })
        eof = true
        #expect(throws: SPDYError.eof) { try pair.server.session.recv() }
        // Without a recv callback, recv() is a state error.
        pair.client.session.callbacks.recv = nil
        #expect(throws: SPDYError.self) { try pair.client.session.recv() }
    }

    @Test("A send callback that would block stops send(); the rest goes out later, byte-exact")
    func partialWrites() throws {
        let pair = try SessionPair(version: .v3)
        pair.client.sendLimit = 5
        try pair.client.session.submitRequest(
            priority: 0, headers: requestHeaders(method: "POST"), dataProvider: PatternSource(9000).provider)
        try pair.pump(split: 3)
        #expect(pair.server.received[1] == PatternSource.bytes(9000))
        pair.client.sendBlocked = true
        pair.client.session.submitPing()
        try pair.client.session.send()
        #expect(pair.client.session.wantWrite)
        pair.client.sendBlocked = false
        try pair.pump()
        #expect(!pair.client.session.wantWrite)
    }
}

@Suite("Session: flow control")
struct SessionFlowControlTests {
    @Test("flow_control: exactly 64 KiB goes out, then a 32 KiB WINDOW_UPDATE lets 32 KiB more through")
    func streamWindow() throws {
        let pair = try SessionPair(version: .v3, client: .init(automaticWindowUpdate: false))
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders())
        try pair.pump()
        try pair.server.session.submitResponse(
            streamID: 1, headers: responseHeaders(), dataProvider: PatternSource(200_000).provider)
        try pair.pump()
        #expect(pair.client.received[1]?.count == 65536)
        #expect(pair.server.session.streamSendWindow(1) == 0)
        #expect(pair.client.session.streamReceivedDataLength(1) == 65536)
        try pair.client.session.submitWindowUpdate(streamID: 1, delta: 32768)
        #expect(pair.client.session.streamReceivedDataLength(1) == 32768)
        try pair.pump()
        #expect(pair.client.received[1]?.count == 98304)
    }

    @Test("Automatic WINDOW_UPDATE keeps a large transfer flowing, every version", arguments: SPDYVersion.allCases)
    func automaticWindowUpdates(version: SPDYVersion) throws {
        let pair = try SessionPair(version: version)
        try pair.client.session.submitRequest(
            priority: 0, headers: requestHeaders(method: "POST"), dataProvider: PatternSource(300_000).provider)
        try pair.pump()
        try pair.server.session.submitResponse(
            streamID: 1, headers: responseHeaders(), dataProvider: PatternSource(500_000).provider)
        try pair.pump()
        #expect(pair.server.received[1] == PatternSource.bytes(300_000))
        #expect(pair.client.received[1] == PatternSource.bytes(500_000))
        let updates = pair.client.events.filter {
            $0 == .controlSent(.windowUpdate, 1) || $0 == .controlSent(.windowUpdate, .zero)
        }
        if version == .v2 {
            #expect(updates.isEmpty)
        } else {
            #expect(!updates.isEmpty)
            // Updates are sent once half the window (32 KiB) has arrived.
            let deltas = pair.server.frames.compactMap { frame -> UInt32? in
                if case .windowUpdate(let w) = frame { return w.deltaWindowSize }
                return nil
            }
            #expect(deltas.allSatisfy { $0 >= 32768 })
        }
        if version == .v3_1 {
            #expect(pair.client.events.contains(.controlSent(.windowUpdate, .zero)))
        }
    }

    @Test("INITIAL_WINDOW_SIZE from the peer moves every open stream's window; negative windows stall")
    func initialWindowSizeChange() throws {
        let pair = try SessionPair(version: .v3, client: .init(automaticWindowUpdate: false))
        try pair.client.session.submitSettings(entries: [.init(id: .initialWindowSize, value: 16384)])
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders())
        try pair.pump()
        #expect(pair.server.session.remoteSetting(.initialWindowSize) == 16384)
        try pair.server.session.submitResponse(
            streamID: 1, headers: responseHeaders(), dataProvider: PatternSource(200_000).provider)
        try pair.pump()
        #expect(pair.client.received[1]?.count == 16384)
        #expect(pair.server.session.streamSendWindow(1) == 0)
        // Raising it to 64 KiB opens 48 KiB more.
        try pair.client.session.submitSettings(entries: [.init(id: .initialWindowSize, value: 65536)])
        try pair.pump()
        #expect(pair.client.received[1]?.count == 65536)
        // Lowering it back to 16 KiB makes the window negative: nothing more is sent.
        try pair.client.session.submitSettings(entries: [.init(id: .initialWindowSize, value: 16384)])
        try pair.pump()
        #expect(pair.server.session.streamSendWindow(1) == -49152)
        try pair.client.session.submitWindowUpdate(streamID: 1, delta: 49152)
        try pair.pump()
        #expect(pair.client.received[1]?.count == 65536)
        try pair.client.session.submitWindowUpdate(streamID: 1, delta: 1000)
        try pair.pump()
        #expect(pair.client.received[1]?.count == 66536)
    }

    @Test("Shrinking our INITIAL_WINDOW_SIZE acknowledges bytes already past the new half-window (no deadlock)")
    func shrinkDoesNotDeadlock() throws {
        let pair = try SessionPair(version: .v3)
        try pair.client.session.submitSettings(entries: [.init(id: .initialWindowSize, value: 200_000)])
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders())
        try pair.pump()
        let source = PatternSource(300_000)
        var allowed = 60_000
        let base = source.provider
        // Let 60 000 bytes through (below the 100 000 half-window), then shrink the window.
        let gated = SPDYDataProvider { session, id, length in
            guard allowed > 0 else { return .deferred }
            let result = try base.read(session, id, min(length, allowed))
            if case .data(let bytes, _) = result { allowed -= bytes.readableBytes }
            return result
        }
        try pair.server.session.submitResponse(streamID: 1, headers: responseHeaders(), dataProvider: gated)
        try pair.pump()
        #expect(pair.client.received[1]?.count == 60_000)
        #expect(pair.client.session.streamReceivedDataLength(1) == 60_000)
        try pair.client.session.submitSettings(entries: [.init(id: .initialWindowSize, value: 16384)])
        allowed = .max
        #expect(pair.server.session.resumeData(streamID: 1))
        try pair.pump()
        #expect(pair.client.received[1]?.count == 300_000)
        #expect(pair.client.events.last == .streamClosed(1, .ok))
    }

    @Test("connection_flow_control (3.1): a stream update alone sends nothing; a session update resumes")
    func sessionWindow() throws {
        let pair = try SessionPair(version: .v3_1, client: .init(automaticWindowUpdate: false))
        try pair.client.session.submitSettings(entries: [.init(id: .initialWindowSize, value: 1 << 20)])
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders())
        try pair.pump()
        try pair.server.session.submitResponse(
            streamID: 1, headers: responseHeaders(), dataProvider: PatternSource(200_000).provider)
        try pair.pump()
        #expect(pair.client.received[1]?.count == 65536)
        #expect(pair.server.session.sessionSendWindowSize == 0)
        #expect(pair.client.session.receivedDataLength == 65536)
        try pair.client.session.submitWindowUpdate(streamID: 1, delta: 65536)
        try pair.pump()
        #expect(pair.client.received[1]?.count == 65536)
        try pair.client.session.submitWindowUpdate(streamID: .zero, delta: 10000)
        try pair.pump()
        #expect(pair.client.received[1]?.count == 75536)
        // 65536 unacknowledged, 10000 acknowledged, 10000 more received.
        #expect(pair.client.session.receivedDataLength == 65536)
    }

    @Test("A window enlarged by the application (SETTINGS, session WINDOW_UPDATE) is replenished at half its size")
    func enlargedWindowThreshold() throws {
        let pair = try SessionPair(version: .v3_1)
        let window = 1 << 20
        try pair.client.session.submitSettings(entries: [.init(id: .initialWindowSize, value: UInt32(window))])
        try pair.client.session.submitWindowUpdate(streamID: .zero, delta: window - 65536)
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders())
        try pair.pump()
        try pair.server.session.submitResponse(
            streamID: 1, headers: responseHeaders(), dataProvider: PatternSource(4 * window).provider)
        try pair.pump()
        #expect(pair.client.received[1] == PatternSource.bytes(4 * window))
        var streamDeltas: [UInt32] = []
        var sessionDeltas: [UInt32] = []
        for case .windowUpdate(let update) in pair.server.frames {
            if update.streamID == .zero {
                sessionDeltas.append(update.deltaWindowSize)
            } else {
                streamDeltas.append(update.deltaWindowSize)
            }
        }
        // The application's grant of 983 040, then one update per 512 KiB received, on
        // both the stream and the session: not one per 32 KiB of the protocol's default.
        #expect(sessionDeltas.first == UInt32(window - 65536))
        #expect(sessionDeltas.dropFirst().allSatisfy { $0 == UInt32(window / 2) })
        #expect(streamDeltas.allSatisfy { $0 == UInt32(window / 2) })
        // 4 MiB: 8 updates for the session. The stream's last frame (FIN) needs none, and its
        // 7th update may be dropped when the stream closes before it is sent: 6 or 7.
        #expect(sessionDeltas.count - 1 == 8)
        #expect((6...7).contains(streamDeltas.count))
    }

    @Test("Manual consumption: WINDOW_UPDATE follows what the application consumed")
    func manualConsumption() throws {
        let pair = try SessionPair(version: .v3_1, client: .init(manualDataConsumption: true))
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders())
        try pair.pump()
        try pair.server.session.submitResponse(
            streamID: 1, headers: responseHeaders(), dataProvider: PatternSource(100_000).provider)
        try pair.pump()
        #expect(pair.client.received[1]?.count == 65536)
        try pair.client.session.consume(streamID: 1, size: 20000)
        try pair.pump()
        #expect(pair.client.received[1]?.count == 65536)
        try pair.client.session.consume(streamID: 1, size: 20000)
        try pair.pump()
        #expect(pair.client.received[1]?.count == 100_000)
        #expect(throws: SPDYError(.invalidArgument, "stream 0 cannot be consumed")) {
            try pair.client.session.consume(streamID: .zero, size: 1)
        }
        #expect(throws: SPDYError.self) { try pair.server.session.consume(streamID: 1, size: 1) }
    }

    @Test("submit_window_update: argument errors are typed")
    func windowUpdateArguments() throws {
        let pair = try SessionPair(version: .v3)
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders())
        try pair.pump()
        for delta in [0, -1, 1 << 31] {
            #expect {
                try pair.client.session.submitWindowUpdate(streamID: 1, delta: delta)
            } throws: { ($0 as? SPDYError)?.code == .invalidArgument }
        }
        #expect { try pair.client.session.submitWindowUpdate(streamID: 9, delta: 1) } throws: {
            ($0 as? SPDYError)?.code == .streamClosed
        }
        #expect { try pair.client.session.submitWindowUpdate(streamID: .zero, delta: 1) } throws: {
            ($0 as? SPDYError)?.code == .invalidArgument
        }
        let v2 = try SessionPair(version: .v2)
        #expect { try v2.client.session.submitWindowUpdate(streamID: 1, delta: 1) } throws: {
            ($0 as? SPDYError)?.code == .invalidState
        }
    }
}
