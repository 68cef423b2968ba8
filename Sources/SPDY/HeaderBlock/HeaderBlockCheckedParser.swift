extension HeaderBlockParser {
    /// The full parse: any block, valid or not (see the type's documentation).
    static func parseChecked(
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
            if problem == nil && valueLength == 0 && lengthSize == 2 {
                // Draft 2: "A receiver of a zero-length name or value must send a
                // RST_STREAM with code PROTOCOL error." SPDY/3 allows empty values.
                problem = "a header value is empty, which SPDY/2 does not allow"
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
