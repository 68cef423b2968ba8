import NIOCore
import Testing

@testable import SPDY

@Suite("Session: abuse limits (floods of cheap frames)")
struct SessionAbuseLimitTests {
    /// A server under test and a raw client that opens stream 1 with a GET.
    func server(
        _ limits: SPDYAbuseLimits = .init(),
        version: SPDYVersion = .v3_1,
        clock: SPDYClock = .system
    ) throws -> RawPeer {
        try RawPeer(testing: .server, version: version, configuration: .init(abuseLimits: limits), clock: clock)
    }

    func syn(_ id: SPDYStreamID, fin: Bool = true) -> SPDYFrame {
        .synStream(
            .init(
                streamID: id, associatedStreamID: .zero, priority: 3, flags: fin ? .fin : [], headers: requestHeaders())
        )
    }

    func goAways(_ frames: [SPDYFrame]) -> [SPDYGoAwayStatus] {
        frames.compactMap { if case .goAway(let g) = $0 { g.status } else { nil } }
    }

    @Test("Empty DATA frames without FIN in a row: the second one gets GOAWAY PROTOCOL_ERROR (CVE-2019-9518)")
    func emptyDataFlood() throws {
        let peer = try server()
        try peer.deliver(syn(1, fin: false))
        let empty = SPDYFrame.data(.init(streamID: 1, flags: [], payload: ByteBuffer()))
        try peer.deliver(empty)
        #expect(peer.session.abuseDetected == nil)
        // Data in between resets the count.
        try peer.deliver(.data(.init(streamID: 1, flags: [], payload: ByteBuffer(string: "x"))), empty)
        #expect(peer.session.abuseDetected == nil)
        try peer.deliver(empty)
        #expect(peer.session.abuseDetected == .emptyDataFrames)
        #expect(goAways(try peer.collect()) == [.protocolError])
        // Nothing more is processed.
        try peer.deliver(syn(3))
        #expect(!peer.endpoint.events.contains(.requestReceived(3)))
    }

    @Test("Empty HEADERS without FIN count with empty DATA frames (CVE-2019-9518)")
    func emptyHeadersFlood() throws {
        let peer = try server()
        try peer.deliver(syn(1, fin: false))
        let empty = SPDYFrame.headers(.init(streamID: 1, headers: SPDYHeaders()))
        try peer.deliver(empty)
        #expect(peer.session.abuseDetected == nil)
        // A block with a header in between resets the count.
        try peer.deliver(.headers(.init(streamID: 1, headers: [("x-a", "b")])), empty)
        #expect(peer.session.abuseDetected == nil)
        // An empty DATA frame after an empty HEADERS is the second empty frame in a row.
        try peer.deliver(.data(.init(streamID: 1, flags: [], payload: ByteBuffer())))
        #expect(peer.session.abuseDetected == .emptyDataFrames)
        #expect(goAways(try peer.collect()) == [.protocolError])
    }

    @Test("The session reports the number of a partly received frame until it is complete")
    func frameInProgress() throws {
        let peer = try server()
        #expect(peer.session.receivedFrameInProgress == nil)
        let encoder = try SPDYFrameEncoder(version: .v3_1, compression: .default(for: .client))
        var bytes = ByteBuffer()
        try encoder.encode(syn(1), into: &bytes)
        try encoder.encode(.ping(.init(id: 1)), into: &bytes)
        let first = bytes.readSlice(length: 5)!
        try peer.session.recv(first)
        let started = try #require(peer.session.receivedFrameInProgress)
        try peer.session.recv(bytes.readSlice(length: bytes.readableBytes - 3)!)
        // The SYN_STREAM is complete and the PING has begun: a new number.
        #expect(peer.session.receivedFrameInProgress == started + 1)
        try peer.session.recv(bytes)
        #expect(peer.session.receivedFrameInProgress == nil)
    }

    @Test("Rapid reset: the 201st stream a client opens and resets within 30 s gets GOAWAY (CVE-2023-44487)")
    func rapidReset() throws {
        let peer = try server()
        var id: UInt32 = 1
        for _ in 0..<200 {
            try peer.deliver(
                syn(SPDYStreamID(uncheckedRawValue: id)),
                .rstStream(.init(streamID: SPDYStreamID(uncheckedRawValue: id), status: .cancel)))
            id += 2
        }
        #expect(peer.session.abuseDetected == nil)
        #expect(goAways(try peer.collect()).isEmpty)
        try peer.deliver(
            syn(SPDYStreamID(uncheckedRawValue: id)),
            .rstStream(.init(streamID: SPDYStreamID(uncheckedRawValue: id), status: .cancel)))
        #expect(peer.session.abuseDetected == .resetFrames)
        #expect(goAways(try peer.collect()) == [.protocolError])
    }

    @Test("A client whose own requests are refused or reset by the server is not cut off")
    func resetsOfOwnStreamsAreNotCounted() throws {
        let pair = try SessionPair(version: .v3_1)
        for _ in 0..<300 {
            try pair.client.session.submitRequest(priority: 3, headers: requestHeaders())
        }
        try pair.pump()
        // The server refuses what is above its 100 streams... here: it resets every stream.
        for id in pair.server.session.openStreamIDs {
            try pair.server.session.submitRstStream(streamID: id, status: .refusedStream)
        }
        try pair.pump()
        #expect(pair.client.session.abuseDetected == nil)
        #expect(!pair.client.session.hasSentGoAway)
    }

    @Test(
        "PING and SETTINGS floods: the 201st within 30 s gets GOAWAY (CVE-2019-9512, CVE-2019-9515)",
        arguments: [true, false])
    func controlFlood(pings: Bool) throws {
        let peer = try server()
        for i in 0..<200 {
            if pings {
                try peer.deliver(.ping(.init(id: UInt32(2 * i + 1))))
            } else {
                try peer.deliver(.settings(.init(entries: [.init(id: .maxConcurrentStreams, value: 100)])))
            }
        }
        #expect(peer.session.abuseDetected == nil)
        try peer.deliver(pings ? .ping(.init(id: 1001)) : .settings(.init(entries: [])))
        #expect(peer.session.abuseDetected == .controlFrames)
        let frames = try peer.collect()
        #expect(goAways(frames) == [.protocolError])
        if pings {
            // The 200 permitted pings were echoed, the 201st was not.
            #expect(frames.filter { if case .ping = $0 { true } else { false } }.count == 200)
        }
    }

    @Test("Provoked stream errors: the 201st RST_STREAM we would send within 30 s becomes GOAWAY (CVE-2019-9514)")
    func streamErrorFlood() throws {
        let peer = try server()
        // WINDOW_UPDATE overflow on an open stream is a stream error each time.
        try peer.deliver(syn(1, fin: false))
        for _ in 0..<200 {
            try peer.deliver(.headers(.init(streamID: 7, headers: [("x", "y")])))
        }
        #expect(peer.session.abuseDetected == nil)
        #expect(try peer.collect().filter { if case .rstStream = $0 { true } else { false } }.count == 200)
        try peer.deliver(.headers(.init(streamID: 7, headers: [("x", "y")])))
        #expect(peer.session.abuseDetected == .streamErrors)
        #expect(goAways(try peer.collect()) == [.protocolError])
    }

    @Test("The limits are settings: unlimited lets every flood through")
    func unlimited() throws {
        let peer = try server(.unlimited)
        for i in 0..<1000 {
            try peer.deliver(.ping(.init(id: UInt32(2 * i + 1))))
            _ = try peer.collect()
        }
        try peer.deliver(syn(1, fin: false))
        for _ in 0..<10 {
            try peer.deliver(.data(.init(streamID: 1, flags: [], payload: ByteBuffer())))
        }
        #expect(peer.session.abuseDetected == nil)
    }

    @Test("A client session has the same limits: a server flooding it with PINGs is cut off")
    func clientToo() throws {
        let peer = try RawPeer(testing: .client, version: .v3)
        for i in 0..<201 {
            try peer.deliver(.ping(.init(id: UInt32(2 * i + 2))))
        }
        #expect(peer.session.abuseDetected == .controlFrames)
        #expect(goAways(try peer.collect()) == [.protocolError])
    }

    @Test("The rate limits slide: events older than the window no longer count")
    func windowsSlide() throws {
        let clock = ManualClock()
        let limits = SPDYAbuseLimits(controlFrames: .init(maximumCount: 3, window: .seconds(10)))
        let peer = try server(limits, clock: clock.spdyClock)
        var id: UInt32 = 1
        func ping() throws {
            try peer.deliver(.ping(.init(id: id)))
            id += 2
        }
        // Three at 0 s, 4 s and 8 s: at the limit.
        try ping()
        clock.advance(by: .seconds(4))
        try ping()
        clock.advance(by: .seconds(4))
        try ping()
        #expect(peer.session.abuseDetected == nil)
        // At 10.5 s the first has left the window: a fourth is allowed.
        clock.advance(by: .milliseconds(2500))
        try ping()
        #expect(peer.session.abuseDetected == nil)
        // At 11 s the window (1 s to 11 s) holds 4 s, 8 s and 10.5 s: the next is one too many.
        clock.advance(by: .milliseconds(500))
        try ping()
        #expect(peer.session.abuseDetected == .controlFrames)
        #expect(goAways(try peer.collect()) == [.protocolError])
    }

    @Test("Rapid reset spread out in time: 200 resets every 31 s go on for ever, 201 within 30 s do not")
    func rapidResetOverTime() throws {
        let clock = ManualClock()
        let peer = try server(clock: clock.spdyClock)
        var id: UInt32 = 1
        func openAndReset() throws {
            try peer.deliver(
                syn(SPDYStreamID(uncheckedRawValue: id)),
                .rstStream(.init(streamID: SPDYStreamID(uncheckedRawValue: id), status: .cancel)))
            id += 2
        }
        for _ in 0..<5 {
            for _ in 0..<200 { try openAndReset() }
            clock.advance(by: .seconds(31))
        }
        #expect(peer.session.abuseDetected == nil)
        for _ in 0..<200 { try openAndReset() }
        clock.advance(by: .seconds(29))
        try openAndReset()
        #expect(peer.session.abuseDetected == .resetFrames)
    }
}

/// A clock for the session's time-based limits that moves only when a test moves it.
final class ManualClock: @unchecked Sendable {
    // Only the test's thread reads and moves it; `@unchecked` because SPDYClock wants a
    // `@Sendable` source.
    private var time = NIODeadline.uptimeNanoseconds(1_000_000_000)

    var spdyClock: SPDYClock { SPDYClock { [self] in self.time } }

    func advance(by amount: TimeAmount) {
        time = time + amount
    }
}
