import NIOCore
import Testing

@testable import SPDY

@Suite("Frame events")
struct FrameEventTests {
    @Test("addObserver sees every frame with its wire header and keeps the callbacks already set")
    func observerOnRealSessions() throws {
        let pair = try SessionPair(version: .v3)
        var seen: [SPDYFrameEvent] = []
        pair.client.session.callbacks.addObserver { _, event in
            seen.append(event)
        }
        try pair.client.session.submitRequest(priority: 3, headers: requestHeaders())
        try pair.pump()
        try pair.server.session.submitResponse(
            streamID: 1, headers: responseHeaders(), dataProvider: PatternSource(10).provider)
        try pair.pump()
        guard case .controlSent(.synStream(let syn), let header)? = seen.first else {
            Issue.record("the first event is not the SYN_STREAM sent: \(seen)")
            return
        }
        // The SYN_STREAM's real compressed length, as written on the wire.
        #expect(header.length > 10)
        #expect(header.flags == 1 && header.version == 3 && header.type == .synStream)
        #expect(syn.streamID == 1 && syn.priority == 3)
        #expect(syn.headers.first(name: ":method") == "GET")
        #expect(
            seen.contains {
                if case .controlReceived(.synReply(let reply), let header) = $0 {
                    return reply.streamID == 1 && header.flags == 0 && header.length > 4
                }
                return false
            })
        #expect(
            seen.contains {
                if case .dataReceived(1, let flags, length: 10) = $0 { return flags == .fin }
                return false
            })
        #expect(
            seen.contains {
                if case .streamClosed(1, .ok) = $0 { return true }
                return false
            })
        // The endpoint's own callbacks still ran.
        #expect(pair.client.received[1]?.count == 10)
        #expect(pair.client.events.contains(.streamClosed(1, .ok)))
    }
}
