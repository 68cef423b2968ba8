import SPDY

extension SpecCatalogue {
    /// Further rows of the catalogue: mostly informational ones, where the draft names a value
    /// or a SHOULD but no rule for the recipient.
    static let more: [SpecCase] = [
        SpecCase(
            "2.2.1", 2, v2, informational: v3Up,
            "A SYN_STREAM of another version gets RST_STREAM UNSUPPORTED_VERSION (v2: \"must return a RST_STREAM\")"
        ) { c in
            let id = c.nextStreamID()
            var frame = try c.synStream(id, block: c.nameValueBlock(c.requestPairs()))
            frame[1] = c.version == .v2 ? 3 : 2
            try await c.sendRaw(frame)
            try await c.expectStreamError(id, .unsupportedVersion)
        },
        SpecCase(
            "2.2.1", 3, v2, informational: v3Up,
            "A PING of another version is ignored (v2: \"the frame must be ignored\")"
        ) { c in
            try await c.sendRaw(c.controlFrame(type: 6, payload: c.word(1), version: c.version == .v2 ? 3 : 2))
            try await c.expectNoPing(1)
        },
        SpecCase(
            "2.2.1", 6, v2,
            "WINDOW_UPDATE, which draft 2 removed, is ignored as an unknown type"
        ) { c in
            let id = try await c.request(fin: false)
            try await c.sendRaw(c.controlFrame(type: 9, payload: c.word(id.rawValue) + c.word(1024)))
            try await c.expectAlive()
        },
        SpecCase(
            "2.2.2", 4, informational: all3,
            "Ten DATA frames for never-opened streams get INVALID_STREAM each, or end the session (\"MAY close the session\")"
        ) { c in
            try await c.expectAlive()
            var bytes: [UInt8] = []
            for id in stride(from: UInt32(5), through: 23, by: 2) {
                bytes += c.dataFrame(SPDYStreamID(rawValue: id)!, [0x61])
            }
            try await c.sendRaw(bytes)
            try await c.expectStreamOrSessionError(23, .invalidStream)
        },
        SpecCase(
            "2.2.2", 6, informational: all3,
            "DATA with an undefined flag (0x02) is still data"
        ) { c in
            let id = try await c.request(method: "POST", fin: false, extra: [("content-length", "4")])
            try await c.sendRaw(c.dataFrame(id, flags: 0x03, Array("abcd".utf8)))
            try await c.expectReply(id)
        },
        SpecCase(
            "2.3.2", 5, informational: all3, "A SYN_STREAM for stream 0 is an error (\"0 is not a valid Stream-ID\")"
        ) {
            c in
            try await c.sendRaw(try c.synStream(0, block: c.nameValueBlock(c.requestPairs())))
            try await c.expectStreamOrSessionError(0, .protocolError)
        },
        SpecCase("2.3.2", 9, informational: all3, "The largest stream ID, 2^31-1, is a valid stream") { c in
            let id = try await c.request(id: .maxID)
            try await c.expectReply(id)
        },
        SpecCase(
            "2.3.7", 2, all3,
            "DATA after the client's own RST_STREAM gets RST_STREAM PROTOCOL_ERROR or INVALID_STREAM (v2: ignored)"
        ) { c in
            let id = try await c.request(method: "POST", fin: false, extra: [("content-length", "8")])
            try await c.send(.rstStream(.init(streamID: id, status: .cancel)))
            try await c.sendRaw(c.dataFrame(id, Array("abcd".utf8)))
            try await c.expectAnswerToDataOnClosedStream(id)
            // The client's RST_STREAM itself is never answered with one.
            if let answer = c.seen.first(where: {
                if case .frame(.rstStream(let f)) = $0 {
                    f.streamID == id && f.status != .protocolError && f.status != .invalidStream
                } else {
                    false
                }
            }) {
                throw SpecFailure(expected: "no RST_STREAM answering the client's", got: answer.description)
            }
        },
        SpecCase(
            "2.6.1", 2, informational: all3,
            "A SYN_STREAM without a header block is an error (\"10 bytes plus the length of the compressed Name/Value block\")"
        ) { c in
            try await c.sendRaw(c.controlFrame(type: 1, flags: 1, payload: c.word(1) + c.word(0) + [0, 0]))
            try await c.expectStreamOrSessionError(1, .protocolError)
        },
        SpecCase(
            "2.6.1", 5, [], informational: v3Up,
            "A SYN_STREAM naming a credential slot that was never sent is still answered"
        ) { c in
            let id = c.nextStreamID()
            try await c.sendRaw(try c.synStream(id, slot: 5, block: c.nameValueBlock(c.requestPairs())))
            try await c.expectReply(id)
        },
        SpecCase(
            "2.6.2", 1, informational: all3,
            "A SYN_REPLY from a client for a stream that is not open gets RST_STREAM"
        ) { c in
            try await c.sendRaw(try c.replyOrHeaders(type: 2, 2, block: c.nameValueBlock([])))
            try await c.expectStreamError(2, .invalidStream, .protocolError)
        },
        SpecCase(
            "2.6.2", 2, informational: all3,
            "A SYN_REPLY from a client on its own stream gets RST_STREAM"
        ) { c in
            let id = try await c.request(fin: false)
            try await c.sendRaw(try c.replyOrHeaders(type: 2, id, block: c.nameValueBlock([])))
            try await c.expectStreamError(id, .protocolError, .streamInUse)
        },
        SpecCase(
            "2.6.3", 3, informational: all3,
            "A RST_STREAM with flags set (\"This value must be 0\") still resets the stream"
        ) { c in
            let id = try await c.request(fin: false)
            try await c.sendRaw(c.controlFrame(type: 3, flags: 1, payload: c.word(id.rawValue) + c.word(5)))
            try await c.expectNothingAfterReset(id)
        },
        SpecCase(
            "2.6.3", 4, informational: all3,
            "A RST_STREAM of 4 bytes (\"this value is always 8\") is a session error"
        ) { c in
            let id = try await c.request(fin: false)
            try await c.sendRaw(c.controlFrame(type: 3, payload: c.word(id.rawValue)))
            try await c.expectSessionError(.protocolError)
        },
        SpecCase(
            "2.6.3", 5, informational: all3,
            "A RST_STREAM with an undefined status resets the stream"
        ) { c in
            let id = try await c.request(fin: false)
            try await c.sendRaw(c.controlFrame(type: 3, payload: c.word(id.rawValue) + c.word(99)))
            try await c.expectNothingAfterReset(id)
            try await c.expectAlive()
        },
        SpecCase(
            "2.6.4", 3, informational: all3,
            "SETTINGS with FLAG_SETTINGS_CLEAR_SETTINGS from a client is ignored"
        ) { c in
            try await c.send(
                .settings(.init(flags: .clearSettings, entries: [.init(id: .maxConcurrentStreams, value: 100)])))
            try await c.expectAlive()
        },
        SpecCase("2.6.4", 5, informational: all3, "A SETTINGS entry with an undefined ID is ignored") { c in
            try await c.sendRaw(c.controlFrame(type: 4, payload: c.word(1) + c.word(0xabcd) + c.word(1)))
            try await c.expectAlive()
        },
        SpecCase(
            "2.6.4", 6, informational: all3,
            "SETTINGS claiming two entries with one present is a session error"
        ) { c in
            try await c.sendRaw(c.controlFrame(type: 4, payload: c.word(2) + c.word(4) + c.word(100)))
            try await c.expectSessionError(.protocolError)
        },
        SpecCase("NOOP", 1, informational: all3, "A NOOP (type 5) is ignored (v2: \"should simply ignore it\")") { c in
            try await c.sendRaw(c.controlFrame(type: 5, payload: []))
            try await c.expectAlive()
        },
        SpecCase(
            "2.6.7", 2, informational: all3,
            "HEADERS for a stream never opened gets RST_STREAM; the block still counts for compression"
        ) { c in
            try await c.sendRaw(
                try c.replyOrHeaders(type: 8, 5, block: c.nameValueBlock([(Array("x-a".utf8), [0x31])])))
            try await c.expectStreamError(5, .invalidStream, .protocolError)
            let id = try await c.request(id: 7)
            try await c.expectReply(id)
        },
        SpecCase(
            "2.6.7", 3, informational: all3,
            "HEADERS after the client's FIN gets RST_STREAM"
        ) { c in
            let id = try await c.request()
            try await c.sendRaw(
                try c.replyOrHeaders(type: 8, id, block: c.nameValueBlock([(Array("x-a".utf8), [0x31])])))
            try await c.expectStreamError(id, .streamAlreadyClosed, .protocolError, .invalidStream)
        },
        SpecCase(
            "2.6.8", 6, [], informational: v3Up,
            "A WINDOW_UPDATE with delta 0 (\"The legal range for this field is 1 to 2^31 - 1\")"
        ) { c in
            let id = try await c.request(method: "POST", fin: false, extra: [("content-length", "100")])
            try await c.sendRaw(c.controlFrame(type: 9, payload: c.word(id.rawValue) + c.word(0)))
            try await c.expectStreamErrorOrNothing(id, .protocolError, .flowControlError)
        },
        SpecCase(
            "2.6.8", 7, [], informational: v3Up,
            "A WINDOW_UPDATE for a stream never opened is ignored or refused with INVALID_STREAM"
        ) { c in
            try await c.send(.windowUpdate(.init(streamID: 5, deltaWindowSize: 1024)))
            try await c.expectAlive()
        },
        SpecCase(
            "2.6.8", 8, [], informational: v3Up,
            "A WINDOW_UPDATE of 4 bytes (\"The length field is always 8\") is a session error"
        ) { c in
            try await c.sendRaw(c.controlFrame(type: 9, payload: c.word(1)))
            try await c.expectSessionError(.protocolError)
        },
        SpecCase(
            "2.6.8", 16, [], informational: v3Up,
            "A WINDOW_UPDATE for a finished stream is ignored (\"should ignore all the WINDOW_UPDATE frames\")"
        ) { c in
            let id = try await c.request()
            try await c.readResponse(id)
            try await c.send(.windowUpdate(.init(streamID: id, deltaWindowSize: 1024)))
            try await c.expectNothing(for: id)
        },
        SpecCase(
            "2.6.9", 1, [], informational: v3Up,
            "A CREDENTIAL frame is ignored (3.1: \"DEPRECATED\") or refused"
        ) { c in
            try await c.sendRaw(c.controlFrame(type: 10, payload: [0, 1] + c.word(0) + c.word(0)))
            try await c.expectAlive()
        },
        SpecCase(
            "2.6.10", 10, informational: all3,
            "A block claiming more pairs than it holds is an error"
        ) { c in
            let id = c.nextStreamID()
            let pairs = c.requestPairs()
            try await c.sendRaw(try c.synStream(id, block: c.nameValueBlock(pairs, count: pairs.count + 5)))
            try await c.expectStreamOrSessionError(id, .protocolError)
        },
    ]
}
