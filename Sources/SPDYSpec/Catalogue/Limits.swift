import SPDY

extension SpecCatalogue {
    /// Sizes, priorities, limits and leftovers of errors: 2.2.1 frame sizes, 2.3.6-2.4.2,
    /// 2.6.1 SYN_STREAM fields, 2.6.4 MAX_CONCURRENT_STREAMS, 2.6.5-2.6.7 edge cases.
    static let limits: [SpecCase] = [
        SpecCase(
            "2.2.1", 8, informational: all3,
            "A SYN_STREAM of about 1 MiB is answered, or refused with FRAME_TOO_LARGE (\"MAY send a RST_STREAM\")"
        ) { c in
            let id = try await c.requestWithLargeHeader()
            try await c.expect("a SYN_REPLY, RST_STREAM FRAME_TOO_LARGE or GOAWAY", within: .seconds(8)) { event in
                switch event {
                case .frame(.synReply(let f)): return f.streamID == id
                case .frame(.rstStream(let f)): return f.streamID == id && f.status == .frameTooLarge
                case .frame(.goAway): return true
                default: return false
                }
            }
        },
        SpecCase(
            "2.2.1", 9, v3Up,
            "After FRAME_TOO_LARGE for a SYN_STREAM the compression contexts agree, or the session ends (\"MUST close the session\")"
        ) { c in
            let id = try await c.requestWithLargeHeader()
            let answer = try await c.expect("an answer to the 1 MiB SYN_STREAM", within: .seconds(8)) { event in
                switch event {
                case .frame(.synReply(let f)): return f.streamID == id
                case .frame(.rstStream(let f)): return f.streamID == id
                case .frame(.goAway), .closed: return true
                default: return false
                }
            }
            guard case .frame(.rstStream(let rst)) = answer, rst.status == .frameTooLarge else {
                throw SpecSkip("the server did not answer FRAME_TOO_LARGE (\(answer))")
            }
            // The next block refers back into the big one in the shared context.
            let next = try await c.request(extra: [("x-big", "a")])
            try await c.expect(
                "the session's close, or a SYN_REPLY for stream \(next) (the contexts agree)", within: .seconds(5)
            ) { event in
                switch event {
                case .frame(.synReply(let f)): return f.streamID == next
                case .closed: return true
                default: return false
                }
            }
        },
        SpecCase(
            "2.3.6", 3, [.v3_1], informational: [.v3],
            "WINDOW_UPDATE on a stream half-closed by the client is allowed (\"still allowed when a stream is half-closed\")"
        ) { c in
            let id = try await c.request()
            try await c.send(.windowUpdate(.init(streamID: id, deltaWindowSize: 1024)))
            try await c.expect("the end of stream \(id)'s response, with no RST_STREAM for it", reject: c.isFatal) {
                event in
                switch event {
                case .frame(.rstStream(let f)) where f.streamID == id:
                    throw SpecFailure(expected: "no RST_STREAM for stream \(id)", got: event.description)
                case .frame(.synReply(let f)): return f.streamID == id && f.flags.contains(.fin)
                case .frame(.headers(let f)): return f.streamID == id && f.flags.contains(.fin)
                case .data(let stream, let flags, _): return stream == id && flags.contains(.fin)
                default: return false
                }
            }
            try await c.expectNoError(streamID: id, "no RST_STREAM for stream \(id) after its end")
            try await c.expectAlive()
        },
        SpecCase(
            "2.3.7", 3, informational: all3,
            "DATA after the server's RST_STREAM: another RST_STREAM, or nothing (\"MAY coalesce\"), never the session's end"
        ) { c in
            let id = try await c.requestWithEmptyName(fin: false)
            try await c.expectStreamError(id, .protocolError)
            try await c.sendRaw(c.dataFrame(id, Array("abcd".utf8)))
            try await c.expectAlive()
        },
        SpecCase(
            "2.4.2", 2, informational: all3,
            "After a stream error in a header block, the next block is understood (\"SHOULD always try to process compressed data\")"
        ) { c in
            try await c.expectStreamError(try await c.requestWithEmptyName(), .protocolError)
            try await c.expectReply(try await c.request())
        },
        SpecCase(
            "2.6.1", 3, informational: all3,
            "A client SYN_STREAM with an Associated-To-Stream-ID: RST_STREAM PROTOCOL_ERROR, or the field ignored"
        ) { c in
            let first = try await c.request(fin: false)
            let id = c.nextStreamID()
            try await c.sendRaw(
                try c.synStream(id, associated: first.rawValue, block: c.nameValueBlock(c.requestPairs())))
            try await c.expect("RST_STREAM PROTOCOL_ERROR or a SYN_REPLY for stream \(id)", reject: c.isFatal) {
                event in
                switch event {
                case .frame(.synReply(let f)): return f.streamID == id
                case .frame(.rstStream(let f)): return f.streamID == id && f.status == .protocolError
                default: return false
                }
            }
        },
        SpecCase(
            "2.6.1", 4, informational: all3,
            "The higher-priority stream is answered first (\"SHOULD use best-effort to process streams in the order of highest priority\")"
        ) { c in
            let low = c.nextStreamID()
            let high = c.nextStreamID()
            let lowest: UInt8 = c.version == .v2 ? 0 : 7
            let highest: UInt8 = c.version == .v2 ? 3 : 0
            try await c.sendRaw(
                try c.synStream(low, priority: lowest, block: c.nameValueBlock(c.requestPairs()))
                    + c.synStream(high, priority: highest, block: c.nameValueBlock(c.requestPairs())))
            let first = try await c.expect("SYN_REPLYs for streams \(low) and \(high)", reject: c.isFatal) { event in
                if case .frame(.synReply(let f)) = event { return f.streamID == low || f.streamID == high }
                return false
            }
            guard case .frame(.synReply(let reply)) = first else { return }
            try await c.expectReply(reply.streamID == low ? high : low)
            if reply.streamID == low {
                throw SpecFailure(
                    expected: "stream \(high) (highest priority) answered first",
                    got: "stream \(low) (lowest priority) first")
            }
        },
        SpecCase(
            "2.6.4", 9, informational: all3,
            "A stream above the server's MAX_CONCURRENT_STREAMS is refused with REFUSED_STREAM, the others are not"
        ) { c in
            try await c.expectAlive()
            let limit = c.seen.lazy.compactMap { event -> UInt32? in
                guard case .frame(.settings(let f)) = event else { return nil }
                return f.entries.first { $0.id == .maxConcurrentStreams }?.value
            }.first
            guard let limit, limit >= 1, limit <= 200 else {
                throw SpecSkip("the server announced no MAX_CONCURRENT_STREAMS of at most 200")
            }
            var bytes: [UInt8] = []
            var ids: [SPDYStreamID] = []
            for _ in 0..<limit {
                let id = c.nextStreamID()
                ids.append(id)
                let pairs = c.requestPairs(method: "POST", extra: [("content-length", "1")])
                    .sorted { $0.name.lexicographicallyPrecedes($1.name) }
                bytes += try c.synStream(id, flags: 0, block: c.nameValueBlock(pairs))
            }
            try await c.sendRaw(bytes)
            let extra = try await c.request(method: "POST", fin: false, extra: [("content-length", "1")])
            try await c.expect("RST_STREAM REFUSED_STREAM for stream \(extra) only", reject: c.isFatal) { event in
                if case .frame(.rstStream(let f)) = event {
                    if ids.contains(f.streamID) {
                        throw SpecFailure(
                            expected: "no RST_STREAM for the \(limit) streams within the limit", got: event.description)
                    }
                    return f.streamID == extra && f.status == .refusedStream
                }
                return false
            }
        },
        SpecCase(
            "2.6.5", 6, informational: all3,
            "A PING is answered before a pending response ends (\"PING should take highest priority\")"
        ) { c in
            let id = try await c.request(c.largePath)
            try await c.expectReply(id)
            let probe = c.nextPingID()
            try await c.send(.ping(.init(id: probe)))
            try await c.expect("PING \(probe) echoed before stream \(id)'s last DATA frame", reject: c.isFatal) {
                event in
                if case .data(let stream, let flags, _) = event, stream == id, flags.contains(.fin) {
                    throw SpecFailure(expected: "PING \(probe) before the last DATA frame", got: event.description)
                }
                if case .frame(.ping(let p)) = event { return p.id == probe }
                return false
            }
        },
        SpecCase(
            "2.6.6", 4, informational: all3,
            "A GOAWAY of the other version's length (\"This frame is always 8 bytes long\"; v2: 4)"
        ) { c in
            let payload = c.version == .v2 ? c.word(0) + c.word(0) : c.word(0)
            try await c.sendRaw(c.controlFrame(type: 7, payload: payload))
            let probe = c.nextPingID()
            // A server that took the GOAWAY may have closed already: the write can fail.
            try? await c.send(.ping(.init(id: probe)))
            try await c.expect("GOAWAY PROTOCOL_ERROR, or the GOAWAY accepted") { event in
                switch event {
                case .frame(.goAway), .closed: return true
                case .frame(.ping(let p)): return p.id == probe
                default: return false
                }
            }
        },
        SpecCase(
            "2.6.7", 4, informational: all3,
            "A HEADERS frame too short for its fields (\"The minimum length of the length field is 4\"; v2: 8)"
        ) { c in
            let id = try await c.request(fin: false)
            let payload = c.version == .v2 ? c.word(id.rawValue) + [0, 0] : Array(c.word(id.rawValue).prefix(3))
            try await c.sendRaw(c.controlFrame(type: 8, payload: payload))
            try await c.expectStreamOrSessionError(id, .protocolError)
        },
    ]
}

extension SpecConnection {
    /// Sends a request with a pair whose name is empty (a stream error, 2.6.10/1): its stream ID.
    func requestWithEmptyName(fin: Bool = true) async throws -> SPDYStreamID {
        let id = nextStreamID()
        let pairs = [(name: [UInt8](), value: Array("x".utf8))] + requestPairs()
        try await sendRaw(try synStream(id, flags: fin ? 1 : 0, block: nameValueBlock(pairs)))
        return id
    }

    /// Sends a request whose `x-big` value is 1 MiB of varied letters, deflated in this
    /// connection's context (the frame is most of a MiB): its stream ID.
    func requestWithLargeHeader() async throws -> SPDYStreamID {
        var generator = SpecRandom(seed: 8)
        let value = Array(generator.letters(1 << 20).utf8)
        let id = nextStreamID()
        let pairs = (requestPairs() + [(name: Array("x-big".utf8), value: value)])
            .sorted { $0.name.lexicographicallyPrecedes($1.name) }
        try await sendRaw(try synStream(id, block: nameValueBlock(pairs)))
        return id
    }
}
