// Fuzz target: the incremental frame decoder, fed arbitrary bytes.
//
// Input: [configuration][piece size][stream bytes…]
// - configuration: bits 0–1 the version (SPDY/2, /3, /3.1, /3.1); bit 2 small limits
//   (control payloads and inflated header blocks of a few hundred bytes, so the
//   too-large and zlib-bomb paths are reached); bit 3 SPDY/2 names not translated;
//   bits 4–7 scale the small limits.
// - piece size: 0 splits the stream at pseudo-random points (1–64 bytes, seeded by the
//   configuration), otherwise pieces of that many bytes.
//
// The stream is decoded twice: at once, and appended piece by piece with every frame
// taken after each piece. Checked: no crash or memory error (ASan), progress (never more
// events than bytes allow), and both decodings yield the same frames, DATA payloads and
// errors (the decoder's promise that pieces of any size give the same frames).

import FuzzCommon
import NIOCore
import SPDY

@_cdecl("LLVMFuzzerInitialize")
public func initialize(
    _ argc: UnsafeMutablePointer<CInt>?,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> CInt {
    writeSeedsIfAsked(target: "FuzzFrameDecoder")
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let config = input.byte()
    let pieceSize = Int(input.byte())
    let stream = input.rest()

    let version = fuzzVersion(config)
    var configuration = SPDYFrameDecoder.Configuration(translatesSPDY2HeaderNames: config & 8 == 0)
    if config & 4 != 0 {
        let scale = Int(config >> 4)
        configuration.maxControlFramePayloadSize = 32 + 64 * scale
        configuration.maxHeaderBlockSize = 16 + 48 * scale
    }

    guard let whole = try? SPDYFrameDecoder(version: version, configuration: configuration),
        let pieces = try? SPDYFrameDecoder(version: version, configuration: configuration)
    else { fuzzFailure("decoder setup failed") }

    // At once.
    var a = DecodedStream()
    whole.append(bytes: stream)
    a.drain(whole, bound: 2 * stream.count + 16)

    // Piece by piece.
    var b = DecodedStream()
    var random = SplitMix(seed: UInt64(config))
    var offset = 0
    var appends = 0
    while offset < stream.count {
        let n = min(pieceSize == 0 ? random.chunk(upTo: 64) : pieceSize, stream.count - offset)
        pieces.append(bytes: UnsafeBufferPointer(rebasing: stream[offset..<(offset + n)]))
        offset += n
        appends += 1
        b.drain(pieces, bound: 2 * stream.count + 2 * appends + 16)
    }
    b.drain(pieces, bound: 2 * stream.count + 2 * appends + 16)

    guard a.items == b.items else {
        let first =
            zip(a.items, b.items).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            ?? min(a.items.count, b.items.count)
        fuzzFailure(
            """
            decoding at once and in pieces differ at item \(first) of \(a.items.count) / \(b.items.count):
            at once:   \(first < a.items.count ? a.items[first].description : "-")
            in pieces: \(first < b.items.count ? b.items[first].description : "-")
            """
        )
    }
    guard whole.bufferedBytes == pieces.bufferedBytes else {
        fuzzFailure("buffered bytes differ: \(whole.bufferedBytes) / \(pieces.bufferedBytes)")
    }
    return 0
}
