// Fuzz target: the header-block inflater and name/value parser, for SPDY/2 and SPDY/3.
//
// Input: [configuration][mode-specific bytes…]
// - configuration: bit 0 the version (SPDY/2 or SPDY/3); bits 1–2 the mode; bits 3–6 the
//   compression level used by modes 1–3 (value mod 10); bit 7 a small inflated-size limit
//   (256 bytes) instead of the default 64 KiB.
// - mode 0, raw zlib: [split (2 bytes, big-endian)][bytes…] are the compressed header
//   blocks themselves: the bytes up to the split go into a SYN_STREAM, the rest into a
//   HEADERS frame on the same connection (so the second block continues the first's zlib
//   stream), and the dictionary path is taken whenever the stream asks for one.
// - mode 1, uncompressed block with the dictionary: [split][bytes…] are uncompressed
//   name/value blocks (the parser's input), compressed here with the version's
//   dictionary (one zlib stream for both frames, Z_SYNC_FLUSH, as a peer does).
// - mode 2, the same without a dictionary (a zlib stream without FDICT).
// - mode 3, header lists: [name length][name][value length (2 bytes)][value]… is a list of
//   pairs, encoded by SPDYFrameEncoder as a SYN_STREAM. If the encoder accepts the list,
//   the decoder must accept the frame and yield the encoder's normalisation of it: names
//   lowercased, stably sorted, equal names merged (empty values dropped from a merge),
//   merged values read back as one pair per NUL-separated part, SPDY/2 names translated
//   both ways, and on SPDY/2 (no empty values there) a name left with no value left out.
//
// Checked: no crash or memory error, no hang; in modes 0–2, every outcome is a frame or
// a typed error and the decoder stays usable (a PING after the blocks still decodes); in
// modes 1–2, the parser's fast path agrees with its full parse on each uncompressed block
// (it accepts nothing the full parse refuses and reads what it accepts the same way).

import CFuzzZlib
import FuzzCommon
import NIOCore
@_spi(Testing) import SPDY

@_cdecl("LLVMFuzzerInitialize")
public func initialize(
    _ argc: UnsafeMutablePointer<CInt>?,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> CInt {
    writeSeedsIfAsked(target: "FuzzHeaderBlock")
    return 0
}

/// A SYN_STREAM (stream 1) or HEADERS (stream 1) frame around `block`, in `version`'s layout.
func headerBlockFrame(_ version: SPDYVersion, synStream: Bool, block: UnsafeRawBufferPointer) -> ByteBuffer {
    var frame = ByteBuffer()
    let fixed = synStream ? 10 : (version == .v2 ? 6 : 4)
    frame.writeInteger(UInt16(0x8000) | version.wireVersion)
    frame.writeInteger(UInt16(synStream ? 1 : 8))
    frame.writeInteger(UInt32(fixed + block.count) & 0x00ff_ffff)
    frame.writeInteger(UInt32(1))
    if synStream {
        frame.writeInteger(UInt32(0))
        frame.writeInteger(UInt16(0))
    } else if version == .v2 {
        frame.writeInteger(UInt16(0))
    }
    frame.writeBytes(block)
    return frame
}

/// Decodes `frames` then a PING; the PING must come out.
func decode(_ frames: ByteBuffer, version: SPDYVersion, limit: Int) {
    guard
        let decoder = try? SPDYFrameDecoder(
            version: version,
            configuration: .init(maxHeaderBlockSize: limit)
        )
    else { fuzzFailure("decoder setup failed") }
    var stream = DecodedStream()
    decoder.append(bytes: frames)
    stream.drain(decoder, bound: 2 * frames.readableBytes + 16)
    var ping = ByteBuffer()
    ping.writeInteger(UInt64(0x8000 | UInt64(version.wireVersion)) << 48 | 6 << 32 | 4)
    ping.writeInteger(UInt32(0x5eed))
    decoder.append(bytes: ping)
    stream.drain(decoder, bound: 2 * frames.readableBytes + 64)
    guard case .frame(.ping(let p), _)? = stream.items.last, p.id == 0x5eed else {
        fuzzFailure("the decoder lost the frame after the header blocks: \(stream.items.last.map { "\($0)" } ?? "-")")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let config = input.byte()
    let version: SPDYVersion = config & 1 == 0 ? .v2 : .v3
    let mode = (config >> 1) & 3
    let level = Int((config >> 3) & 15) % 10
    let limit = config & 0x80 != 0 ? 256 : 1 << 16

    if mode == 3 {
        encodedHeaderList(&input, version: version, level: level, limit: limit)
        return 0
    }

    let split = Int(input.byte()) << 8 | Int(input.byte())
    let bytes = input.rest()
    let cut = min(split, bytes.count)
    let blocks = [
        UnsafeBufferPointer(rebasing: bytes[..<cut]),
        UnsafeBufferPointer(rebasing: bytes[cut...]),
    ]
    var frames = ByteBuffer()
    if mode == 0 {
        for (i, block) in blocks.enumerated() where i == 0 || !block.isEmpty {
            frames.writeImmutableBuffer(
                headerBlockFrame(version, synStream: i == 0, block: UnsafeRawBufferPointer(block))
            )
        }
    } else {
        for block in blocks {
            if let disagreement = SPDYHeaderBlockParserCheck.disagreement(in: Array(block), version: version) {
                fuzzFailure(disagreement)
            }
        }
        let deflater = makeDeflater(dictionaryOf: mode == 2 ? nil : version, level: CInt(level))
        defer { cfuzz_deflater_free(deflater) }
        for (i, block) in blocks.enumerated() where i == 0 || !block.isEmpty {
            var compressed = [UInt8](repeating: 0, count: cfuzz_bound(block.count))
            let n = compressed.withUnsafeMutableBufferPointer {
                cfuzz_deflate(deflater, block.baseAddress, block.count, 0, $0.baseAddress, $0.count)
            }
            guard n >= 0 else { fuzzFailure("deflate failed") }
            _ = compressed.withUnsafeBytes {
                frames.writeImmutableBuffer(
                    headerBlockFrame(version, synStream: i == 0, block: UnsafeRawBufferPointer(rebasing: $0[..<n]))
                )
            }
        }
    }
    decode(frames, version: version, limit: limit)
    return 0
}

/// Mode 3: a fuzzed header list through our encoder and back.
func encodedHeaderList(_ input: inout FuzzInput, version: SPDYVersion, level: Int, limit: Int) {
    var headers = SPDYHeaders()
    while input.remaining > 0 {
        let name = input.take(Int(input.byte()))
        let valueLength = Int(input.byte()) << 8 | Int(input.byte())
        let value = input.take(valueLength)
        headers.add(nameBytes: name, valueBytes: value)
    }
    guard let encoder = try? SPDYFrameEncoder(version: version, compression: .init(level: level)),
        let decoder = try? SPDYFrameDecoder(version: version, configuration: .init(maxHeaderBlockSize: limit))
    else { fuzzFailure("setup failed") }
    var wire = ByteBuffer()
    do {
        try encoder.encode(.synStream(.init(streamID: 1, priority: 0, headers: headers)), into: &wire)
    } catch {
        return  // a list the encoder refuses (bad name or value bytes, too long)
    }
    decoder.append(bytes: wire)
    let event: SPDYFrameDecoder.Event?
    do {
        event = try decoder.nextFrame()
    } catch {
        // Only the size limit may refuse what the encoder wrote.
        if error.code == .frameTooLarge { return }
        fuzzFailure("the decoder refused what the encoder wrote: \(error)\nheaders: \(headers)")
    }
    guard case .frame(.synStream(let frame), _)? = event else {
        fuzzFailure("no SYN_STREAM decoded: \(String(describing: event))")
    }
    let expected = model(headers, version: version)
    let got = (0..<frame.headers.count).map {
        (Array(frame.headers.nameBytes(at: $0)), Array(frame.headers.valueBytes(at: $0)))
    }
    guard expected.count == got.count, zip(expected, got).allSatisfy({ $0.0 == $1.0 && $0.1 == $1.1 }) else {
        fuzzFailure("header list changed:\nsent:     \(headers)\ndecoded:  \(frame.headers)")
    }
    guard decoder.bufferedBytes == 0 else { fuzzFailure("bytes left after the frame") }
}

/// What the decoder must yield for a list the encoder accepted (see the file comment).
func model(_ headers: SPDYHeaders, version: SPDYVersion) -> [([UInt8], [UInt8])] {
    let table = SPDYHeaderNames.spdy3ToSPDY2.map { (Array($0.spdy3.utf8), Array($0.spdy2.utf8)) }
    // Lowercase and translate (SPDY/3 name → SPDY/2 name on the wire).
    var pairs: [(name: [UInt8], value: [UInt8])] = headers.indices.map { i in
        var name = headers.nameBytes(at: i).map { $0 >= 0x41 && $0 <= 0x5a ? $0 | 0x20 : $0 }
        if version == .v2, let t = table.first(where: { $0.0 == name }) { name = t.1 }
        return (name, Array(headers.valueBytes(at: i)))
    }
    // Stable sort by wire name, merge, split.
    pairs = pairs.enumerated().sorted {
        $0.element.name != $1.element.name
            ? $0.element.name.lexicographicallyPrecedes($1.element.name) : $0.offset < $1.offset
    }.map(\.element)
    var result: [([UInt8], [UInt8])] = []
    var i = 0
    while i < pairs.count {
        var j = i
        while j < pairs.count && pairs[j].name == pairs[i].name { j += 1 }
        // Back to the SPDY/3 name on a SPDY/2 session; the decoder does not re-sort.
        var name = pairs[i].name
        if version == .v2, let t = table.first(where: { $0.1 == name }) { name = t.0 }
        let values = pairs[i..<j].map(\.value).filter { !$0.isEmpty }
        if values.isEmpty {
            // SPDY/2 forbids empty values: the encoder leaves such a pair out.
            if version != .v2 { result.append((name, [])) }
        } else {
            for value in values { result.append((name, value)) }
        }
        i = j
    }
    return result
}
