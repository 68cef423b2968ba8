import NIOCore
@_spi(Testing) import SPDY

/// Something the server did, as a case sees it.
public enum SpecEvent: Sendable, CustomStringConvertible {
    /// A control frame arrived.
    case frame(SPDYFrame)
    /// A whole DATA frame arrived (its payload bytes are in ``SpecConnection/receivedData``).
    case data(streamID: SPDYStreamID, flags: SPDYDataFlags, length: Int)
    /// The server sent bytes that are not SPDY of the version under test.
    case undecodable(String)
    /// The server closed the connection.
    case closed

    /// The event as a report shows it (`RST_STREAM PROTOCOL_ERROR (stream 1)`).
    public var description: String {
        switch self {
        case .frame(let frame): return Self.describe(frame)
        case .data(let id, let flags, let length):
            return "DATA (stream \(id), \(length) bytes\(flags.contains(.fin) ? ", FIN" : ""))"
        case .undecodable(let why): return "bytes that do not decode (\(why))"
        case .closed: return "the connection's close"
        }
    }

    static func describe(_ frame: SPDYFrame) -> String {
        switch frame {
        case .synStream(let f): return "SYN_STREAM (stream \(f.streamID))"
        case .synReply(let f):
            return "SYN_REPLY (stream \(f.streamID)\(f.flags.contains(.fin) ? ", FIN" : ""))"
        case .rstStream(let f): return "RST_STREAM \(f.status) (stream \(f.streamID))"
        case .settings(let f): return "SETTINGS (\(f.entries.map { "\($0.id)=\($0.value)" }.joined(separator: ", ")))"
        case .noop: return "NOOP"
        case .ping(let f): return "PING \(f.id)"
        case .goAway(let f): return "GOAWAY \(f.status) (last good stream \(f.lastGoodStreamID))"
        case .headers(let f): return "HEADERS (stream \(f.streamID))"
        case .windowUpdate(let f): return "WINDOW_UPDATE \(f.deltaWindowSize) (stream \(f.streamID))"
        case .credential: return "CREDENTIAL"
        case .data(let f): return "DATA (stream \(f.streamID))"
        case .unknown(let f): return "a control frame of type \(f.header.type.rawValue)"
        }
    }
}

/// Why a case failed: what the draft requires and what the server did.
public struct SpecFailure: Error, Sendable {
    /// What the draft requires, as the report shows it.
    public var expected: String
    /// What the server did instead.
    public var got: String
    /// A failure: `expected` did not happen, `got` did.
    public init(expected: String, got: String) {
        self.expected = expected
        self.got = got
    }
}

/// Why a case could not be run against this server (it is reported as skipped).
public struct SpecSkip: Error, Sendable {
    /// Why the case could not run (no `--push-path`, a frame the server never sent…).
    public var reason: String
    /// A skip with `reason`.
    public init(_ reason: String) { self.reason = reason }
}

/// A client connection that speaks frames: it encodes what a case sends (with a zlib
/// context of its own, as a peer has) and decodes what the server answers.
public final class SpecConnection {
    /// The SPDY version of this connection.
    public let version: SPDYVersion
    /// The `:host` of requests (`HOST:PORT`).
    public let authority: String
    /// A path whose response is larger than 140 000 bytes, for the flow-control cases.
    public var largePath: String = "/big"
    let transport: any SpecTransport
    let encoder: SPDYFrameEncoder
    let decoder: SPDYFrameDecoder
    /// The one zlib context of every header block this connection sends, broken ones included.
    let deflater: SPDYRawHeaderDeflater
    private var pending: [SpecEvent] = []
    private var closed = false
    /// A write failed: the server closed (or reset) the connection, which a case sees as the
    /// close event once what arrived before it is read.
    private var writeFailed: ContinuousClock.Instant?
    /// Everything seen so far, for the report of a failure.
    public private(set) var seen: [SpecEvent] = []
    /// DATA payload bytes received per stream.
    public private(set) var receivedData: [SPDYStreamID: Int] = [:]
    /// The next stream ID ``nextStreamID()`` gives.
    private var nextID: UInt32 = 1
    /// The last PING ID used (odd ones: a client's).
    var pingCounter: UInt32 = 1
    /// Every PING ID this connection sent, raw frames included.
    private var sentPingIDs: Set<UInt32> = []
    /// Server PINGs (even IDs) not yet echoed.
    private var pingsToEcho: [UInt32] = []
    /// The client streams opened and not yet ended by the server (for the push check).
    private var openClientStreams: Set<SPDYStreamID> = []
    /// The first bytes the server sent, for checks of the compressed blocks themselves.
    public private(set) var receivedPrefix: [UInt8] = []
    private var globalChecks: GlobalCheckState
    /// The path of a resource the server pushes others with (`--push-path`), if known.
    public var pushPath: String?
    /// The `:scheme` of requests (`https` unless the runner says the connection is plain TCP).
    public var scheme = "https"

    init(
        version: SPDYVersion, authority: String, transport: any SpecTransport, caseID: String = "",
        observations: SpecObservations? = nil
    ) throws {
        self.version = version
        self.authority = authority
        self.transport = transport
        self.globalChecks = GlobalCheckState(version: version, caseID: caseID, observations: observations)
        self.deflater = try SPDYRawHeaderDeflater(version: version)
        self.encoder = try SPDYFrameEncoder(version: version, compression: .init(level: 9))
        self.decoder = try SPDYFrameDecoder(
            version: version, configuration: .init(maxControlFramePayloadSize: 1 << 24 - 1, maxHeaderBlockSize: 1 << 24)
        )
    }

    // MARK: Sending

    /// A new client stream ID (odd, increasing).
    public func nextStreamID() -> SPDYStreamID {
        defer { nextID += 2 }
        return SPDYStreamID(rawValue: nextID)!
    }

    /// Encodes and sends frames without header blocks (header blocks go through
    /// ``synStream(_:flags:priority:associated:slot:pairs:)`` and its kin, in this
    /// connection's zlib context).
    public func send(_ frames: SPDYFrame...) async throws {
        var buffer = ByteBuffer()
        for frame in frames {
            precondition(!(frame.type?.carriesHeaderBlock ?? false), "header blocks go through synStream/headers")
            if case .ping(let ping) = frame { sentPingIDs.insert(ping.id) }
            try encoder.encode(frame, into: &buffer)
        }
        await write(buffer)
    }

    /// Writes to the server. A server may close the connection at any time (after a GOAWAY,
    /// or at once on an error it cannot answer); a write after that is not an error of the
    /// case but the close, which the next wait reports as an event.
    private func write(_ buffer: ByteBuffer) async {
        guard writeFailed == nil else { return }
        do {
            try await transport.write(buffer)
        } catch {
            writeFailed = .now
        }
    }

    /// Sends bytes as they are (deliberately broken frames, several frames in one write).
    public func sendRaw(_ bytes: [UInt8]) async throws {
        noteSentFrames(bytes)
        await write(ByteBuffer(bytes: bytes))
    }

    /// Sends bytes one at a time, with `pause` between writes.
    public func sendRawByteByByte(_ bytes: [UInt8], pause: Duration = .milliseconds(1)) async throws {
        noteSentFrames(bytes)
        for byte in bytes where writeFailed == nil {
            await write(ByteBuffer(bytes: [byte]))
            try await Task.sleep(for: pause)
        }
    }

    /// Notes the PING IDs and new client streams among raw bytes, walking them frame by frame.
    private func noteSentFrames(_ bytes: [UInt8]) {
        var offset = 0
        while bytes.count - offset >= 8 {
            let length = Int(bytes[offset + 5]) << 16 | Int(bytes[offset + 6]) << 8 | Int(bytes[offset + 7])
            if bytes[offset] & 0x80 != 0 && bytes.count - offset >= 12 {
                let type = UInt16(bytes[offset + 2]) << 8 | UInt16(bytes[offset + 3])
                let word = bytes[(offset + 8)..<(offset + 12)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                if type == 6 { sentPingIDs.insert(word) }
                if type == 1, let id = SPDYStreamID(rawValue: word & 0x7fff_ffff) { openClientStreams.insert(id) }
            }
            offset += 8 + length
        }
    }

    /// The bytes of a control frame of this version with any type, flags and payload; `length`
    /// overrides the length field (a lie about the payload's size).
    public func controlFrame(
        type: UInt16, flags: UInt8 = 0, payload: [UInt8], version wireVersion: UInt16? = nil, length: Int? = nil
    ) -> [UInt8] {
        let v = wireVersion ?? version.wireVersion
        let n = length ?? payload.count
        return [UInt8(0x80 | (v >> 8)), UInt8(v & 0xff), UInt8(type >> 8), UInt8(type & 0xff), flags]
            + [UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
            + payload
    }

    /// The bytes of a DATA frame.
    public func dataFrame(_ streamID: SPDYStreamID, fin: Bool = false, flags: UInt8? = nil, _ payload: [UInt8])
        -> [UInt8]
    {
        let n = payload.count
        return word(streamID.rawValue) + [flags ?? (fin ? 1 : 0)]
            + [UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
            + payload
    }

    func word(_ value: UInt32) -> [UInt8] {
        [
            UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
            UInt8(truncatingIfNeeded: value),
        ]
    }

    /// An uncompressed name/value block of this version's layout from raw pairs (any bytes),
    /// with `count` overriding the number of pairs written.
    public func nameValueBlock(_ pairs: [(name: [UInt8], value: [UInt8])], count: Int? = nil) -> [UInt8] {
        func length(_ n: Int) -> [UInt8] {
            version == .v2 ? [UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)] : word(UInt32(n))
        }
        var block = length(count ?? pairs.count)
        for (name, value) in pairs {
            block += length(name.count) + name + length(value.count) + value
        }
        return block
    }

    /// The pairs of a request for `path` in this version's spelling (SPDY/2: `method`, `url`…),
    /// sorted by name, plus `extra`.
    public func requestPairs(
        path: String = "/", method: String = "GET", extra: [(String, String)] = []
    ) -> [(name: [UInt8], value: [UInt8])] {
        let v3: [(String, String)] = [
            (":method", method), (":path", path), (":version", "HTTP/1.1"), (":host", authority),
            (":scheme", scheme), ("user-agent", "spdyspec"),
        ]
        let named = v3.map { version == .v2 ? (SPDYHeaderNames.spdy2Name(for: $0.0), $0.1) : $0 } + extra
        return named.map { (Array($0.0.utf8), Array($0.1.utf8)) }.sorted { $0.0.lexicographicallyPrecedes($1.0) }
    }

    /// The bytes of a SYN_STREAM whose uncompressed block is `block`, compressed now in this
    /// connection's context.
    public func synStream(
        _ streamID: SPDYStreamID, flags: UInt8 = 1, priority: UInt8 = 0, associated: UInt32 = 0, slot: UInt8 = 0,
        block: [UInt8]
    ) throws -> [UInt8] {
        let compressed = try deflater.compress(block)
        let priorityByte = version == .v2 ? (priority & 3) << 6 : (priority & 7) << 5
        let fixed = word(streamID.rawValue) + word(associated) + [priorityByte, version == .v2 ? 0 : slot]
        return controlFrame(type: 1, flags: flags, payload: fixed + compressed)
    }

    /// The bytes of a SYN_REPLY (type 2) or HEADERS (type 8) frame whose uncompressed block is `block`.
    public func replyOrHeaders(type: UInt16, _ streamID: SPDYStreamID, flags: UInt8 = 0, block: [UInt8]) throws
        -> [UInt8]
    {
        let compressed = try deflater.compress(block)
        let fixed = word(streamID.rawValue) + (version == .v2 ? [0, 0] : [])
        return controlFrame(type: type, flags: flags, payload: fixed + compressed)
    }

    /// Opens a stream with a request (GET of `path` unless `method` says otherwise): its ID.
    @discardableResult
    public func request(
        _ path: String = "/", method: String = "GET", fin: Bool = true, priority: UInt8 = 0,
        extra: [(String, String)] = [], id: SPDYStreamID? = nil
    ) async throws -> SPDYStreamID {
        let id = id ?? nextStreamID()
        try await sendRaw(
            try synStream(
                id, flags: fin ? 1 : 0, priority: priority,
                block: nameValueBlock(requestPairs(path: path, method: method, extra: extra))))
        return id
    }

    // MARK: Receiving

    /// The next thing the server does within `timeout`, or `nil`.
    public func next(within timeout: Duration) async -> SpecEvent? {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            if !pingsToEcho.isEmpty {
                // The server's own PINGs are answered, as a client must ("the recipient
                // … MUST send an identical PING frame back").
                let ids = pingsToEcho
                pingsToEcho = []
                var buffer = ByteBuffer()
                for id in ids { try? encoder.encode(.ping(.init(id: id)), into: &buffer) }
                try? await transport.write(buffer)
            }
            if !pending.isEmpty {
                let event = pending.removeFirst()
                seen.append(event)
                return event
            }
            if closed { return nil }
            pull()
            if !pending.isEmpty { continue }
            if clock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Decodes what arrived into events.
    private func pull() {
        let (bytes, isClosed) = transport.take()
        if bytes.readableBytes > 0 {
            if receivedPrefix.count < 1 << 16 {
                receivedPrefix += bytes.readableBytesView.prefix(1 << 16 - receivedPrefix.count)
            }
            decoder.append(bytes: bytes)
            while true {
                do {
                    guard let event = try decoder.nextFrame() else { break }
                    switch event {
                    case .frame(let frame, let header):
                        let open = openClientStreams
                        globalChecks.observe(
                            frame, header: header, sentPingIDs: sentPingIDs, openClientStreams: { open.contains($0) })
                        if case .ping(let ping) = frame, ping.id % 2 == 0, ping.id != 0 {
                            pingsToEcho.append(ping.id)
                        }
                        if case .rstStream(let f) = frame { openClientStreams.remove(f.streamID) }
                        if case .synReply(let f) = frame, f.flags.contains(.fin) {
                            openClientStreams.remove(f.streamID)
                        }
                        pending.append(.frame(frame))
                    case .dataChunk(let chunk):
                        receivedData[chunk.header.streamID, default: 0] += chunk.payload.readableBytes
                        if chunk.isEndOfFrame && chunk.header.flags.contains(.fin) {
                            openClientStreams.remove(chunk.header.streamID)
                        }
                        if chunk.isEndOfFrame {
                            pending.append(
                                .data(
                                    streamID: chunk.header.streamID, flags: chunk.header.flags,
                                    length: chunk.header.length))
                        }
                    }
                } catch {
                    globalChecks.observeUndecodable(error)
                    pending.append(.undecodable("\(error)"))
                    break
                }
            }
        }
        // After a failed write, what the server sent before it closed may still be on its
        // way through the read side: the close is declared once that has had time to arrive.
        let closedForWriting = writeFailed.map { $0.duration(to: .now) > .milliseconds(500) } ?? false
        if (isClosed || closedForWriting) && bytes.readableBytes == 0 {
            globalChecks.observeClose()
            pending.append(.closed)
            closed = true
        } else if isClosed {
            // Decode the last bytes first; the close comes next time.
        }
    }

    /// Waits for an event `accept` says yes to (it may pass over others: SETTINGS, PING,
    /// WINDOW_UPDATE and frames of other streams come and go); fails with `expected` and what
    /// came when none does within `timeout`, or when `reject` says an event ends the wait.
    /// With `lookingBack`, an event an earlier wait passed over counts too (a server may
    /// answer streams in any order).
    @discardableResult
    public func expect(
        _ expected: String,
        within timeout: Duration = .seconds(3),
        lookingBack: Bool = false,
        reject: (SpecEvent) -> Bool = { _ in false },
        _ accept: (SpecEvent) throws -> Bool
    ) async throws -> SpecEvent {
        if lookingBack, let earlier = try seen.first(where: accept) { return earlier }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var got: [SpecEvent] = []
        while clock.now < deadline {
            guard let event = await next(within: deadline - clock.now) else { break }
            if try accept(event) { return event }
            got.append(event)
            if reject(event) { break }
            if case .closed = event { break }
        }
        throw SpecFailure(expected: expected, got: Self.summary(got))
    }

    /// Fails if the server answers with an error (RST_STREAM for `streamID`, when given, or
    /// any; GOAWAY; the connection's close) within `duration`.
    public func expectNoError(
        for duration: Duration = .milliseconds(500), streamID: SPDYStreamID? = nil, _ what: String
    )
        async throws
    {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: duration)
        while clock.now < deadline {
            guard let event = await next(within: deadline - clock.now) else { return }
            switch event {
            case .frame(.rstStream(let f)) where streamID == nil || f.streamID == streamID:
                throw SpecFailure(expected: what, got: event.description)
            case .frame(.goAway), .closed, .undecodable:
                throw SpecFailure(expected: what, got: event.description)
            default:
                continue
            }
        }
    }

    static func summary(_ events: [SpecEvent]) -> String {
        guard !events.isEmpty else { return "nothing" }
        let shown = events.prefix(6).map(\.description).joined(separator: ", ")
        return events.count > 6 ? shown + ", …" : shown
    }

    /// Stops or resumes reading from the connection (see ``SpecTransport/setReading(_:)``).
    public func setReading(_ reading: Bool) async {
        await transport.setReading(reading)
    }

    /// Closes the connection.
    public func close() async {
        await transport.close()
    }
}
