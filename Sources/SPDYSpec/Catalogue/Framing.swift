import SPDY

extension SpecCatalogue {
    /// 2.2.1 Control frames, 2.2.2 Data frames.
    static let framing: [SpecCase] = [
        {
            var versionCase = SpecCase(
                "2.2.1", 1, all3,
                "A request is answered with a SYN_REPLY of the session's version (and every control frame)"
            ) { c in
                let id = try await c.request()
                try await c.expectReply(id)
            }
            versionCase.global = .controlFrameVersion
            return versionCase
        }(),
        SpecCase(
            "2.2.1", 4, v2, informational: v3Up,
            "A control frame of an unknown type is ignored (v2: \"it must ignore the frame\")"
        ) { c in
            try await c.sendRaw(c.controlFrame(type: 0x00ff, payload: [0, 0, 0, 0]))
            try await c.expectAlive()
        },
        SpecCase(
            "2.2.1", 5, v2, informational: v3Up,
            "An unknown control frame of 100 bytes is skipped by its length; the next frame is read"
        ) { c in
            try await c.sendRaw(c.controlFrame(type: 0xffff, flags: 0xff, payload: Array(repeating: 0xa5, count: 100)))
            try await c.expectAlive()
        },
        SpecCase(
            "2.2.1", 7, v3Up, informational: v2,
            "A SYN_STREAM of about 6 KB is received (\"MUST be able to receive control frames of at least 8192 octets\")"
        ) { c in
            // Random letters compress to about 5 bits each: the frame stays under 8192 bytes.
            var random = SystemRandomNumberGenerator()
            let pad = (0..<9000).map { _ in UInt8.random(in: 0x61...0x7a, using: &random) }
            let id = try await c.request(extra: [("x-pad", String(decoding: pad, as: UTF8.self))])
            try await c.expectReply(id)
        },
        SpecCase(
            "2.2.2", 1, all3,
            "DATA for a stream never opened gets RST_STREAM INVALID_STREAM (\"MUST issue a stream error\")"
        ) { c in
            // A PING first: servers that tell SPDY from HTTP/1.1 by the first bytes need a
            // control frame to start with (DATA's first bit is 0, as in ASCII).
            try await c.expectAlive()
            try await c.sendRaw(c.dataFrame(5, Array("abcd".utf8)))
            try await c.expectStreamError(5, .invalidStream)
            try await c.expectAlive()
        },
        SpecCase("2.2.2", 2, all3, "DATA for an even stream the server never opened gets RST_STREAM INVALID_STREAM") {
            c in
            try await c.expectAlive()
            try await c.sendRaw(c.dataFrame(2, Array("abcd".utf8)))
            try await c.expectStreamError(2, .invalidStream)
            try await c.expectAlive()
        },
        SpecCase(
            "2.2.2", 3, informational: all3,
            "DATA for stream 0 is an error (\"0 is not a valid Stream-ID\")"
        ) { c in
            try await c.expectAlive()
            try await c.sendRaw(c.dataFrame(0, Array("abcd".utf8)))
            try await c.expectStreamOrSessionError(0, .invalidStream, .protocolError)
        },
        SpecCase(
            "2.2.2", 5, all3,
            "A zero-length DATA frame with FIN is valid (\"It is valid to have a zero-length data frame\")"
        ) {
            c in
            let id = try await c.request(method: "POST", fin: false, extra: [("content-length", "0")])
            try await c.sendRaw(c.dataFrame(id, fin: true, []))
            try await c.expectReply(id)
        },
    ]
}
