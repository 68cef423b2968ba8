import NIOCore
import Testing

@testable import SPDY

/// The name/value block rules of the drafts and the reference's frame tests
/// (spdylay tests/spdylay_frame_test.c), on uncompressed blocks.
@Suite("Header blocks")
struct HeaderBlockTests {
    /// The reference's sample header list.
    static let sample: SPDYHeaders = [
        ("method", "GET"), ("scheme", "https"), ("url", "/"), ("x-head", "foo"), ("x-head", "bar"),
        ("version", "HTTP/1.1"), ("x-empty", ""),
    ]

    func serialize(_ headers: SPDYHeaders, _ version: SPDYVersion, translate: Bool = true) throws -> [UInt8] {
        var serializer = HeaderBlockSerializer()
        try serializer.serialize(headers, version: version, translateNames: translate)
        return serializer.block
    }

    func parse(_ block: [UInt8], lengthSize: Int, translate: Bool = false) throws(HeaderBlockProblem) -> SPDYHeaders {
        let result = block.withUnsafeBytes { raw in
            Result { () throws(HeaderBlockProblem) -> SPDYHeaders in
                try HeaderBlockParser.parse(raw, lengthSize: lengthSize, translateSPDY2Names: translate)
            }
        }
        return try result.get()
    }

    func problem(_ block: [UInt8], lengthSize: Int) -> HeaderBlockProblem? {
        do {
            _ = try parse(block, lengthSize: lengthSize)
            return nil
        } catch {
            return error
        }
    }

    func isMalformed(_ block: [UInt8], lengthSize: Int) -> Bool {
        if case .malformed = problem(block, lengthSize: lengthSize) { return true }
        return false
    }

    func isInvalid(_ block: [UInt8], lengthSize: Int) -> Bool {
        if case .invalid = problem(block, lengthSize: lengthSize) { return true }
        return false
    }

    @Test(
        "count_nv_space: the sample packs to 111 bytes in SPDY/3, and to 74 in SPDY/2, which leaves out the empty value (85 in spdylay)"
    )
    func packedSizes() throws {
        // Draft 2: "The length of each name and value must be greater than zero."
        #expect(try serialize(Self.sample, .v2, translate: false).count == 85 - (2 + 7 + 2))
        #expect(try serialize(Self.sample, .v3, translate: false).count == 111)
    }

    @Test("pack_nv: names sorted, duplicates merged with NUL, exact bytes")
    func packedBytes() throws {
        let block = try serialize(Self.sample, .v3)
        let expected = nameValueBlock(
            [
                ("method", Array("GET".utf8)), ("scheme", Array("https".utf8)), ("url", Array("/".utf8)),
                ("version", Array("HTTP/1.1".utf8)), ("x-empty", []), ("x-head", Array("foo\0bar".utf8)),
            ],
            lengthSize: 4
        )
        #expect(block == expected)
    }

    @Test("pack_nv_duplicate_keys: X-hEad and x-heaD become one pair x-head: foo NUL bar")
    func duplicateKeysMerged() throws {
        let headers: SPDYHeaders = [
            ("method", "GET"), ("scheme", "https"), ("url", "/"), ("X-hEad", "foo"), ("x-heaD", "bar"),
            ("version", "HTTP/1.1"),
        ]
        for version in [SPDYVersion.v2, .v3] {
            let block = try serialize(headers, version, translate: false)
            let parsed = try parse(block, lengthSize: version.headerBlockLengthFieldSize)
            // The wire block has 5 pairs; the parsed list splits x-head back into two.
            #expect(block.prefix(version.headerBlockLengthFieldSize).last == 5)
            #expect(
                parsed
                    == [
                        ("method", "GET"), ("scheme", "https"), ("url", "/"), ("version", "HTTP/1.1"),
                        ("x-head", "foo"), ("x-head", "bar"),
                    ]
            )
        }
    }

    @Test(
        "pack_nv_empty_value: empty values are dropped from a merge",
        arguments: [
            ([("a", ""), ("a", "")], [], 13),
            ([("a", "/"), ("a", "")], [0x2f], 14),
            ([("a", ""), ("a", "/")], [0x2f], 14),
            ([("a", "x"), ("a", ""), ("a", "y")], [0x78, 0, 0x79], 16),
            ([("a", ""), ("a", "x"), ("a", "y")], [0x78, 0, 0x79], 16),
        ]
    )
    func emptyValueMerge(pairs: [(String, String)], value: [UInt8], v3Size: Int) throws {
        let headers = SPDYHeaders(pairs.map { (name: $0.0, value: $0.1) })
        let v3 = try serialize(headers, .v3)
        #expect(v3 == nameValueBlock([("a", value)], lengthSize: 4))
        #expect(v3.count == v3Size)
        let v2 = try serialize(headers, .v2)
        // SPDY/2 has no empty values: a name whose values are all empty is left out.
        #expect(v2 == (value.isEmpty ? [0, 0] : nameValueBlock([("a", value)], lengthSize: 2)))
    }

    @Test("unpack_nv: a packed block comes back sorted, with NUL-joined values split")
    func unpackSplitsAndSorts() throws {
        for lengthSize in [2, 4] {
            let block = nameValueBlock(
                [
                    ("x-head", Array("foo\0bar\0baz".utf8)), ("method", Array("GET".utf8)),
                    ("accept", Array("*/*".utf8)),
                ],
                lengthSize: lengthSize
            )
            let parsed = try parse(block, lengthSize: lengthSize)
            #expect(
                parsed
                    == [
                        ("accept", "*/*"), ("method", "GET"), ("x-head", "foo"), ("x-head", "bar"), ("x-head", "baz"),
                    ]
            )
        }
    }

    @Test("count_unpack_nv_space: 7 pairs from the sample once duplicates are split")
    func unpackCount() throws {
        let block = try serialize(Self.sample, .v3)
        #expect(try parse(block, lengthSize: 4).count == 7)
    }

    @Test("Structural errors are INVALID_FRAME: bogus count, bogus lengths, trailing bytes, short block")
    func structuralErrors() throws {
        for lengthSize in [2, 4] {
            let good = nameValueBlock([("a", "b"), ("c", "d")], lengthSize: lengthSize)
            #expect(!isMalformed(good, lengthSize: lengthSize))
            // A pair count larger than the block.
            var bogusCount = good
            bogusCount[lengthSize - 1] = 3
            #expect(isMalformed(bogusCount, lengthSize: lengthSize))
            // A name length running past the end, including the maximum 65535.
            for bogusLength: UInt8 in [0x20, 0xff] {
                var bogusName = good
                bogusName[2 * lengthSize - 1] = bogusLength
                if bogusLength == 0xff { bogusName[2 * lengthSize - 2] = 0xff }
                #expect(isMalformed(bogusName, lengthSize: lengthSize))
            }
            // Trailing garbage.
            #expect(isMalformed(good + [0], lengthSize: lengthSize))
            // Too short for the count itself, and an empty block.
            #expect(isMalformed(Array(good.prefix(lengthSize - 1)), lengthSize: lengthSize))
            #expect(isMalformed([], lengthSize: lengthSize))
            // A pair cut short after its name.
            #expect(isMalformed(Array(good.prefix(lengthSize + lengthSize + 1)), lengthSize: lengthSize))
            // A huge count in a tiny block is refused without iterating.
            #expect(isMalformed([0xff, 0xff, 0xff, 0xff].suffix(lengthSize) + [0, 0], lengthSize: lengthSize))
        }
    }

    @Test("An empty block (zero pairs) is valid")
    func zeroPairs() throws {
        #expect(try parse([0, 0, 0, 0], lengthSize: 4).isEmpty)
        #expect(try parse([0, 0], lengthSize: 2).isEmpty)
    }

    @Test(
        "unpack_nv_check_name: an unmerged duplicate, an empty name, 0xff or an uppercase name is INVALID_HEADER_BLOCK"
    )
    func invalidNames() throws {
        for lengthSize in [2, 4] {
            #expect(
                isInvalid(nameValueBlock([("a", "1"), ("a", "2")], lengthSize: lengthSize), lengthSize: lengthSize))
            #expect(
                isInvalid(
                    nameValueBlock([("a", "1"), ("b", "2"), ("a", "3")], lengthSize: lengthSize),
                    lengthSize: lengthSize
                )
            )
            #expect(isInvalid(nameValueBlock([("", "1")], lengthSize: lengthSize), lengthSize: lengthSize))
            #expect(isInvalid(nameValueBlock([("Accept", "1")], lengthSize: lengthSize), lengthSize: lengthSize))
            var withFF = nameValueBlock([("ab", "1")], lengthSize: lengthSize)
            withFF[2 * lengthSize] = 0xff
            #expect(isInvalid(withFF, lengthSize: lengthSize))
            for byte: UInt8 in [0x00, 0x1f, 0x7f, 0x80] {
                let block = nameValueBlock(
                    [("a" + String(UnicodeScalar(byte)), Array("1".utf8))], lengthSize: lengthSize)
                // 0x80 is two UTF-8 bytes here; either way it is outside 0x20–0x7e.
                #expect(isInvalid(block, lengthSize: lengthSize))
            }
        }
    }

    @Test("unpack_nv_last_empty_value: leading, double or trailing NUL in a value is INVALID_HEADER_BLOCK")
    func emptyValueSegments() throws {
        for lengthSize in [2, 4] {
            for value in ["GET\0", "\0GET", "GET\0\0POST", "\0"] {
                let block = nameValueBlock([("method", Array(value.utf8))], lengthSize: lengthSize)
                #expect(isInvalid(block, lengthSize: lengthSize), "value \(Array(value.utf8))")
            }
            // A single empty value is fine in SPDY/3; draft 2 forbids it ("A receiver of a
            // zero-length name or value must send a RST_STREAM").
            let empty = nameValueBlock([("a", "")], lengthSize: lengthSize)
            if lengthSize == 4 {
                #expect(try parse(empty, lengthSize: lengthSize) == [("a", "")])
            } else {
                #expect(isInvalid(empty, lengthSize: lengthSize))
            }
        }
    }

    @Test("Value bytes: control characters other than HT and DEL are invalid; HT and 0x80–0xff are fine")
    func valueBytes() throws {
        for bad: UInt8 in [0x01, 0x0a, 0x0d, 0x1f, 0x7f] {
            #expect(isInvalid(nameValueBlock([("a", [0x41, bad])], lengthSize: 4), lengthSize: 4))
        }
        let binary: [UInt8] = [0x09, 0x80, 0xff, 0xfe, 0x41]
        let parsed = try parse(nameValueBlock([("a", binary)], lengthSize: 4), lengthSize: 4)
        #expect(Array(parsed.valueBytes(at: 0)) == binary)
        // Binary values survive a round trip through the serializer byte for byte.
        #expect(try serialize(parsed, .v3) == nameValueBlock([("a", binary)], lengthSize: 4))
    }

    @Test("nv_check_null: the encoder refuses an empty name or a byte outside 0x20–0x7e in a name")
    func encoderRefusesBadNames() throws {
        #expect(throws: SPDYFrameEncodingError.self) { try serialize([("", "x")], .v3) }
        #expect(throws: SPDYFrameEncodingError.self) { try serialize([("a\u{1}", "x")], .v3) }
        #expect(throws: SPDYFrameEncodingError.self) { try serialize([("é", "x")], .v3) }
        #expect(throws: SPDYFrameEncodingError.self) { try serialize([("a", "x\0y")], .v3) }
        #expect(throws: SPDYFrameEncodingError.self) { try serialize([("a", "x\ny")], .v2) }
        // HT is a legal value byte.
        #expect(throws: Never.self) { try serialize([("a", "x\ty")], .v3) }
    }

    @Test("nv_downcase and nv_sort: names are lowercased and sorted bytewise, stably")
    func downcaseAndSort() throws {
        let block = try serialize([("Zeta", "1"), ("alpha", "2"), ("ALPHA-2", "3"), ("Beta", "4")], .v3)
        #expect(
            try parse(block, lengthSize: 4) == [("alpha", "2"), ("alpha-2", "3"), ("beta", "4"), ("zeta", "1")]
        )
        // ':' (0x3a) sorts before letters, as strcmp does.
        let pseudo = try serialize([("accept", "*/*"), (":path", "/")], .v3)
        #expect(try parse(pseudo, lengthSize: 4).first?.name == ":path")
    }

    @Test("nv_3to2 and nv_2to3: the pseudo-header names map both ways on SPDY/2 only")
    func spdy2Translation() throws {
        let request: SPDYHeaders = [
            (":host", "localhost"), (":method", "GET"), (":path", "/"), ("accept", "*/*"), (":scheme", "https"),
            (":status", "200 OK"), (":version", "HTTP/1.1"),
        ]
        let v2 = try serialize(request, .v2)
        let onWire = try parse(v2, lengthSize: 2)
        #expect(
            onWire
                == [
                    ("accept", "*/*"), ("host", "localhost"), ("method", "GET"), ("scheme", "https"),
                    ("status", "200 OK"), ("url", "/"), ("version", "HTTP/1.1"),
                ]
        )
        let back = try parse(v2, lengthSize: 2, translate: true)
        #expect(Set(back.map { $0.name }) == Set(request.map { $0.name }))
        #expect(back[":path"] == "/")
        #expect(back[":status"] == "200 OK")
        // SPDY/3 keeps the names as they are.
        #expect(try parse(try serialize(request, .v3), lengthSize: 4)[":path"] == "/")
        #expect(SPDYHeaderNames.spdy2Name(for: ":path") == "url")
        #expect(SPDYHeaderNames.spdy3Name(for: "method") == ":method")
        #expect(SPDYHeaderNames.spdy3Name(for: "accept") == "accept")
    }

    @Test("SPDY/2's 16-bit lengths: a value over 65535 bytes is refused with a typed error")
    func spdy2LengthLimit() throws {
        let long = String(repeating: "v", count: 65536)
        #expect(throws: SPDYFrameEncodingError.self) { try serialize([("a", long)], .v2) }
        #expect(throws: Never.self) { try serialize([("a", long)], .v3) }
        // Merged values count together.
        let half = String(repeating: "v", count: 40000)
        #expect(throws: SPDYFrameEncodingError.self) { try serialize([("a", half), ("a", half)], .v2) }
    }
}

@Suite("SPDYHeaders")
struct SPDYHeadersTests {
    @Test("Lookups are ASCII case-insensitive and keep order; edits rebuild the list")
    func lookups() {
        var headers: SPDYHeaders = [("Accept", "a"), ("x", "1"), ("accept", "b")]
        #expect(headers["ACCEPT"] == "a")
        #expect(headers.values(name: "accept") == ["a", "b"])
        #expect(headers.contains(name: "X"))
        #expect(!headers.contains(name: "y"))
        headers.replaceOrAdd(name: "accept", value: "c")
        #expect(headers.map { $0.name } == ["x", "accept"])
        #expect(headers["accept"] == "c")
        headers.remove(name: "x")
        #expect(headers.count == 1)
    }

    @Test("Equality compares pairs byte for byte, in order")
    func equality() {
        let a: SPDYHeaders = [("a", "1"), ("b", "2")]
        var b = SPDYHeaders()
        b.add(nameBytes: Array("a".utf8), valueBytes: Array("1".utf8))
        b.add(name: "b", value: "2")
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a != [("b", "2"), ("a", "1")])
        #expect(a != [("a", "1")])
    }
}
