// Fuzz target: decode → encode → decode must agree.
//
// Input: [configuration][stream bytes…]
// - configuration: bits 0–1 the version (SPDY/2, /3, /3.1, /3.1); bits 2–5 the
//   compression level of the re-encoding (value mod 10).
//
// Every frame the decoder accepts (whole DATA frames included) is encoded with a
// SPDYFrameEncoder of the same version and the result decoded by a fresh decoder. The
// second decoding must raise no error and yield the same frames, equal as values, except
// for what the encoder legitimately normalises:
// - header blocks: names are written lowercased (the decoder only accepts lowercase
//   names, so this changes nothing), pairs stably sorted by name bytes, equal names
//   merged into one NUL-joined value with empty values dropped from the merge. Both sides
//   are compared after that same normalisation (`normalised(_:)`). On SPDY/2 this also
//   covers a block holding both `url` and `:path` (or another of the six translated
//   pairs): both are read as `:path`, written as one merged `url`.
// - control frames whose version field is not the session's: the decoder reads them with
//   their own layout, the encoder writes the session's, so they are not compared (unknown
//   frame types keep their version field and are compared).
// - frames the encoder refuses by design: NOOP outside SPDY/2, WINDOW_UPDATE with delta 0,
//   CREDENTIAL without certificates (`invalidField`, `frameTypeNotInVersion`). Any other
//   encoding error of a decoded frame is a failure.
// - the frame header of a re-decoded frame: its length is the new compressed length.

import FuzzCommon
import NIOCore
import SPDY

@_cdecl("LLVMFuzzerInitialize")
public func initialize(
    _ argc: UnsafeMutablePointer<CInt>?,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> CInt {
    writeSeedsIfAsked(target: "FuzzRoundTrip")
    return 0
}

/// `headers` as the encoder writes them and the decoder reads them back: stably sorted by
/// name, equal names merged (empty values dropped from a merge, all empty giving one
/// empty value), merged values split again at NUL.
func normalised(_ headers: SPDYHeaders) -> [([UInt8], [UInt8])] {
    var order: [[UInt8]] = []
    var groups: [[UInt8]: [[UInt8]]] = [:]
    for i in headers.indices {
        let name = Array(headers.nameBytes(at: i))
        if groups[name] == nil { order.append(name) }
        groups[name, default: []].append(Array(headers.valueBytes(at: i)))
    }
    order.sort { $0.lexicographicallyPrecedes($1) }
    var result: [([UInt8], [UInt8])] = []
    for name in order {
        let values = groups[name]!
        let parts = values.count == 1 ? values : values.filter { !$0.isEmpty }
        if parts.isEmpty {
            result.append((name, []))
        } else {
            for part in parts { result.append((name, part)) }
        }
    }
    return result
}

func sameHeaders(_ a: SPDYHeaders, _ b: SPDYHeaders) -> Bool {
    let x = normalised(a)
    let y = normalised(b)
    return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
}

/// Whether two decodings of a frame agree, modulo the normalisations above.
func agree(_ a: SPDYFrame, _ b: SPDYFrame) -> Bool {
    switch (a, b) {
    case (.synStream(var x), .synStream(var y)):
        guard sameHeaders(x.headers, y.headers) else { return false }
        x.headers = SPDYHeaders()
        y.headers = SPDYHeaders()
        return x == y
    case (.synReply(var x), .synReply(var y)):
        guard sameHeaders(x.headers, y.headers) else { return false }
        x.headers = SPDYHeaders()
        y.headers = SPDYHeaders()
        return x == y
    case (.headers(var x), .headers(var y)):
        guard sameHeaders(x.headers, y.headers) else { return false }
        x.headers = SPDYHeaders()
        y.headers = SPDYHeaders()
        return x == y
    default:
        return a == b
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let config = input.byte()
    let stream = input.rest()
    let version = fuzzVersion(config)
    let level = Int((config >> 2) & 15) % 10

    guard let decoder = try? SPDYFrameDecoder(version: version),
        let encoder = try? SPDYFrameEncoder(version: version, compression: .init(level: level)),
        let redecoder = try? SPDYFrameDecoder(version: version)
    else { fuzzFailure("setup failed") }

    var first = DecodedStream()
    decoder.append(bytes: stream)
    first.drain(decoder, bound: 2 * stream.count + 16)

    var expected: [SPDYFrame] = []
    var wire = ByteBuffer()
    for item in first.items {
        let frame: SPDYFrame
        switch item {
        case .frame(let f, let header):
            if case .unknown = f {
            } else if header.version != version.wireVersion {
                continue
            }
            frame = f
        case .data(let header, let payload, complete: true):
            frame = .data(.init(streamID: header.streamID, flags: header.flags, payload: payload))
        case .data, .error:
            continue
        }
        do {
            try encoder.encode(frame, into: &wire)
            expected.append(frame)
        } catch {
            switch error {
            case .invalidField, .frameTypeNotInVersion: continue
            default: fuzzFailure("the encoder refused a decoded frame: \(error)\nframe: \(frame)")
            }
        }
    }

    var second = DecodedStream()
    redecoder.append(bytes: wire)
    second.drain(redecoder, bound: 2 * wire.readableBytes + 16)
    var index = 0
    for item in second.items {
        let frame: SPDYFrame
        switch item {
        case .frame(let f, _):
            frame = f
        case .data(let header, let payload, complete: true):
            frame = .data(.init(streamID: header.streamID, flags: header.flags, payload: payload))
        case .data:
            fuzzFailure("a re-encoded DATA frame decoded incomplete")
        case .error(let code, let header, _):
            fuzzFailure(
                "a re-encoded frame failed to decode: \(code) \(header)\nframe: \(index < expected.count ? "\(expected[index])" : "-")"
            )
        }
        guard index < expected.count else { fuzzFailure("more frames decoded than encoded: \(frame)") }
        guard agree(expected[index], frame) else {
            fuzzFailure("round trip changed frame \(index):\nbefore: \(expected[index])\nafter:  \(frame)")
        }
        index += 1
    }
    guard index == expected.count else { fuzzFailure("\(expected.count) frames encoded, \(index) decoded") }
    guard redecoder.bufferedBytes == 0 else { fuzzFailure("re-encoded bytes left over") }
    return 0
}
