import SPDY

extension SpecCatalogue {
    /// 2.6.4 SETTINGS.
    static let settings: [SpecCase] = [
        SpecCase(
            "2.6.4", 2, all3,
            "Persistence flags from a client are ignored (\"servers MUST ignore persistence related flags\")"
        ) { c in
            try await c.send(
                .settings(
                    .init(entries: [
                        .init(id: .uploadBandwidth, flags: .persisted, value: 1000),
                        .init(id: .maxConcurrentStreams, flags: .persistValue, value: 100),
                    ])))
            let id = try await c.request()
            try await c.expectReply(id)
            try await c.expectAlive()
        },
        SpecCase(
            "2.6.4", 4, v3Up, informational: v2,
            "Of two values for one ID the first is used (\"MUST ignore all values except the first one\")"
        ) { c in
            // Written by hand: the encoder does not repeat IDs.
            let entry = { (value: UInt32) -> [UInt8] in c.word(7) + c.word(value) }
            try await c.sendRaw(c.controlFrame(type: 4, payload: c.word(2) + entry(1024) + entry(65536)))
            guard c.version != .v2 else {
                // Draft 2 has no flow control: ID 7 means nothing there, the frame is only well formed.
                try await c.expectAlive()
                return
            }
            let id = try await c.request(c.largePath)
            try await c.expectReply(id)
            try await c.expectAtMost(1024, bytesOn: id, during: .seconds(2))
        },
        SpecCase(
            // Draft 3 says it only in the example of a decrease at connection start, and calls
            // ID 7 the window "for new streams": counted in 3.1, whose words are a MUST.
            "2.6.4", 7, [.v3_1], informational: [.v3],
            "A new INITIAL_WINDOW_SIZE adjusts the windows of open streams by the difference"
        ) { c in
            try await c.send(.settings(.init(entries: [.init(id: .initialWindowSize, value: 1)])))
            let id = try await c.request(c.largePath)
            try await c.expectReply(id)
            try await c.expectDataBytes(1, on: id)
            try await c.send(.settings(.init(entries: [.init(id: .initialWindowSize, value: 4097)])))
            try await c.expectDataBytes(4097, on: id)
            try await c.expectAtMost(4097, bytesOn: id, during: .seconds(1))
        },
    ]

    /// 2.6.5 PING.
    static let ping: [SpecCase] = [
        SpecCase("2.6.5", 1, informational: all3, "A PING is echoed (\"should send an identical frame\")") { c in
            try await c.send(.ping(.init(id: 1)))
            try await c.expect("PING 1 echoed") { event in
                if case .frame(.ping(let p)) = event { return p.id == 1 }
                return false
            }
        },
        SpecCase(
            "2.6.5", 2, all3,
            "An even PING the server did not initiate is ignored (\"it must ignore the PING\")"
        ) { c in
            try await c.send(.ping(.init(id: 2)))
            try await c.expectNoPing(2)
        },
        SpecCase("2.6.5", 3, all3, "A PING with ID 0 (even) is ignored") { c in
            try await c.send(.ping(.init(id: 0)))
            try await c.expectNoPing(0)
        },
        SpecCase("2.6.5", 4, informational: all3, "A PING with ID 0xFFFFFFFF (odd) is echoed") { c in
            try await c.send(.ping(.init(id: 0xffff_ffff)))
            try await c.expect("PING 4294967295 echoed") { event in
                if case .frame(.ping(let p)) = event { return p.id == 0xffff_ffff }
                return false
            }
        },
        SpecCase(
            "2.6.5", 5, informational: all3,
            "A PING of 8 bytes is a session error (\"This frame is always 4 bytes long\")"
        ) { c in
            try await c.sendRaw(c.controlFrame(type: 6, payload: c.word(1) + c.word(0)))
            try await c.expectSessionError(.protocolError)
        },
    ]

    /// 2.6.6 GOAWAY.
    static let goAway: [SpecCase] = [
        SpecCase(
            "2.6.6", 2, all3,
            "After its GOAWAY the server starts no new stream (\"must ignore all SYN_STREAM frames for new streams\")"
        ) { c in
            try await c.readResponse(try await c.request(id: 3))
            try await c.request(id: 1)  // a session error on SPDY/3; on SPDY/2 perhaps not
            let first = await c.next(within: .seconds(3))
            guard case .frame(.goAway(let goAway))? = first else {
                throw SpecSkip("the server sent no GOAWAY (\(first?.description ?? "nothing"))")
            }
            let later: SPDYStreamID
            do {
                later = try await c.request(id: 5)
            } catch {
                return  // the server closed the connection after its GOAWAY: nothing can start
            }
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: .seconds(1))
            while clock.now < deadline {
                guard let event = await c.next(within: deadline - clock.now) else { break }
                if case .frame(.synReply(let f)) = event, f.streamID > goAway.lastGoodStreamID {
                    throw SpecFailure(expected: "no reply to stream \(later) after the GOAWAY", got: event.description)
                }
                if case .closed = event { break }
            }
        },
        SpecCase(
            "2.6.6", 3, informational: all3,
            "A client's GOAWAY lets the streams already open finish"
        ) { c in
            let id = try await c.request()
            try await c.send(.goAway(.init(lastGoodStreamID: .zero, status: .ok)))
            try await c.readResponse(id)
        },
    ]

    /// 2.6.8 WINDOW_UPDATE and flow control.
    static let flowControl: [SpecCase] = [
        SpecCase(
            "2.6.8", 1, v3Up,
            "Without WINDOW_UPDATE a stream gets at most 64 KiB (\"The sender must not send a data frame … greater than the transfer window size\")"
        ) { c in
            let id = try await c.request(c.largePath)
            try await c.expectReply(id)
            try await c.expectDataBytes(65536, on: id)
            try await c.expectAtMost(65536, bytesOn: id, during: .seconds(2))
        },
        SpecCase(
            "2.6.8", 2, v3Up,
            "A WINDOW_UPDATE adds exactly its delta to the stream's window"
        ) { c in
            try await c.send(.settings(.init(entries: [.init(id: .initialWindowSize, value: 1024)])))
            let id = try await c.request(c.largePath)
            try await c.expectReply(id)
            try await c.expectDataBytes(1024, on: id)
            try await c.expectAtMost(1024, bytesOn: id, during: .seconds(1))
            try await c.send(.windowUpdate(.init(streamID: id, deltaWindowSize: 1024)))
            try await c.expectDataBytes(2048, on: id)
            try await c.expectAtMost(2048, bytesOn: id, during: .seconds(1))
        },
        SpecCase(
            "2.6.8", 4, v3Up,
            "A WINDOW_UPDATE taking a stream window past 2^31-1 gets RST_STREAM FLOW_CONTROL_ERROR"
        ) { c in
            let id = try await c.request(method: "POST", fin: false, extra: [("content-length", "100")])
            try await c.send(.windowUpdate(.init(streamID: id, deltaWindowSize: 0x7fff_ffff)))
            try await c.expectStreamError(id, .flowControlError)
        },
        SpecCase(
            "2.6.8", 5, [.v3_1], informational: [.v3],
            "A window of exactly 2^31 is too large in 3.1 (\"MUST NOT allow a flow control window to exceed 2^31 - 1\")"
        ) { c in
            let id = try await c.request(method: "POST", fin: false, extra: [("content-length", "100")])
            try await c.send(.windowUpdate(.init(streamID: id, deltaWindowSize: UInt32(1 << 31 - 65536))))
            if c.version == .v3_1 {
                try await c.expectStreamError(id, .flowControlError)
            } else {
                // v3 caps the window at 2^31 ("must never exceed 2^31"): exactly 2^31 is allowed.
                try await c.expectNoError(streamID: id, "no RST_STREAM (v3 allows a window of exactly 2^31)")
                try await c.expectAlive()
            }
        },
        SpecCase(
            "2.6.8", 10, [.v3_1],
            "The session window caps all streams together at 64 KiB (\"A SETTINGS frame cannot alter the connection flow control window\")"
        ) { c in
            try await c.send(.settings(.init(entries: [.init(id: .initialWindowSize, value: 1 << 20)])))
            let a = try await c.request(c.largePath)
            let b = try await c.request(c.largePath)
            try await c.expectReply(a)
            try await c.expectTotalAtMost(65536, on: [a, b], during: .seconds(2))
        },
        SpecCase(
            "2.6.8", 12, [.v3_1],
            "A WINDOW_UPDATE taking the session window past 2^31-1 ends the session with GOAWAY"
        ) { c in
            try await c.send(.windowUpdate(.init(streamID: .zero, deltaWindowSize: 0x7fff_ffff)))
            try await c.expect("GOAWAY PROTOCOL_ERROR (or the FLOW_CONTROL_ERROR code 7)") { event in
                if case .frame(.goAway(let f)) = event {
                    return f.status == .protocolError || f.status.rawValue == 7
                }
                return false
            }
        },
    ]
}

extension SpecConnection {
    /// Waits until at least `count` DATA bytes of `streamID` arrived.
    public func expectDataBytes(_ count: Int, on streamID: SPDYStreamID, within timeout: Duration = .seconds(3))
        async throws
    {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while (receivedData[streamID] ?? 0) < count {
            guard clock.now < deadline, let event = await next(within: deadline - clock.now) else {
                throw SpecFailure(
                    expected: "\(count) DATA bytes on stream \(streamID)",
                    got: "\(receivedData[streamID] ?? 0) bytes")
            }
            if isFatal(event)
                || { if case .frame(.rstStream(let f)) = event { f.streamID == streamID } else { false } }()
            {
                throw SpecFailure(expected: "\(count) DATA bytes on stream \(streamID)", got: event.description)
            }
        }
    }

    /// Watches `duration` and fails if more than `limit` DATA bytes of `streamID` arrived in all.
    public func expectAtMost(_ limit: Int, bytesOn streamID: SPDYStreamID, during duration: Duration) async throws {
        try await expectTotalAtMost(limit, on: [streamID], during: duration)
    }

    /// Watches `duration` and fails if more than `limit` DATA bytes arrived on `streams` together.
    public func expectTotalAtMost(_ limit: Int, on streams: [SPDYStreamID], during duration: Duration) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: duration)
        func total() -> Int { streams.reduce(0) { $0 + (receivedData[$1] ?? 0) } }
        while clock.now < deadline {
            if total() > limit { break }
            guard let event = await next(within: deadline - clock.now) else { break }
            if isFatal(event) { break }
        }
        if total() > limit {
            throw SpecFailure(
                expected:
                    "at most \(limit) DATA bytes on streams \(streams.map(\.description).joined(separator: ", "))",
                got: "\(total()) bytes")
        }
    }

    /// Fails if a PING with `id` comes back (or the session ends) before the echo of a later one.
    public func expectNoPing(_ id: UInt32) async throws {
        let probe = nextPingID()
        try await send(.ping(.init(id: probe)))
        try await expect("PING \(id) not echoed, and the session still served", reject: isFatal) { event in
            if case .frame(.ping(let p)) = event {
                if p.id == id { return false }
                return p.id == probe
            }
            return false
        }
        // A server may let the probe overtake: give a late echo of `id` the grace time that
        // expectNothing(for:) gives a stream's frames.
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .milliseconds(500))
        while clock.now < deadline, await next(within: deadline - clock.now) != nil {}
        // An echo of `id` that came before the probe's was passed over: look for it.
        if seen.contains(where: { if case .frame(.ping(let p)) = $0 { p.id == id } else { false } }) {
            throw SpecFailure(expected: "PING \(id) not echoed", got: "PING \(id)")
        }
    }
}
