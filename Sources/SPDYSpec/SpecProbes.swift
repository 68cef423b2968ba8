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
