@_spi(Testing) import SPDY

extension SpecCatalogue {
    /// 2.6.10.1 Compression, and the name bytes of 2.6.10.
    static let compression: [SpecCase] = [
        SpecCase(
            "2.6.10.1", 1, all3,
            "Blocks use the version's dictionary both ways (\"initialized using the following dictionary\")"
        ) { c in
            try await c.expectReply(try await c.request())
            guard let header = c.firstServerBlockHeader() else {
                throw SpecFailure(expected: "a compressed header block from the server", got: "none found")
            }
            let expected: [UInt8] = c.version == .v2 ? [0xdf, 0xa2, 0x51, 0xb2] : [0xe3, 0xc6, 0xa7, 0xc2]
            guard header.count >= 6, header[1] & 0x20 != 0, Array(header[2..<6]) == expected else {
                throw SpecFailure(
                    expected: "a zlib header with FDICT and the DICTID \(hex(expected))",
                    got: "the zlib header \(hex(Array(header.prefix(6))))")
            }
        },
        SpecCase(
            "2.6.10.1", 3, v3Up, informational: v2,
            "A block that does not inflate after a good one: GOAWAY with last-good-stream-ID 1, then the close"
        ) { c in
            let first = try await c.request()
            try await c.readResponse(first)
            // After the previous block's sync flush a new deflate block starts: BTYPE 11 is invalid.
            let fixed = c.word(3) + c.word(0) + [0, 0]
            try await c.sendRaw(c.controlFrame(type: 1, flags: 1, payload: fixed + [0x06, 0, 0, 0]))
            try await c.expectGoAway(lastGood: first, orOffending: 3, statuses: [.protocolError, .internalError])
            try await c.expectClose()
        },
        SpecCase(
            "2.6.10.1", 4, v3Up, informational: v2,
            "A block compressed with the other version's dictionary is a session error, last-good-stream-ID 0"
        ) { c in
            let other: SPDYVersion = c.version == .v2 ? .v3 : .v2
            try await c.sendRequest(1, compressedWith: try SPDYRawHeaderDeflater(version: other))
            try await c.expectGoAway(lastGood: .zero, orOffending: 1, statuses: [.protocolError, .internalError])
        },
        SpecCase(
            "2.6.10.1", 5, informational: all3,
            "A block compressed with no dictionary at all (zlib inflates it without asking for one)"
        ) { c in
            try await c.sendRequest(1, compressedWith: try SPDYRawHeaderDeflater(version: c.version, dictionary: false))
            try await c.expectReply(1)
        },
        SpecCase(
            "2.6.10.1", 6, informational: all3,
            "A block in stored (level 0) deflate blocks, as spdylay's client sends (\"always compressed using zlib\")"
        ) { c in
            try await c.sendRequest(1, compressedWith: try SPDYRawHeaderDeflater(version: c.version, level: 0))
            try await c.expectReply(1)
        },
        SpecCase(
            "2.6.10", 9, informational: all3,
            "Names with the byte 0xFF, or with NUL, are refused (\"8-bit sequences of data, excluding 0\", US-ASCII)"
        ) { c in
            for name: [UInt8] in [[0x78, 0xff], [0x78, 0, 0x79]] {
                let id = c.nextStreamID()
                let pairs = (c.requestPairs() + [(name: name, value: Array("1".utf8))])
                    .sorted { $0.name.lexicographicallyPrecedes($1.name) }
                try await c.sendRaw(try c.synStream(id, block: c.nameValueBlock(pairs)))
                try await c.expectStreamError(id, .protocolError)
            }
        },
    ]
}

extension SpecConnection {
    /// Sends a request (with FIN) on `streamID` whose block goes through `deflater` instead
    /// of the connection's context: another dictionary, none, or stored blocks.
    func sendRequest(_ streamID: UInt32, compressedWith deflater: SPDYRawHeaderDeflater) async throws {
        let fixed = word(streamID) + word(0) + [0, 0]
        let block = try deflater.compress(nameValueBlock(requestPairs()))
        try await sendRaw(controlFrame(type: 1, flags: 1, payload: fixed + block))
    }

    /// The first six bytes (the zlib header and DICTID) of the first header block the
    /// server sent, found by walking the frames it sent from the start.
    func firstServerBlockHeader() -> [UInt8]? {
        let bytes = receivedPrefix
        var offset = 0
        while bytes.count - offset >= 8 {
            let length = Int(bytes[offset + 5]) << 16 | Int(bytes[offset + 6]) << 8 | Int(bytes[offset + 7])
            if bytes[offset] & 0x80 != 0 {
                let type = UInt16(bytes[offset + 2]) << 8 | UInt16(bytes[offset + 3])
                let fixed: Int? =
                    switch type {
                    case 1: 10
                    case 2, 8: version == .v2 ? 6 : 4
                    default: nil
                    }
                if let fixed, length >= fixed + 6, bytes.count - offset >= 8 + fixed + 6 {
                    return Array(bytes[(offset + 8 + fixed)..<(offset + 8 + fixed + 6)])
                }
            }
            offset += 8 + length
        }
        return nil
    }

    /// Waits for a GOAWAY with `lastGood` (and, SPDY/3 on, one of `statuses`).
    ///
    /// `lastGood` is the last stream the server accepted (§2.6.6: "The last stream id which was
    /// accepted"); `offending`, when given, is the stream of the frame that broke the session,
    /// which a literal reading of §2.4.1 ("the stream id of most recently received stream")
    /// gives instead, so it passes too.
    public func expectGoAway(
        lastGood: SPDYStreamID, orOffending offending: SPDYStreamID? = nil, statuses: [SPDYGoAwayStatus]
    ) async throws {
        let accepted = [lastGood] + (offending.map { [$0] } ?? [])
        let what =
            "GOAWAY \(version == .v2 ? "" : statuses.map(\.description).joined(separator: " or ") + " ")"
            + "with last-good-stream-ID \(accepted.map(\.description).joined(separator: " or "))"
        let event = try await expect(what) { event in
            if case .frame(.goAway) = event { return true }
            return false
        }
        guard case .frame(.goAway(let goAway)) = event, accepted.contains(goAway.lastGoodStreamID),
            version == .v2 || statuses.contains(goAway.status)
        else {
            throw SpecFailure(expected: what, got: event.description)
        }
    }

    /// Waits for the server to close the connection.
    public func expectClose(within timeout: Duration = .seconds(5)) async throws {
        try await expect("the connection's close", within: timeout) { event in
            if case .closed = event { return true }
            return false
        }
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        .joined(separator: " ")
}
