import NIOCore
import Testing

@testable import SPDY

/// The session option for peers built on moby/spdystream (kubectl, the kubelet): SPDY/3
/// framing without flow control.
@Suite struct SpdystreamCompatibilityTests {
    private static let compatible = SPDYSession.Configuration(spdystreamCompatible: true)

    @Test("Megabytes cross both ways with no WINDOW_UPDATE: neither side waits for a window")
    func noWindowUpdates() throws {
        let pair = try SessionPair(version: .v3, client: Self.compatible, server: Self.compatible)
        try pair.client.session.submitRequest(
            priority: 0, headers: requestHeaders(method: "POST"), dataProvider: PatternSource(3_000_000).provider)
        try pair.pump()
        try pair.server.session.submitResponse(
            streamID: 1, headers: responseHeaders(), dataProvider: PatternSource(3_000_000).provider)
        try pair.pump()
        #expect(pair.server.received[1] == PatternSource.bytes(3_000_000))
        #expect(pair.client.received[1] == PatternSource.bytes(3_000_000))
        let windowFrames = (pair.client.events + pair.server.events).filter {
            if case .controlSent(.windowUpdate, _) = $0 { return true }
            return false
        }
        #expect(windowFrames.isEmpty)
        #expect(!pair.client.session.usesFlowControl)
        #expect(pair.client.session.streamSendWindow(1) == nil)
    }

    @Test("DATA beyond the advertised window is accepted, where a flow-controlled session resets the stream")
    func overrunIsNotAnError() throws {
        for serverIsCompatible in [true, false] {
            // The server grants nothing beyond the first 64 KiB, so the only question is
            // whether it checks the window.
            let server = SPDYSession.Configuration(
                automaticWindowUpdate: false, spdystreamCompatible: serverIsCompatible)
            let pair = try SessionPair(version: .v3, client: Self.compatible, server: server)
            try pair.client.session.submitRequest(
                priority: 0, headers: requestHeaders(method: "POST"), dataProvider: PatternSource(200_000).provider)
            try pair.pump()
            let reset = pair.server.events.contains(.controlSent(.rstStream, 1))
            if serverIsCompatible {
                #expect(!reset)
                #expect(pair.server.received[1] == PatternSource.bytes(200_000))
            } else {
                #expect(reset)
            }
        }
    }

    @Test("A spdystream-compatible session has no windows to grant: WINDOW_UPDATE is refused with a typed error")
    func windowUpdateRefused() throws {
        let pair = try SessionPair(version: .v3, client: Self.compatible, server: Self.compatible)
        try pair.client.session.submitRequest(priority: 0, headers: requestHeaders())
        #expect(throws: SPDYError.self) { try pair.client.session.submitWindowUpdate(streamID: 1, delta: 1000) }
    }
}
