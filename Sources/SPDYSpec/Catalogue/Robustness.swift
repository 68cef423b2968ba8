import SPDY

extension SpecCatalogue {
    /// R Robustness: what any server should survive, which no draft sentence requires (all
    /// informational).
    static let robustness: [SpecCase] = [
        SpecCase("R", 1, [], informational: all3, "A request and a PING written one byte at a time") { c in
            let id = c.nextStreamID()
            var bytes = try c.synStream(id, block: c.nameValueBlock(c.requestPairs()))
            let probe = c.nextPingID()
            bytes += c.controlFrame(type: 6, payload: c.word(probe))
            try await c.sendRawByteByByte(bytes)
            try await c.expectReply(id)
            try await c.expect("PING \(probe) echoed") { event in
                if case .frame(.ping(let p)) = event { return p.id == probe }
                return false
            }
        },
        SpecCase("R", 2, [], informational: all3, "Up to 20 requests in one write are all answered") { c in
            try await c.expectAlive()
            let count = min(20, Int(c.announcedMaxConcurrentStreams ?? 20))
            let ids = (0..<count).map { _ in c.nextStreamID() }
            var bytes: [UInt8] = []
            for id in ids { bytes += try c.synStream(id, block: c.nameValueBlock(c.requestPairs())) }
            try await c.sendRaw(bytes)
            var unanswered = Set(ids)
            try await c.expect("a SYN_REPLY for each of the \(count) streams", reject: c.isFatal) { event in
                if case .frame(.synReply(let f)) = event { unanswered.remove(f.streamID) }
                return unanswered.isEmpty
            }
        },
        SpecCase(
            "R", 3, [], informational: all3,
            "1000 streams on one connection, at most min(MAX_CONCURRENT_STREAMS, 100) open at once, all end"
        ) { c in
            try await c.expectAlive()
            let window = min(100, Int(c.announcedMaxConcurrentStreams ?? 100))
            var open: Set<SPDYStreamID> = []
            var started = 0
            var ended = 0
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: .seconds(8))
            while ended < 1000 {
                var bytes: [UInt8] = []
                while open.count < window && started < 1000 {
                    let id = c.nextStreamID()
                    open.insert(id)
                    started += 1
                    bytes += try c.synStream(id, block: c.nameValueBlock(c.requestPairs()))
                }
                if !bytes.isEmpty { try await c.sendRaw(bytes) }
                guard clock.now < deadline, let event = await c.next(within: deadline - clock.now) else {
                    throw SpecFailure(expected: "1000 streams ended", got: "\(ended) ended, \(open.count) still open")
                }
                if c.isFatal(event) {
                    throw SpecFailure(expected: "1000 streams ended", got: "\(event) after \(ended)")
                }
                let endedStream: SPDYStreamID? =
                    switch event {
                    case .frame(.synReply(let f)) where f.flags.contains(.fin): f.streamID
                    case .frame(.headers(let f)) where f.flags.contains(.fin): f.streamID
                    case .frame(.rstStream(let f)): f.streamID
                    case .data(let id, let flags, _) where flags.contains(.fin): id
                    default: nil
                    }
                if let endedStream, open.remove(endedStream) != nil { ended += 1 }
            }
        },
        SpecCase(
            "R", 4, [], informational: all3,
            "Large headers within the limits (50 headers of 80 varied bytes and a 2000-byte cookie) are answered"
        ) { c in
            var generator = SpecRandom(seed: 4)
            var extra: [(String, String)] = (0..<50).map { ("x-large-\($0)", generator.letters(80)) }
            extra.append(("cookie", generator.letters(2000)))
            try await c.readResponse(try await c.request(extra: extra))
        },
        SpecCase(
            "R", 5, [], informational: all3,
            "A reader that stops reading for 3 s, then reads on, gets the whole response"
        ) { c in
            let id = try await c.request(c.largePath)
            try await c.expectReply(id)
            await c.setReading(false)
            try await Task.sleep(for: .seconds(3))
            await c.setReading(true)
            try await c.readGrantingWindows(id, within: .seconds(5))
        },
        SpecCase("R", 6, [], informational: all3, "100 PINGs in one write get 100 echoes, in order") { c in
            let ids = (0..<100).map { _ in c.nextPingID() }
            var bytes: [UInt8] = []
            for id in ids { bytes += c.controlFrame(type: 6, payload: c.word(id)) }
            try await c.sendRaw(bytes)
            var echoed: [UInt32] = []
            try await c.expect("100 echoes in order", reject: c.isFatal) { event in
                if case .frame(.ping(let p)) = event, ids.contains(p.id) { echoed.append(p.id) }
                return echoed.count == ids.count
            }
            if echoed != ids {
                throw SpecFailure(expected: "the echoes in the order sent", got: "another order")
            }
        },
        SpecCase(
            "R", 7, [], informational: all3,
            "The highest stream IDs, 0x7FFFFFFD and 0x7FFFFFFF, are served (\"Stream IDs do not wrap\")"
        ) { c in
            try await c.readResponse(try await c.request(id: SPDYStreamID(rawValue: 0x7fff_fffd)!))
            try await c.readResponse(try await c.request(id: SPDYStreamID(rawValue: 0x7fff_ffff)!))
        },
    ]
}

extension SpecConnection {
    /// The MAX_CONCURRENT_STREAMS of the server's SETTINGS seen so far, if any.
    var announcedMaxConcurrentStreams: UInt32? {
        seen.lazy.compactMap { event -> UInt32? in
            guard case .frame(.settings(let f)) = event else { return nil }
            return f.entries.first { $0.id == .maxConcurrentStreams }?.value
        }.first
    }

    /// Reads `streamID`'s response to its end, giving back (SPDY/3 on) every byte received
    /// with WINDOW_UPDATEs for the stream and, in 3.1, the session.
    func readGrantingWindows(_ streamID: SPDYStreamID, within timeout: Duration) async throws {
        // Every byte received so far is still to be given back.
        var granted = 0
        func grant() async throws {
            let received = receivedData[streamID] ?? 0
            guard version != .v2, received > granted else { return }
            let delta = UInt32(received - granted)
            granted = received
            try await send(.windowUpdate(.init(streamID: streamID, deltaWindowSize: delta)))
            if version == .v3_1 { try await send(.windowUpdate(.init(streamID: .zero, deltaWindowSize: delta))) }
        }
        try await grant()
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while clock.now < deadline, let event = await next(within: deadline - clock.now) {
            if isFatal(event) { throw SpecFailure(expected: "stream \(streamID)'s whole response", got: "\(event)") }
            if case .data(let id, let flags, _) = event, id == streamID {
                if flags.contains(.fin) { return }
                try await grant()
            }
        }
        throw SpecFailure(
            expected: "stream \(streamID)'s whole response", got: "\(receivedData[streamID] ?? 0) bytes and no FIN")
    }
}

/// A small deterministic generator (a linear congruential one) for varied, repeatable bytes.
struct SpecRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }

    /// `count` letters, digits, `-` and `_`, chosen pseudo-randomly.
    mutating func letters(_ count: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_".utf8)
        var bytes = [UInt8](repeating: 0, count: count)
        for i in bytes.indices {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            bytes[i] = alphabet[Int(state >> 58)]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
