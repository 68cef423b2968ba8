// Byte-exact golden vectors for every frame type of SPDY/2, SPDY/3 and SPDY/3.1.
//
// The bytes below are written from the drafts' frame layouts (draft 2 sections 2.6-2.7, draft 3
// section 2.6), not produced by this library's encoder. The compressed header blocks come from
// Python's zlib via Vectors/make_vectors.py, which writes them to Vectors/golden.json (see GoldenBytes).
// Every vector is checked both ways: the encoder must write exactly the bytes, and the decoder must read
// exactly the frame back from them.

import NIOCore
import Testing

@testable import SPDY

// MARK: - Helpers

/// A frame and the exact bytes the drafts lay it out as.
private struct Vector: Sendable, CustomTestStringConvertible {
    var name: String
    var frame: SPDYFrame
    var bytes: [UInt8]

    var testDescription: String { name }
}

private func encodeBytes(_ frame: SPDYFrame, with encoder: SPDYFrameEncoder) throws -> [UInt8] {
    var buffer = ByteBuffer()
    try encoder.encode(frame, into: &buffer)
    return Array(buffer.readableBytesView)
}

/// Feeds `bytes` to `decoder` (all at once, or one byte per `append`) and collects every event.
private func decodeEvents(
    _ bytes: [UInt8],
    with decoder: SPDYFrameDecoder,
    byteByByte: Bool = false
) throws -> [SPDYFrameDecoder.Event] {
    var events: [SPDYFrameDecoder.Event] = []
    if byteByByte {
        for byte in bytes {
            decoder.append(bytes: [byte])
            while let event = try decoder.nextFrame() { events.append(event) }
        }
    } else {
        decoder.append(bytes: bytes)
        while let event = try decoder.nextFrame() { events.append(event) }
    }
    #expect(decoder.bufferedBytes == 0)
    return events
}

/// The control frame header read straight from the first eight bytes of `bytes` (independently of
/// the decoder): version = 15 bits after the C bit, type, flags, 24-bit length.
private func wireHeader(_ bytes: [UInt8]) -> SPDYControlFrameHeader {
    SPDYControlFrameHeader(
        version: UInt16(bytes[0] & 0x7f) << 8 | UInt16(bytes[1]),
        type: SPDYFrameType(rawValue: UInt16(bytes[2]) << 8 | UInt16(bytes[3])),
        flags: bytes[4],
        length: Int(bytes[5]) << 16 | Int(bytes[6]) << 8 | Int(bytes[7])
    )
}

/// The event a decoder must produce for a control-frame vector.
private func controlEvent(_ vector: Vector) -> SPDYFrameDecoder.Event {
    .frame(vector.frame, header: wireHeader(vector.bytes))
}

private func buffer(_ bytes: [UInt8]) -> ByteBuffer {
    ByteBuffer(bytes: bytes)
}

private func headers(_ pairs: [(String, String)]) -> SPDYHeaders {
    SPDYHeaders(pairs.map { (name: $0.0, value: $0.1) })
}

/// Checks one control-frame vector both ways on fresh coders of `version`.
private func checkControlVector(_ vector: Vector, version: SPDYVersion) throws {
    let encoder = try SPDYFrameEncoder(version: version)
    #expect(try encodeBytes(vector.frame, with: encoder) == vector.bytes, "encoding \(vector.name)")
    #expect(Int(wireHeader(vector.bytes).length) == vector.bytes.count - 8, "length field of \(vector.name)")

    let decoder = try SPDYFrameDecoder(version: version)
    #expect(try decodeEvents(vector.bytes, with: decoder) == [controlEvent(vector)], "decoding \(vector.name)")
    let slowDecoder = try SPDYFrameDecoder(version: version)
    #expect(
        try decodeEvents(vector.bytes, with: slowDecoder, byteByByte: true) == [controlEvent(vector)],
        "decoding \(vector.name) one byte at a time"
    )
}

// MARK: - Control frames without a header block

/// SPDY/2 vectors: version 2 in every control header.
private let spdy2Vectors: [Vector] = [
    Vector(
        name: "RST_STREAM stream 65536 CANCEL",
        frame: .rstStream(.init(streamID: 65536, status: .cancel)),
        bytes: [0x80, 0x02, 0x00, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05]
    ),
    Vector(
        name: "RST_STREAM stream 2^31-1 FLOW_CONTROL_ERROR",
        frame: .rstStream(.init(streamID: .maxID, status: .flowControlError)),
        bytes: [0x80, 0x02, 0x00, 0x03, 0x00, 0x00, 0x00, 0x08, 0x7f, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x07]
    ),
    Vector(
        // Frame length 8 + 4 + 3 * 8; each entry: 24-bit little-endian ID, flags, 32-bit value.
        name: "SETTINGS CLEAR_SETTINGS, three entries",
        frame: .settings(
            .init(
                flags: .clearSettings,
                entries: [
                    .init(id: .uploadBandwidth, flags: .persistValue, value: 4096),
                    .init(id: .maxConcurrentStreams, flags: [], value: 100),
                    .init(id: .initialWindowSize, flags: .persisted, value: 65536),
                ]
            )
        ),
        bytes: [
            0x80, 0x02, 0x00, 0x04, 0x01, 0x00, 0x00, 0x1c,
            0x00, 0x00, 0x00, 0x03,
            0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x10, 0x00,
            0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64,
            0x07, 0x00, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00,
        ]
    ),
    Vector(
        // ID 0x010203 shows the byte order: 03 02 01, then the flags byte.
        name: "SETTINGS 24-bit ID little-endian",
        frame: .settings(
            .init(entries: [
                .init(id: SPDYSettingsID(rawValue: 0x01_0203), flags: [.persistValue, .persisted], value: 0xdead_beef)
            ])
        ),
        bytes: [
            0x80, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x0c,
            0x00, 0x00, 0x00, 0x01,
            0x03, 0x02, 0x01, 0x03, 0xde, 0xad, 0xbe, 0xef,
        ]
    ),
    Vector(
        name: "SETTINGS empty",
        frame: .settings(.init(entries: [])),
        bytes: [0x80, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00]
    ),
    Vector(
        name: "NOOP",
        frame: .noop,
        bytes: [0x80, 0x02, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00]
    ),
    Vector(
        name: "PING 1",
        frame: .ping(.init(id: 1)),
        bytes: [0x80, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01]
    ),
    Vector(
        name: "PING 0xfffffffe",
        frame: .ping(.init(id: 0xffff_fffe)),
        bytes: [0x80, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0xff, 0xff, 0xff, 0xfe]
    ),
    Vector(
        // SPDY/2 GOAWAY: Last-good-stream-ID only, length 4.
        name: "GOAWAY last good 1000000007",
        frame: .goAway(.init(lastGoodStreamID: 1_000_000_007)),
        bytes: [0x80, 0x02, 0x00, 0x07, 0x00, 0x00, 0x00, 0x04, 0x3b, 0x9a, 0xca, 0x07]
    ),
    Vector(
        name: "unknown control type 0xffff",
        frame: .unknown(
            .init(header: .init(version: 2, type: .init(rawValue: 0xffff), flags: 0x80, length: 0), payload: buffer([]))
        ),
        bytes: [0x80, 0x02, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00]
    ),
    Vector(
        name: "unknown control type 0x000b",
        frame: .unknown(
            .init(
                header: .init(version: 2, type: .init(rawValue: 0x000b), flags: 0x01, length: 5),
                payload: buffer([0x01, 0x02, 0x03, 0x04, 0x05])
            )
        ),
        bytes: [0x80, 0x02, 0x00, 0x0b, 0x01, 0x00, 0x00, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05]
    ),
]

/// SPDY/3 vectors; SPDY/3.1 writes the very same bytes (version 3 on the wire).
private let spdy3Vectors: [Vector] = [
    Vector(
        name: "RST_STREAM stream 1000000007 FRAME_TOO_LARGE",
        frame: .rstStream(.init(streamID: 1_000_000_007, status: .frameTooLarge)),
        bytes: [0x80, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00, 0x08, 0x3b, 0x9a, 0xca, 0x07, 0x00, 0x00, 0x00, 0x0b]
    ),
    Vector(
        name: "RST_STREAM stream 3 STREAM_IN_USE",
        frame: .rstStream(.init(streamID: 3, status: .streamInUse)),
        bytes: [0x80, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x08]
    ),
    Vector(
        // Frame length 8 + 4 + 3 * 8; each entry: flags, 24-bit big-endian ID, 32-bit value.
        name: "SETTINGS CLEAR_SETTINGS, three entries",
        frame: .settings(
            .init(
                flags: .clearSettings,
                entries: [
                    .init(id: .uploadBandwidth, flags: .persistValue, value: 4096),
                    .init(id: .maxConcurrentStreams, flags: [], value: 100),
                    .init(id: .initialWindowSize, flags: .persisted, value: 65536),
                ]
            )
        ),
        bytes: [
            0x80, 0x03, 0x00, 0x04, 0x01, 0x00, 0x00, 0x1c,
            0x00, 0x00, 0x00, 0x03,
            0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x10, 0x00,
            0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x64,
            0x02, 0x00, 0x00, 0x07, 0x00, 0x01, 0x00, 0x00,
        ]
    ),
    Vector(
        name: "SETTINGS 24-bit ID big-endian",
        frame: .settings(
            .init(entries: [
                .init(id: SPDYSettingsID(rawValue: 0x01_0203), flags: [.persistValue, .persisted], value: 0xdead_beef)
            ])
        ),
        bytes: [
            0x80, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x0c,
            0x00, 0x00, 0x00, 0x01,
            0x03, 0x01, 0x02, 0x03, 0xde, 0xad, 0xbe, 0xef,
        ]
    ),
    Vector(
        name: "SETTINGS CLIENT_CERTIFICATE_VECTOR_SIZE",
        frame: .settings(.init(entries: [.init(id: .clientCertificateVectorSize, value: 8)])),
        bytes: [
            0x80, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x0c,
            0x00, 0x00, 0x00, 0x01,
            0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x08,
        ]
    ),
    Vector(
        name: "PING 1",
        frame: .ping(.init(id: 1)),
        bytes: [0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01]
    ),
    Vector(
        name: "PING 0x12345678",
        frame: .ping(.init(id: 0x1234_5678)),
        bytes: [0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0x12, 0x34, 0x56, 0x78]
    ),
    Vector(
        // SPDY/3 GOAWAY: Last-good-stream-ID and Status code, length 8.
        name: "GOAWAY last good 1000000007 OK",
        frame: .goAway(.init(lastGoodStreamID: 1_000_000_007, status: .ok)),
        bytes: [0x80, 0x03, 0x00, 0x07, 0x00, 0x00, 0x00, 0x08, 0x3b, 0x9a, 0xca, 0x07, 0x00, 0x00, 0x00, 0x00]
    ),
    Vector(
        name: "GOAWAY last good 1000000007 PROTOCOL_ERROR",
        frame: .goAway(.init(lastGoodStreamID: 1_000_000_007, status: .protocolError)),
        bytes: [0x80, 0x03, 0x00, 0x07, 0x00, 0x00, 0x00, 0x08, 0x3b, 0x9a, 0xca, 0x07, 0x00, 0x00, 0x00, 0x01]
    ),
    Vector(
        name: "GOAWAY last good 0 INTERNAL_ERROR",
        frame: .goAway(.init(lastGoodStreamID: .zero, status: .internalError)),
        bytes: [0x80, 0x03, 0x00, 0x07, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02]
    ),
    Vector(
        // The reference's pack_window_update: a 16-byte frame.
        name: "WINDOW_UPDATE stream 1000000007 delta 4096",
        frame: .windowUpdate(.init(streamID: 1_000_000_007, deltaWindowSize: 4096)),
        bytes: [0x80, 0x03, 0x00, 0x09, 0x00, 0x00, 0x00, 0x08, 0x3b, 0x9a, 0xca, 0x07, 0x00, 0x00, 0x10, 0x00]
    ),
    Vector(
        // SPDY/3.1 session window: stream 0.
        name: "WINDOW_UPDATE stream 0 delta 2^31-1",
        frame: .windowUpdate(.init(streamID: .zero, deltaWindowSize: 0x7fff_ffff)),
        bytes: [0x80, 0x03, 0x00, 0x09, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff]
    ),
    Vector(
        // Slot(16), proof length(32) + proof, then each certificate as length(32) + bytes.
        name: "CREDENTIAL slot 0x0102, two certificates",
        frame: .credential(
            .init(
                slot: 0x0102,
                proof: buffer([0xde, 0xad, 0xbe, 0xef]),
                certificates: [buffer([0x30, 0x82, 0x01]), buffer([0x30, 0x03])]
            )
        ),
        bytes: [
            0x80, 0x03, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x17,
            0x01, 0x02,
            0x00, 0x00, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef,
            0x00, 0x00, 0x00, 0x03, 0x30, 0x82, 0x01,
            0x00, 0x00, 0x00, 0x02, 0x30, 0x03,
        ]
    ),
    Vector(
        name: "CREDENTIAL empty proof, one empty certificate",
        frame: .credential(.init(slot: 7, proof: buffer([]), certificates: [buffer([])])),
        bytes: [
            0x80, 0x03, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x0a,
            0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ]
    ),
    Vector(
        name: "unknown control type 0x000b",
        frame: .unknown(
            .init(
                header: .init(version: 3, type: .init(rawValue: 0x000b), flags: 0x07, length: 3),
                payload: buffer([0xaa, 0xbb, 0xcc])
            )
        ),
        bytes: [0x80, 0x03, 0x00, 0x0b, 0x07, 0x00, 0x00, 0x03, 0xaa, 0xbb, 0xcc]
    ),
    Vector(
        name: "unknown control type 0xffff",
        frame: .unknown(
            .init(header: .init(version: 3, type: .init(rawValue: 0xffff), flags: 0, length: 0), payload: buffer([]))
        ),
        bytes: [0x80, 0x03, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00]
    ),
]

/// DATA frames: the same in every version (C=0, Stream-ID(31), flags, length(24), data).
private let dataVectors: [Vector] = [
    Vector(
        name: "DATA stream 1 \"hello\"",
        frame: .data(.init(streamID: 1, payload: buffer(Array("hello".utf8)))),
        bytes: [0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f]
    ),
    Vector(
        name: "DATA stream 3 FIN, zero length",
        frame: .data(.init(streamID: 3, flags: .fin, payload: buffer([]))),
        bytes: [0x00, 0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0x00]
    ),
    Vector(
        name: "DATA stream 2^31-1 FIN, 3 bytes",
        frame: .data(.init(streamID: .maxID, flags: .fin, payload: buffer([0x00, 0xff, 0x80]))),
        bytes: [0x7f, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00, 0x03, 0x00, 0xff, 0x80]
    ),
    Vector(
        name: "DATA stream 65536, 300 bytes",
        frame: .data(.init(streamID: 65536, payload: buffer(Array(repeating: 0x5a, count: 300)))),
        bytes: [0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x2c] + Array(repeating: 0x5a, count: 300)
    ),
]

@Suite("Golden vectors: frames without a header block")
struct GoldenControlFrameTests {
    @Test("SPDY/2 control frames", arguments: spdy2Vectors)
    fileprivate func spdy2(_ vector: Vector) throws {
        #expect(Array(vector.bytes[0..<2]) == [0x80, 0x02])
        try checkControlVector(vector, version: .v2)
    }

    @Test("SPDY/3 and SPDY/3.1 control frames", arguments: [SPDYVersion.v3, .v3_1], spdy3Vectors)
    fileprivate func spdy3(_ version: SPDYVersion, _ vector: Vector) throws {
        #expect(Array(vector.bytes[0..<2]) == [0x80, 0x03])
        try checkControlVector(vector, version: version)
    }

    @Test("DATA frames", arguments: SPDYVersion.allCases, dataVectors)
    fileprivate func data(_ version: SPDYVersion, _ vector: Vector) throws {
        let encoder = try SPDYFrameEncoder(version: version)
        #expect(try encodeBytes(vector.frame, with: encoder) == vector.bytes)

        guard case .data(let frame) = vector.frame else {
            Issue.record("not a DATA vector")
            return
        }
        let header = SPDYDataFrameHeader(
            streamID: frame.streamID,
            flags: frame.flags,
            length: vector.bytes.count - 8
        )
        let decoder = try SPDYFrameDecoder(version: version)
        #expect(
            try decodeEvents(vector.bytes, with: decoder)
                == [.dataChunk(SPDYDataChunk(header: header, payload: frame.payload, isEndOfFrame: true))]
        )

        // The header alone, written for a payload sent separately, is the first eight bytes.
        var headerOnly = ByteBuffer()
        try encoder.encodeDataFrameHeader(
            streamID: frame.streamID,
            flags: frame.flags,
            length: frame.payload.readableBytes,
            into: &headerOnly
        )
        #expect(Array(headerOnly.readableBytesView) == Array(vector.bytes[0..<8]))
    }

    @Test("All control frames of a version in one stream, fed one byte at a time", arguments: SPDYVersion.allCases)
    func wholeStream(_ version: SPDYVersion) throws {
        let vectors = version == .v2 ? spdy2Vectors : spdy3Vectors
        let stream = vectors.flatMap(\.bytes)
        let encoder = try SPDYFrameEncoder(version: version)
        var written = ByteBuffer()
        for vector in vectors { try encoder.encode(vector.frame, into: &written) }
        #expect(Array(written.readableBytesView) == stream)

        let decoder = try SPDYFrameDecoder(version: version)
        #expect(try decodeEvents(stream, with: decoder, byteByByte: true) == vectors.map(controlEvent))
    }

    @Test("SPDY/2 GOAWAY has no status: it is not written and decodes as OK")
    func spdy2GoAwayDropsStatus() throws {
        let encoder = try SPDYFrameEncoder(version: .v2)
        let bytes = try encodeBytes(
            .goAway(.init(lastGoodStreamID: 1_000_000_007, status: .protocolError)),
            with: encoder
        )
        #expect(bytes == [0x80, 0x02, 0x00, 0x07, 0x00, 0x00, 0x00, 0x04, 0x3b, 0x9a, 0xca, 0x07])
        let decoder = try SPDYFrameDecoder(version: .v2)
        let events = try decodeEvents(bytes, with: decoder)
        #expect(
            events == [.frame(.goAway(.init(lastGoodStreamID: 1_000_000_007, status: .ok)), header: wireHeader(bytes))])
    }

    @Test("NOOP does not exist in SPDY/3 and SPDY/3.1", arguments: [SPDYVersion.v3, .v3_1])
    func noopNotInSPDY3(_ version: SPDYVersion) throws {
        let encoder = try SPDYFrameEncoder(version: version)
        var buffer = ByteBuffer(bytes: [0xaa])
        #expect(throws: SPDYFrameEncodingError.frameTypeNotInVersion(.noop, version)) {
            try encoder.encode(.noop, into: &buffer)
        }
        #expect(Array(buffer.readableBytesView) == [0xaa])
    }

    @Test("WINDOW_UPDATE and CREDENTIAL do not exist in SPDY/2")
    func spdy3FramesNotInSPDY2() throws {
        let encoder = try SPDYFrameEncoder(version: .v2)
        var buffer = ByteBuffer()
        #expect(throws: SPDYFrameEncodingError.frameTypeNotInVersion(.windowUpdate, .v2)) {
            try encoder.encode(.windowUpdate(.init(streamID: 1, deltaWindowSize: 4096)), into: &buffer)
        }
        #expect(throws: SPDYFrameEncodingError.frameTypeNotInVersion(.credential, .v2)) {
            try encoder.encode(
                .credential(.init(slot: 1, proof: ByteBuffer(), certificates: [ByteBuffer(bytes: [1])])),
                into: &buffer
            )
        }
        #expect(buffer.readableBytes == 0)
    }
}

// MARK: - Reserved bits

@Suite("Golden vectors: reserved bits are ignored on receipt")
struct GoldenReservedBitsTests {
    private func decodeOne(_ bytes: [UInt8], version: SPDYVersion) throws -> SPDYFrameDecoder.Event? {
        let decoder = try SPDYFrameDecoder(version: version)
        let events = try decodeEvents(bytes, with: decoder)
        #expect(events.count == 1)
        return events.first
    }

    @Test("The X bit before a stream ID is masked", arguments: [SPDYVersion.v2, .v3, .v3_1])
    func streamIDTopBit(_ version: SPDYVersion) throws {
        let v = UInt8(version.wireVersion)
        // RST_STREAM with X set in front of stream 5.
        let rst: [UInt8] = [
            0x80, v, 0x00, 0x03, 0x00, 0x00, 0x00, 0x08, 0x80, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01,
        ]
        #expect(
            try decodeOne(rst, version: version)
                == .frame(.rstStream(.init(streamID: 5, status: .protocolError)), header: wireHeader(rst)))
        // GOAWAY with X set in front of the last good stream ID.
        let goAway: [UInt8] =
            version == .v2
            ? [0x80, 0x02, 0x00, 0x07, 0x00, 0x00, 0x00, 0x04, 0xbb, 0x9a, 0xca, 0x07]
            : [0x80, 0x03, 0x00, 0x07, 0x00, 0x00, 0x00, 0x08, 0xbb, 0x9a, 0xca, 0x07, 0x00, 0x00, 0x00, 0x02]
        let status: SPDYGoAwayStatus = version == .v2 ? .ok : .internalError
        #expect(
            try decodeOne(goAway, version: version)
                == .frame(.goAway(.init(lastGoodStreamID: 1_000_000_007, status: status)), header: wireHeader(goAway)))
    }

    @Test("WINDOW_UPDATE: X bits before the stream ID and the delta are masked", arguments: [SPDYVersion.v3, .v3_1])
    func windowUpdateTopBits(_ version: SPDYVersion) throws {
        let bytes: [UInt8] = [
            0x80, 0x03, 0x00, 0x09, 0x00, 0x00, 0x00, 0x08, 0xbb, 0x9a, 0xca, 0x07, 0x80, 0x00, 0x10, 0x00,
        ]
        #expect(
            try decodeOne(bytes, version: version)
                == .frame(
                    .windowUpdate(.init(streamID: 1_000_000_007, deltaWindowSize: 4096)), header: wireHeader(bytes)))
    }

    @Test("The control-frame version is masked with 0x7fff")
    func versionMask() throws {
        // C bit plus version 0x7fff: a PING whose version field is all ones.
        let bytes: [UInt8] = [0xff, 0xff, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x09]
        let event = try decodeOne(bytes, version: .v3)
        #expect(event == .frame(.ping(.init(id: 9)), header: .init(version: 0x7fff, type: .ping, flags: 0, length: 4)))

        // An unknown frame written with the C bit in its version field still carries the version in 15 bits.
        let encoder = try SPDYFrameEncoder(version: .v3)
        let frame = SPDYFrame.unknown(
            .init(
                header: .init(version: 0x8003, type: .init(rawValue: 0x0b), flags: 0, length: 0),
                payload: buffer([0x01]))
        )
        #expect(try encodeBytes(frame, with: encoder) == [0x80, 0x03, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x01, 0x01])
        #expect(
            SPDYControlFrameHeader(version: 0xffff, type: .ping, flags: 0, length: 4).bytes == [
                0xff, 0xff, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04,
            ])
    }

    @Test("SYN_STREAM: X bits, unused priority bits and the SPDY/2 unused byte are ignored")
    func synStreamReservedBits() throws {
        // SPDY/2: X bits on both stream IDs, priority byte 0xff (pri 3 plus 6 unused bits), unused byte 0xff.
        var v2 = try GoldenBytes.v2ClientSynStreamFin.bytes
        v2[8] |= 0x80
        v2[12] |= 0x80
        v2[16] = 0xff
        v2[17] = 0xff
        #expect(try decodeOne(v2, version: .v2) == .frame(GoldenFrames.v2ClientSynStreamFin, header: wireHeader(v2)))

        // SPDY/3: X bits on both stream IDs, priority byte 0xff (pri 7 plus 5 unused bits); byte 17 is the slot.
        var v3 = try GoldenBytes.v3ClientSynStreamFin.bytes
        v3[8] |= 0x80
        v3[12] |= 0x80
        v3[16] = 0xff
        #expect(try decodeOne(v3, version: .v3) == .frame(GoldenFrames.v3ClientSynStreamFin, header: wireHeader(v3)))
    }

    @Test("SPDY/2 SYN_REPLY: the X bit and the 16 unused bits after the stream ID are ignored")
    func synReplyUnusedBits() throws {
        var bytes = try GoldenBytes.v2ServerSeq1SynReply.bytes
        bytes[8] |= 0x80
        bytes[12] = 0xff
        bytes[13] = 0xff
        #expect(
            try decodeOne(bytes, version: .v2) == .frame(GoldenFrames.v2ServerSeq1SynReply, header: wireHeader(bytes)))
    }
}

// MARK: - Header-block frames

/// The frames of Vectors/golden.json, which `python3 Tests/SPDYTests/Vectors/make_vectors.py golden`
/// writes: SYN_STREAM, SYN_REPLY and HEADERS frames with header blocks deflated by Python's zlib.
/// The file must hold exactly these frames; if it cannot be read, every test using it fails.
private enum GoldenBytes: String, CaseIterable {
    case v2ClientSynStreamFin, v2ClientSeq1SynStream, v2ClientSeq2Headers
    case v2ServerSeq1SynReply, v2ServerSeq2Headers, v2ServerSeq3Push
    case v3ClientSynStreamFin, v3ClientSeq1SynStream, v3ClientSeq2Headers
    case v3ServerSeq1SynReply, v3ServerSeq2Headers, v3ServerSeq3Push

    private static let file = Result {
        try GeneratedFrames(resource: "golden", expecting: Set(allCases.map(\.rawValue)))
    }

    /// The frame's bytes.
    var bytes: [UInt8] {
        get throws { try Self.file.get().bytes(of: rawValue) }
    }
}

/// The frames of the header-block vectors, as the decoder must return them. SPDY/2 pairs are in
/// the order of their SPDY/2 names on the wire (`host`, `method`, `scheme`, `url`, `version`),
/// reported under the API's SPDY/3 names.
private enum GoldenFrames {
    static let v2ClientSynStreamFin = SPDYFrame.synStream(
        .init(
            streamID: 65536,
            associatedStreamID: 1_000_000_007,
            priority: 3,
            flags: .fin,
            headers: headers([
                ("accept", "*/*"), (":host", "example.com"), (":method", "GET"), (":scheme", "https"),
                (":path", "/index.html"), (":version", "HTTP/1.1"), ("x-head", "foo"), ("x-head", "bar"),
            ])
        )
    )
    static let v2ClientSeq1SynStream = SPDYFrame.synStream(
        .init(
            streamID: 1,
            priority: 1,
            headers: headers([
                ("content-type", "text/plain"), (":host", "example.com"), (":method", "POST"), (":scheme", "https"),
                (":path", "/upload"), (":version", "HTTP/1.1"),
            ])
        )
    )
    static let v2ClientSeq2Headers = SPDYFrame.headers(
        .init(streamID: 1, flags: .fin, headers: headers(trailer))
    )
    static let v2ServerSeq1SynReply = SPDYFrame.synReply(
        .init(
            streamID: 1,
            headers: headers([
                ("content-type", "text/html"), ("server", "swift-spdy"), (":status", "200 OK"),
                (":version", "HTTP/1.1"),
            ])
        )
    )
    static let v2ServerSeq2Headers = SPDYFrame.headers(.init(streamID: 1, flags: .fin, headers: headers(replyMore)))
    static let v2ServerSeq3Push = SPDYFrame.synStream(
        .init(
            streamID: 2,
            associatedStreamID: 1,
            priority: 2,
            flags: .unidirectional,
            headers: headers([
                ("content-type", "text/css"), (":host", "example.com"), (":scheme", "https"), (":status", "200 OK"),
                (":path", "/style.css"), (":version", "HTTP/1.1"),
            ])
        )
    )

    static let v3ClientSynStreamFin = SPDYFrame.synStream(
        .init(
            streamID: 65536,
            associatedStreamID: 1_000_000_007,
            priority: 7,
            flags: .fin,
            headers: headers([
                (":host", "example.com"), (":method", "GET"), (":path", "/index.html"), (":scheme", "https"),
                (":version", "HTTP/1.1"), ("accept", "*/*"), ("x-head", "foo"), ("x-head", "bar"),
            ])
        )
    )
    static let v3ClientSeq1SynStream = SPDYFrame.synStream(
        .init(
            streamID: 1,
            priority: 2,
            slot: 5,
            headers: headers([
                (":host", "example.com"), (":method", "POST"), (":path", "/upload"), (":scheme", "https"),
                (":version", "HTTP/1.1"), ("content-type", "text/plain"),
            ])
        )
    )
    static let v3ClientSeq2Headers = SPDYFrame.headers(.init(streamID: 1, flags: .fin, headers: headers(trailer)))
    static let v3ServerSeq1SynReply = SPDYFrame.synReply(
        .init(
            streamID: 1,
            headers: headers([
                (":status", "200 OK"), (":version", "HTTP/1.1"), ("content-type", "text/html"),
                ("server", "swift-spdy"),
            ])
        )
    )
    static let v3ServerSeq2Headers = SPDYFrame.headers(.init(streamID: 1, flags: .fin, headers: headers(replyMore)))
    static let v3ServerSeq3Push = SPDYFrame.synStream(
        .init(
            streamID: 2,
            associatedStreamID: 1,
            priority: 0,
            flags: [.fin, .unidirectional],
            headers: headers([
                (":host", "example.com"), (":path", "/style.css"), (":scheme", "https"), (":status", "200 OK"),
                (":version", "HTTP/1.1"), ("content-type", "text/css"),
            ])
        )
    )

    static let trailer = [("content-md5", "Q2hlY2sgSW50ZWdyaXR5IQ=="), ("x-trailer", "done")]
    static let replyMore = [
        ("content-type", "text/html"), ("server", "swift-spdy"), ("x-extra", "swift-spdy, text/html"),
    ]
}

/// A sequence of header-block frames written by one encoder (one zlib stream).
private struct HeaderSequence: Sendable, CustomTestStringConvertible {
    var name: String
    var version: SPDYVersion
    var role: SPDYRole
    var vectors: [Vector]

    var testDescription: String { name }
}

/// The header-block sequences; throws when Vectors/golden.json cannot be read.
private func headerSequences() throws -> [HeaderSequence] {
    var sequences: [HeaderSequence] = try [
        HeaderSequence(
            name: "SPDY/2 client: SYN_STREAM 65536 assoc 1000000007 pri 3 FIN",
            version: .v2,
            role: .client,
            vectors: [
                Vector(
                    name: "SYN_STREAM", frame: GoldenFrames.v2ClientSynStreamFin,
                    bytes: GoldenBytes.v2ClientSynStreamFin.bytes)
            ]
        ),
        HeaderSequence(
            name: "SPDY/2 client: SYN_STREAM then HEADERS FIN on stream 1",
            version: .v2,
            role: .client,
            vectors: [
                Vector(
                    name: "SYN_STREAM", frame: GoldenFrames.v2ClientSeq1SynStream,
                    bytes: GoldenBytes.v2ClientSeq1SynStream.bytes),
                Vector(
                    name: "HEADERS", frame: GoldenFrames.v2ClientSeq2Headers,
                    bytes: GoldenBytes.v2ClientSeq2Headers.bytes),
            ]
        ),
        HeaderSequence(
            name: "SPDY/2 server: SYN_REPLY, HEADERS FIN, pushed SYN_STREAM",
            version: .v2,
            role: .server,
            vectors: [
                Vector(
                    name: "SYN_REPLY", frame: GoldenFrames.v2ServerSeq1SynReply,
                    bytes: GoldenBytes.v2ServerSeq1SynReply.bytes
                ),
                Vector(
                    name: "HEADERS", frame: GoldenFrames.v2ServerSeq2Headers,
                    bytes: GoldenBytes.v2ServerSeq2Headers.bytes),
                Vector(
                    name: "SYN_STREAM", frame: GoldenFrames.v2ServerSeq3Push, bytes: GoldenBytes.v2ServerSeq3Push.bytes),
            ]
        ),
    ]
    for version in [SPDYVersion.v3, .v3_1] {
        sequences += try [
            HeaderSequence(
                name: "\(version) client: SYN_STREAM 65536 assoc 1000000007 pri 7 FIN",
                version: version,
                role: .client,
                vectors: [
                    Vector(
                        name: "SYN_STREAM", frame: GoldenFrames.v3ClientSynStreamFin,
                        bytes: GoldenBytes.v3ClientSynStreamFin.bytes)
                ]
            ),
            HeaderSequence(
                name: "\(version) client: SYN_STREAM slot 5 then HEADERS FIN on stream 1",
                version: version,
                role: .client,
                vectors: [
                    Vector(
                        name: "SYN_STREAM", frame: GoldenFrames.v3ClientSeq1SynStream,
                        bytes: GoldenBytes.v3ClientSeq1SynStream.bytes),
                    Vector(
                        name: "HEADERS", frame: GoldenFrames.v3ClientSeq2Headers,
                        bytes: GoldenBytes.v3ClientSeq2Headers.bytes
                    ),
                ]
            ),
            HeaderSequence(
                name: "\(version) server: SYN_REPLY, HEADERS FIN, pushed SYN_STREAM",
                version: version,
                role: .server,
                vectors: [
                    Vector(
                        name: "SYN_REPLY", frame: GoldenFrames.v3ServerSeq1SynReply,
                        bytes: GoldenBytes.v3ServerSeq1SynReply.bytes),
                    Vector(
                        name: "HEADERS", frame: GoldenFrames.v3ServerSeq2Headers,
                        bytes: GoldenBytes.v3ServerSeq2Headers.bytes
                    ),
                    Vector(
                        name: "SYN_STREAM", frame: GoldenFrames.v3ServerSeq3Push,
                        bytes: GoldenBytes.v3ServerSeq3Push.bytes),
                ]
            ),
        ]
    }
    return sequences
}

@Suite("Golden vectors: SYN_STREAM, SYN_REPLY and HEADERS with Python-zlib header blocks")
struct GoldenHeaderBlockTests {
    @Test(
        "The encoder writes exactly the bytes, frame after frame on one zlib stream", arguments: try headerSequences())
    fileprivate func encode(_ sequence: HeaderSequence) throws {
        let encoder = try SPDYFrameEncoder(version: sequence.version, compression: .default(for: sequence.role))
        for vector in sequence.vectors {
            #expect(try encodeBytes(vector.frame, with: encoder) == vector.bytes, "\(vector.name)")
        }
    }

    @Test("The decoder reads exactly the frames back, frame after frame", arguments: try headerSequences())
    fileprivate func decode(_ sequence: HeaderSequence) throws {
        let decoder = try SPDYFrameDecoder(version: sequence.version)
        for vector in sequence.vectors {
            #expect(try decodeEvents(vector.bytes, with: decoder) == [controlEvent(vector)], "\(vector.name)")
        }
        // The whole sequence in one piece, and one byte at a time.
        let all = sequence.vectors.flatMap(\.bytes)
        #expect(
            try decodeEvents(all, with: try SPDYFrameDecoder(version: sequence.version))
                == sequence.vectors.map(controlEvent))
        #expect(
            try decodeEvents(all, with: try SPDYFrameDecoder(version: sequence.version), byteByByte: true)
                == sequence.vectors.map(controlEvent)
        )
    }

    @Test("The fixed fields follow the draft layout", arguments: try headerSequences())
    fileprivate func fixedFields(_ sequence: HeaderSequence) throws {
        for (index, vector) in sequence.vectors.enumerated() {
            let b = vector.bytes
            #expect(Array(b[0..<2]) == [0x80, sequence.version == .v2 ? 0x02 : 0x03])
            switch vector.frame {
            case .synStream(let f):
                #expect(Array(b[2..<4]) == [0x00, 0x01])
                #expect(b[8..<12].reduce(0) { $0 << 8 | UInt32($1) } == f.streamID.rawValue)
                #expect(b[12..<16].reduce(0) { $0 << 8 | UInt32($1) } == f.associatedStreamID.rawValue)
                if sequence.version == .v2 {
                    #expect(b[16] == f.priority << 6 && b[17] == 0)
                } else {
                    #expect(b[16] == f.priority << 5 && b[17] == f.slot)
                }
                // The zlib stream of a fresh session starts at offset 18 with a preset-dictionary header.
                if index == 0 { #expect(b[18] == 0x38 && b[19] & 0x20 != 0) }
            case .synReply, .headers:
                #expect(Array(b[2..<4]) == [0x00, vector.frame.type == .synReply ? 0x02 : 0x08])
                #expect(b[8..<12].reduce(0) { $0 << 8 | UInt32($1) } == vector.frame.streamID?.rawValue)
                if sequence.version == .v2 { #expect(Array(b[12..<14]) == [0x00, 0x00]) }
            default:
                Issue.record("unexpected frame in a header sequence")
            }
            // Every block ends with the empty stored block of Z_SYNC_FLUSH.
            #expect(Array(b.suffix(4)) == [0x00, 0x00, 0xff, 0xff])
        }
    }

    @Test(
        "The zlib context persists: later frames depend on earlier ones",
        arguments: try headerSequences().filter { $0.vectors.count > 1 })
    fileprivate func contextPersists(_ sequence: HeaderSequence) throws {
        let second = sequence.vectors[1]
        // A fresh encoder writes a new zlib header instead of continuing the stream.
        let fresh = try SPDYFrameEncoder(version: sequence.version, compression: .default(for: sequence.role))
        #expect(try encodeBytes(second.frame, with: fresh) != second.bytes)
        // A fresh decoder cannot inflate the continuation of someone else's stream.
        let decoder = try SPDYFrameDecoder(version: sequence.version)
        decoder.append(bytes: second.bytes)
        let error = try #require(throws: SPDYFrameDecodingError.self) { _ = try decoder.nextFrame() }
        #expect(error.code == .compressionError)
    }

    @Test("Unsorted, mixed-case, repeated names encode to the same bytes", arguments: [SPDYVersion.v2, .v3, .v3_1])
    func normalization(_ version: SPDYVersion) throws {
        let messy = headers([
            ("Accept", "*/*"), ("x-head", "foo"), (":path", "/index.html"), (":Method", "GET"), ("X-HEAD", "bar"),
            (":version", "HTTP/1.1"), ("x-head", ""), (":HOST", "example.com"), (":scheme", "https"),
        ])
        let frame = SPDYFrame.synStream(
            .init(
                streamID: 65536,
                associatedStreamID: 1_000_000_007,
                priority: version.lowestPriority,
                flags: .fin,
                headers: messy
            )
        )
        let encoder = try SPDYFrameEncoder(version: version, compression: .default(for: .client))
        let expected = try (version == .v2 ? GoldenBytes.v2ClientSynStreamFin : .v3ClientSynStreamFin).bytes
        #expect(try encodeBytes(frame, with: encoder) == expected)
    }

    @Test("SPDY/2 names stay SPDY/2 names when the decoder does not translate them")
    func spdy2NamesUntranslated() throws {
        let golden = try GoldenBytes.v2ClientSynStreamFin.bytes
        let decoder = try SPDYFrameDecoder(version: .v2, configuration: .init(translatesSPDY2HeaderNames: false))
        let events = try decodeEvents(golden, with: decoder)
        guard case .frame(.synStream(let f), _) = try #require(events.first) else {
            Issue.record("expected a SYN_STREAM, got \(events)")
            return
        }
        #expect(f.headers.map(\.name) == ["accept", "host", "method", "scheme", "url", "version", "x-head", "x-head"])
        #expect(
            f.headers.map(\.value) == ["*/*", "example.com", "GET", "https", "/index.html", "HTTP/1.1", "foo", "bar"])

        // And an untranslating encoder sends the API's SPDY/2 names as they are, to the same bytes.
        let encoder = try SPDYFrameEncoder(
            version: .v2, compression: .default(for: .client), translatesSPDY2HeaderNames: false)
        #expect(try encodeBytes(.synStream(f), with: encoder) == golden)
    }
}
