import NIOCore
import Testing

@testable import SPDY

/// The receive-error policy of §B: which bad frame gets RST_STREAM with which
/// status, which gets GOAWAY, and which is ignored. A hand-driven peer sends the frames.
@Suite("Session: receive-error policy")
struct SessionReceivePolicyTests {
    func syn(_ id: SPDYStreamID, assoc: SPDYStreamID = .zero, flags: SPDYControlFlags = [], priority: UInt8 = 0)
        -> SPDYFrame
    {
        .synStream(
            .init(streamID: id, associatedStreamID: assoc, priority: priority, flags: flags, headers: requestHeaders()))
    }

    func summaries(_ frames: [SPDYFrame]) -> [String] { frames.map(\.summary) }

    /// A client session with stream 1 open (its SYN_STREAM sent).
    func clientWithRequest(_ version: SPDYVersion = .v3) throws -> RawPeer {
        let peer = try RawPeer(testing: .client, version: version)
        try peer.session.submitRequest(priority: 2, headers: requestHeaders())
        _ = try peer.collect()
        return peer
    }

    @Test("recv_invalid_frame: the same SYN_STREAM twice is a stream error (RST PROTOCOL_ERROR)")
    func duplicateSynStream() throws {
        let peer = try RawPeer(testing: .server, version: .v3)
        try peer.deliver(syn(1))
        try peer.deliver(syn(1))
        #expect(peer.endpoint.events.contains(.invalidControlReceived(.synStream, 1, .protocolError)))
        #expect(summaries(try peer.collect()) == ["RST_STREAM 1 PROTOCOL_ERROR"])
        #expect(peer.session.streamState(1) == nil)
    }

    @Test("A SYN_STREAM ID lower than the last, zero, or of our parity fails the session")
    func badSynStreamIDs() throws {
        for (role, ids) in [(SPDYRole.server, [SPDYStreamID(5), 3]), (.server, [0]), (.server, [2]), (.client, [1])] {
            let peer = try RawPeer(testing: role, version: .v3)
            for id in ids {
                let assoc: SPDYStreamID = role == .client ? 1 : .zero
                try peer.deliver(syn(id, assoc: assoc, flags: role == .client ? .unidirectional : []))
            }
            #expect(summaries(try peer.collect()).last == "GOAWAY \(ids.first! == 5 ? 5 : 0) PROTOCOL_ERROR")
            #expect(peer.endpoint.events.contains(.invalidControlReceived(.synStream, ids.last!, .protocolError)))
            #expect(!peer.session.wantRead && !peer.session.wantWrite)
        }
    }

    @Test("A SYN_STREAM of another version is refused with UNSUPPORTED_VERSION")
    func wrongVersionSynStream() throws {
        let peer = try RawPeer(testing: .server, version: .v3)
        // Version 4 on the wire: the layout is the session's, the version is not.
        var bytes = ByteBuffer()
        try peer.encoder.encode(syn(1), into: &bytes)
        bytes.setInteger(UInt16(0x8004), at: bytes.readerIndex)
        try peer.session.recv(bytes)
        #expect(summaries(try peer.collect()) == ["RST_STREAM 1 UNSUPPORTED_VERSION"])
        #expect(peer.endpoint.events.contains(.invalidControlReceived(.synStream, 1, .unsupportedVersion)))
        // The other version of the family, both ways (draft 2, "Protocol versioning": "must
        // return a RST_STREAM frame with the status code UNSUPPORTED_VERSION"). Its block is
        // inflated but not read, so the next SYN_STREAM, which refers back to it in the
        // same zlib stream, is served.
        for (version, foreign) in [(SPDYVersion.v2, UInt16(3)), (.v3, 2), (.v3_1, 2)] {
            let other = try RawPeer(testing: .server, version: version)
            var bytes = ByteBuffer()
            try other.encoder.encode(syn(1), into: &bytes)
            bytes.setInteger(0x8000 | foreign, at: bytes.readerIndex)
            try other.session.recv(bytes)
            #expect(summaries(try other.collect()) == ["RST_STREAM 1 UNSUPPORTED_VERSION"], "\(version)")
            other.endpoint.clearEvents()
            try other.deliver(syn(3, flags: .fin))
            #expect(other.endpoint.events.contains(.requestReceived(3)), "\(version)")
            #expect(other.session.streamState(3) != nil, "\(version)")
        }
    }

    @Test("Other control frames of another version are ignored")
    func wrongVersionOtherFrames() throws {
        let peer = try RawPeer(testing: .server, version: .v3)
        try peer.deliver(bytes: controlFrame(version: 2, type: 6, payload: bigEndian32(1)))
        try peer.deliver(bytes: controlFrame(version: 4, type: 7, payload: bigEndian32(0) + bigEndian32(0)))
        #expect(peer.endpoint.events.isEmpty)
        #expect(try peer.collect().isEmpty)
        #expect(!peer.session.hasReceivedGoAway)
    }

    @Test("A server refuses SYN_STREAMs with an associated stream or UNIDIRECTIONAL")
    func serverRefusesPushLikeSynStream() throws {
        let peer = try RawPeer(testing: .server, version: .v3)
        try peer.deliver(syn(1, assoc: 1))
        try peer.deliver(syn(3, flags: .unidirectional))
        #expect(summaries(try peer.collect()) == ["RST_STREAM 1 PROTOCOL_ERROR", "RST_STREAM 3 PROTOCOL_ERROR"])
    }

    @Test("A client refuses pushes: assoc 0 → INVALID_STREAM; not unidirectional or unknown assoc → PROTOCOL_ERROR")
    func clientRefusesBadPushes() throws {
        let peer = try clientWithRequest()
        try peer.deliver(syn(2, flags: .unidirectional))
        try peer.deliver(syn(4, assoc: 1))
        try peer.deliver(syn(6, assoc: 9, flags: .unidirectional))
        try peer.deliver(syn(8, assoc: 1, flags: .unidirectional))
        #expect(
            summaries(try peer.collect()) == [
                "RST_STREAM 2 INVALID_STREAM", "RST_STREAM 4 PROTOCOL_ERROR", "RST_STREAM 6 PROTOCOL_ERROR",
            ]
        )
        #expect(peer.session.streamState(8) == .opening)
    }

    @Test("stream_close_on_syn_stream: a push with FIN|UNIDIRECTIONAL never opens; callbacks still fire")
    func finUnidirectionalPush() throws {
        let peer = try clientWithRequest()
        peer.endpoint.clearEvents()
        try peer.deliver(syn(2, assoc: 1, flags: [.fin, .unidirectional]))
        #expect(peer.endpoint.events == [.controlReceived(.synStream, 2), .requestReceived(2), .streamClosed(2, .ok)])
        #expect(peer.session.streamState(2) == nil)
        #expect(peer.session.streamUserData(2) == nil)
    }

    @Test(
        "SYN_REPLY: unknown stream or peer stream → RST PROTOCOL_ERROR; a second one → STREAM_IN_USE (v3) / PROTOCOL_ERROR (v2)"
    )
    func synReplyRules() throws {
        for version in [SPDYVersion.v2, .v3] {
            let peer = try clientWithRequest(version)
            try peer.deliver(.synReply(.init(streamID: 1, headers: responseHeaders())))
            #expect(peer.session.streamState(1) == .opened)
            try peer.deliver(.synReply(.init(streamID: 1, headers: responseHeaders())))
            try peer.deliver(.synReply(.init(streamID: 100, headers: responseHeaders())))
            let second = version == .v2 ? "PROTOCOL_ERROR" : "STREAM_IN_USE"
            #expect(summaries(try peer.collect()) == ["RST_STREAM 1 \(second)", "RST_STREAM 100 PROTOCOL_ERROR"])
            // The stream is CLOSING until its RST_STREAM went out; now it is closed.
            #expect(peer.session.streamState(1) == nil)
        }
    }

    @Test("A SYN_REPLY on a CLOSING stream is ignored; after the first one's FIN it is STREAM_IN_USE")
    func synReplyOnClosingStream() throws {
        let peer = try clientWithRequest()
        try peer.session.submitRstStream(streamID: 1, status: .cancel)
        #expect(peer.session.streamState(1) == .closing)
        peer.endpoint.clearEvents()
        try peer.deliver(.synReply(.init(streamID: 1, headers: responseHeaders())))
        #expect(peer.endpoint.events.isEmpty)
        #expect(summaries(try peer.collect()) == ["RST_STREAM 1 CANCEL"])

        let other = try RawPeer(testing: .client, version: .v3)
        try other.session.submitSynStream(flags: [], priority: 0, headers: requestHeaders())
        _ = try other.collect()
        try other.deliver(.synReply(.init(streamID: 1, flags: .fin, headers: responseHeaders())))
        #expect(other.session.streamState(1) == .opened)
        try other.deliver(.synReply(.init(streamID: 1, headers: responseHeaders())))
        #expect(summaries(try other.collect()) == ["RST_STREAM 1 STREAM_IN_USE"])

        // A UNIDIRECTIONAL SYN_STREAM expects no reply: PROTOCOL_ERROR.
        let oneWay = try RawPeer(testing: .client, version: .v3)
        try oneWay.session.submitSynStream(flags: .unidirectional, priority: 0, headers: requestHeaders())
        _ = try oneWay.collect()
        try oneWay.deliver(.synReply(.init(streamID: 1, headers: responseHeaders())))
        #expect(summaries(try oneWay.collect()) == ["RST_STREAM 1 PROTOCOL_ERROR"])
    }

    @Test("HEADERS: before SYN_REPLY on our stream, on an unknown stream or after FIN → RST PROTOCOL_ERROR")
    func headersRules() throws {
        let peer = try clientWithRequest()
        try peer.deliver(.headers(.init(streamID: 1, headers: [("x", "1")])))
        #expect(summaries(try peer.collect()) == ["RST_STREAM 1 PROTOCOL_ERROR"])

        let server = try RawPeer(testing: .server, version: .v3)
        try server.deliver(syn(1))
        server.endpoint.clearEvents()
        // HEADERS on the peer's stream before we replied is fine; FIN completes the request.
        try server.deliver(.headers(.init(streamID: 1, flags: .fin, headers: [("trailer", "1")])))
        #expect(server.endpoint.events == [.controlReceived(.headers, 1), .requestReceived(1)])
        try server.deliver(.headers(.init(streamID: 1, headers: [("late", "1")])))
        try server.deliver(.headers(.init(streamID: 7, headers: [("unknown", "1")])))
        #expect(summaries(try server.collect()) == ["RST_STREAM 1 PROTOCOL_ERROR", "RST_STREAM 7 PROTOCOL_ERROR"])
    }

    @Test(
        "DATA for a stream that never opened → RST INVALID_STREAM (draft 3 §2.2.2); streams we reset ignore it"
    )
    func dataForMissingStreams() throws {
        let peer = try clientWithRequest()
        peer.endpoint.clearEvents()
        // Stream 7 is ours (odd) and was never opened; stream 4 is the server's and never opened.
        try peer.deliver(.data(.init(streamID: 7, payload: ByteBuffer(string: "lost"))))
        try peer.deliver(.data(.init(streamID: 4, payload: ByteBuffer(string: "lost"))))
        #expect(peer.endpoint.events.isEmpty)
        #expect(summaries(try peer.collect()) == ["RST_STREAM 7 INVALID_STREAM", "RST_STREAM 4 INVALID_STREAM"])
        try peer.deliver(.synReply(.init(streamID: 1, headers: responseHeaders())))
        peer.endpoint.clearEvents()
        try peer.deliver(.data(.init(streamID: 1, payload: ByteBuffer(string: "abc"))))
        #expect(peer.endpoint.events == [.dataChunk(1, 3), .dataReceived(1, [], 3)])
        // Data the peer sent before our RST_STREAM reached it: ignored while CLOSING and after.
        try peer.session.submitRstStream(streamID: 1, status: .cancel)
        peer.endpoint.clearEvents()
        try peer.deliver(.data(.init(streamID: 1, payload: ByteBuffer(string: "late"))))
        #expect(peer.endpoint.events.isEmpty)
        #expect(summaries(try peer.collect()) == ["RST_STREAM 1 CANCEL"])
        #expect(peer.session.streamState(1) == nil)
        peer.endpoint.clearEvents()
        try peer.deliver(.data(.init(streamID: 1, flags: .fin, payload: ByteBuffer(string: "later"))))
        #expect(peer.endpoint.events.isEmpty)
        #expect(try peer.collect().isEmpty)

        // A server: a stream ID above the last SYN_STREAM never opened; a refused one is closed.
        let server = try RawPeer(testing: .server, version: .v3)
        try server.deliver(syn(1, flags: .fin))
        try server.deliver(.data(.init(streamID: 5, payload: ByteBuffer(string: "x"))))
        #expect(summaries(try server.collect()) == ["RST_STREAM 5 INVALID_STREAM"])
        #expect(server.session.wantRead)

        // Once we sent GOAWAY, DATA for streams we do not hold is not answered.
        let closing = try RawPeer(testing: .server, version: .v3)
        closing.session.submitGoAway(status: .ok)
        _ = try closing.collect()
        try closing.deliver(.data(.init(streamID: 9, payload: ByteBuffer(string: "x"))))
        #expect(try closing.collect().isEmpty)
    }

    @Test("DATA on a closed stream → RST PROTOCOL_ERROR (draft 3 §2.3.7); SPDY/2 ignores it (draft 2)")
    func dataOnClosedStreams() throws {
        for version in SPDYVersion.allCases {
            // Both halves closed: the client's FIN came with the SYN_STREAM, ours with the reply.
            let server = try RawPeer(testing: .server, version: version)
            try server.deliver(syn(1, flags: .fin))
            try server.session.submitResponse(streamID: 1, headers: responseHeaders())
            _ = try server.collect()
            #expect(server.session.streamState(1) == nil, "\(version)")
            // Closed by the peer's RST_STREAM.
            try server.deliver(syn(3))
            try server.deliver(.rstStream(.init(streamID: 3, status: .cancel)))
            server.endpoint.clearEvents()
            try server.deliver(.data(.init(streamID: 1, payload: ByteBuffer(string: "abcd"))))
            try server.deliver(.data(.init(streamID: 3, payload: ByteBuffer(string: "abcd"))))
            #expect(server.endpoint.events.isEmpty, "\(version)")
            let expected = version == .v2 ? [] : ["RST_STREAM 1 PROTOCOL_ERROR", "RST_STREAM 3 PROTOCOL_ERROR"]
            #expect(summaries(try server.collect()) == expected, "\(version)")
            #expect(server.session.wantRead, "\(version)")
        }
        // Streams we reset, refused or not, keep ignoring what the peer sent before it knew.
        let server = try RawPeer(testing: .server, version: .v3_1)
        try server.session.submitSettings(entries: [.init(id: .maxConcurrentStreams, value: 1)])
        _ = try server.collect()
        try server.deliver(syn(1))
        try server.deliver(syn(3))
        try server.session.submitRstStream(streamID: 1, status: .cancel)
        #expect(
            Set(summaries(try server.collect()).filter { $0.hasPrefix("RST") }) == [
                "RST_STREAM 3 REFUSED_STREAM", "RST_STREAM 1 CANCEL",
            ])
        for id: SPDYStreamID in [1, 3, 1, 3] {
            try server.deliver(.data(.init(streamID: id, payload: ByteBuffer(string: "late"))))
        }
        #expect(try server.collect().filter { if case .rstStream = $0 { true } else { false } }.isEmpty)
    }

    @Test(
        "DATA before SYN_REPLY → RST PROTOCOL_ERROR; after the peer's FIN → RST STREAM_ALREADY_CLOSED (v2: PROTOCOL_ERROR)"
    )
    func dataViolations() throws {
        let early = try clientWithRequest()
        try early.deliver(.data(.init(streamID: 1, payload: ByteBuffer(string: "x"))))
        #expect(summaries(try early.collect()) == ["RST_STREAM 1 PROTOCOL_ERROR"])
        #expect(early.session.streamState(1) == nil)
        #expect(early.session.wantRead)

        for (version, status) in [(SPDYVersion.v3, "STREAM_ALREADY_CLOSED"), (.v2, "PROTOCOL_ERROR")] {
            let server = try RawPeer(testing: .server, version: version)
            try server.deliver(syn(1, flags: .fin))
            server.endpoint.clearEvents()
            try server.deliver(.data(.init(streamID: 1, payload: ByteBuffer(string: "x"))))
            #expect(server.endpoint.events.isEmpty, "\(version)")
            #expect(summaries(try server.collect()) == ["RST_STREAM 1 \(status)"], "\(version)")
            #expect(server.session.streamState(1) == nil, "\(version)")
        }
    }

    @Test("DATA on stream 0 fails the session")
    func dataOnStreamZero() throws {
        let server = try RawPeer(testing: .server, version: .v3)
        try server.deliver(.data(.init(streamID: 0, payload: ByteBuffer(string: "x"))))
        #expect(summaries(try server.collect()) == ["GOAWAY 0 PROTOCOL_ERROR"])
    }

    @Test("session_recv: uppercase names give RST PROTOCOL_ERROR; an oversized header block RST FRAME_TOO_LARGE")
    func headerBlockErrors() throws {
        for version in [SPDYVersion.v2, .v3] {
            let peer = try RawPeer(testing: .server, version: version)
            let compressor = try RawHeaderCompressor(version: version)
            let lengthSize = version.headerBlockLengthFieldSize
            let bad = try compressor.compress(nameValueBlock([("Method", "GET")], lengthSize: lengthSize))
            try peer.deliver(
                bytes: controlFrame(
                    version: version.wireVersion,
                    type: 1,
                    payload: bigEndian32(1) + bigEndian32(0) + [0, 0] + bad
                )
            )
            let huge = try compressor.compress(
                nameValueBlock([("x", [UInt8](repeating: 0x61, count: 70_000))], lengthSize: 4)
            )
            try peer.deliver(
                bytes: controlFrame(
                    version: version.wireVersion,
                    type: 1,
                    payload: bigEndian32(3) + bigEndian32(0) + [0, 0] + huge
                )
            )
            // SPDY/2 has no FRAME_TOO_LARGE status: PROTOCOL_ERROR there.
            let tooLarge = version == .v2 ? "PROTOCOL_ERROR" : "FRAME_TOO_LARGE"
            #expect(
                summaries(try peer.collect()) == ["RST_STREAM 1 PROTOCOL_ERROR", "RST_STREAM 3 \(tooLarge)"],
                "\(version)"
            )
            #expect(peer.session.wantRead)
        }
    }

    @Test("Malformed control frames are parse errors followed by GOAWAY PROTOCOL_ERROR")
    func parseErrors() throws {
        let cases: [[UInt8]] = [
            controlFrame(version: 3, type: 6, payload: [0, 0, 0, 1, 0]),
            controlFrame(version: 3, type: 1, payload: bigEndian32(1) + bigEndian32(0) + [0, 0]),
            controlFrame(version: 3, type: 9, payload: [0, 0, 0, 1]),
            controlFrame(version: 3, type: 4, payload: [0, 0, 0, 5]),
        ]
        let types: [SPDYFrameType] = [.ping, .synStream, .windowUpdate, .settings]
        for (bytes, type) in zip(cases, types) {
            let peer = try RawPeer(testing: .server, version: .v3)
            try peer.deliver(bytes: bytes)
            #expect(peer.endpoint.events == [.parseError(type, .invalidFrame)])
            #expect(summaries(try peer.collect()) == ["GOAWAY 0 PROTOCOL_ERROR"])
        }
        // A control frame above the size limit is refused at its header.
        let big = try RawPeer(testing: .server, version: .v3, configuration: .init(maxReceivedControlFrameSize: 8192))
        try big.deliver(bytes: controlFrame(version: 3, type: 6, payload: [UInt8](repeating: 0, count: 9000)))
        #expect(big.endpoint.events == [.parseError(.ping, .frameTooLarge)])
        #expect(summaries(try big.collect()) == ["GOAWAY 0 PROTOCOL_ERROR"])
        // A corrupt header block is a zlib error.
        let peer = try RawPeer(testing: .server, version: .v3)
        try peer.deliver(
            bytes: controlFrame(version: 3, type: 1, payload: bigEndian32(1) + bigEndian32(0) + [0, 0, 1, 2, 3]))
        #expect(peer.endpoint.events == [.parseError(.synStream, .zlib)])
    }

    @Test("WINDOW_UPDATE past 2^31−1: RST FLOW_CONTROL_ERROR for a stream, GOAWAY for the 3.1 session")
    func windowOverflow() throws {
        let peer = try RawPeer(testing: .client, version: .v3_1)
        try peer.session.submitRequest(priority: 0, headers: requestHeaders())
        _ = try peer.collect()
        try peer.deliver(.windowUpdate(.init(streamID: 1, deltaWindowSize: 0x7fff_ffff)))
        #expect(peer.endpoint.events.contains(.invalidControlReceived(.windowUpdate, 1, .flowControlError)))
        try peer.deliver(.windowUpdate(.init(streamID: 9, deltaWindowSize: 10)))
        try peer.deliver(.windowUpdate(.init(streamID: .zero, deltaWindowSize: 0x7fff_ffff)))
        #expect(summaries(try peer.collect()) == ["RST_STREAM 1 FLOW_CONTROL_ERROR", "GOAWAY 0 PROTOCOL_ERROR"])
    }

    @Test("DATA beyond the window we advertised: RST FLOW_CONTROL_ERROR (stream), GOAWAY (3.1 session)")
    func receiveWindowEnforced() throws {
        let peer = try RawPeer(testing: .server, version: .v3, configuration: .init(automaticWindowUpdate: false))
        try peer.deliver(syn(1))
        var frames: [SPDYFrame] = []
        for _ in 0..<17 {
            frames.append(.data(.init(streamID: 1, payload: ByteBuffer(repeating: 1, count: 4096))))
        }
        var bytes = ByteBuffer()
        for frame in frames { try peer.encoder.encode(frame, into: &bytes) }
        try peer.session.recv(bytes)
        #expect(summaries(try peer.collect()) == ["RST_STREAM 1 FLOW_CONTROL_ERROR"])
        #expect(peer.endpoint.received[1]?.count == 65536)

        let session = try RawPeer(testing: .server, version: .v3_1, configuration: .init(automaticWindowUpdate: false))
        try session.session.submitSettings(entries: [.init(id: .initialWindowSize, value: 1 << 20)])
        try session.deliver(syn(1))
        try session.session.recv(bytes)
        #expect(
            summaries(try session.collect()) == ["SETTINGS INITIAL_WINDOW_SIZE=1048576", "GOAWAY 1 PROTOCOL_ERROR"])

        let lenient = try RawPeer(
            testing: .server,
            version: .v3,
            configuration: .init(automaticWindowUpdate: false, enforcesReceiveWindow: false)
        )
        try lenient.deliver(syn(1))
        try lenient.session.recv(bytes)
        #expect(try lenient.collect().isEmpty)
        #expect(lenient.endpoint.received[1]?.count == 17 * 4096)
    }

    @Test("on_settings_received: the first value of an ID wins; unknown IDs are ignored")
    func settingsRules() throws {
        let peer = try RawPeer(testing: .client, version: .v3)
        try peer.deliver(
            .settings(
                .init(entries: [
                    .init(id: .maxConcurrentStreams, value: 1_000_000_009),
                    .init(id: .maxConcurrentStreams, value: 7),
                    .init(id: .init(rawValue: 999), value: 5),
                    .init(id: .init(rawValue: 0), value: 5),
                ])
            )
        )
        #expect(peer.session.remoteSetting(.maxConcurrentStreams) == 1_000_000_009)
        #expect(peer.endpoint.events == [.controlReceived(.settings, nil)])
    }

    @Test("on_ping_received: a client echoes the server's even ID; odd IDs that are not replies are dropped")
    func pingRules() throws {
        let peer = try RawPeer(testing: .client, version: .v3)
        try peer.deliver(.ping(.init(id: 2)))
        try peer.deliver(.ping(.init(id: 3)))
        try peer.deliver(.ping(.init(id: 0)))
        #expect(summaries(try peer.collect()) == ["PING 2"])
        #expect(peer.endpoint.events.filter { $0 == .controlReceived(.ping, nil) }.count == 1)
        let id = peer.session.submitPing()
        _ = try peer.collect()
        peer.endpoint.clearEvents()
        try peer.deliver(.ping(.init(id: id)))
        #expect(peer.endpoint.events == [.controlReceived(.ping, nil)])
        // The reply is not echoed, and the same ID again is dropped.
        #expect(try peer.collect().isEmpty)
        try peer.deliver(.ping(.init(id: id)))
        #expect(peer.endpoint.events.count == 1)
    }

    @Test("A SYN_STREAM after we sent GOAWAY is ignored")
    func synStreamAfterGoAway() throws {
        let peer = try RawPeer(testing: .server, version: .v3)
        peer.session.submitGoAway()
        _ = try peer.collect()
        peer.endpoint.clearEvents()
        try peer.deliver(syn(1))
        #expect(peer.endpoint.events.isEmpty)
        #expect(try peer.collect().isEmpty)
    }

    @Test("Unknown control frames, NOOP and CREDENTIAL")
    func unknownNoopCredential() throws {
        let peer = try RawPeer(testing: .server, version: .v2)
        try peer.deliver(bytes: controlFrame(version: 2, type: 5, payload: []))
        #expect(peer.endpoint.events.isEmpty)
        try peer.deliver(bytes: controlFrame(version: 2, type: 0x42, payload: [1, 2]))
        #expect(peer.endpoint.events == [.unknownControl(0x42)])
        let v3 = try RawPeer(testing: .server, version: .v3)
        try v3.deliver(.credential(.init(slot: 1, proof: ByteBuffer(), certificates: [ByteBuffer(bytes: [1])])))
        #expect(v3.endpoint.events == [.controlReceived(.credential, nil)])
        #expect(try v3.collect().isEmpty)
    }

    @Test("session_recv (client): an invalid header block in SYN_REPLY or HEADERS gives RST PROTOCOL_ERROR")
    func clientInvalidReplyBlocks() throws {
        let peer = try RawPeer(testing: .client, version: .v3)
        try peer.session.submitSynStream(flags: [], priority: 0, headers: requestHeaders())
        try peer.session.submitSynStream(flags: [], priority: 0, headers: requestHeaders())
        _ = try peer.collect()
        let compressor = try RawHeaderCompressor(version: .v3, level: 0)
        // The peer's encoder and our compressor must share one zlib stream; use only the compressor.
        let bad = try compressor.compress(nameValueBlock([("Status", "200")], lengthSize: 4))
        try peer.deliver(bytes: controlFrame(version: 3, type: 2, payload: bigEndian32(1) + bad))
        let good = try compressor.compress(nameValueBlock([(":status", "200 OK")], lengthSize: 4))
        try peer.deliver(bytes: controlFrame(version: 3, type: 2, payload: bigEndian32(3) + good))
        let badHeaders = try compressor.compress(nameValueBlock([("x", [0x41, 0x0a])], lengthSize: 4))
        try peer.deliver(bytes: controlFrame(version: 3, type: 8, payload: bigEndian32(3) + badHeaders))
        #expect(
            summaries(try peer.collect()) == ["RST_STREAM 1 PROTOCOL_ERROR", "RST_STREAM 3 PROTOCOL_ERROR"]
        )
        #expect(peer.endpoint.events.contains(.invalidControlReceived(.synReply, 1, .protocolError)))
        #expect(peer.endpoint.events.contains(.invalidControlReceived(.headers, 3, .protocolError)))
    }

    @Test("stop_data_with_rst_stream: after RST_STREAM arrives no more data is read and the stream is gone")
    func stopDataOnReset() throws {
        let peer = try RawPeer(testing: .server, version: .v3)
        try peer.deliver(syn(1, flags: .fin))
        var reads = 0
        let provider = SPDYDataProvider { _, _, length in
            reads += 1
            return .data(ByteBuffer(repeating: 7, count: length), endOfData: false)
        }
        try peer.session.submitResponse(streamID: 1, headers: responseHeaders(), dataProvider: provider)
        peer.endpoint.sendLimit = 4096 * 3
        _ = try peer.collect()
        let readsBefore = reads
        #expect(readsBefore >= 1)
        try peer.deliver(.rstStream(.init(streamID: 1, status: .cancel)))
        #expect(peer.session.streamState(1) == nil)
        peer.endpoint.sendLimit = nil
        _ = try peer.collect()
        #expect(reads == readsBefore)
        #expect(peer.session.outboundQueueSize == 0)
    }

    @Test("A peer that provokes answers without reading them is cut off: the queue stays bounded")
    func provokedAnswersAreBounded() throws {
        // PING flood: every PING asks for an echo.
        let peer = try RawPeer(testing: .server, version: .v3, configuration: .init(maxQueuedFrames: 100))
        var pings = ByteBuffer()
        for i in 0..<1000 {
            try peer.encoder.encode(.ping(.init(id: UInt32(2 * i + 1))), into: &pings)
        }
        try peer.session.recv(pings)
        #expect(peer.session.outboundQueueSize <= 101)
        let answers = try peer.collect()
        #expect(answers.filter { if case .ping = $0 { true } else { false } }.count == 100)
        #expect(answers.last.map(\.summary) == "GOAWAY 0 PROTOCOL_ERROR")
        #expect(!peer.session.wantRead && !peer.session.wantWrite)

        // RST_STREAM flood: HEADERS for streams that do not exist each ask for a RST_STREAM.
        let other = try RawPeer(testing: .server, version: .v3, configuration: .init(maxQueuedFrames: 100))
        var frames = ByteBuffer()
        for i in 0..<500 {
            try other.encoder.encode(
                .headers(.init(streamID: SPDYStreamID(UInt32(2 * i + 1))!, headers: [("x", "1")])),
                into: &frames
            )
        }
        try other.session.recv(frames)
        #expect(other.session.outboundQueueSize <= 101)
        #expect(try other.collect().last.map(\.summary) == "GOAWAY 0 PROTOCOL_ERROR")
        // The default is large enough for ordinary traffic.
        #expect(SPDYSession.Configuration().maxQueuedFrames == 10_000)
    }

    @Test("on_rst_stream_received: the stream closes with the peer's status")
    func rstReceived() throws {
        let peer = try clientWithRequest()
        peer.endpoint.clearEvents()
        try peer.deliver(.rstStream(.init(streamID: 1, status: .refusedStream)))
        #expect(peer.endpoint.events == [.controlReceived(.rstStream, 1), .streamClosed(1, .refusedStream)])
        #expect(peer.session.openStreamCount == 0)
    }
}
