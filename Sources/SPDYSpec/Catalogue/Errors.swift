import SPDY

extension SpecCatalogue {
    /// 2.4 Error handling, 2.6.1 SYN_STREAM, 2.6.3 RST_STREAM.
    static let errors: [SpecCase] = [
        SpecCase(
            "2.4.1", 1, v3Up,
            "A session error sends GOAWAY with the last stream received and PROTOCOL_ERROR, then closes"
        ) { c in
            try await c.readResponse(try await c.request(id: 1))
            try await c.readResponse(try await c.request(id: 3))
            try await c.request(fin: false, id: 1)
            // 3 is the last stream accepted (§2.6.6); 1, the stream of the offending frame, is
            // what a literal reading of §2.4.1 ("most recently received stream") gives.
            try await c.expectGoAway(lastGood: 3, orOffending: 1, statuses: [.protocolError])
            try await c.expect("the connection's close after the GOAWAY", within: .seconds(5)) { event in
                if case .closed = event { return true }
                return false
            }
        },
        SpecCase(
            "2.4.1", 2, v3Up,
            "A header block that does not inflate is a session error: GOAWAY with last-good-stream-ID 0"
        ) { c in
            // A zlib header asking for the version's dictionary, then an invalid block type.
            let dictionaryID: [UInt8] = c.version == .v2 ? [0xdf, 0xa2, 0x51, 0xb2] : [0xe3, 0xc6, 0xa7, 0xc2]
            let broken: [UInt8] = [0x38, 0xea] + dictionaryID + [0xff, 0xff, 0xff, 0xff]
            let fixed = c.word(1) + c.word(0) + [0, 0]
            try await c.sendRaw(c.controlFrame(type: 1, flags: 1, payload: fixed + broken))
            try await c.expectGoAway(lastGood: .zero, orOffending: 1, statuses: [.protocolError, .internalError])
        },
        SpecCase(
            "2.4.2", 1, all3,
            "A stream error does not end the session (\"Sending a RST_STREAM does not cause the SPDY session to be closed\")"
        ) { c in
            try await c.expectStreamError(try await c.requestWithEmptyName(), .protocolError)
            try await c.expectAlive()
        },
        SpecCase(
            "2.4.2", 3, all3,
            "A RST_STREAM is never answered with a RST_STREAM (\"MUST NOT send a RST_STREAM in response to an RST_STREAM\")"
        ) { c in
            try await c.send(.rstStream(.init(streamID: 5, status: .cancel)))
            try await c.expectNothing(for: 5)
        },
        SpecCase("2.6.1", 1, all3, "A request's SYN_REPLY is well formed and carries :status and :version") { c in
            let id = try await c.request()
            let reply = try await c.expectReply(id)
            let status = reply.headers.first(name: ":status")
            let version = reply.headers.first(name: ":version")
            guard let status, status.count >= 3, status.prefix(3).allSatisfy(\.isNumber), version != nil else {
                throw SpecFailure(
                    expected: "a SYN_REPLY with :status (3 digits first) and :version", got: "\(reply.headers)")
            }
        },
        SpecCase(
            "2.6.1", 6, informational: all3,
            "A SYN_STREAM with an undefined flag (0x04) is still a request"
        ) { c in
            let id = c.nextStreamID()
            try await c.sendRaw(try c.synStream(id, flags: 0x05, block: c.nameValueBlock(c.requestPairs())))
            try await c.expectReply(id)
        },
        SpecCase(
            "2.6.3", 1, all3,
            "After a RST_STREAM the server sends nothing more on the stream"
        ) { c in
            let id = try await c.request(c.largePath)
            try await c.expectReply(id)
            try await c.send(.rstStream(.init(streamID: id, status: .cancel)))
            try await c.expectNothingAfterReset(id)
        },
        SpecCase(
            "2.6.3", 2, informational: all3,
            "A RST_STREAM with status 0 (\"not a valid status code\") resets the stream or ends the session"
        ) { c in
            let id = try await c.request(fin: false)
            try await c.sendRaw(c.controlFrame(type: 3, payload: c.word(id.rawValue) + c.word(0)))
            try await c.expectNothingAfterReset(id, orSessionError: true)
        },
    ]
}
