import NIOCore
import Testing

@testable import SPDY

/// The encoder's refusals and guarantees; the exact bytes of each frame are
/// checked against the drafts in the golden-vector tests.
@Suite("Frame encoder")
struct FrameEncoderTests {
    func refusal(
        _ frame: SPDYFrame,
        version: SPDYVersion = .v3
    ) throws -> SPDYFrameEncodingError? {
        let encoder = try SPDYFrameEncoder(version: version)
        var buffer = ByteBuffer(bytes: [0xaa])
        do {
            try encoder.encode(frame, into: &buffer)
            return nil
        } catch {
            // Nothing of a refused frame is written.
            #expect(Array(buffer.readableBytesView) == [0xaa])
            return error
        }
    }

    @Test("pack_syn_stream_frame_too_large: a 16777215-byte value is refused; the zlib stream is untouched")
    func frameTooLarge() throws {
        for compression in [SPDYHeaderCompression.default(for: .client), .default(for: .server)] {
            let encoder = try SPDYFrameEncoder(version: .v3, compression: compression)
            let huge: SPDYHeaders = [("x", String(repeating: "a", count: 16_777_215))]
            var buffer = ByteBuffer()
            #expect {
                try encoder.encode(.synStream(.init(streamID: 1, headers: huge)), into: &buffer)
            } throws: { error in
                guard case .frameTooLarge = error as? SPDYFrameEncodingError else { return false }
                return true
            }
            #expect(buffer.readableBytes == 0)
            // The encoder goes on: a peer decodes the next header frame.
            try encoder.encode(.synStream(.init(streamID: 3, headers: [("a", "b")])), into: &buffer)
            let outcomes = try decodeOutcomes(Array(buffer.readableBytesView), version: .v3)
            guard case .frame(.synStream(let syn), _) = try #require(outcomes.first) else {
                Issue.record("expected a SYN_STREAM, got \(outcomes)")
                continue
            }
            #expect(syn.headers == [("a", "b")])
        }
    }

    @Test("Fields outside the protocol's ranges are refused with typed errors")
    func invalidFields() throws {
        #expect(try refusal(.synStream(.init(streamID: 1, priority: 8, headers: []))) != nil)
        #expect(try refusal(.synStream(.init(streamID: 1, priority: 4, headers: [])), version: .v2) != nil)
        #expect(try refusal(.synStream(.init(streamID: 1, priority: 3, headers: [])), version: .v2) == nil)
        #expect(try refusal(.synStream(.init(streamID: 1, slot: 1, headers: [])), version: .v2) != nil)
        #expect(try refusal(.windowUpdate(.init(streamID: 1, deltaWindowSize: 0))) != nil)
        #expect(try refusal(.windowUpdate(.init(streamID: 1, deltaWindowSize: 0x8000_0000))) != nil)
        #expect(try refusal(.windowUpdate(.init(streamID: 1, deltaWindowSize: 0x7fff_ffff))) == nil)
        #expect(
            try refusal(.settings(.init(entries: [.init(id: .init(rawValue: 0x100_0000), value: 1)]))) != nil
        )
        #expect(try refusal(.credential(.init(slot: 1, proof: ByteBuffer(), certificates: []))) != nil)
        let tooBig = ByteBuffer(repeating: 0, count: SPDYProtocol.maxFramePayloadSize + 1)
        #expect(
            try refusal(.data(.init(streamID: 1, payload: tooBig))) == .frameTooLarge(payloadSize: tooBig.readableBytes)
        )
        #expect(
            try refusal(
                .unknown(
                    .init(header: .init(version: 3, type: .init(rawValue: 99), flags: 0, length: 0), payload: tooBig))
            ) != nil
        )
        #expect(try refusal(.synStream(.init(streamID: 1, headers: [("", "x")]))) != nil)
    }

    @Test("Frames a version does not have are refused: NOOP after SPDY/2, WINDOW_UPDATE and CREDENTIAL before SPDY/3")
    func framesNotInVersion() throws {
        #expect(try refusal(.noop, version: .v3) == .frameTypeNotInVersion(.noop, .v3))
        #expect(try refusal(.noop, version: .v3_1) == .frameTypeNotInVersion(.noop, .v3_1))
        #expect(try refusal(.noop, version: .v2) == nil)
        #expect(
            try refusal(.windowUpdate(.init(streamID: 1, deltaWindowSize: 1)), version: .v2)
                == .frameTypeNotInVersion(.windowUpdate, .v2)
        )
        #expect(
            try refusal(
                .credential(.init(slot: 1, proof: ByteBuffer(), certificates: [ByteBuffer(bytes: [1])])),
                version: .v2
            ) == .frameTypeNotInVersion(.credential, .v2)
        )
    }

    @Test("encodeDataFrameHeader writes the 8-byte header alone, so a payload can be sent without copying")
    func dataHeaderAlone() throws {
        let encoder = try SPDYFrameEncoder(version: .v3)
        var buffer = ByteBuffer()
        try encoder.encodeDataFrameHeader(streamID: 0x7fff_fffe, flags: .fin, length: 0x12_3456, into: &buffer)
        #expect(Array(buffer.readableBytesView) == [0x7f, 0xff, 0xff, 0xfe, 0x01, 0x12, 0x34, 0x56])
        #expect(throws: SPDYFrameEncodingError.self) {
            try encoder.encodeDataFrameHeader(streamID: 1, flags: [], length: 1 << 24, into: &buffer)
        }
    }

    @Test("Compression settings outside zlib's ranges are refused")
    func compressionSettings() {
        #expect(throws: SPDYFrameEncodingError.self) {
            try SPDYFrameEncoder(version: .v3, compression: .init(level: 10))
        }
        #expect(throws: SPDYFrameEncodingError.self) {
            try SPDYFrameEncoder(version: .v3, compression: .init(level: 1, windowBits: 16))
        }
        #expect(throws: SPDYFrameEncodingError.self) {
            try SPDYFrameEncoder(version: .v3, compression: .init(level: 1, memoryLevel: 0))
        }
    }

    @Test(
        "Every compression setting produces blocks a peer decodes, frame after frame",
        arguments: [0, 1, 6, 9]
    )
    func compressionLevels(level: Int) throws {
        for version in SPDYVersion.allCases {
            for windowBits in [9, 11, 15] {
                let encoder = try SPDYFrameEncoder(
                    version: version,
                    compression: .init(level: level, windowBits: windowBits, memoryLevel: windowBits == 15 ? 8 : 1)
                )
                var frames: [SPDYFrame] = []
                for i in 0..<20 {
                    frames.append(
                        .synStream(
                            .init(
                                streamID: SPDYStreamID(UInt32(2 * i + 1))!,
                                headers: [
                                    (":method", "GET"), (":path", "/item/\(i)"),
                                    ("cookie", String(repeating: "c", count: i * 50)),
                                ]
                            )
                        )
                    )
                }
                let outcomes = try decodeOutcomes(try encodeAll(frames, encoder: encoder), version: version)
                #expect(outcomes.count == 20)
                for (i, outcome) in outcomes.enumerated() {
                    guard case .frame(.synStream(let syn), _) = outcome else {
                        Issue.record("frame \(i): \(outcome)")
                        continue
                    }
                    #expect(syn.headers[":path"] == "/item/\(i)")
                }
            }
        }
    }

    @Test("SPDY/3.1 frames carry version 3; SPDY/2 frames version 2")
    func wireVersions() throws {
        for (version, wire) in [(SPDYVersion.v2, UInt8(2)), (.v3, 3), (.v3_1, 3)] {
            let bytes = try encodeAll([.ping(.init(id: 1))], encoder: SPDYFrameEncoder(version: version))
            #expect(bytes.prefix(2) == [0x80, wire])
        }
    }

    @Test("The reference's compression defaults: level 0 for a client, 9 for a server, windowBits 11, memLevel 1")
    func defaults() {
        #expect(SPDYHeaderCompression.default(for: .client) == .init(level: 0, windowBits: 11, memoryLevel: 1))
        #expect(SPDYHeaderCompression.default(for: .server) == .init(level: 9, windowBits: 11, memoryLevel: 1))
    }
}

@Suite("Constants")
struct ConstantsTests {
    @Test("Versions, protocol names and priorities")
    func versions() {
        #expect(SPDYVersion.v2.rawValue == 2 && SPDYVersion.v3.rawValue == 3 && SPDYVersion.v3_1.rawValue == 4)
        #expect(SPDYVersion.negotiationPreference.map(\.protocolName) == ["spdy/3.1", "spdy/3", "spdy/2"])
        #expect(SPDYVersion(protocolName: "spdy/3.1") == .v3_1)
        #expect(SPDYVersion(protocolName: "spdy/4") == nil)
        #expect(SPDYVersion(protocolName: "http/1.1") == nil)
        #expect(SPDYVersion.v2.lowestPriority == 3 && SPDYVersion.v3_1.lowestPriority == 7)
        #expect(!SPDYVersion.v2.hasStreamFlowControl && SPDYVersion.v3.hasStreamFlowControl)
        #expect(!SPDYVersion.v3.hasSessionFlowControl && SPDYVersion.v3_1.hasSessionFlowControl)
    }

    @Test("Frame types, flags, status codes and settings IDs have the drafts' values")
    func values() {
        #expect(SPDYFrameType.allKnown.map(\.rawValue) == Array(1...10))
        #expect(
            SPDYFrameType.allKnown.map(\.description) == [
                "SYN_STREAM", "SYN_REPLY", "RST_STREAM", "SETTINGS", "NOOP", "PING", "GOAWAY", "HEADERS",
                "WINDOW_UPDATE",
                "CREDENTIAL",
            ])
        #expect(SPDYControlFlags.fin.rawValue == 1 && SPDYControlFlags.unidirectional.rawValue == 2)
        #expect(SPDYDataFlags.fin.rawValue == 1)
        let statuses: [SPDYStreamStatus] = [
            .ok, .protocolError, .invalidStream, .refusedStream, .unsupportedVersion, .cancel, .internalError,
            .flowControlError, .streamInUse, .streamAlreadyClosed, .invalidCredentials, .frameTooLarge,
        ]
        #expect(statuses.map(\.rawValue) == Array(0...11))
        #expect(SPDYStreamStatus.flowControlError.isDefined(in: .v2))
        #expect(!SPDYStreamStatus.streamInUse.isDefined(in: .v2))
        #expect(SPDYStreamStatus.frameTooLarge.isDefined(in: .v3_1))
        #expect(!SPDYStreamStatus.ok.isDefined(in: .v3))
        #expect([SPDYGoAwayStatus.ok, .protocolError, .internalError].map(\.rawValue) == [0, 1, 2])
        #expect(SPDYSettingsFlags.clearSettings.rawValue == 1)
        #expect(SPDYSettingsEntryFlags.persistValue.rawValue == 1 && SPDYSettingsEntryFlags.persisted.rawValue == 2)
        let ids: [SPDYSettingsID] = [
            .uploadBandwidth, .downloadBandwidth, .roundTripTime, .maxConcurrentStreams, .currentCwnd,
            .downloadRetransRate, .initialWindowSize, .clientCertificateVectorSize,
        ]
        #expect(ids.map(\.rawValue) == Array(1...8))
        #expect(SPDYSettingsID.max.rawValue == 8)
        #expect(SPDYProtocol.defaultInitialWindowSize == 65536)
        #expect(SPDYProtocol.maxFramePayloadSize == 16_777_215)
    }

    @Test("The zlib dictionaries are the drafts': 907 and 1423 bytes with their Adler-32")
    func dictionaries() {
        func adler32(_ bytes: [UInt8]) -> UInt32 {
            var a: UInt32 = 1
            var b: UInt32 = 0
            for byte in bytes {
                a = (a + UInt32(byte)) % 65521
                b = (b + a) % 65521
            }
            return b << 16 | a
        }
        #expect(HeaderDictionaries.spdy2.count == 907)
        #expect(HeaderDictionaries.spdy3.count == 1423)
        #expect(adler32(HeaderDictionaries.spdy2) == 0xdfa2_51b2)
        #expect(adler32(HeaderDictionaries.spdy3) == 0xe3c6_a7c2)
        #expect(HeaderDictionaries.spdy2.last == 0)
        #expect(String(decoding: HeaderDictionaries.spdy3.suffix(9), as: UTF8.self) == ",*,enq=0.")
        #expect(SPDYVersion.v3.headerDictionaryID == adler32(HeaderDictionaries.spdy3))
        #expect(SPDYVersion.v2.headerDictionaryID == adler32(HeaderDictionaries.spdy2))
        // The public accessor gives each version its draft's dictionary (3.1 keeps SPDY/3's).
        #expect(SPDYVersion.v2.headerDictionary == HeaderDictionaries.spdy2)
        #expect(SPDYVersion.v3.headerDictionary == HeaderDictionaries.spdy3)
        #expect(SPDYVersion.v3_1.headerDictionary == HeaderDictionaries.spdy3)
    }
}
