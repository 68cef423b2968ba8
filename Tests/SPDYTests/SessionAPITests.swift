import NIOCore
import Testing

@testable import SPDY

/// The submit APIs, the send-side checks and the helpers, as the reference's
/// session and Python tests exercise them.
@Suite("Session: API")
struct SessionAPITests {
    @Test("Construction: every version and role; bad configuration values are refused")
    func construction() throws {
        for version in SPDYVersion.allCases {
            for role in [SPDYRole.client, .server] {
                let session = try SPDYSession(role: role, version: version, userData: "tag")
                #expect(session.userData as? String == "tag")
                #expect(session.lowestPriority == (version == .v2 ? 3 : 7))
                #expect(session.wantRead)
                #expect(!session.wantWrite)
                #expect(session.outboundQueueSize == 0)
            }
        }
        for configuration in [
            SPDYSession.Configuration(maxReceivedControlFrameSize: 100),
            SPDYSession.Configuration(maxReceivedControlFrameSize: 1 << 24),
            SPDYSession.Configuration(dataFramePayloadSize: 0),
            SPDYSession.Configuration(headerCompression: .init(level: 12)),
            SPDYSession.Configuration(receiveBufferSize: 0),
            SPDYSession.Configuration(maxQueuedFrames: 1),
        ] {
            #expect { try SPDYSession(role: .client, version: .v3, configuration: configuration) } throws: {
                ($0 as? SPDYError)?.code == .invalidArgument
            }
        }
    }

    @Test("submit_invalid_nv: an empty name, a control byte in a name, or NUL in a value is refused by every submit")
    func invalidHeaders() throws {
        let pair = try SessionPair(version: .v3)
        for headers: SPDYHeaders in [[("", "x")], [("a\u{7}", "x")], [("a", "x\0y")]] {
            let session = pair.client.session!
            let calls: [() throws -> Void] = [
                { _ = try session.submitRequest(priority: 0, headers: headers) },
                { _ = try session.submitSynStream(flags: [], priority: 0, headers: headers) },
                { try session.submitResponse(streamID: 1, headers: headers) },
                { try session.submitSynReply(flags: [], streamID: 1, headers: headers) },
                { try session.submitHeaders(flags: [], streamID: 1, headers: headers) },
            ]
            for call in calls {
                #expect { try call() } throws: { ($0 as? SPDYError)?.code == .invalidArgument }
            }
        }
        #expect(pair.client.session.outboundQueueSize == 0)
    }

    @Test("Names are lowercased on the wire; priorities above the lowest are lowered to it")
    func normalization() throws {
        let peer = try RawPeer(testing: .client, version: .v2)
        try peer.session.submitRequest(
            priority: 200, headers: [(":METHOD", "GET"), (":Path", "/x"), ("X-Custom", "V")])
        let frames = try peer.collect()
        guard case .synStream(let syn) = frames.first else {
            Issue.record("\(frames)")
            return
        }
        #expect(syn.priority == 3)
        // On SPDY/2 the pseudo-headers travel as method/url and come back translated.
        #expect(syn.headers[":method"] == "GET")
        #expect(syn.headers[":path"] == "/x")
        #expect(syn.headers["x-custom"] == "V")
        #expect(syn.headers.allSatisfy { $0.name == $0.name.lowercased() })
    }

    @Test("submit_syn_stream: the associated stream is kept on a server and ignored on a client")
    func synStreamAssociatedStream() throws {
        let client = try RawPeer(testing: .client, version: .v3)
        try client.session.submitSynStream(flags: .fin, priority: 3, headers: requestHeaders(), associatedStreamID: 7)
        #expect(client.session.outboundQueueSize == 1)
        #expect(try client.collect().map(\.summary) == ["SYN_STREAM 1 assoc=0 flags=1"])

        let server = try RawPeer(testing: .server, version: .v3)
        try server.deliver(.synStream(.init(streamID: 1, flags: .fin, headers: requestHeaders())))
        try server.session.submitSynStream(
            flags: .unidirectional, priority: 3, headers: requestHeaders(), associatedStreamID: 1)
        #expect(try server.collect().map(\.summary) == ["SYN_STREAM 2 assoc=1 flags=2"])
    }

    @Test("submit_settings: repeated or unknown IDs are refused; valid ones apply at once, sorted")
    func submitSettings() throws {
        let peer = try RawPeer(testing: .client, version: .v3)
        #expect {
            try peer.session.submitSettings(entries: [
                .init(id: .roundTripTime, value: 1), .init(id: .roundTripTime, value: 2),
            ])
        } throws: { ($0 as? SPDYError)?.code == .invalidArgument }
        #expect { try peer.session.submitSettings(entries: [.init(id: .init(rawValue: 9), value: 1)]) } throws: {
            ($0 as? SPDYError)?.code == .invalidArgument
        }
        #expect { try peer.session.submitSettings(entries: [.init(id: .init(rawValue: 0), value: 1)]) } throws: {
            ($0 as? SPDYError)?.code == .invalidArgument
        }
        #expect(peer.session.localSetting(.maxConcurrentStreams) == 0x7fff_ffff)
        try peer.session.submitSettings(
            flags: .clearSettings,
            entries: [.init(id: .initialWindowSize, value: 4096), .init(id: .maxConcurrentStreams, value: 10)]
        )
        #expect(peer.session.localSetting(.maxConcurrentStreams) == 10)
        #expect(peer.session.localSetting(.initialWindowSize) == 4096)
        let frames = try peer.collect()
        #expect(
            frames == [
                .settings(
                    .init(
                        flags: .clearSettings,
                        entries: [
                            .init(id: .maxConcurrentStreams, value: 10), .init(id: .initialWindowSize, value: 4096),
                        ])
                )
            ])
        #expect(peer.endpoint.events.contains(.controlSent(.settings, nil)))
    }

    @Test("submit_rst_stream refuses OK and statuses the version lacks; get_outbound_queue_size counts both queues")
    func rstAndQueueSize() throws {
        let v2 = try SPDYSession(role: .client, version: .v2)
        #expect { try v2.submitRstStream(streamID: 1, status: .ok) } throws: {
            ($0 as? SPDYError)?.code == .invalidArgument
        }
        #expect { try v2.submitRstStream(streamID: 1, status: .streamInUse) } throws: {
            ($0 as? SPDYError)?.code == .invalidArgument
        }
        let session = try SPDYSession(role: .client, version: .v3)
        try session.submitRequest(priority: 0, headers: requestHeaders())
        #expect(session.outboundQueueSize == 1)
        session.submitGoAway()
        #expect(session.outboundQueueSize == 2)
    }

    @Test("Stream user data is visible in before_ctrl_send, on_ctrl_not_send and on_stream_close")
    func streamUserData() throws {
        let pair = try SessionPair(version: .v3)
        var seen: [String] = []
        pair.client.session.callbacks.beforeControlFrameSend = { session, frame in
            if let id = frame.streamID { seen.append("before \(session.streamUserData(id) as? String ?? "nil")") }
        }
        pair.client.session.callbacks.onStreamClosed = { session, id, _ in
            seen.append("close \(session.streamUserData(id) as? String ?? "nil")")
        }
        pair.client.session.callbacks.onControlFrameNotSent = { session, frame, _ in
            seen.append("notsent \(session.streamUserData(frame.streamID!) as? String ?? "nil")")
        }
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders(), streamUserData: "first")
        try pair.pump()
        try pair.server.session.submitResponse(streamID: 1, headers: responseHeaders())
        try pair.pump()
        pair.client.session.failSession()
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders(), streamUserData: "second")
        try pair.client.session.send()
        #expect(seen == ["before first", "close first", "notsent second", "close second"])
        #expect(pair.server.session.streamUserData(1) == nil)
    }

    @Test("on_ctrl_not_send: SYN_REPLY and HEADERS in the wrong state are reported, never sent")
    func controlFramesNotSent() throws {
        let server = try RawPeer(testing: .server, version: .v3)
        try server.deliver(.synStream(.init(streamID: 1, headers: requestHeaders())))
        server.endpoint.clearEvents()
        try server.session.submitSynReply(flags: [], streamID: 5, headers: responseHeaders())
        try server.session.submitHeaders(flags: [], streamID: 1, headers: [("x", "1")])
        try server.session.submitHeaders(flags: [], streamID: 9, headers: [("x", "1")])
        try server.session.submitSynReply(flags: .fin, streamID: 1, headers: responseHeaders())
        try server.session.submitSynReply(flags: [], streamID: 1, headers: responseHeaders())
        try server.session.submitWindowUpdate(streamID: 1, delta: 100)
        #expect(try server.collect().map(\.summary) == ["SYN_REPLY 1 flags=1", "WINDOW_UPDATE 1 100"])
        #expect(
            server.endpoint.events.filter { if case .controlNotSent = $0 { true } else { false } } == [
                // Frames of stream 1 go at its priority (0), the others at the lowest.
                .controlNotSent(.headers, 1, .invalidStreamState),
                .controlNotSent(.synReply, 1, .streamShutWR),
                .controlNotSent(.synReply, 5, .streamClosed),
                .controlNotSent(.headers, 9, .streamClosed),
            ]
        )
        // reply_fail: the peer's own-ID rule.
        let client = try RawPeer(testing: .client, version: .v3)
        try client.session.submitSynStream(flags: [], priority: 0, headers: requestHeaders())
        _ = try client.collect()
        client.endpoint.clearEvents()
        try client.session.submitSynReply(flags: [], streamID: 1, headers: responseHeaders())
        #expect(try client.collect().isEmpty)
        #expect(client.endpoint.events == [.controlNotSent(.synReply, 1, .invalidStreamID)])
        // A SYN_STREAM whose associated stream is gone.
        let pusher = try RawPeer(testing: .server, version: .v3)
        try pusher.session.submitSynStream(
            flags: .unidirectional, priority: 0, headers: requestHeaders(), associatedStreamID: 1)
        #expect(try pusher.collect().isEmpty)
        #expect(
            pusher.endpoint.events == [.controlNotSent(.synStream, 2, .streamClosed), .streamClosed(2, .internalError)])
    }

    @Test("Stream IDs run out at 2^31−1: submit fails with STREAM_ID_NOT_AVAILABLE")
    func streamIDsExhausted() throws {
        let session = try SPDYSession(role: .client, version: .v3)
        session.nextStreamID = 0x7fff_ffff
        #expect(try session.submitRequest(priority: 0, headers: requestHeaders()) == SPDYStreamID.maxID)
        #expect { try session.submitRequest(priority: 0, headers: requestHeaders()) } throws: {
            ($0 as? SPDYError)?.code == .streamIDNotAvailable
        }
    }

    @Test("PING IDs step by 2 and wrap past 2^31−1 to 1 (client) or 2 (server)")
    func pingIDsWrap() throws {
        let session = try SPDYSession(role: .server, version: .v3)
        session.nextPingID = 0x7fff_fffe
        #expect(session.submitPing() == 0x7fff_fffe)
        #expect(session.submitPing() == 2)
        #expect(session.submitPing() == 4)
    }

    @Test("A send callback that claims more than it was given fails send()")
    func sendCallbackOverclaim() throws {
        let session = try SPDYSession(
            role: .client,
            version: .v3,
            callbacks: .init(send: { _, data in data.readableBytes + 1 })
        )
        session.submitPing()
        #expect { try session.send() } throws: { ($0 as? SPDYError)?.code == .callbackFailure }
    }

    @Test("Without a send callback the session acts as if everything was written")
    func noSendCallback() throws {
        let session = try SPDYSession(role: .client, version: .v3)
        session.submitPing()
        try session.submitRequest(priority: 0, headers: requestHeaders())
        try session.send()
        #expect(session.outboundQueueSize == 0)
        #expect(session.streamState(1) == .opening)
    }

    @Test("npn: version lookup, the protocol list and selection from a peer's list")
    func negotiation() {
        #expect(SPDYNegotiation.protocolNames == ["spdy/3.1", "spdy/3", "spdy/2"])
        #expect(SPDYNegotiation.version(forProtocol: "spdy/2") == .v2)
        #expect(SPDYNegotiation.version(forProtocol: "spdy/3") == .v3)
        #expect(SPDYNegotiation.version(forProtocol: "spdy/3.1") == .v3_1)
        #expect(SPDYNegotiation.version(forProtocol: "spdy/4") == nil)
        #expect(SPDYNegotiation.select(fromOffered: ["http/1.1", "spdy/2", "spdy/3"]) == .spdy(.v3))
        #expect(SPDYNegotiation.select(fromOffered: ["spdy/2", "spdy/3.1", "spdy/3"]) == .spdy(.v3_1))
        #expect(SPDYNegotiation.select(fromOffered: ["spdy/4", "spdy/2.1", "http/1.1"]) == .http11)
        #expect(SPDYNegotiation.select(fromOffered: ["spdy/4", "h2"]) == nil)
        let wire = SPDYNegotiation.wireFormat(SPDYNegotiation.protocolNames)
        #expect(Array(wire.prefix(9)) == [8] + Array("spdy/3.1".utf8))
        #expect(SPDYNegotiation.parseWireFormat(wire) == SPDYNegotiation.protocolNames)
        #expect(SPDYNegotiation.parseWireFormat([5, 0x61]) == nil)
        #expect(SPDYNegotiation.parseWireFormat([0]) == nil)
    }

    @Test("Error codes keep the reference's numbers and messages")
    func errorCodes() {
        #expect(SPDYError.Code.invalidArgument.rawValue == -501)
        #expect(SPDYError.Code.frameTooLarge.rawValue == -522)
        #expect(SPDYError.Code.callbackFailure.rawValue == -902)
        #expect(SPDYError.Code.callbackFailure.isFatal && SPDYError.Code.noMemory.isFatal)
        #expect(!SPDYError.Code.temporalCallbackFailure.isFatal)
        #expect(SPDYError.Code.invalidArgument.message == "Invalid argument")
        #expect(SPDYError.Code.eof.message == "EOF")
        #expect(SPDYError.Code.frameTooLarge.message == "The length of the frame is too large")
        #expect(SPDYError.Code.allCases.count == 25)
    }
}
