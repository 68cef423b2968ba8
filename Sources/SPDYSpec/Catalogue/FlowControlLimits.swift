import SPDY

extension SpecCatalogue {
    /// 2.6.8 flow control beyond the basic window: negative windows, the 3.1 session window,
    /// what the server grants for uploads and how it treats a client that breaks its window.
    static let flowControlLimits: [SpecCase] = [
        SpecCase(
            // As 2.6.4/7: the negative window comes from a SETTINGS change, a MUST in 3.1 only.
            "2.6.4", 8, [.v3_1], informational: [.v3],
            "A window made negative by SETTINGS pauses the stream until WINDOW_UPDATEs make it positive (\"MUST track the negative flow control window\")"
        ) { c in
            try await c.send(.settings(.init(entries: [.init(id: .initialWindowSize, value: 8192)])))
            let id = try await c.request(c.largePath)
            try await c.expectReply(id)
            try await c.expectDataBytes(8192, on: id)
            // The window goes from 0 to -4096, then back to 0 after the first WINDOW_UPDATE.
            try await c.send(.settings(.init(entries: [.init(id: .initialWindowSize, value: 4096)])))
            try await c.send(.windowUpdate(.init(streamID: id, deltaWindowSize: 4096)))
            try await c.expectAtMost(8192, bytesOn: id, during: .seconds(1))
            try await c.send(.windowUpdate(.init(streamID: id, deltaWindowSize: 1024)))
            try await c.expectDataBytes(8192 + 1024, on: id)
            try await c.expectAtMost(8192 + 1024, bytesOn: id, during: .seconds(1))
        },
        SpecCase(
            "2.6.8", 3, [], informational: v3Up,
            "A stalled stream resumes after a WINDOW_UPDATE (\"the sender can transmit\")"
        ) { c in
            try await c.send(.settings(.init(entries: [.init(id: .initialWindowSize, value: 1024)])))
            let id = try await c.request(c.largePath)
            try await c.expectReply(id)
            try await c.expectDataBytes(1024, on: id)
            try await c.send(.windowUpdate(.init(streamID: id, deltaWindowSize: 4096)))
            try await c.expectDataBytes(1025, on: id)
        },
        SpecCase(
            "2.6.8", 9, [], informational: [.v3],
            "A WINDOW_UPDATE for stream 0 in SPDY/3 (no session window): ignored, or a session error"
        ) { c in
            try await c.send(.windowUpdate(.init(streamID: .zero, deltaWindowSize: 1024)))
            let probe = c.nextPingID()
            try await c.send(.ping(.init(id: probe)))
            try await c.expect("the PING echoed (ignored) or GOAWAY PROTOCOL_ERROR") { event in
                switch event {
                case .frame(.goAway(let f)): return f.status == .protocolError
                case .frame(.ping(let p)): return p.id == probe
                default: return false
                }
            }
        },
        SpecCase(
            "2.6.8", 11, [.v3_1],
            "A session WINDOW_UPDATE adds exactly its delta to the session window (\"0 if applied to connection-level flow control\")"
        ) { c in
            try await c.send(.settings(.init(entries: [.init(id: .initialWindowSize, value: 1 << 20)])))
            let a = try await c.request(c.largePath)
            let b = try await c.request(c.largePath)
            try await c.expectReply(a)
            try await c.expectTotalAtMost(65536, on: [a, b], during: .seconds(1))
            try await c.send(.windowUpdate(.init(streamID: .zero, deltaWindowSize: 65536)))
            try await c.expectTotalAtMost(131072, on: [a, b], during: .seconds(2))
            let total = (c.receivedData[a] ?? 0) + (c.receivedData[b] ?? 0)
            if total <= 65536 {
                throw SpecFailure(
                    expected: "the streams resumed after the session WINDOW_UPDATE", got: "\(total) bytes")
            }
        },
        SpecCase(
            "2.6.8", 13, [], informational: v3Up,
            "An upload of 64 KiB gets WINDOW_UPDATEs (\"sends a WINDOW_UPDATE frame as it consumes data\")"
        ) { c in
            let id = try await c.request(method: "POST", fin: false, extra: [("content-length", "65536")])
            try await c.sendRaw(c.dataFrames(id, count: 65536))
            var streamGranted = false
            var sessionGranted = c.version != .v3_1
            try await c.expect(
                "WINDOW_UPDATE for stream \(id)\(c.version == .v3_1 ? " and for the session" : "")", reject: c.isFatal
            ) { event in
                if case .frame(.windowUpdate(let f)) = event {
                    if f.streamID == id { streamGranted = true }
                    if f.streamID == .zero { sessionGranted = true }
                }
                return streamGranted && sessionGranted
            }
        },
        SpecCase(
            "2.6.8", 14, [], informational: v3Up,
            "DATA past the window the server granted: FLOW_CONTROL_ERROR (\"MAY respond with a stream error … or session error\")"
        ) { c in
            let id = try await c.request(method: "POST", fin: false, extra: [("content-length", "65537")])
            try await c.sendRaw(c.dataFrames(id, count: 65537))
            // The draft's "MAY" leaves accepting the data open too: then the stream lives on
            // (the PING after the DATA comes back with no RST before it).
            let ping = c.nextPingID()
            try await c.send(.ping(.init(id: ping)))
            try await c.expect(
                "RST_STREAM FLOW_CONTROL_ERROR for stream \(id), GOAWAY, or the data accepted (PING echoed, no RST)",
                reject: { event in
                    if case .frame(.rstStream(let f)) = event { return f.streamID == id }
                    return c.isFatal(event)
                }
            ) { event in
                switch event {
                case .frame(.rstStream(let f)): return f.streamID == id && f.status == .flowControlError
                case .frame(.goAway(let f)): return f.status == .protocolError || f.status.rawValue == 7
                case .frame(.ping(let p)): return p.id == ping
                default: return false
                }
            }
        },
        SpecCase(
            "2.6.8", 15, [], informational: [.v3_1],
            "DATA for a stream never opened still counts against the session window (\"MUST always account for its contribution\")"
        ) { c in
            try await c.expectAlive()
            try await c.sendRaw(c.dataFrames(SPDYStreamID(rawValue: 5)!, count: 32768))
            try await c.expectStreamError(5, .invalidStream)
            try await c.readResponse(try await c.request(id: 7))
            func granted() -> UInt32 {
                c.seen.reduce(UInt32(0)) { sum, event in
                    if case .frame(.windowUpdate(let f)) = event, f.streamID == .zero { return sum + f.deltaWindowSize }
                    return sum
                }
            }
            if granted() >= 32768 { return }
            try await c.expect("session WINDOW_UPDATEs of at least 32768 in all") { _ in granted() >= 32768 }
        },
    ]
}

extension SpecConnection {
    /// DATA frames of 16 384 bytes (the last one shorter) for `streamID`, `count` bytes in
    /// all, without FIN.
    func dataFrames(_ streamID: SPDYStreamID, count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        var left = count
        while left > 0 {
            let n = min(left, 16384)
            bytes += dataFrame(streamID, [UInt8](repeating: 0x61, count: n))
            left -= n
        }
        return bytes
    }
}
