import NIOCore
import SPDY

extension SpecConnection {
    /// ALIVE: the server still serves this connection. A PING with a fresh odd ID must come
    /// back; a server that does not echo PINGs is asked for a fresh request instead.
    public func expectAlive(_ what: String = "the connection still served (PING echoed)") async throws {
        let id = nextPingID()
        try await send(.ping(.init(id: id)))
        do {
            try await expect(what, reject: isFatal) { event in
                if case .frame(.ping(let p)) = event { return p.id == id }
                return false
            }
        } catch let failure as SpecFailure where !failure.got.contains("GOAWAY") && !failure.got.contains("close") {
            let stream = try await request()
            try await expectReply(stream)
        }
    }

    /// NONE(n): nothing for `streamID` arrives before the echo of a later PING, nor during
    /// `grace` after it (servers may let a PING overtake).
    public func expectNothing(for streamID: SPDYStreamID, grace: Duration = .milliseconds(500)) async throws {
        let id = nextPingID()
        try await send(.ping(.init(id: id)))
        let what = "nothing for stream \(streamID), and the connection still served"
        var echoed = false
        let clock = ContinuousClock()
        var deadline = clock.now.advanced(by: .seconds(3))
        while clock.now < deadline {
            guard let event = await next(within: deadline - clock.now) else { break }
            if Self.streamID(of: event) == streamID || isFatal(event) {
                throw SpecFailure(expected: what, got: event.description)
            }
            if case .frame(.ping(let p)) = event, p.id == id {
                echoed = true
                deadline = clock.now.advanced(by: grace)
            }
        }
        if !echoed {
            // A server that never echoes: the stream's silence is all that can be checked.
            return
        }
    }

    /// The stream an event is about, if any.
    static func streamID(of event: SpecEvent) -> SPDYStreamID? {
        switch event {
        case .frame(let frame):
            if case .goAway = frame { return nil }
            if case .windowUpdate(let f) = frame, f.streamID == .zero { return nil }
            return frame.streamID
        case .data(let id, _, _): return id
        default: return nil
        }
    }

    /// The next odd PING ID of this connection.
    func nextPingID() -> UInt32 {
        pingCounter += 2
        return pingCounter
    }

    /// Reads the whole response of `streamID` (its SYN_REPLY and everything up to FIN).
    public func readResponse(_ streamID: SPDYStreamID) async throws {
        if try await expectReply(streamID).flags.contains(.fin) { return }
        try await expectResponseEnd(streamID)
    }
}

extension SpecConnection {
    /// NONE(n) after the client reset stream n: frames the server sent before it read the
    /// RST_STREAM were in flight, so only what follows the echo of a PING sent after the reset
    /// counts. With `orSessionError`, a GOAWAY PROTOCOL_ERROR answers too (for a reset the
    /// draft calls invalid).
    public func expectNothingAfterReset(_ streamID: SPDYStreamID, orSessionError: Bool = false) async throws {
        let ping = nextPingID()
        try await send(.ping(.init(id: ping)))
        let echo = try await expect(
            orSessionError
                ? "the PING after the reset echoed, or GOAWAY PROTOCOL_ERROR" : "the PING after the reset echoed",
            reject: isFatal
        ) { event in
            switch event {
            case .frame(.ping(let p)): return p.id == ping
            case .frame(.goAway(let f)) where orSessionError: return version == .v2 || f.status == .protocolError
            default: return false
            }
        }
        if case .frame(.goAway) = echo { return }
        try await expectNothing(for: streamID)
    }

    /// A RST_STREAM for `streamID` with one of `statuses`, or nothing at all for it (the
    /// frame was ignored, and the connection still serves): for the rules with no recipient
    /// behaviour in the draft.
    public func expectStreamErrorOrNothing(_ streamID: SPDYStreamID, _ statuses: SPDYStreamStatus...) async throws {
        let ping = nextPingID()
        try await send(.ping(.init(id: ping)))
        let names = statuses.map { "\($0)" }.joined(separator: " or ")
        let what = "RST_STREAM \(names) for stream \(streamID), or nothing for it (the PING echoed)"
        let answer = try await expect(
            what,
            reject: { event in
                if case .frame(.rstStream(let f)) = event { return f.streamID == streamID }
                return self.isFatal(event)
            }
        ) { event in
            switch event {
            case .frame(.rstStream(let f)): return f.streamID == streamID && statuses.contains(f.status)
            case .frame(.ping(let p)): return p.id == ping
            default: return false
            }
        }
        // The echo may have overtaken an answer: give the stream the usual grace time.
        if case .frame(.ping) = answer {
            try await expectNothingOrStreamError(streamID, statuses)
        }
    }

    private func expectNothingOrStreamError(_ streamID: SPDYStreamID, _ statuses: [SPDYStreamStatus]) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .milliseconds(500))
        while clock.now < deadline {
            guard let event = await next(within: deadline - clock.now) else { return }
            if case .frame(.rstStream(let f)) = event, f.streamID == streamID, statuses.contains(f.status) { return }
            let reset: Bool
            if case .frame(.rstStream(let f)) = event { reset = f.streamID == streamID } else { reset = false }
            if reset || isFatal(event) {
                throw SpecFailure(expected: "no other RST_STREAM for stream \(streamID)", got: event.description)
            }
        }
    }
}
