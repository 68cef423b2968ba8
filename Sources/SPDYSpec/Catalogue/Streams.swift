import SPDY

extension SpecCatalogue {
    /// 2.3.2 Stream creation, 2.3.2.1 Unidirectional streams, 2.3.6 half-close, 2.3.7 close, 2.6.7 HEADERS.
    static let streams: [SpecCase] = [
        SpecCase("2.3.2", 1, all3, "Two requests on odd IDs are both answered") { c in
            let a = try await c.request()
            let b = try await c.request()
            try await c.expectReply(a)
            try await c.expectReply(b)
        },
        SpecCase("2.3.2", 2, all3, "Stream IDs may skip values (\"must increase monotonically\")") { c in
            let a = try await c.request()
            try await c.expectReply(a)
            let b = try await c.request(id: 7)
            try await c.expectReply(b)
        },
        SpecCase(
            "2.3.2", 3, v3Up, informational: v2,
            "A SYN_STREAM with a lower ID than one received before is a session error PROTOCOL_ERROR"
        ) { c in
            try await c.readResponse(try await c.request(id: 3))
            try await c.request(id: 1)
            try await c.expectSessionError(.protocolError)
        },
        SpecCase(
            "2.3.2", 4, informational: all3,
            "A SYN_STREAM with an even ID from a client is an error (\"the Stream-ID must be odd\")"
        ) { c in
            try await c.request(id: 2)
            try await c.expectStreamOrSessionError(2, .protocolError)
        },
        SpecCase(
            "2.3.2", 6, all3,
            "A second SYN_STREAM for an active stream gets RST_STREAM PROTOCOL_ERROR"
        ) { c in
            let id = try await c.request(fin: false)
            try await c.request(id: id)
            try await c.expectStreamError(id, .protocolError)
            try await c.expectAlive()
        },
        SpecCase(
            "2.3.2", 7, v3Up, informational: v2,
            "A SYN_STREAM reusing the ID of a finished stream gets RST_STREAM PROTOCOL_ERROR"
        ) { c in
            let id = try await c.request()
            try await c.readResponse(id)
            try await c.request(id: id)
            try await c.expectStreamError(id, .protocolError)
        },
        SpecCase(
            "2.3.2", 8, v3Up, informational: v2,
            "An ID reused below the highest one: RST_STREAM or GOAWAY PROTOCOL_ERROR (either MUST applies)"
        ) { c in
            try await c.readResponse(try await c.request(id: 1))
            try await c.readResponse(try await c.request(id: 3))
            try await c.request(id: 1)
            try await c.expectStreamOrSessionError(1, .protocolError)
        },
        SpecCase(
            "2.3.2.1", 1, all3,
            "A UNIDIRECTIONAL SYN_STREAM from a client gets no SYN_REPLY, HEADERS or DATA"
        ) { c in
            let id = c.nextStreamID()
            try await c.sendRaw(try c.synStream(id, flags: 0x03, block: c.nameValueBlock(c.requestPairs())))
            // An RST_STREAM refusing it is allowed; anything answering it is not.
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: .seconds(1))
            while clock.now < deadline {
                guard let event = await c.next(within: deadline - clock.now) else { break }
                if case .frame(.rstStream) = event { continue }
                if SpecConnection.streamID(of: event) == id || c.isFatal(event) {
                    throw SpecFailure(expected: "no reply on a unidirectional stream", got: event.description)
                }
            }
            try await c.expectAlive()
        },
        // Draft 2 defines no flags for HEADERS ("The FLAG_FIN can be set on a SYN_STREAM,
        // SYN_REPLY, or a DATA frame"), so there the case is only informational.
        SpecCase("2.6.7", 1, v3Up, informational: v2, "HEADERS with FIN on an open stream completes the request") { c in
            let id = try await c.request(fin: false)
            try await c.sendRaw(
                try c.replyOrHeaders(
                    type: 8, id, flags: 1, block: c.nameValueBlock([(Array("x-extra".utf8), Array("1".utf8))])))
            try await c.expectReply(id)
        },
        SpecCase(
            "2.3.6", 1, v3Up, informational: v2,
            "DATA after the client's FIN gets RST_STREAM STREAM_ALREADY_CLOSED"
        ) { c in
            let id = c.nextStreamID()
            try await c.sendRaw(
                try c.synStream(id, flags: 1, block: c.nameValueBlock(c.requestPairs()))
                    + c.dataFrame(id, Array("abcd".utf8)))
            // If the whole response (the server's FIN) went out before the DATA was read, the
            // stream is closed, and PROTOCOL_ERROR or INVALID_STREAM are right too (2.3.7).
            try await c.expectStreamError(id, .streamAlreadyClosed, .protocolError, .invalidStream)
        },
        SpecCase(
            "2.3.6", 2, v3Up, informational: v2,
            "DATA after a DATA frame with FIN gets RST_STREAM STREAM_ALREADY_CLOSED"
        ) { c in
            let id = try await c.request(method: "POST", fin: false, extra: [("content-length", "1")])
            try await c.sendRaw(c.dataFrame(id, fin: true, [0x61]) + c.dataFrame(id, [0x62]))
            try await c.expectStreamError(id, .streamAlreadyClosed, .protocolError, .invalidStream)
        },
        SpecCase(
            "2.3.7", 1, all3,
            "DATA on a stream closed both ways gets RST_STREAM PROTOCOL_ERROR or INVALID_STREAM (v2: ignored)"
        ) { c in
            let id = try await c.request()
            try await c.readResponse(id)
            try await c.sendRaw(c.dataFrame(id, Array("abcd".utf8)))
            try await c.expectAnswerToDataOnClosedStream(id)
        },
    ]
}

extension SpecConnection {
    /// What DATA on a closed stream must get: SPDY/3 and 3.1, RST_STREAM PROTOCOL_ERROR
    /// (§2.3.7) or INVALID_STREAM (§2.2.2, the stream is "not open"); SPDY/2, nothing ("must
    /// ignore the data received after the teardown") or INVALID_STREAM, and the session goes on.
    func expectAnswerToDataOnClosedStream(_ id: SPDYStreamID) async throws {
        if version != .v2 {
            try await expectStreamError(id, .protocolError, .invalidStream)
            return
        }
        do {
            try await expectNothing(for: id)
        } catch let failure as SpecFailure where failure.got.hasPrefix("RST_STREAM INVALID_STREAM") {
            try await expectAlive()
        }
    }
}
