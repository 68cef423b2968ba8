import SPDY

extension SpecCatalogue {
    /// 2.6.10 Name/Value header block, 2.6.10.1 Compression.
    static let headerBlocks: [SpecCase] = [
        block(1, all3, "A pair with an empty name gets RST_STREAM PROTOCOL_ERROR (\"MUST issue a stream error\")") {
            c in
            (pairs: [(name: [], value: Array("x".utf8))], accepted: false)
        },
        block(2, all3, "An empty value: SPDY/2 refuses it (RST_STREAM PROTOCOL_ERROR), SPDY/3 accepts it") { c in
            (pairs: [(name: Array("x-empty".utf8), value: [])], accepted: c.version != .v2)
        },
        block(3, v3Up, informational: v2, "A value starting with NUL gets RST_STREAM PROTOCOL_ERROR") { _ in
            (pairs: [(name: Array("x-a".utf8), value: [0, 0x62])], accepted: false)
        },
        block(4, v3Up, informational: v2, "A value ending with NUL gets RST_STREAM PROTOCOL_ERROR") { _ in
            (pairs: [(name: Array("x-a".utf8), value: [0x62, 0])], accepted: false)
        },
        block(5, all3, "Two NULs in a row in a value get RST_STREAM PROTOCOL_ERROR") { _ in
            (pairs: [(name: Array("x-a".utf8), value: [0x61, 0, 0, 0x62])], accepted: false)
        },
        block(6, all3, "A value of two NUL-separated parts is valid") { _ in
            (pairs: [(name: Array("x-multi".utf8), value: [0x61, 0, 0x62])], accepted: true)
        },
        block(7, informational: all3, "An upper-case name is refused (\"must be all lower case\")") { _ in
            (pairs: [(name: Array("X-Upper".utf8), value: Array("1".utf8))], accepted: false)
        },
        block(8, informational: all3, "A repeated name is refused (\"Duplicate header names are not allowed\")") { _ in
            (
                pairs: [
                    (name: Array("x-dup".utf8), value: Array("a".utf8)),
                    (name: Array("x-dup".utf8), value: Array("b".utf8)),
                ], accepted: false
            )
        },
        SpecCase(
            "2.6.10.1", 2, all3,
            "Blocks of one connection are one zlib stream: three requests, each referring back, are answered"
        ) { c in
            let ids = [c.nextStreamID(), c.nextStreamID(), c.nextStreamID()]
            var bytes: [UInt8] = []
            for id in ids {
                bytes += try c.synStream(id, block: c.nameValueBlock(c.requestPairs()))
            }
            try await c.sendRaw(bytes)
            for id in ids {
                try await c.expectReply(id)
            }
        },
    ]

    /// A case that sends a request with the pairs `make` returns added to a valid request's,
    /// and expects a SYN_REPLY when they are acceptable, RST_STREAM PROTOCOL_ERROR when not.
    static func block(
        _ number: Int,
        _ versions: Set<SPDYVersion> = [],
        informational: Set<SPDYVersion> = [],
        _ title: String,
        _ make: @escaping @Sendable (SpecConnection) -> (pairs: [(name: [UInt8], value: [UInt8])], accepted: Bool)
    ) -> SpecCase {
        SpecCase("2.6.10", number, versions, informational: informational, title) { c in
            let (extra, accepted) = make(c)
            let id = c.nextStreamID()
            let pairs = (c.requestPairs() + extra).sorted { $0.name.lexicographicallyPrecedes($1.name) }
            try await c.sendRaw(try c.synStream(id, block: c.nameValueBlock(pairs)))
            if accepted {
                try await c.expectReply(id)
            } else {
                try await c.expectStreamError(id, .protocolError)
            }
        }
    }
}
