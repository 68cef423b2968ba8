import SPDY

extension SpecCatalogue {
    /// The rules about every frame of a kind the server sends. Each is a case whose verdict
    /// is what its check saw on every connection of the run (SKIP when the server never sent
    /// such a frame); some also do something of their own first.
    static let globals: [SpecCase] = [
        {
            var idle = SpecCase(
                "2.1", 1, v3Up, informational: v2,
                "The server sends GOAWAY before it closes a connection (\"it MUST first send a GOAWAY\")"
            ) { c in
                try await c.readResponse(try await c.request())
                // Idle a while: a server with a short idle timeout closes now.
                let clock = ContinuousClock()
                let deadline = clock.now.advanced(by: .seconds(5))
                var goAway = false
                while clock.now < deadline, let event = await c.next(within: deadline - clock.now) {
                    if case .frame(.goAway) = event { goAway = true }
                    if case .closed = event {
                        if goAway { return }
                        throw SpecFailure(expected: "a GOAWAY before the close", got: "the close alone")
                    }
                }
            }
            idle.global = .goAwayBeforeClose
            return idle
        }(),
        SpecCase(
            "2.6.3", 6, all3,
            "Every RST_STREAM has flags 0, length 8 and a defined status (\"0 is not a valid status\")",
            global: .rstStreamFields),
        SpecCase(
            "2.6.4", 1, all3,
            "Every SETTINGS is well formed: defined IDs (SPDY/2 little-endian), flags, no ID twice (\"MUST not contain multiple values for the same ID\")",
            global: .settingsFields),
        SpecCase(
            "2.6.5", 7, all3, "The server's own PINGs have even IDs (\"it must use an even numbered ping\")",
            global: .serverPingParity),
        SpecCase(
            "2.6.6", 1, all3,
            "Every GOAWAY has flags 0, the version's length (\"always 8 bytes long\"; v2: 4) and a defined status",
            global: .goAwayFields),
        SpecCase(
            "2.6.8", 17, v3Up,
            "Every WINDOW_UPDATE has flags 0, length 8 and a delta of 1 to 2^31-1 (\"The legal range for this field\")",
            global: .windowUpdateFields),
        SpecCase(
            "2.6.10", 11, all3,
            "Every header block of the server: names non-empty and lower case, none twice, no empty value part",
            global: .headerBlockRules),
        {
            var reply = SpecCase(
                "3.2.2", 1, all3,
                "Every SYN_REPLY carries the status and the version (\"must be present\")"
            ) { c in
                let reply = try await c.expectReply(try await c.request())
                guard c.replyStatus(reply) != nil else {
                    throw SpecFailure(expected: "a status header in the SYN_REPLY", got: "\(reply.headers)")
                }
            }
            reply.global = .replyStatusAndVersion
            return reply
        }(),
        SpecCase(
            "3.2.2", 2, v3Up, informational: v2,
            "No Connection, Keep-Alive, Proxy-Connection or Transfer-Encoding in replies (\"MUST not be sent\")",
            global: .noConnectionHeaders),
        {
            var push = SpecCase(
                "3.3.1", 1, all3,
                "Pushed streams are even, UNIDIRECTIONAL, associated with an open stream and name their resource"
            ) { c in
                guard let path = c.pushPath else { throw SpecSkip("no --push-path given") }
                try await c.readResponse(try await c.request(path))
            }
            push.global = .pushedStreams
            return push
        }(),
    ]
}

extension SpecConnection {
    /// The status of a reply (`:status`, or SPDY/2's `status`), if it has one.
    public func replyStatus(_ reply: SPDYFrame.SynReply) -> String? {
        reply.headers[":status"] ?? reply.headers["status"]
    }
}
