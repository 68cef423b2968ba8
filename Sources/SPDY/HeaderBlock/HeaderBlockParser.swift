/// Why a received name/value block was rejected.
enum HeaderBlockProblem: Error {
    /// The block's structure is broken (INVALID_FRAME): a bad count, a
    /// length past the end, trailing bytes.
    case malformed(String)
    /// The structure is sound but a name or value breaks the rules
    /// (INVALID_HEADER_BLOCK).
    case invalid(String)
}

/// Parses and validates an inflated name/value block.
///
/// A block as conforming senders send it (names in order and distinct, values
/// without control bytes or NULs: nearly every block) is recognised by a fast
/// check, ``plainPairCount(_:total:lengthSize:fields:)``, that only says yes or no; its
/// fields are then one per pair, in order. Any other block, including every
/// invalid one, goes through the full parse, which finds the problem to report
/// or splits, sorts and checks the fields:
///
/// 1. the structure of every pair and the byte rules of its name and value
///    (a structural error wins over a broken rule, so the structure is checked
///    to the end even after a rule is broken), counting the NULs that split values;
/// 2. for a valid block only: the fields, written straight into an array of the
///    exact size, checking on the way that the pairs come sorted by name (as
///    conforming senders send them) and that no name repeats.
///
/// A decoded block costs two allocations: its fields and one copy of its bytes.
enum HeaderBlockParser {
    static func parse(
        _ block: UnsafeRawBufferPointer,
        lengthSize: Int,
        translateSPDY2Names: Bool
    ) throws(HeaderBlockProblem) -> SPDYHeaders {
        if let headers = fastPath(block, lengthSize: lengthSize, translateSPDY2Names: translateSPDY2Names) {
            return headers
        }
        return try parseChecked(block, lengthSize: lengthSize, translateSPDY2Names: translateSPDY2Names)
    }

    /// The headers of a plain block (see ``plainPairCount(_:total:lengthSize:fields:)``), or
    /// `nil` for any other block.
    @inline(__always)
    static func fastPath(
        _ block: UnsafeRawBufferPointer,
        lengthSize: Int,
        translateSPDY2Names: Bool
    ) -> SPDYHeaders? {
        guard block.count >= lengthSize, let base = block.baseAddress else { return nil }
        return lengthSize == 4
            ? plainHeaders(block, base, lengthSize: 4, translateSPDY2Names: translateSPDY2Names)
            : plainHeaders(block, base, lengthSize: 2, translateSPDY2Names: translateSPDY2Names)
    }

    /// The headers of the block at `base` if it is plain (see
    /// ``plainPairCount(_:total:lengthSize:fields:)``), else `nil`. Up to 64
    /// pairs are recorded on the stack while they are checked, and go with the
    /// block's bytes into the headers' one buffer; a larger block is walked a
    /// second time to build its fields.
    @inline(__always)
    private static func plainHeaders(
        _ block: UnsafeRawBufferPointer,
        _ base: UnsafeRawPointer,
        lengthSize: Int,
        translateSPDY2Names: Bool
    ) -> SPDYHeaders? {
        let total = block.count
        let claimed =
            lengthSize == 2
            ? Int(UInt16(bigEndian: base.loadUnaligned(as: UInt16.self)))
            : Int(UInt32(bigEndian: base.loadUnaligned(as: UInt32.self)))
        if claimed <= 64 {
            return withUnsafeTemporaryAllocation(of: SPDYHeaders.Field.self, capacity: 64) { scratch in
                let pairCount = plainPairCount(base, total: total, lengthSize: lengthSize, fields: scratch.baseAddress)
                guard pairCount >= 0 else { return nil }
                return headers(
                    block,
                    UnsafeMutableBufferPointer(rebasing: scratch[..<pairCount]),
                    lengthSize: lengthSize,
                    translateSPDY2Names: translateSPDY2Names
                )
            }
        }
        let pairCount = plainPairCount(base, total: total, lengthSize: lengthSize, fields: nil)
        guard pairCount >= 0 else { return nil }
        var fields: [SPDYHeaders.Field] = []
        fields.reserveCapacity(pairCount)
        appendPlainFields(base, pairCount: pairCount, lengthSize: lengthSize, to: &fields)
        return fields.withUnsafeMutableBufferPointer {
            headers(block, $0, lengthSize: lengthSize, translateSPDY2Names: translateSPDY2Names)
        }
    }

    /// The number of pairs of the block at `base`, if it is plain: well formed,
    /// every name non-empty and made of bytes 0x20–0x7e other than `A`–`Z`, every
    /// value free of bytes below 0x20 (NUL and HT included) and of 0x7f, and the
    /// names strictly increasing (sorted, no name twice). Otherwise -1, and the
    /// block must go through ``parseChecked(_:lengthSize:translateSPDY2Names:)``.
    /// When `fields` is given, the field of each pair is written there, in order
    /// (at most 64: the caller checked the pair count).
    ///
    /// For a plain block that parse finds no problem, no NUL to split at and
    /// nothing to sort: its fields are the pairs, in order. Here nothing stops at
    /// the first bad byte, so eight or sixteen bytes are checked per step
    /// and the results are merged.
    @inline(__always)
    private static func plainPairCount(
        _ base: UnsafeRawPointer,
        total: Int,
        lengthSize: Int,
        fields: UnsafeMutablePointer<SPDYHeaders.Field>?
    ) -> Int {
        @inline(__always)
        func readLength(_ offset: Int) -> Int {
            if lengthSize == 2 {
                return Int(UInt16(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
            }
            return Int(UInt32(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        }
        @inline(__always)
        func word(_ offset: Int) -> UInt64 {
            UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }
        let highs: UInt64 = 0x8080_8080_8080_8080
        let pairCount = readLength(0)
        guard pairCount <= (total &- lengthSize) / (2 &* lengthSize) else { return -1 }
        var offset = lengthSize
        var previousKey: UInt64 = 0
        var previousStart = 0
        var previousLength = 0
        var valueBits: UInt64 = 0
        var pair = 0
        while pair < pairCount {
            // Structure (the lengths are at most 2^32 - 1: no overflow).
            guard total &- offset >= lengthSize else { return -1 }
            let nameLength = readLength(offset)
            let nameStart = offset &+ lengthSize
            let valueLengthAt = nameStart &+ nameLength
            guard nameLength > 0, total &- nameStart >= nameLength &+ lengthSize else { return -1 }
            let valueLength = readLength(valueLengthAt)
            let valueStart = valueLengthAt &+ lengthSize
            // SPDY/2 forbids empty values (SPDY/3 allows them): the full parse says so.
            guard total &- valueStart >= valueLength, valueLength > 0 || lengthSize == 4 else { return -1 }
            offset = valueStart &+ valueLength

            // The name: its bytes, and its first eight bytes as a big-endian key,
            // zero-padded, which orders names as their bytes do (no name byte is 0).
            guard total &- nameStart >= 8 else { return -1 }
            let first = word(nameStart)
            var key = first.byteSwapped
            if nameLength < 8 {
                let bits = UInt64(truncatingIfNeeded: nameLength) &* 8
                key &= ~(UInt64.max &>> bits)
                // Only the name's own bytes count; what follows it cannot change their
                // verdict (a borrow or carry only moves to later bytes).
                if nonNameByteBits(first) & ~(UInt64.max &<< bits) != 0 { return -1 }
            } else {
                if wordMayHoldNonNameByte(first) { return -1 }
                var i = 8
                while i < nameLength {
                    // The last word may overlap the previous one.
                    if wordMayHoldNonNameByte(word(nameStart &+ min(i, nameLength &- 8))) { return -1 }
                    i &+= 8
                }
            }
            if pair > 0 {
                if key < previousKey { return -1 }
                if key == previousKey
                    && compareNames(base, previousStart, previousLength, nameStart, nameLength) >= 0
                {
                    return -1
                }
            }
            previousKey = key
            previousStart = nameStart
            previousLength = nameLength
            if let fields {
                (fields + pair).initialize(
                    to: SPDYHeaders.Field(
                        nameStart: UInt32(nameStart),
                        nameLength: UInt32(nameLength),
                        valueStart: UInt32(valueStart),
                        valueLength: UInt32(valueLength)
                    )
                )
            }

            // The value, sixteen bytes at a time; the last step may overlap.
            if valueLength >= 16 {
                var i = 0
                while valueLength &- i > 16 {
                    valueBits |= specialValueByteBits(word(valueStart &+ i))
                    valueBits |= specialValueByteBits(word(valueStart &+ i &+ 8))
                    i &+= 16
                }
                valueBits |= specialValueByteBits(word(offset &- 16))
                valueBits |= specialValueByteBits(word(offset &- 8))
            } else if valueLength >= 8 {
                valueBits |= specialValueByteBits(word(valueStart))
                valueBits |= specialValueByteBits(word(offset &- 8))
            } else if valueLength > 0 {
                if total &- valueStart >= 8 {
                    valueBits |= specialValueByteBits(loadPadded(base + valueStart, valueLength))
                } else {
                    for j in valueStart..<offset where !isPlainValueByte(base.load(fromByteOffset: j, as: UInt8.self)) {
                        return -1
                    }
                }
            }
            pair &+= 1
        }
        guard offset == total, valueBits & highs == 0 else { return -1 }
        // The tab is allowed but not plain: the full parse handles it.
        return pairCount
    }

    /// Appends one field per pair of a block that ``plainPairCount(_:total:lengthSize:fields:)`` accepted.
    @inline(__always)
    private static func appendPlainFields(
        _ base: UnsafeRawPointer,
        pairCount: Int,
        lengthSize: Int,
        to fields: inout [SPDYHeaders.Field]
    ) {
        @inline(__always)
        func readLength(_ offset: Int) -> Int {
            if lengthSize == 2 {
                return Int(UInt16(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
            }
            return Int(UInt32(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        }
        var offset = lengthSize
        for _ in 0..<pairCount {
            let nameStart = offset &+ lengthSize
            let nameLength = readLength(offset)
            let valueStart = nameStart &+ nameLength &+ lengthSize
            let valueLength = readLength(nameStart &+ nameLength)
            offset = valueStart &+ valueLength
            fields.append(
                SPDYHeaders.Field(
                    nameStart: UInt32(nameStart),
                    nameLength: UInt32(nameLength),
                    valueStart: UInt32(valueStart),
                    valueLength: UInt32(valueLength)
                )
            )
        }
    }

    /// The headers of a parsed block: one copy of its bytes and fields, with SPDY/2 names
    /// renamed if asked.
    @inline(__always)
    static func headers(
        _ block: UnsafeRawBufferPointer,
        _ fields: UnsafeMutableBufferPointer<SPDYHeaders.Field>,
        lengthSize: Int,
        translateSPDY2Names: Bool
    ) -> SPDYHeaders {
        guard translateSPDY2Names else {
            return SPDYHeaders(bytes: block, fields: UnsafeBufferPointer(fields))
        }
        // SPDY/2 blocks are renamed in a scratch copy (the block itself is the decoder's).
        return withUnsafeTemporaryAllocation(byteCount: block.count, alignment: 1) { scratch in
            scratch.copyMemory(from: block)
            translateNames(scratch, fields, lengthSize: lengthSize)
            return SPDYHeaders(bytes: UnsafeRawBufferPointer(scratch), fields: UnsafeBufferPointer(fields))
        }
    }

    /// Renames SPDY/2 names (`url`, …) to their SPDY/3 spelling (`:path`, …), in place.
    ///
    /// A name is preceded by its own length field, which nothing refers to once
    /// the block is parsed; the SPDY/3 name, at most two bytes longer, is written
    /// so that it ends where the SPDY/2 name ends. The parts of one value are
    /// adjacent fields sharing one name.
    static func translateNames(
        _ bytes: UnsafeMutableRawBufferPointer,
        _ fields: UnsafeMutableBufferPointer<SPDYHeaders.Field>,
        lengthSize: Int
    ) {
        do {
            var lastOriginalStart = UInt32.max
            var lastStart: UInt32 = 0
            var lastLength: UInt32 = 0
            for k in fields.indices {
                if fields[k].nameStart == lastOriginalStart {
                    fields[k].nameStart = lastStart
                    fields[k].nameLength = lastLength
                    continue
                }
                lastOriginalStart = fields[k].nameStart
                let start = Int(fields[k].nameStart)
                let length = Int(fields[k].nameLength)
                for (spdy3, spdy2) in SPDYHeaderNames.table where spdy2.count == length {
                    if UnsafeRawBufferPointer(rebasing: bytes[start..<(start + length)]).elementsEqual(spdy2) {
                        let newStart = start + length - spdy3.count
                        precondition(newStart >= start - lengthSize)
                        UnsafeMutableRawBufferPointer(rebasing: bytes[newStart..<(start + length)])
                            .copyBytes(from: spdy3)
                        fields[k].nameStart = UInt32(newStart)
                        fields[k].nameLength = UInt32(spdy3.count)
                        break
                    }
                }
                lastStart = fields[k].nameStart
                lastLength = fields[k].nameLength
            }
        }
    }

    /// Compares two names of a block by their bytes (strcmp order): -1, 0 or 1.
    @inline(__always)
    static func compareNames(
        _ base: UnsafeRawPointer,
        _ a: Int,
        _ aLength: Int,
        _ b: Int,
        _ bLength: Int
    ) -> Int {
        let n = min(aLength, bLength)
        var i = 0
        while i < n {
            let x = base.load(fromByteOffset: a + i, as: UInt8.self)
            let y = base.load(fromByteOffset: b + i, as: UInt8.self)
            if x != y { return x < y ? -1 : 1 }
            i += 1
        }
        return aLength == bLength ? 0 : (aLength < bLength ? -1 : 1)
    }
}

/// The header-block parser's fast path checked against its full parse, for the fuzz
/// targets and tests: the fast path (taken for nearly every block) must never accept a
/// block the full parse refuses, nor read one differently.
@_spi(Testing)
public enum SPDYHeaderBlockParserCheck {
    /// How the two paths disagree on the inflated name/value `block` of `version`, or `nil`
    /// when they agree (or the fast path declines the block, leaving it to the full parse).
    public static func disagreement(in block: [UInt8], version: SPDYVersion) -> String? {
        let lengthSize = version == .v2 ? 2 : 4
        let translate = version == .v2
        return block.withUnsafeBytes { bytes -> String? in
            guard let fast = HeaderBlockParser.fastPath(bytes, lengthSize: lengthSize, translateSPDY2Names: translate)
            else { return nil }
            let full: SPDYHeaders
            do {
                full = try HeaderBlockParser.parseChecked(bytes, lengthSize: lengthSize, translateSPDY2Names: translate)
            } catch {
                return "the fast path accepted a block the full parse refuses (\(error)): \(fast)"
            }
            guard fast.elementsEqual(full, by: { $0 == $1 }) else {
                return "the fast path read \(fast), the full parse \(full)"
            }
            return nil
        }
    }
}
