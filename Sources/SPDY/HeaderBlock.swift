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
        guard headers.fields.count <= maxLength else {
            throw .headerFieldTooLong(name: "(pair count)", length: headers.fields.count, maximum: maxLength)
        }
        for i in headers.fields.indices {
            try validateField(headers, i, maxLength: maxLength)
        }
    }

    private static func validateField(_ headers: SPDYHeaders, _ i: Int, maxLength: Int) throws(SPDYFrameEncodingError) {
        let field = headers.fields[i]
        guard !field.nameRange.isEmpty else {
            throw .invalidHeaderName(name: "", reason: "a header name is empty")
        }
        for j in field.nameRange {
            let byte = headers.storage[j]
            guard byte >= 0x20, byte <= 0x7e else {
                throw .invalidHeaderName(
                    name: headers.name(at: i),
                    reason: "the byte 0x\(String(byte, radix: 16)) is not allowed in a header name"
                )
            }
        }
        for j in field.valueRange {
            let byte = headers.storage[j]
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
        for i in headers.fields.indices {
            try Self.validateField(headers, i, maxLength: maxLength)
            let start = names.count
            for j in headers.fields[i].nameRange {
                names.append(asciiLowercased(headers.storage[j]))
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
                let range = headers.fields[entries[k].field].valueRange
                if range.isEmpty { continue }
                if valueLength > 0 {
                    block.append(0)
                    valueLength += 1
                }
                block.append(contentsOf: headers.storage[range])
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
enum HeaderBlockParser {
    static func parse(
        _ block: UnsafeRawBufferPointer,
        lengthSize: Int,
        translateSPDY2Names: Bool
    ) throws(HeaderBlockProblem) -> SPDYHeaders {
        @inline(__always)
        func readLength(_ offset: Int) -> Int {
            if lengthSize == 2 {
                return Int(block[offset]) << 8 | Int(block[offset + 1])
            }
            return Int(block[offset]) << 24 | Int(block[offset + 1]) << 16 | Int(block[offset + 2]) << 8
                | Int(block[offset + 3])
        }

        let total = block.count
        guard total >= lengthSize else {
            throw .malformed("the header block is \(total) bytes, too short for its pair count")
        }
        let pairCount = readLength(0)
        // Each pair needs at least its two length fields.
        guard pairCount <= (total - lengthSize) / (2 * lengthSize) else {
            throw .malformed("the header block claims \(pairCount) pairs in \(total) bytes")
        }

        var fields: [SPDYHeaders.Field] = []
        fields.reserveCapacity(pairCount)
        var pairOfField: [Int32] = []
        pairOfField.reserveCapacity(pairCount)
        var problem: String? = nil
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
                if nameLength == 0 {
                    problem = "a header name is empty"
                } else {
                    for i in nameStart..<(nameStart + nameLength) {
                        let c = block[i]
                        if c < 0x20 || c > 0x7e || (c >= 0x41 && c <= 0x5a) {
                            problem = "a header name holds the byte 0x\(String(c, radix: 16))"
                            break
                        }
                    }
                }
            }
            // Split the value on NUL into one field per part.
            var partStart = valueStart
            let valueEnd = valueStart + valueLength
            var i = valueStart
            while i <= valueEnd {
                if i == valueEnd || block[i] == 0 {
                    let partLength = i - partStart
                    let isMulti = i != valueEnd || partStart != valueStart
                    if isMulti && partLength == 0 && problem == nil {
                        problem = "a header value has an empty NUL-separated part"
                    }
                    fields.append(
                        SPDYHeaders.Field(
                            nameStart: UInt32(nameStart),
                            nameLength: UInt32(nameLength),
                            valueStart: UInt32(partStart),
                            valueLength: UInt32(partLength)
                        )
                    )
                    pairOfField.append(Int32(pair))
                    partStart = i + 1
                } else if problem == nil {
                    let c = block[i]
                    if (c < 0x20 && c != 0x09) || c == 0x7f {
                        problem = "a header value holds the control byte 0x\(String(c, radix: 16))"
                    }
                }
                i += 1
            }
        }
        guard offset == total else {
            throw .malformed("\(total - offset) bytes follow the last pair")
        }
        if let problem {
            throw .invalid(problem)
        }

        // Sort by name (stably) and refuse a name that appears in two pairs.
        // Conforming senders already sort, so the common case costs one pass.
        let bytes = block.bindMemory(to: UInt8.self)
        var isSorted = true
        for k in fields.indices.dropFirst()
        where lexicographicallyPrecedes(bytes, fields[k - 1].nameRange, fields[k].nameRange) > 0 {
            isSorted = false
            break
        }
        var sorted: [SPDYHeaders.Field]
        var sortedPairs: [Int32]
        if isSorted {
            sorted = fields
            sortedPairs = pairOfField
        } else {
            var order = Array(fields.indices)
            order.sort { a, b in
                let c = lexicographicallyPrecedes(bytes, fields[a].nameRange, fields[b].nameRange)
                return c != 0 ? c < 0 : a < b
            }
            sorted = order.map { fields[$0] }
            sortedPairs = order.map { pairOfField[$0] }
        }
        for k in sorted.indices.dropFirst()
        where sortedPairs[k - 1] != sortedPairs[k]
            && lexicographicallyPrecedes(bytes, sorted[k - 1].nameRange, sorted[k].nameRange) == 0
        {
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: block[sorted[k].nameRange]), as: UTF8.self)
            throw .invalid("the name \(name) appears in two pairs")
        }

        var storage = Array(block)
        if translateSPDY2Names {
            for k in sorted.indices {
                let range = sorted[k].nameRange
                for (spdy3, spdy2) in SPDYHeaderNames.table where spdy2.count == range.count {
                    if storage[range].elementsEqual(spdy2) {
                        sorted[k].nameStart = UInt32(storage.count)
                        sorted[k].nameLength = UInt32(spdy3.count)
                        storage.append(contentsOf: spdy3)
                        break
                    }
                }
            }
        }
        return SPDYHeaders(storage: storage, fields: sorted)
    }
}
