import Foundation
import NIOCore

@testable import SPDY

/// Builds an uncompressed name/value block by hand, as the drafts lay it out.
func nameValueBlock(_ pairs: [(String, [UInt8])], lengthSize: Int, count: Int? = nil) -> [UInt8] {
    var out: [UInt8] = []
    func put(_ value: Int) {
        if lengthSize == 4 {
            out += [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16)]
        }
        out += [UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }
    put(count ?? pairs.count)
    for (name, value) in pairs {
        put(name.utf8.count)
        out += Array(name.utf8)
        put(value.count)
        out += value
    }
    return out
}

/// Builds an uncompressed name/value block from string pairs.
func nameValueBlock(_ pairs: [(String, String)], lengthSize: Int) -> [UInt8] {
    nameValueBlock(pairs.map { ($0.0, Array($0.1.utf8)) }, lengthSize: lengthSize)
}

/// A zlib deflate stream with a version's dictionary, for compressing
/// hand-made (possibly invalid) header blocks the way a peer would.
final class RawHeaderCompressor {
    let deflater: HeaderDeflater

    init(version: SPDYVersion, level: Int32 = 9) throws {
        deflater = try HeaderDeflater(version: version, level: level, windowBits: 11, memoryLevel: 1)
    }

    func compress(_ block: [UInt8]) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: deflater.bound(block.count))
        let n = try block.withUnsafeBytes { input in
            try output.withUnsafeMutableBytes { try deflater.compress(input, into: $0) }
        }
        return Array(output[..<n])
    }
}

/// The bytes of a control frame with the given header fields and payload.
func controlFrame(version: UInt16, type: UInt16, flags: UInt8 = 0, payload: [UInt8]) -> [UInt8] {
    let length = payload.count
    return [
        0x80 | UInt8(version >> 8), UInt8(version & 0xff), UInt8(type >> 8), UInt8(type & 0xff), flags,
        UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8),
        UInt8(truncatingIfNeeded: length),
    ] + payload
}

/// The bytes of a DATA frame.
func dataFrame(streamID: UInt32, flags: UInt8 = 0, payload: [UInt8]) -> [UInt8] {
    let length = payload.count
    return [
        UInt8(truncatingIfNeeded: streamID >> 24), UInt8(truncatingIfNeeded: streamID >> 16),
        UInt8(truncatingIfNeeded: streamID >> 8), UInt8(truncatingIfNeeded: streamID), flags,
        UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8),
        UInt8(truncatingIfNeeded: length),
    ] + payload
}

func bigEndian32(_ value: UInt32) -> [UInt8] {
    [
        UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
        UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value),
    ]
}

/// What a decoder made of a byte stream, independent of how the bytes were split:
/// DATA chunks are joined back into whole frames.
enum DecodeOutcome: Hashable {
    case frame(SPDYFrame, SPDYControlFrameHeader)
    case data(SPDYDataFrameHeader, [UInt8])
    case error(SPDYFrameDecodingError.Code, SPDYControlFrameHeader, SPDYStreamID?)
}

/// Feeds `bytes` to a new decoder in pieces of the given sizes (the rest in one piece)
/// and returns everything it produced.
func decodeOutcomes(
    _ bytes: [UInt8],
    version: SPDYVersion,
    configuration: SPDYFrameDecoder.Configuration = .init(),
    pieces: [Int] = []
) throws -> [DecodeOutcome] {
    let decoder = try SPDYFrameDecoder(version: version, configuration: configuration)
    var outcomes: [DecodeOutcome] = []
    var pendingData: (SPDYDataFrameHeader, [UInt8])? = nil
    func drain() {
        while true {
            do {
                guard let event = try decoder.nextFrame() else { return }
                switch event {
                case .frame(let frame, let header):
                    outcomes.append(.frame(frame, header))
                case .dataChunk(let chunk):
                    var (header, payload) = pendingData ?? (chunk.header, [])
                    payload += Array(chunk.payload.readableBytesView)
                    if chunk.isEndOfFrame {
                        outcomes.append(.data(header, payload))
                        pendingData = nil
                    } else {
                        pendingData = (header, payload)
                    }
                    _ = header
                }
            } catch {
                outcomes.append(.error(error.code, error.header, error.streamID))
            }
        }
    }
    var offset = 0
    for size in pieces where offset < bytes.count {
        let end = min(bytes.count, offset + size)
        decoder.append(bytes: bytes[offset..<end])
        drain()
        offset = end
    }
    if offset < bytes.count {
        decoder.append(bytes: bytes[offset...])
        drain()
    }
    return outcomes
}

/// Encodes frames with one encoder into one byte array.
func encodeAll(_ frames: [SPDYFrame], encoder: SPDYFrameEncoder) throws -> [UInt8] {
    var buffer = ByteBuffer()
    for frame in frames {
        try encoder.encode(frame, into: &buffer)
    }
    return Array(buffer.readableBytesView)
}

/// A small deterministic random number generator (SplitMix64) so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

// MARK: - Generated vectors

/// The frames of a JSON file that Vectors/make_vectors.py writes (Vectors/golden.json,
/// Vectors/interop.json: resources of this target, see Package.swift). The file maps a frame's
/// name to its parts; the frame is the bytes of its parts' "hex" strings, in order.
struct GeneratedFrames: Sendable {
    /// Why a vector file could not be used.
    struct LoadError: Error, CustomStringConvertible {
        var description: String
    }

    private struct File: Decodable {
        struct Frame: Decodable {
            struct Part: Decodable {
                var hex: String
            }
            var parts: [Part]
        }
        var frames: [String: Frame]
    }

    /// The file's name, for messages.
    let file: String
    private let frames: [String: [UInt8]]

    /// Reads `<resource>.json` from this target's bundle. Throws if it is missing or malformed,
    /// or if its frames are not exactly `expected` (by name).
    init(resource: String, expecting expected: Set<String>) throws {
        file = "Vectors/\(resource).json"
        guard let url = Bundle.module.url(forResource: resource, withExtension: "json") else {
            throw LoadError(description: "\(file) is not in the SPDYTests resource bundle (Package.swift)")
        }
        let decoded: File
        do {
            decoded = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        } catch {
            throw LoadError(description: "\(file) cannot be read: \(error)")
        }
        var frames: [String: [UInt8]] = [:]
        for (name, frame) in decoded.frames {
            var bytes: [UInt8] = []
            for part in frame.parts {
                guard let partBytes = Self.bytes(hex: part.hex) else {
                    throw LoadError(description: "\(file): frame \(name) has a part that is not hex: \(part.hex)")
                }
                bytes += partBytes
            }
            guard !bytes.isEmpty else { throw LoadError(description: "\(file): frame \(name) is empty") }
            frames[name] = bytes
        }
        let names = Set(frames.keys)
        guard names == expected else {
            throw LoadError(
                description: "\(file) does not hold the expected frames: missing "
                    + "\(expected.subtracting(names).sorted()), unexpected \(names.subtracting(expected).sorted())"
            )
        }
        self.frames = frames
    }

    /// The bytes of the frame `name`.
    func bytes(of name: String) throws -> [UInt8] {
        guard let bytes = frames[name] else { throw LoadError(description: "\(file) has no frame \(name)") }
        return bytes
    }

    /// The bytes an even-length string of hex digits spells, or nil.
    private static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
