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
/// dropped from a merge, and in SPDY/2 (which forbids empty values) a pair
/// whose value is empty left out. Its buffers are reused from block to block.
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
            let pairStart = block.count
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
            index = end
            if valueLength == 0 && version == .v2 {
                // Draft 2: "The length of each name and value must be greater than zero",
                // and a receiver resets the stream otherwise; the pair says nothing, so
                // it is left out rather than costing the stream.
                block.removeSubrange(pairStart...)
                continue
            }
            putLength(valueLength, size: lengthSize, at: valueLengthAt)
            count += 1
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
