/// The SPDY/3 names of the request and response pseudo-headers and their SPDY/2 spellings.
///
/// The API always speaks SPDY/3 names; on a SPDY/2 session they are written
/// as the SPDY/2 names and read back as the SPDY/3 ones.
public enum SPDYHeaderNames {
    /// `(SPDY/3 name, SPDY/2 name)` for `:host`, `:method`, `:path`, `:scheme`, `:status` and `:version`.
    public static let spdy3ToSPDY2: [(spdy3: String, spdy2: String)] = [
        (":host", "host"),
        (":method", "method"),
        (":path", "url"),
        (":scheme", "scheme"),
        (":status", "status"),
        (":version", "version"),
    ]

    static let table: [(spdy3: [UInt8], spdy2: [UInt8])] = spdy3ToSPDY2.map {
        (Array($0.spdy3.utf8), Array($0.spdy2.utf8))
    }

    /// The SPDY/2 spelling of a SPDY/3 name, or the name itself.
    public static func spdy2Name(for spdy3Name: String) -> String {
        spdy3ToSPDY2.first { $0.spdy3 == spdy3Name }?.spdy2 ?? spdy3Name
    }

    /// The SPDY/3 spelling of a SPDY/2 name, or the name itself.
    public static func spdy3Name(for spdy2Name: String) -> String {
        spdy3ToSPDY2.first { $0.spdy2 == spdy2Name }?.spdy3 ?? spdy2Name
    }
}

@inline(__always)
private func lexicographicallyPrecedes(
    _ bytes: UnsafeBufferPointer<UInt8>,
    _ a: Range<Int>,
    _ b: Range<Int>
) -> Int {
    let n = min(a.count, b.count)
    var i = 0
    while i < n {
        let x = bytes[a.lowerBound + i]
        let y = bytes[b.lowerBound + i]
        if x != y { return x < y ? -1 : 1 }
        i += 1
    }
    return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
}

/// Writes name/value blocks (before compression) the way the protocol and
/// the reference implementation do: names lowercased, pairs sorted by name
/// (stably), equal names merged into one NUL-joined value, empty values
/// dropped from a merge. Its buffers are reused from block to block.
struct HeaderBlockSerializer {
    private struct Entry {
        var nameStart: Int
        var nameLength: Int
        var field: Int
        var nameRange: Range<Int> { nameStart..<(nameStart + nameLength) }
    }

    /// Checks the rules ``serialize(_:version:translateNames:)`` enforces on each pair
    /// (names non-empty and within 0x20–0x7e, no NUL or control bytes in values, lengths
    /// within the version's length fields), without writing anything.
    static func validate(_ headers: SPDYHeaders, version: SPDYVersion) throws(SPDYFrameEncodingError) {
        let maxLength = version.headerBlockLengthFieldSize == 2 ? Int(UInt16.max) : Int(UInt32.max)
        let count = headers.fieldCount
        guard count <= maxLength else {
            throw .headerFieldTooLong(name: "(pair count)", length: count, maximum: maxLength)
        }
        let bytesStart = headers.bytesStart
        for i in 0..<count {
            try validateField(headers, i, bytesStart: bytesStart, maxLength: maxLength)
        }
    }

    private static func validateField(
        _ headers: SPDYHeaders,
        _ i: Int,
        bytesStart: Int,
        maxLength: Int
    ) throws(SPDYFrameEncodingError) {
        let field = headers.field(i)
        guard !field.nameRange.isEmpty else {
            throw .invalidHeaderName(name: "", reason: "a header name is empty")
        }
        for j in field.nameRange {
            let byte = headers.storage[bytesStart + j]
            guard byte >= 0x20, byte <= 0x7e else {
                throw .invalidHeaderName(
                    name: headers.name(at: i),
                    reason: "the byte 0x\(String(byte, radix: 16)) is not allowed in a header name"
                )
            }
        }
        for j in field.valueRange {
            let byte = headers.storage[bytesStart + j]
            if (byte < 0x20 && byte != 0x09) || byte == 0x7f {
                throw .invalidHeaderValue(
                    name: headers.name(at: i),
                    reason: byte == 0
                        ? "NUL separates values on the wire; add one pair per value instead"
                        : "the control byte 0x\(String(byte, radix: 16)) is not allowed in a header value"
                )
            }
        }
        guard field.nameRange.count <= maxLength, field.valueRange.count <= maxLength else {
            throw .headerFieldTooLong(
                name: headers.name(at: i),
                length: max(field.nameRange.count, field.valueRange.count),
                maximum: maxLength
            )
        }
    }

    private var names: [UInt8] = []
    private var entries: [Entry] = []
    /// The serialized, uncompressed block of the last ``serialize(_:version:translateNames:)``.
    private(set) var block: [UInt8] = []

    mutating func serialize(
        _ headers: SPDYHeaders,
        version: SPDYVersion,
        translateNames: Bool
    ) throws(SPDYFrameEncodingError) {
        names.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
        block.removeAll(keepingCapacity: true)
        let lengthSize = version.headerBlockLengthFieldSize
        let maxLength = lengthSize == 2 ? Int(UInt16.max) : Int(UInt32.max)

        // Validate, lowercase and (for SPDY/2) translate every name.
        let bytesStart = headers.bytesStart
        for i in 0..<headers.fieldCount {
            try Self.validateField(headers, i, bytesStart: bytesStart, maxLength: maxLength)
            let start = names.count
            for j in headers.field(i).nameRange {
                names.append(asciiLowercased(headers.storage[bytesStart + j]))
            }
            var length = names.count - start
            if translateNames && version == .v2 {
                for (spdy3, spdy2) in SPDYHeaderNames.table where spdy3.count == length {
                    if names[start...].elementsEqual(spdy3) {
                        names.replaceSubrange(start..., with: spdy2)
                        length = spdy2.count
                        break
                    }
                }
            }
            guard length <= maxLength else {
                throw .headerFieldTooLong(name: headers.name(at: i), length: length, maximum: maxLength)
            }
            entries.append(Entry(nameStart: start, nameLength: length, field: i))
        }

        // Stable sort by name bytes (strcmp order).
        names.withUnsafeBufferPointer { names in
            entries.sort { a, b in
                let c = lexicographicallyPrecedes(names, a.nameRange, b.nameRange)
                return c != 0 ? c < 0 : a.field < b.field
            }
        }

        // Write: count, then name/value pairs, merging equal names.
        appendLength(0, size: lengthSize)
        var count = 0
        var index = 0
        while index < entries.count {
            let entry = entries[index]
            var end = index + 1
            while end < entries.count,
                names[entries[end].nameRange].elementsEqual(names[entry.nameRange])
            {
                end += 1
            }
            appendLength(entry.nameLength, size: lengthSize)
            block.append(contentsOf: names[entry.nameRange])
            let valueLengthAt = block.count
            appendLength(0, size: lengthSize)
            var valueLength = 0
            for k in index..<end {
                let range = headers.field(entries[k].field).valueRange
                if range.isEmpty { continue }
                if valueLength > 0 {
                    block.append(0)
                    valueLength += 1
                }
                block.append(
                    contentsOf: headers.storage[(bytesStart + range.lowerBound)..<(bytesStart + range.upperBound)])
                valueLength += range.count
            }
            guard valueLength <= maxLength else {
                throw .headerFieldTooLong(
                    name: String(decoding: names[entry.nameRange], as: UTF8.self),
                    length: valueLength,
                    maximum: maxLength
                )
            }
            putLength(valueLength, size: lengthSize, at: valueLengthAt)
            count += 1
            index = end
        }
        guard count <= maxLength else {
            throw .headerFieldTooLong(name: "(pair count)", length: count, maximum: maxLength)
        }
        putLength(count, size: lengthSize, at: 0)
    }

    private mutating func appendLength(_ value: Int, size: Int) {
        if size == 4 {
            block.append(UInt8(truncatingIfNeeded: value >> 24))
            block.append(UInt8(truncatingIfNeeded: value >> 16))
        }
        block.append(UInt8(truncatingIfNeeded: value >> 8))
        block.append(UInt8(truncatingIfNeeded: value))
    }

    private mutating func putLength(_ value: Int, size: Int, at offset: Int) {
        var o = offset
        if size == 4 {
            block[o] = UInt8(truncatingIfNeeded: value >> 24)
            block[o + 1] = UInt8(truncatingIfNeeded: value >> 16)
            o += 2
        }
        block[o] = UInt8(truncatingIfNeeded: value >> 8)
        block[o + 1] = UInt8(truncatingIfNeeded: value)
    }
}

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
        let total = block.count
        if total >= lengthSize, let base = block.baseAddress {
            let headers =
                lengthSize == 4
                ? plainHeaders(block, base, lengthSize: 4, translateSPDY2Names: translateSPDY2Names)
                : plainHeaders(block, base, lengthSize: 2, translateSPDY2Names: translateSPDY2Names)
            if let headers { return headers }
        }
        return try parseChecked(block, lengthSize: lengthSize, translateSPDY2Names: translateSPDY2Names)
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
            guard total &- valueStart >= valueLength else { return -1 }
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
    private static func headers(
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

    /// The full parse: any block, valid or not (see the type's documentation).
    private static func parseChecked(
        _ block: UnsafeRawBufferPointer,
        lengthSize: Int,
        translateSPDY2Names: Bool
    ) throws(HeaderBlockProblem) -> SPDYHeaders {
        let total = block.count
        guard total >= lengthSize, let base = block.baseAddress else {
            throw .malformed("the header block is \(total) bytes, too short for its pair count")
        }
        @inline(__always)
        func readLength(_ offset: Int) -> Int {
            if lengthSize == 2 {
                return Int(UInt16(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
            }
            return Int(UInt32(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        }

        let pairCount = readLength(0)
        // Each pair needs at least its two length fields.
        guard pairCount <= (total - lengthSize) / (2 * lengthSize) else {
            throw .malformed("the header block claims \(pairCount) pairs in \(total) bytes")
        }

        // Pass 1: structure, byte rules, NUL count.
        var problem: String? = nil
        var nulCount = 0
        var offset = lengthSize
        for pair in 0..<pairCount {
            guard total - offset >= lengthSize else { throw .malformed("pair \(pair) is cut short") }
            let nameLength = readLength(offset)
            offset += lengthSize
            guard total - offset >= nameLength else { throw .malformed("a name runs past the block's end") }
            let nameStart = offset
            offset += nameLength
            guard total - offset >= lengthSize else { throw .malformed("pair \(pair) is cut short") }
            let valueLength = readLength(offset)
            offset += lengthSize
            guard total - offset >= valueLength else { throw .malformed("a value runs past the block's end") }
            let valueStart = offset
            offset += valueLength
            if problem == nil {
                problem =
                    checkName(base + nameStart, count: nameLength, readable: total - nameStart)
                    ?? checkValue(
                        base + valueStart,
                        count: valueLength,
                        readable: total - valueStart,
                        nulCount: &nulCount
                    )
            }
        }
        guard offset == total else {
            throw .malformed("\(total - offset) bytes follow the last pair")
        }
        if let problem {
            throw .invalid(problem)
        }

        // Pass 2: the fields, one per NUL-separated part of each value. The
        // structure is known to be sound, so lengths are read without checks.
        let fieldCount = pairCount + nulCount
        var isSorted = true
        var duplicate: (start: Int, count: Int)? = nil
        var fields: [SPDYHeaders.Field] = []
        fields.reserveCapacity(fieldCount)
        offset = lengthSize
        var previousStart = 0
        var previousLength = 0
        for pair in 0..<pairCount {
            let nameStart = offset + lengthSize
            let nameLength = readLength(offset)
            let valueStart = nameStart + nameLength + lengthSize
            let valueLength = readLength(nameStart + nameLength)
            offset = valueStart + valueLength
            if pair > 0 {
                let order = compareNames(base, previousStart, previousLength, nameStart, nameLength)
                if order > 0 {
                    isSorted = false
                } else if order == 0 && duplicate == nil {
                    duplicate = (nameStart, nameLength)
                }
            }
            previousStart = nameStart
            previousLength = nameLength
            if nulCount == 0 {
                fields.append(
                    SPDYHeaders.Field(
                        nameStart: UInt32(nameStart),
                        nameLength: UInt32(nameLength),
                        valueStart: UInt32(valueStart),
                        valueLength: UInt32(valueLength)
                    )
                )
                continue
            }
            var partStart = valueStart
            let valueEnd = valueStart + valueLength
            var i = valueStart
            while true {
                if i == valueEnd || base.load(fromByteOffset: i, as: UInt8.self) == 0 {
                    fields.append(
                        SPDYHeaders.Field(
                            nameStart: UInt32(nameStart),
                            nameLength: UInt32(nameLength),
                            valueStart: UInt32(partStart),
                            valueLength: UInt32(i - partStart)
                        )
                    )
                    if i == valueEnd { break }
                    partStart = i + 1
                }
                i += 1
            }
        }
        assert(fields.count == fieldCount)

        // Sort by name (stably) and refuse a name that appears in two pairs. The
        // parts of one pair share their name's offset, and a field's position in
        // the block is its (name offset, value offset): the tie-break of a stable sort.
        if isSorted {
            if let duplicate {
                let name = String(
                    decoding: UnsafeRawBufferPointer(start: base + duplicate.start, count: duplicate.count),
                    as: UTF8.self
                )
                throw .invalid("the name \(name) appears in two pairs")
            }
        } else {
            fields.withUnsafeMutableBufferPointer { fields in
                fields.sort { a, b in
                    let order = compareNames(
                        base,
                        Int(a.nameStart),
                        Int(a.nameLength),
                        Int(b.nameStart),
                        Int(b.nameLength)
                    )
                    if order != 0 { return order < 0 }
                    return a.nameStart != b.nameStart ? a.nameStart < b.nameStart : a.valueStart < b.valueStart
                }
            }
            for k in fields.indices.dropFirst()
            where fields[k - 1].nameStart != fields[k].nameStart
                && compareNames(
                    base,
                    Int(fields[k - 1].nameStart),
                    Int(fields[k - 1].nameLength),
                    Int(fields[k].nameStart),
                    Int(fields[k].nameLength)
                ) == 0
            {
                let name = String(decoding: UnsafeRawBufferPointer(rebasing: block[fields[k].nameRange]), as: UTF8.self)
                throw .invalid("the name \(name) appears in two pairs")
            }
        }

        return fields.withUnsafeMutableBufferPointer {
            headers(block, $0, lengthSize: lengthSize, translateSPDY2Names: translateSPDY2Names)
        }
    }

    /// Renames SPDY/2 names (`url`, …) to their SPDY/3 spelling (`:path`, …), in place.
    ///
    /// A name is preceded by its own length field, which nothing refers to once
    /// the block is parsed; the SPDY/3 name, at most two bytes longer, is written
    /// so that it ends where the SPDY/2 name ends. The parts of one value are
    /// adjacent fields sharing one name.
    private static func translateNames(
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
    private static func compareNames(
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

    /// Why the name at `name` breaks the rules (empty, a byte outside 0x20–0x7e,
    /// an uppercase letter), or `nil`. `readable` bytes from `name` on are in the block.
    ///
    /// Eight bytes at a time where eight bytes can be loaded; a word that may hold
    /// a bad byte is checked byte by byte, so the first bad byte is the one reported.
    @inline(__always)
    private static func checkName(_ name: UnsafeRawPointer, count: Int, readable: Int) -> String? {
        if count == 0 { return "a header name is empty" }
        var i = 0
        while i < count {
            let chunk = min(count - i, 8)
            if readable - i >= 8 && !wordMayHoldNonNameByte(loadPadded(name + i, chunk)) {
                i += chunk
                continue
            }
            for j in i..<(i + chunk) {
                let c = name.load(fromByteOffset: j, as: UInt8.self)
                if !isReceivedNameByte(c) {
                    return "a header name holds the byte 0x\(String(c, radix: 16))"
                }
            }
            i += chunk
        }
        return nil
    }

    /// Why the value at `value` breaks the rules (a control byte other than HT,
    /// DEL, an empty NUL-separated part), or `nil`; adds its NULs to `nulCount`.
    /// `readable` bytes from `value` on are in the block.
    ///
    /// Eight bytes at a time where eight bytes can be loaded: a word with no byte
    /// below 0x20 and none equal to 0x7f (the common case) is skipped whole; any
    /// other is checked byte by byte, in order, so the first problem is the one reported.
    @inline(__always)
    private static func checkValue(
        _ value: UnsafeRawPointer,
        count: Int,
        readable: Int,
        nulCount: inout Int
    ) -> String? {
        var partStart = 0
        var nuls = 0
        var i = 0
        while true {
            // Sixteen bytes per round while no word may hold a special byte.
            while count &- i >= 16 {
                let a = value.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let b = value.loadUnaligned(fromByteOffset: i &+ 8, as: UInt64.self)
                if (specialValueByteBits(a) | specialValueByteBits(b)) != 0 { break }
                i &+= 16
            }
            guard i < count else { break }
            let chunk = min(count &- i, 8)
            if readable &- i >= 8 && specialValueByteBits(loadPadded(value + i, chunk)) == 0 {
                i += chunk
                continue
            }
            for j in i..<(i + chunk) {
                let c = value.load(fromByteOffset: j, as: UInt8.self)
                if !isPlainValueByte(c) {
                    if c != 0 {
                        return "a header value holds the control byte 0x\(String(c, radix: 16))"
                    }
                    if j == partStart { return "a header value has an empty NUL-separated part" }
                    nuls += 1
                    partStart = j + 1
                }
            }
            i += chunk
        }
        if nuls > 0 && partStart == count {
            return "a header value has an empty NUL-separated part"
        }
        nulCount += nuls
        return nil
    }
}

/// The eight bytes at `p` (which must all be loadable) as a little-endian word,
/// with the bytes from `count` (1–8) on replaced by `a`, which every rule allows.
@inline(__always)
func loadPadded(_ p: UnsafeRawPointer, _ count: Int) -> UInt64 {
    let word = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
    if count >= 8 { return word }
    let mask: UInt64 = (1 << (UInt64(truncatingIfNeeded: count) &* 8)) &- 1
    return (word & mask) | (0x6161_6161_6161_6161 & ~mask)
}

/// Whether the eight bytes of `word` may hold a byte that is not allowed in a
/// received name: `false` proves that all are within 0x20–0x7e and none is `A`–`Z`.
@inline(__always)
func wordMayHoldNonNameByte(_ word: UInt64) -> Bool {
    nonNameByteBits(word) != 0
}

/// Nonzero if the eight bytes of `word` may hold a byte that is not allowed in
/// a received name; the high bit of a byte is only set if that byte or an
/// earlier one (in memory order) is not allowed, so masking the result to the
/// first bytes answers for those bytes alone.
@inline(__always)
func nonNameByteBits(_ word: UInt64) -> UInt64 {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    let low7 = word & 0x7f7f_7f7f_7f7f_7f7f
    // 0x7f–0xff: the high bit, or the low seven bits all set. No carries cross bytes.
    let high = (word | (low7 &+ ones)) & highs
    // Below 0x20 (exact as a yes/no: a borrow only follows a byte below 0x20).
    let below20 = (word &- ones &* 0x20) & ~word & highs
    // 0x41–0x5a, exactly per byte ("hasbetween" of Bit Twiddling Hacks, m = 0x40, n = 0x5b).
    let upper = ((ones &* (127 + 0x5b)) &- low7) & ~word & (low7 &+ ones &* (127 - 0x40)) & highs
    return high | below20 | upper
}

/// Whether `c` may appear in a received name: 0x20–0x7e except `A`–`Z`.
@inline(__always)
func isReceivedNameByte(_ c: UInt8) -> Bool {
    c &- 0x20 <= 0x5e && c &- 0x41 >= 26
}

/// Whether `c` may appear in a value as is: HT, 0x20–0x7e and 0x80–0xff (not
/// NUL, which separates values, nor other control bytes or DEL).
@inline(__always)
func isPlainValueByte(_ c: UInt8) -> Bool {
    (c >= 0x20 && c != 0x7f) || c == 0x09
}

/// Nonzero if the eight bytes of `word` may hold a byte that is not a plain
/// value byte: zero proves that none is below 0x20 or equal to 0x7f.
@inline(__always)
func specialValueByteBits(_ word: UInt64) -> UInt64 {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    // A byte below 0x20 borrows into its high bit; so does 0x7f xor 0x7f = 0.
    let below20 = (word &- ones &* 0x20) & ~word & highs
    let del = word ^ (ones &* 0x7f)
    let isDel = (del &- ones) & ~del & highs
    return below20 | isDel
}
