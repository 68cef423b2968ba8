import NIOCore
import Testing

@testable import SPDY

/// `SPDYSession.flowControlStallCount`, which operators read as
/// `spdy_flow_control_stalls_total`: a stall is counted when DATA is first held back, not at
/// every retry, and a stream that sent DATA again can stall again.
@Suite("Flow-control stalls")
struct FlowControlStallTests {
    @Test("A stream window: one stall per episode, however often the session retries")
    func streamWindow() throws {
        let server = try RawPeer(testing: .server, version: .v3)
        try server.deliver(.settings(.init(entries: [.init(id: .initialWindowSize, value: 1024)])))
        try server.deliver(.synStream(.init(streamID: 1, flags: .fin, headers: requestHeaders())))
        let body = PatternSource(10_000)
        try server.session.submitResponse(streamID: 1, headers: responseHeaders(), dataProvider: body.provider)
        _ = try server.collect()
        #expect(body.sent == 1024)
        #expect(server.session.flowControlStallCount == 1)
        // Retries without room are the same stall.
        for _ in 0..<5 { _ = try server.collect() }
        try server.deliver(.ping(.init(id: 1)))
        _ = try server.collect()
        #expect(server.session.flowControlStallCount == 1)
        // Room for 100 bytes: they go out, and the stream stalls anew.
        try server.deliver(.windowUpdate(.init(streamID: 1, deltaWindowSize: 100)))
        _ = try server.collect()
        #expect(body.sent == 1124)
        #expect(server.session.flowControlStallCount == 2)
    }

    @Test("The SPDY/3.1 session window shared by streams: a resumption that finds no room is no new stall")
    func sessionWindow() throws {
        let server = try RawPeer(testing: .server, version: .v3_1)
        // Stream windows of 1 MiB: only the 64 KiB session window holds the streams back.
        try server.deliver(.settings(.init(entries: [.init(id: .initialWindowSize, value: 1 << 20)])))
        var bodies: [PatternSource] = []
        for id in stride(from: 1, through: 7, by: 2) {
            let stream = SPDYStreamID(rawValue: UInt32(id))!
            try server.deliver(.synStream(.init(streamID: stream, flags: .fin, headers: requestHeaders())))
            let body = PatternSource(100_000)
            bodies.append(body)
            try server.session.submitResponse(streamID: stream, headers: responseHeaders(), dataProvider: body.provider)
        }
        _ = try server.collect()
        #expect(bodies.map(\.sent).reduce(0, +) == 65536)
        let stalled = server.session.flowControlStallCount
        #expect(stalled >= 1 && stalled <= 4)
        // 1000 bytes of session window: every stream is resumed, one of them sends, the
        // others find no room again. Only the one that sent can stall anew.
        try server.deliver(.windowUpdate(.init(streamID: .zero, deltaWindowSize: 1000)))
        _ = try server.collect()
        #expect(bodies.map(\.sent).reduce(0, +) == 66536)
        #expect(server.session.flowControlStallCount <= stalled + 1)
    }
}
