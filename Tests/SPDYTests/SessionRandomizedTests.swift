import NIOCore
import Testing

@testable import SPDY

/// Both sides driven with random submissions, random byte splits and random
/// partial writes; the invariants of the protocol are checked throughout.
@Suite("Session: randomized")
struct SessionRandomizedTests {
    /// The byte at `offset` of the body sent on `stream` (distinct per stream and direction).
    static func byte(_ stream: SPDYStreamID, _ offset: Int, response: Bool) -> UInt8 {
        UInt8(truncatingIfNeeded: Int(stream.rawValue) &* 131 &+ offset &* 7 &+ (response ? 101 : 0) &+ offset >> 8)
    }

    /// The whole body of a stream, as one buffer the provider slices.
    static func body(_ stream: SPDYStreamID, size: Int, response: Bool) -> [UInt8] {
        (0..<size).map { byte(stream, $0, response: response) }
    }

    static func provider(size: Int, response: Bool) -> SPDYDataProvider {
        var remaining: ByteBuffer? = nil
        return SPDYDataProvider { _, id, length in
            if remaining == nil { remaining = ByteBuffer(bytes: body(id, size: size, response: response)) }
            let slice = remaining!.readSlice(length: min(length, remaining!.readableBytes))!
            return .data(slice, endOfData: remaining!.readableBytes == 0)
        }
    }

    @Test("Random traffic keeps every invariant", arguments: SPDYVersion.allCases, [1, 2, 3, 4] as [UInt64])
    func randomTraffic(version: SPDYVersion, seed: UInt64) throws {
        var rng = SplitMix64(seed: seed &* 0x1234_5678 &+ UInt64(version.rawValue))
        let pair = try SessionPair(version: version)
        var requestSizes: [SPDYStreamID: Int] = [:]
        var responseSizes: [SPDYStreamID: Int] = [:]
        var answered: Set<SPDYStreamID> = []
        var reset: Set<SPDYStreamID> = []
        var shrunk = false
        var serverSynIDs: [SPDYStreamID] = []

        pair.server.session.callbacks.onControlFrameReceived = { [unowned server = pair.server] _, frame, _ in
            if case .synStream(let syn) = frame { serverSynIDs.append(syn.streamID) }
            server.frames.append(frame)
        }

        func checkWindows() {
            guard version != .v2, !shrunk else { return }
            for endpoint in [pair.client, pair.server] {
                for id in endpoint.session.openStreamIDs {
                    #expect((endpoint.session.streamSendWindow(id) ?? 0) >= 0, "stream \(id) window went negative")
                }
                #expect((endpoint.session.sessionSendWindowSize ?? 0) >= 0)
            }
        }

        for _ in 0..<120 {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0...3:
                let size = Bool.random(using: &rng) ? 0 : Int.random(in: 1...100_000, using: &rng)
                let id = try pair.client.session.submitRequest(
                    priority: UInt8.random(in: 0...7, using: &rng),
                    headers: requestHeaders(path: "/r\(requestSizes.count)", method: size == 0 ? "GET" : "POST"),
                    dataProvider: size == 0 ? nil : Self.provider(size: size, response: false)
                )
                requestSizes[id] = size
            case 4, 5:
                // Answer a complete request, sometimes with a reset instead.
                let complete = pair.server.events.compactMap { event -> SPDYStreamID? in
                    if case .requestReceived(let id) = event { return id }
                    return nil
                }
                if let id = complete.first(where: { !answered.contains($0) }) {
                    answered.insert(id)
                    if Int.random(in: 0..<8, using: &rng) == 0 {
                        try pair.server.session.submitRstStream(streamID: id, status: .cancel)
                        reset.insert(id)
                    } else {
                        let size = Int.random(in: 0...120_000, using: &rng)
                        responseSizes[id] = size
                        try pair.server.session.submitResponse(
                            streamID: id,
                            headers: responseHeaders(),
                            dataProvider: size == 0 ? nil : Self.provider(size: size, response: true)
                        )
                    }
                }
            case 6:
                pair.client.session.submitPing()
                pair.server.session.submitPing()
            case 7:
                if version != .v2 {
                    let value = UInt32.random(in: 2048...200_000, using: &rng)
                    if value < 65536 { shrunk = true }
                    try (Bool.random(using: &rng) ? pair.client : pair.server).session.submitSettings(
                        entries: [.init(id: .initialWindowSize, value: value)]
                    )
                }
            case 8:
                try pair.server.session.submitSettings(entries: [
                    .init(id: .maxConcurrentStreams, value: UInt32.random(in: 1...8, using: &rng))
                ])
            default:
                break
            }
            pair.client.sendLimit = Bool.random(using: &rng) ? nil : Int.random(in: 1...5000, using: &rng)
            pair.server.sendLimit = Bool.random(using: &rng) ? nil : Int.random(in: 1...5000, using: &rng)
            try pair.pump(split: Int.random(in: 1...9000, using: &rng), rounds: Int.random(in: 1...4, using: &rng))
            checkWindows()
        }

        // Let everything finish: answer what is left and drain.
        pair.client.sendLimit = nil
        pair.server.sendLimit = nil
        try pair.server.session.submitSettings(entries: [.init(id: .maxConcurrentStreams, value: 100)])
        for _ in 0..<50 {
            try pair.pump(split: 4096)
            let complete = pair.server.events.compactMap { event -> SPDYStreamID? in
                if case .requestReceived(let id) = event { return id }
                return nil
            }
            let pending = complete.filter { !answered.contains($0) }
            if pending.isEmpty && pair.client.session.openStreamCount == 0 { break }
            for id in pending {
                answered.insert(id)
                responseSizes[id] = 1000
                try pair.server.session.submitResponse(
                    streamID: id,
                    headers: responseHeaders(),
                    dataProvider: Self.provider(size: 1000, response: true)
                )
            }
        }

        // Every stream closed on both sides.
        #expect(pair.client.session.openStreamCount == 0, "client streams left: \(pair.client.session.openStreamIDs)")
        #expect(pair.server.session.openStreamCount == 0, "server streams left: \(pair.server.session.openStreamIDs)")
        // Stream IDs strictly increasing on the wire.
        #expect(serverSynIDs == serverSynIDs.sorted() && Set(serverSynIDs).count == serverSynIDs.count)
        // Every request closed exactly once on the client: normally, reset by the server, or
        // refused because it arrived above a MAX_CONCURRENT_STREAMS the server had just lowered.
        var refused: Set<SPDYStreamID> = []
        for id in requestSizes.keys {
            let closes = pair.client.events.compactMap { event -> SPDYStreamStatus? in
                if case .streamClosed(id, let status) = event { return status }
                return nil
            }
            #expect(closes.count == 1, "stream \(id) closed \(closes)")
            if closes == [.refusedStream] { refused.insert(id) }
            #expect(
                closes == [reset.contains(id) ? .cancel : .ok] || closes == [.refusedStream], "stream \(id): \(closes)")
        }
        #expect(serverSynIDs.count + refused.count == requestSizes.count)
        // No data lost, duplicated or mixed up, in either direction.
        for (id, size) in requestSizes where !reset.contains(id) && !refused.contains(id) {
            let got = pair.server.received[id] ?? []
            #expect(got.count == size, "request \(id) length")
            #expect(got.elementsEqual(Self.body(id, size: size, response: false)), "request \(id) bytes differ")
        }
        for (id, size) in responseSizes {
            let got = pair.client.received[id] ?? []
            #expect(got.count == size, "response \(id) length")
            #expect(got.elementsEqual(Self.body(id, size: size, response: true)), "response \(id) bytes differ")
        }
        let invalid = pair.server.events.filter { if case .invalidControlReceived = $0 { true } else { false } }
        #expect(
            invalid.allSatisfy {
                if case .invalidControlReceived(.synStream, _, .refusedStream) = $0 { true } else { false }
            }, "\(invalid)")
        #expect(!pair.client.events.contains { if case .parseError = $0 { true } else { false } })
    }
}
