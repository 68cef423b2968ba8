import SPDY

extension SpecCatalogue {
    /// 3.2 HTTP request/response, 3.3 Server push.
    static let requests: [SpecCase] = [
        missingHeader(1, ":method", all3),
        missingHeader(2, ":path", all3),
        missingHeader(3, ":version", all3),
        missingHeader(4, ":host", v3Up),
        missingHeader(5, ":scheme", v3Up),
        SpecCase("3.2.1", 6, all3, "An empty header block (no pairs) is answered 400") { c in
            let id = c.nextStreamID()
            try await c.sendRaw(try c.synStream(id, block: c.nameValueBlock([])))
            try await c.expectStatus(400, on: id)
        },
        SpecCase(
            "3.2.1", 7, [], informational: v2,
            "SPDY/2 needs only method, url and version (\"The \\\"host\\\" header is ignored\")"
        ) { c in
            let id = c.nextStreamID()
            let pairs = c.requestPairs().filter { $0.name != Array("host".utf8) && $0.name != Array("scheme".utf8) }
            try await c.sendRaw(try c.synStream(id, block: c.nameValueBlock(pairs)))
            let reply = try await c.expectReply(id)
            if c.replyStatus(reply)?.hasPrefix("400") == true {
                throw SpecFailure(expected: "a status other than 400", got: "400")
            }
        },
        SpecCase(
            "3.2.1", 8, v3Up,
            "Fewer DATA bytes than Content-Length is answered 400 (\"the server MUST return a 400\")"
        ) { c in
            let id = try await c.request(method: "POST", fin: false, extra: [("content-length", "10")])
            try await c.sendRaw(c.dataFrame(id, fin: true, Array("12345".utf8)))
            try await c.expectStatus(400, on: id)
        },
        SpecCase(
            "3.2.1", 9, v3Up,
            "More DATA bytes than Content-Length is answered 400 (\"the server MUST return a 400\")"
        ) { c in
            let id = try await c.request(method: "POST", fin: false, extra: [("content-length", "5")])
            try await c.sendRaw(c.dataFrame(id, fin: true, Array("1234567890".utf8)))
            try await c.expectStatus(400, on: id)
        },
        SpecCase(
            "3.2.1", 10, [], informational: v3Up,
            "A request with Connection, Host and Transfer-Encoding (\"are not valid and MUST not be sent\")"
        ) { c in
            let id = try await c.request(
                extra: [("connection", "close"), ("host", "x"), ("transfer-encoding", "chunked")])
            try await c.expect("a SYN_REPLY (any status) or RST_STREAM PROTOCOL_ERROR", reject: c.isFatal) { event in
                switch event {
                case .frame(.synReply(let f)): return f.streamID == id
                case .frame(.rstStream(let f)): return f.streamID == id && f.status == .protocolError
                default: return false
                }
            }
        },
        SpecCase(
            "2.6.4", 10, informational: all3,
            "MAX_CONCURRENT_STREAMS 0 from the client: no pushed streams (\"the maximum number of concurrent streams\")"
        ) { c in
            guard let path = c.pushPath else { throw SpecSkip("no --push-path given") }
            try await c.send(.settings(.init(entries: [.init(id: .maxConcurrentStreams, value: 0)])))
            try await c.readResponse(try await c.request(path))
            if let push = c.seen.first(where: { if case .frame(.synStream) = $0 { true } else { false } }) {
                throw SpecFailure(expected: "no SYN_STREAM from the server", got: push.description)
            }
        },
        SpecCase(
            "3.3.2", 1, v3Up, informational: v2,
            "Cancelling the request stops its pushed streams (\"MUST immediately stop sending frames\")"
        ) { c in
            guard let path = c.pushPath else { throw SpecSkip("no --push-path given") }
            let id = try await c.request(path)
            let event = try await c.expect("a pushed SYN_STREAM associated with stream \(id)", reject: c.isFatal) {
                event in
                if case .frame(.synStream(let f)) = event { return f.associatedStreamID == id }
                return false
            }
            guard case .frame(.synStream(let first)) = event else { return }
            var pushed: Set<SPDYStreamID> = [first.streamID]
            try await c.send(.rstStream(.init(streamID: id, status: .cancel)))
            let probe = c.nextPingID()
            try await c.send(.ping(.init(id: probe)))
            var echoed = false
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: .seconds(3))
            while clock.now < deadline, let event = await c.next(within: deadline - clock.now) {
                switch event {
                case .frame(.ping(let p)) where p.id == probe:
                    echoed = true
                case .frame(.synStream(let f)) where f.associatedStreamID == id:
                    pushed.insert(f.streamID)
                    if echoed { throw SpecFailure(expected: "no new push after the echo", got: event.description) }
                case .frame(.headers(let f)) where echoed && pushed.contains(f.streamID):
                    throw SpecFailure(expected: "no frame on a pushed stream after the echo", got: event.description)
                case .data(let stream, _, _) where echoed && pushed.contains(stream):
                    throw SpecFailure(expected: "no frame on a pushed stream after the echo", got: event.description)
                default:
                    continue
                }
            }
        },
    ]

    /// A request without the header `name` (SPDY/3 spelling), which must be answered 400.
    static func missingHeader(_ number: Int, _ name: String, _ versions: Set<SPDYVersion>) -> SpecCase {
        SpecCase(
            "3.2.1", number, versions,
            "A request without \(name) is answered 400 (\"the server MUST reply with a HTTP 400 Bad Request\")"
        ) { c in
            let wireName = Array((c.version == .v2 ? SPDYHeaderNames.spdy2Name(for: name) : name).utf8)
            let id = c.nextStreamID()
            try await c.sendRaw(
                try c.synStream(id, block: c.nameValueBlock(c.requestPairs().filter { $0.name != wireName })))
            try await c.expectStatus(400, on: id)
        }
    }
}

extension SpecConnection {
    /// Waits for the SYN_REPLY of `streamID` and checks that its status is `status`.
    public func expectStatus(_ status: Int, on streamID: SPDYStreamID) async throws {
        let reply = try await expectReply(streamID)
        guard let got = replyStatus(reply), got.hasPrefix(String(status)) else {
            throw SpecFailure(
                expected: "status \(status) for stream \(streamID)",
                got: "status \(replyStatus(reply) ?? "none")")
        }
    }
}
