import Testing

@_spi(Testing) @testable import SPDY

@Suite("Header block parser: the fast path agrees with the full parse")
struct HeaderBlockParserAgreementTests {
    /// A name/value block in `version`'s layout from raw pairs (no checks: any bytes go).
    func block(_ pairs: [([UInt8], [UInt8])], version: SPDYVersion) -> [UInt8] {
        func length(_ n: Int) -> [UInt8] {
            version == .v2
                ? [UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
                : [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: n >> $0) }
        }
        var bytes = length(pairs.count)
        for (name, value) in pairs {
            bytes += length(name.count) + name + length(value.count) + value
        }
        return bytes
    }

    @Test("Random blocks, sorted or not, with and without bytes the rules refuse", arguments: [SPDYVersion.v2, .v3])
    func randomBlocks(version: SPDYVersion) {
        var random = SystemRandomNumberGenerator()
        let alphabet = Array("abcxyz-:.AZ".utf8)
        var fastAccepted = 0
        for round in 0..<4000 {
            var pairs: [([UInt8], [UInt8])] = (0..<Int.random(in: 0...9, using: &random)).map { _ in
                let name = (0..<Int.random(in: 0...12, using: &random)).map { _ in
                    alphabet.randomElement(using: &random)!
                }
                let value = (0..<Int.random(in: 0...40, using: &random)).map { _ -> UInt8 in
                    // Mostly plain bytes; now and then NUL, a control byte, DEL or high bytes.
                    Int.random(in: 0..<400, using: &random) == 0
                        ? [0, 9, 10, 0x7f, 0x80, 0xff].randomElement(using: &random)!
                        : UInt8.random(in: 0x20...0x7e, using: &random)
                }
                return (name, value)
            }
            if round % 2 == 0 {
                // Half the blocks as conforming senders write them: lowercase, sorted, unique.
                pairs = pairs.map { ($0.0.map { $0 >= 0x41 && $0 <= 0x5a ? $0 | 0x20 : $0 }, $0.1) }
                    .filter { !$0.0.isEmpty }
                pairs.sort { $0.0.lexicographicallyPrecedes($1.0) }
                var seen: [[UInt8]] = []
                pairs = pairs.filter { pair in
                    if seen.contains(pair.0) { return false }
                    seen.append(pair.0)
                    return true
                }
            }
            var bytes = block(pairs, version: version)
            if round % 7 == 3, !bytes.isEmpty {
                // A structural fault: a byte changed or the block cut short.
                if Bool.random(using: &random) {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                } else {
                    bytes.removeLast(Int.random(in: 1...bytes.count, using: &random))
                }
            }
            let disagreement = SPDYHeaderBlockParserCheck.disagreement(in: bytes, version: version)
            #expect(disagreement == nil, "\(bytes)")
            if bytes.withUnsafeBytes({
                HeaderBlockParser.fastPath($0, lengthSize: version == .v2 ? 2 : 4, translateSPDY2Names: version == .v2)
            }) != nil {
                fastAccepted += 1
            }
        }
        // The comparison means something only if the fast path took a good share of the blocks.
        #expect(fastAccepted > 1000)
    }
}
