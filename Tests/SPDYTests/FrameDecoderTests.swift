import NIOCore
import Testing

@testable import SPDY

/// The incremental decoder: framing, every structural rule, limits and
/// recovery, checked against hand-built bytes.
@Suite("Frame decoder")
struct FrameDecoderTests {
    /// A stream with one of every frame type, built by our encoder (the golden-vector
    /// tests check the encoder's bytes against the drafts independently).
    func mixedStream(_ version: SPDYVersion) throws -> [UInt8] {
        let encoder = try SPDYFrameEncoder(version: version)
        var frames: [SPDYFrame] = [
            .settings(.init(flags: .clearSettings, entries: [.init(id: .maxConcurrentStreams, value: 100)])),
            .synStream(
                .init(
                    streamID: 1,
                    priority: version.lowestPriority,
                    flags: .fin,
                    headers: [(":method", "GET"), (":path", "/"), ("accept", "*/*")]
                )
            ),
            .synReply(.init(streamID: 1, headers: [(":status", "200 OK"), (":version", "HTTP/1.1")])),
            .data(.init(streamID: 1, payload: ByteBuffer(repeating: 0x61, count: 5000))),
            .data(.init(streamID: 1, flags: .fin, payload: ByteBuffer())),
            .headers(.init(streamID: 1, flags: .fin, headers: [("trailer", "yes")])),
            .rstStream(.init(streamID: 3, status: .cancel)),
            .ping(.init(id: 7)),
            .goAway(.init(lastGoodStreamID: 1, status: version == .v2 ? .ok : .protocolError)),
            .unknown(
                .init(
                    header: .init(version: version.wireVersion, type: .init(rawValue: 0x0fff), flags: 3, length: 0),
                    payload: ByteBuffer(bytes: [1, 2, 3])
                )
            ),
        ]
        if version == .v2 {
            frames.append(.noop)
        } else {
            frames.append(.windowUpdate(.init(streamID: 1, deltaWindowSize: 4096)))
            frames.append(
                .credential(
                    .init(
                        slot: 1, proof: ByteBuffer(bytes: [9, 9]), certificates: [ByteBuffer(bytes: [1]), ByteBuffer()])
                )
            )
        }
        return try encodeAll(frames, encoder: encoder)
    }

    @Test("Byte-at-a-time decoding gives the same frames as all at once", arguments: SPDYVersion.allCases)
    func byteAtATime(version: SPDYVersion) throws {
        let bytes = try mixedStream(version)
        let whole = try decodeOutcomes(bytes, version: version)
        #expect(whole.count == (version == .v2 ? 11 : 12))
        let single = try decodeOutcomes(bytes, version: version, pieces: Array(repeating: 1, count: bytes.count))
        #expect(single == whole)
    }

    @Test("Random splits give the same frames as all at once", arguments: SPDYVersion.allCases)
    func randomSplits(version: SPDYVersion) throws {
        let bytes = try mixedStream(version)
        let whole = try decodeOutcomes(bytes, version: version)
        var rng = SplitMix64(seed: 0x5EED_0000 + UInt64(version.rawValue))
        for _ in 0..<50 {
            var pieces: [Int] = []
            var total = 0
            while total < bytes.count {
                let size = Int.random(in: 1...64, using: &rng)
                pieces.append(size)
                total += size
            }
            #expect(try decodeOutcomes(bytes, version: version, pieces: pieces) == whole)
        }
    }

    @Test("DATA payloads are delivered as they arrive, not buffered whole")
    func dataChunksAsTheyArrive() throws {
        let decoder = try SPDYFrameDecoder(version: .v3)
        let frame = dataFrame(streamID: 5, flags: 1, payload: Array(0..<100))
        decoder.append(bytes: frame[0..<4])
        #expect(try decoder.nextFrame() == nil)
        decoder.append(bytes: frame[4..<38])
        guard case .dataChunk(let first) = try #require(try decoder.nextFrame()) else {
            Issue.record("expected a data chunk")
            return
        }
        #expect(first.header == SPDYDataFrameHeader(streamID: 5, flags: .fin, length: 100))
        #expect(Array(first.payload.readableBytesView) == Array(0..<30))
        #expect(!first.isEndOfFrame)
        #expect(try decoder.nextFrame() == nil)
        decoder.append(bytes: frame[38...])
        guard case .dataChunk(let second) = try #require(try decoder.nextFrame()) else {
            Issue.record("expected a data chunk")
            return
        }
        #expect(Array(second.payload.readableBytesView) == Array(30..<100))
        #expect(second.isEndOfFrame)
        #expect(try decoder.nextFrame() == nil)
        #expect(decoder.bufferedBytes == 0)
    }

    @Test("A zero-length DATA frame yields one empty chunk that ends the frame")
    func emptyData() throws {
        let outcomes = try decodeOutcomes(dataFrame(streamID: 1, flags: 1, payload: []), version: .v3)
        #expect(outcomes == [.data(SPDYDataFrameHeader(streamID: 1, flags: .fin, length: 0), [])])
    }

    @Test("The reserved bits are masked: stream IDs and deltas to 31 bits, the version to 15")
    func reservedBitsMasked() throws {
        var bytes = controlFrame(version: 3, type: 9, payload: bigEndian32(0x8000_0001) + bigEndian32(0x8000_0010))
        bytes += controlFrame(version: 3, type: 3, payload: bigEndian32(0xffff_ffff) + bigEndian32(5))
        bytes += controlFrame(version: 3, type: 7, payload: bigEndian32(0x8000_0009) + bigEndian32(2))
        // The version field is 15 bits: 0xffff on the wire reads as 0x7fff.
        bytes += [0xff, 0xff, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04] + bigEndian32(1)
        let outcomes = try decodeOutcomes(bytes, version: .v3)
        #expect(
            outcomes == [
                .frame(
                    .windowUpdate(.init(streamID: 1, deltaWindowSize: 16)),
                    .init(version: 3, type: .windowUpdate, flags: 0, length: 8)
                ),
                .frame(
                    .rstStream(.init(streamID: SPDYStreamID.maxID, status: .cancel)),
                    .init(version: 3, type: .rstStream, flags: 0, length: 8)
                ),
                .frame(
                    .goAway(.init(lastGoodStreamID: 9, status: .internalError)),
                    .init(version: 3, type: .goAway, flags: 0, length: 8)
                ),
                .frame(.ping(.init(id: 1)), .init(version: 0x7fff, type: .ping, flags: 0, length: 4)),
            ]
        )
    }

    static let invalidLengthCases: [(SPDYVersion, UInt16, [UInt8])] = [
        (.v3, 6, [UInt8](repeating: 0, count: 3)),  // PING 3
        (.v3, 6, [UInt8](repeating: 0, count: 5)),  // PING 5
        (.v3, 3, [UInt8](repeating: 0, count: 7)),  // RST_STREAM 7
        (.v3, 3, [UInt8](repeating: 0, count: 9)),  // RST_STREAM 9
        (.v3, 7, [UInt8](repeating: 0, count: 4)),  // v3 GOAWAY without status
        (.v2, 7, [UInt8](repeating: 0, count: 8)),  // v2 GOAWAY with a status
        (.v3, 9, [UInt8](repeating: 0, count: 4)),  // WINDOW_UPDATE 4
        (.v3, 4, [UInt8](repeating: 0, count: 3)),  // SETTINGS shorter than its count
        (.v3, 4, [0, 0, 0, 2] + [UInt8](repeating: 0, count: 8)),  // SETTINGS count 2, one entry
        (.v3, 4, [0xff, 0xff, 0xff, 0xff]),  // SETTINGS count 2^32-1, no entries
        (.v3, 10, [0, 1, 0, 0, 0, 0, 0, 0, 0]),  // CREDENTIAL 9 bytes
        (.v3, 10, [0, 1, 0, 0, 0, 9, 1, 2, 3, 4]),  // CREDENTIAL proof past the end
        (.v3, 10, [0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 1]),  // CREDENTIAL certificate past the end
        (.v3, 1, [UInt8](repeating: 0, count: 10)),  // SYN_STREAM without a header block
        (.v3, 1, [UInt8](repeating: 0, count: 4)),  // SYN_STREAM shorter than its fixed fields
        (.v3, 2, [0, 0, 0, 1]),  // SYN_REPLY v3 without a header block
        (.v2, 2, [0, 0, 0, 1, 0, 0]),  // SYN_REPLY v2 without a header block
        (.v2, 8, [0, 0, 0, 1, 0, 0]),  // HEADERS v2 without a header block
        (.v3, 8, [0, 0, 0]),  // HEADERS shorter than its stream ID
    ]

    @Test(
        "Wrong lengths are INVALID_FRAME, the payload is reported, and decoding goes on",
        arguments: Self.invalidLengthCases
    )
    func invalidLengths(version: SPDYVersion, type: UInt16, payload: [UInt8]) throws {
        let bad = controlFrame(version: version.wireVersion, type: type, payload: payload)
        let ping = controlFrame(version: version.wireVersion, type: 6, payload: bigEndian32(9))
        let decoder = try SPDYFrameDecoder(version: version)
        decoder.append(bytes: bad + ping)
        let error = try #require(throws: SPDYFrameDecodingError.self) { try decoder.nextFrame() }
        #expect(error.code == .invalidFrame)
        #expect(
            error.header
                == SPDYControlFrameHeader(
                    version: version.wireVersion, type: .init(rawValue: type), flags: 0, length: payload.count))
        let reported: [UInt8]? = error.payload.map { Array($0.readableBytesView) }
        #expect(reported == payload)
        #expect(
            try decoder.nextFrame()
                == .frame(
                    .ping(.init(id: 9)), header: .init(version: version.wireVersion, type: .ping, flags: 0, length: 4)))
    }

    @Test("SPDY/2 SETTINGS IDs are 24-bit little-endian followed by the flags; SPDY/3 the other way round")
    func settingsLayouts() throws {
        let v2 = controlFrame(
            version: 2, type: 4, payload: bigEndian32(1) + [0x04, 0x00, 0x00, 0x01] + bigEndian32(100))
        let v3 = controlFrame(
            version: 3, type: 4, payload: bigEndian32(1) + [0x01, 0x00, 0x00, 0x04] + bigEndian32(100))
        let expected = SPDYFrame.settings(
            .init(entries: [.init(id: .maxConcurrentStreams, flags: .persistValue, value: 100)])
        )
        for (bytes, version) in [(v2, SPDYVersion.v2), (v3, .v3)] {
            guard case .frame(let frame, _) = try #require(try decodeOutcomes(bytes, version: version).first) else {
                Issue.record("no frame")
                continue
            }
            #expect(frame == expected)
        }
    }

    @Test("Unknown control types surface with their raw header and payload")
    func unknownTypes() throws {
        for type: UInt16 in [0, 11, 0x7fff, 0xffff] {
            let bytes = controlFrame(version: 3, type: type, flags: 0xab, payload: [1, 2, 3, 4, 5])
            let outcomes = try decodeOutcomes(bytes, version: .v3)
            let header = SPDYControlFrameHeader(version: 3, type: .init(rawValue: type), flags: 0xab, length: 5)
            #expect(
                outcomes
                    == [.frame(.unknown(.init(header: header, payload: ByteBuffer(bytes: [1, 2, 3, 4, 5]))), header)]
            )
            #expect(header.bytes == Array(bytes.prefix(8)))
        }
    }

    @Test("A frame's own version picks its layout: a SPDY/2 GOAWAY in a SPDY/3 session decodes as SPDY/2")
    func versionFromFrame() throws {
        let bytes = controlFrame(version: 2, type: 7, payload: bigEndian32(5))
        let outcomes = try decodeOutcomes(bytes, version: .v3)
        #expect(
            outcomes
                == [.frame(.goAway(.init(lastGoodStreamID: 5)), .init(version: 2, type: .goAway, flags: 0, length: 4))]
        )
    }

    // MARK: Header blocks

    func synStream(
        version: SPDYVersion,
        streamID: UInt32,
        compressed: [UInt8],
        flags: UInt8 = 0
    ) -> [UInt8] {
        controlFrame(
            version: version.wireVersion,
            type: 1,
            flags: flags,
            payload: bigEndian32(streamID) + bigEndian32(0) + [version == .v2 ? 0x40 : 0x20, 0] + compressed
        )
    }

    @Test("An invalid header block is a stream error that keeps the compression context in step")
    func invalidHeaderBlockRecovers() throws {
        for version in [SPDYVersion.v2, .v3] {
            let lengthSize = version.headerBlockLengthFieldSize
            let compressor = try RawHeaderCompressor(version: version)
            let bad = try compressor.compress(nameValueBlock([("Method", "GET")], lengthSize: lengthSize))
            let good = try compressor.compress(nameValueBlock([("method", "GET")], lengthSize: lengthSize))
            let bytes =
                synStream(version: version, streamID: 1, compressed: bad)
                + synStream(version: version, streamID: 3, compressed: good)
            let outcomes = try decodeOutcomes(bytes, version: version)
            #expect(outcomes.count == 2)
            guard case .error(.invalidHeaderBlock, let header, let stream) = outcomes[0] else {
                Issue.record("expected an invalid header block, got \(outcomes)")
                continue
            }
            #expect(header.type == .synStream)
            #expect(stream == 1)
            guard case .frame(.synStream(let syn), _) = outcomes[1] else {
                Issue.record("expected a SYN_STREAM, got \(outcomes[1])")
                continue
            }
            #expect(syn.streamID == 3)
            #expect(syn.priority == 1)
            #expect(syn.headers == [(version == .v2 ? ":method" : "method", "GET")])
        }
    }

    @Test("The error of a header-block frame carries its fixed fields for the RST_STREAM")
    func errorCarriesFixedFields() throws {
        let compressor = try RawHeaderCompressor(version: .v3)
        let bad = try compressor.compress(nameValueBlock([("a", "1"), ("a", "2")], lengthSize: 4))
        let bytes = controlFrame(
            version: 3,
            type: 1,
            flags: 3,
            payload: bigEndian32(7) + bigEndian32(2) + [0xe0, 9] + bad
        )
        let decoder = try SPDYFrameDecoder(version: .v3)
        decoder.append(bytes: bytes)
        let error = try #require(throws: SPDYFrameDecodingError.self) { try decoder.nextFrame() }
        #expect(error.code == .invalidHeaderBlock)
        #expect(
            error.frame
                == .synStream(
                    .init(
                        streamID: 7,
                        associatedStreamID: 2,
                        priority: 7,
                        slot: 9,
                        flags: [.fin, .unidirectional],
                        headers: []
                    )
                )
        )
    }

    @Test("A header block with a structural error is INVALID_FRAME")
    func malformedHeaderBlock() throws {
        let compressor = try RawHeaderCompressor(version: .v3)
        let trailing = try compressor.compress(nameValueBlock([("a", "1")], lengthSize: 4) + [0])
        let tooShort = try compressor.compress([0, 0])
        let outcomes = try decodeOutcomes(
            synStream(version: .v3, streamID: 1, compressed: trailing)
                + synStream(version: .v3, streamID: 3, compressed: tooShort),
            version: .v3
        )
        let codes: [SPDYFrameDecodingError.Code?] = outcomes.map {
            if case .error(let code, _, _) = $0 { return code }
            return nil
        }
        #expect(codes == [.invalidFrame, .invalidFrame])
    }

    @Test("Corrupt compressed bytes are a compression error, and later header blocks fail too")
    func corruptCompression() throws {
        let ping = controlFrame(version: 3, type: 6, payload: bigEndian32(2))
        let compressor = try RawHeaderCompressor(version: .v3)
        let good = try compressor.compress(nameValueBlock([("a", "1")], lengthSize: 4))
        let bytes =
            synStream(version: .v3, streamID: 1, compressed: [0xde, 0xad, 0xbe, 0xef, 0, 0])
            + ping + synStream(version: .v3, streamID: 3, compressed: good) + ping
        let outcomes = try decodeOutcomes(bytes, version: .v3)
        #expect(outcomes.count == 4)
        #expect(outcomes[0] == .error(.compressionError, .init(version: 3, type: .synStream, flags: 0, length: 16), 1))
        if case .frame(.ping, _) = outcomes[1] {} else { Issue.record("expected PING, got \(outcomes[1])") }
        if case .error(.compressionError, _, _) = outcomes[2] {
        } else {
            Issue.record("expected failure, got \(outcomes[2])")
        }
        if case .frame(.ping, _) = outcomes[3] {} else { Issue.record("expected PING, got \(outcomes[3])") }
    }

    @Test("A header block compressed with the other version's dictionary is refused")
    func wrongDictionary() throws {
        let compressor = try RawHeaderCompressor(version: .v2)
        let block = try compressor.compress(nameValueBlock([("a", "1")], lengthSize: 4))
        let outcomes = try decodeOutcomes(synStream(version: .v3, streamID: 1, compressed: block), version: .v3)
        #expect(
            outcomes == [
                .error(.compressionError, .init(version: 3, type: .synStream, flags: 0, length: 10 + block.count), 1)
            ])
    }

    @Test("max control frame size: a larger SETTINGS is refused at its header and skipped without buffering")
    func controlFrameLimit() throws {
        let configuration = SPDYFrameDecoder.Configuration(maxControlFramePayloadSize: 100)
        let decoder = try SPDYFrameDecoder(version: .v3, configuration: configuration)
        let entries = (0..<20).flatMap { _ in [UInt8](repeating: 0, count: 8) }
        let big = controlFrame(version: 3, type: 4, payload: bigEndian32(20) + entries)
        decoder.append(bytes: big.prefix(8))
        let error = try #require(throws: SPDYFrameDecodingError.self) { try decoder.nextFrame() }
        #expect(error.code == .frameTooLarge)
        #expect(error.header.length == 164)
        // The rest of the frame is skipped as it arrives; nothing accumulates.
        for byte in big.dropFirst(8) {
            decoder.append(bytes: [byte])
            #expect(try decoder.nextFrame() == nil)
            #expect(decoder.bufferedBytes == 0)
        }
        decoder.append(bytes: controlFrame(version: 3, type: 6, payload: bigEndian32(4)))
        #expect(
            try decoder.nextFrame()
                == .frame(.ping(.init(id: 4)), header: .init(version: 3, type: .ping, flags: 0, length: 4)))
    }

    @Test(
        "session_recv size limits: oversized SYN_STREAM, SYN_REPLY and HEADERS are stream errors that keep zlib in step"
    )
    func headerFrameLimits() throws {
        let encoder = try SPDYFrameEncoder(version: .v3, compression: .default(for: .client))
        let big: SPDYHeaders = [("x-big", String(repeating: "b", count: 200))]
        let small: SPDYHeaders = [("x-small", "s")]
        let bytes = try encodeAll(
            [
                .synStream(.init(streamID: 1, headers: big)),
                .synReply(.init(streamID: 2, headers: big)),
                .headers(.init(streamID: 2, headers: big)),
                .synStream(.init(streamID: 3, headers: small)),
            ],
            encoder: encoder
        )
        for configuration in [
            SPDYFrameDecoder.Configuration(maxControlFramePayloadSize: 110),
            SPDYFrameDecoder.Configuration(maxHeaderBlockSize: 110),
        ] {
            let outcomes = try decodeOutcomes(bytes, version: .v3, configuration: configuration)
            #expect(outcomes.count == 4)
            for (outcome, stream) in zip(outcomes.prefix(3), [1, 2, 2] as [SPDYStreamID]) {
                guard case .error(.frameTooLarge, _, let id) = outcome else {
                    Issue.record("expected FRAME_TOO_LARGE, got \(outcome)")
                    continue
                }
                #expect(id == stream)
            }
            guard case .frame(.synStream(let syn), _) = outcomes[3] else {
                Issue.record("expected a SYN_STREAM, got \(outcomes[3])")
                continue
            }
            #expect(syn.headers == small)
        }
    }

    @Test("zlib bomb: a block inflating far past the limit stops there, without filling memory")
    func zlibBomb() throws {
        // 16 MiB of one header value compresses to about 16 KiB at level 9.
        let compressor = try RawHeaderCompressor(version: .v3, level: 9)
        let value = [UInt8](repeating: 0x61, count: 16 << 20)
        let bomb = try compressor.compress(nameValueBlock([("x", value)], lengthSize: 4))
        #expect(bomb.count < 64 << 10)
        let ping = controlFrame(version: 3, type: 6, payload: bigEndian32(2))
        let decoder = try SPDYFrameDecoder(version: .v3)
        decoder.append(bytes: synStream(version: .v3, streamID: 1, compressed: bomb) + ping)
        let error = try #require(throws: SPDYFrameDecodingError.self) { try decoder.nextFrame() }
        #expect(error.code == .compressionError)
        #expect(error.streamID == 1)
        // The rest of the bomb is skipped and the session's other frames still decode.
        #expect(
            try decoder.nextFrame()
                == .frame(.ping(.init(id: 2)), header: .init(version: 3, type: .ping, flags: 0, length: 4)))
    }

    @Test("A block slightly over the inflated limit is a stream error; the next block still decodes")
    func justOverTheLimit() throws {
        let compressor = try RawHeaderCompressor(version: .v3)
        let configuration = SPDYFrameDecoder.Configuration(maxHeaderBlockSize: 1000)
        let over = try compressor.compress(
            nameValueBlock([("x", [UInt8](repeating: 0x61, count: 3000))], lengthSize: 4))
        let fine = try compressor.compress(nameValueBlock([("y", "1")], lengthSize: 4))
        let outcomes = try decodeOutcomes(
            synStream(version: .v3, streamID: 1, compressed: over)
                + synStream(version: .v3, streamID: 3, compressed: fine),
            version: .v3,
            configuration: configuration,
            pieces: Array(repeating: 7, count: 200)
        )
        #expect(outcomes.count == 2)
        #expect(outcomes.first.map { if case .error(.frameTooLarge, _, 1) = $0 { true } else { false } } == true)
        guard case .frame(.synStream(let syn), _) = outcomes[1] else {
            Issue.record("expected SYN_STREAM, got \(outcomes[1])")
            return
        }
        #expect(syn.headers == [("y", "1")])
    }

    @Test("session_recv: a SYN_STREAM fed one byte at a time gives exactly one frame")
    func synStreamByteAtATime() throws {
        let encoder = try SPDYFrameEncoder(version: .v3, compression: .default(for: .client))
        let bytes = try encodeAll(
            [.synStream(.init(streamID: 1, priority: 3, headers: [(":path", "/"), (":method", "GET")]))],
            encoder: encoder
        )
        let decoder = try SPDYFrameDecoder(version: .v3)
        var frames: [SPDYFrameDecoder.Event] = []
        for byte in bytes {
            decoder.append(bytes: [byte])
            while let event = try decoder.nextFrame() { frames.append(event) }
        }
        #expect(frames.count == 1)
    }

    @Test("A negative limit is refused when the decoder is created")
    func negativeLimit() {
        #expect(throws: SPDYDecoderSetupError.self) {
            try SPDYFrameDecoder(version: .v3, configuration: .init(maxHeaderBlockSize: -1))
        }
    }
}
