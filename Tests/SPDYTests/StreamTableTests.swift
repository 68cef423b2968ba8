import NIOCore
import Testing

@testable import SPDY

/// The session's stream table and the objects it recycles between streams.
@Suite("Session: stream table and recycling")
struct StreamTableTests {
    @Test("The table agrees with a dictionary through random opens and closes, colliding IDs and resizes included")
    func agreesWithDictionary() {
        var random = SplitMix64(seed: 0x5EED_7AB1E)
        let table = SPDYStreamTable()
        var model: [SPDYStreamID: SPDYStream] = [:]
        // IDs of both parities from a range wider than the table ever gets, so homes collide
        // and runs wrap around the end; phases of mostly opening then mostly closing make it
        // grow and shrink several times.
        for step in 0..<20_000 {
            let opening = (step / 2_500) % 2 == 0 ? random.next() % 4 != 0 : random.next() % 4 == 0
            if opening {
                let id = SPDYStreamID(uncheckedRawValue: UInt32(1 + random.next() % 5_000))
                guard model[id] == nil else { continue }
                let stream = SPDYStream()
                stream.open(
                    id: id, machine: StreamStateMachine(), priority: 0, sendWindow: 0, recvWindow: 0, userData: nil)
                table.insert(stream)
                model[id] = stream
            } else if let id = model.keys.randomElement(using: &random) {
                #expect(table.remove(id) === model.removeValue(forKey: id))
            } else {
                #expect(table.remove(SPDYStreamID(uncheckedRawValue: 7)) == nil)
            }
            #expect(table.count == model.count)
            if step % 97 == 0 {
                #expect(table.sortedIDs == model.keys.sorted())
                for (id, stream) in model {
                    #expect(table[id] === stream)
                }
                for raw in 1...40 {
                    let id = SPDYStreamID(uncheckedRawValue: UInt32(raw))
                    #expect(table[id] === model[id])
                }
            }
        }
        for id in model.keys {
            table.remove(id)
        }
        #expect(table.isEmpty && table.values.isEmpty)
    }

    @Test("A closed stream lets go of its user data and its data provider's source at once")
    func closedStreamReleasesReferences() throws {
        final class Token {}
        let pair = try SessionPair(version: .v3)
        weak var userData: Token?
        weak var source: Token?
        try {
            let token = Token()
            let providerSource = Token()
            userData = token
            source = providerSource
            try pair.client.session.submitRequest(
                priority: 3,
                headers: requestHeaders(),
                dataProvider: SPDYDataProvider(source: providerSource) { _, _, _ in
                    .data(ByteBuffer(string: "body"), endOfData: true)
                },
                streamUserData: token
            )
        }()
        try pair.pump()
        #expect(pair.server.events.contains(.requestReceived(1)))
        try pair.server.session.submitResponse(streamID: 1, headers: responseHeaders())
        try pair.pump()
        #expect(pair.client.events.contains(.streamClosed(1, .ok)))
        #expect(pair.client.session.openStreamCount == 0)
        #expect(userData == nil)
        #expect(source == nil)
    }

    @Test("A reused stream object starts clean: user data, windows and flags of the previous stream do not carry over")
    func reusedStreamStartsClean() throws {
        let pair = try SessionPair(version: .v3_1)
        // Stream 1: user data, a body the server reads, FIN both ways: it closes.
        try pair.client.session.submitRequest(
            priority: 3, headers: requestHeaders(), dataProvider: .string(String(repeating: "x", count: 40_000)),
            streamUserData: "first")
        try pair.pump()
        try pair.server.session.submitResponse(streamID: 1, headers: responseHeaders())
        try pair.pump()
        #expect(pair.client.events.contains(.streamClosed(1, .ok)))
        // Stream 3 gets a recycled object on both sides.
        let id = try pair.client.session.submitRequest(priority: 1, headers: requestHeaders())
        try pair.pump()
        #expect(id == 3)
        #expect(pair.client.session.streamUserData(3) == nil)
        #expect(pair.server.session.streamUserData(3) == nil)
        #expect(pair.server.session.streamState(3) == .opening)
        #expect(pair.server.session.streamReceivedDataLength(3) == 0)
        #expect(pair.client.session.streamSendWindow(3) == SPDYProtocol.defaultInitialWindowSize)
        try pair.server.session.submitResponse(
            streamID: 3, headers: responseHeaders(), dataProvider: .string("second"))
        try pair.pump()
        #expect(pair.client.received[3] == Array("second".utf8))
        #expect(pair.client.events.contains(.streamClosed(3, .ok)))
    }
}
