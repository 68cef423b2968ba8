import NIOCore

@testable import SPDY

/// Everything a session reported through its callbacks, in order.
enum SessionEvent: Hashable, CustomStringConvertible {
    case controlReceived(SPDYFrameType, SPDYStreamID?)
    case invalidControlReceived(SPDYFrameType, SPDYStreamID?, SPDYStreamStatus)
    case dataChunk(SPDYStreamID, Int)
    case dataReceived(SPDYStreamID, SPDYDataFlags, Int)
    case beforeSend(SPDYFrameType, SPDYStreamID?)
    case controlSent(SPDYFrameType, SPDYStreamID?)
    case controlNotSent(SPDYFrameType, SPDYStreamID?, SPDYError.Code)
    case dataSent(SPDYStreamID, SPDYDataFlags, Int)
    case streamClosed(SPDYStreamID, SPDYStreamStatus)
    case requestReceived(SPDYStreamID)
    case parseError(SPDYFrameType, SPDYError.Code)
    case unknownControl(UInt16)

    var description: String {
        switch self {
        case .controlReceived(let t, let s): return "recv \(t) \(s.map(String.init(describing:)) ?? "-")"
        case .invalidControlReceived(let t, let s, let st):
            return "invalid \(t) \(s.map(String.init(describing:)) ?? "-") \(st)"
        case .dataChunk(let s, let n): return "chunk \(s) \(n)"
        case .dataReceived(let s, let f, let n): return "data \(s) flags=\(f.rawValue) \(n)"
        case .beforeSend(let t, let s): return "before \(t) \(s.map(String.init(describing:)) ?? "-")"
        case .controlSent(let t, let s): return "sent \(t) \(s.map(String.init(describing:)) ?? "-")"
        case .controlNotSent(let t, let s, let c): return "notsent \(t) \(s.map(String.init(describing:)) ?? "-") \(c)"
        case .dataSent(let s, let f, let n): return "datasent \(s) flags=\(f.rawValue) \(n)"
        case .streamClosed(let s, let st): return "closed \(s) \(st)"
        case .requestReceived(let s): return "request \(s)"
        case .parseError(let t, let c): return "parse \(t) \(c)"
        case .unknownControl(let t): return "unknown \(t)"
        }
    }
}

/// One side of an in-memory connection: a session, what it reported, what it received,
/// and the bytes it wrote that the other side has not read yet.
final class Endpoint {
    var session: SPDYSession!
    var events: [SessionEvent] = []
    var frames: [SPDYFrame] = []
    var received: [SPDYStreamID: [UInt8]] = [:]
    var outbox: [UInt8] = []
    /// How many bytes the send callback accepts per call (nil: everything).
    var sendLimit: Int? = nil
    var sendBlocked = false

    init(
        role: SPDYRole,
        version: SPDYVersion,
        configuration: SPDYSession.Configuration = .init(),
        clock: SPDYClock = .system
    ) throws {
        session = try SPDYSession(
            role: role, version: version, configuration: configuration, callbacks: callbacks(), clock: clock)
    }

    func callbacks() -> SPDYSessionCallbacks {
        SPDYSessionCallbacks(
            send: { [unowned self] _, data in
                if self.sendBlocked { return 0 }
                let n = min(data.readableBytes, self.sendLimit ?? Int.max)
                self.outbox += data.readableBytesView.prefix(n)
                return n
            },
            onControlFrameReceived: { [unowned self] _, frame, _ in
                self.events.append(.controlReceived(frame.type!, frame.streamID))
                self.frames.append(frame)
            },
            onInvalidControlFrameReceived: { [unowned self] _, frame, status in
                self.events.append(.invalidControlReceived(frame.type!, frame.streamID, status))
            },
            onDataChunkReceived: { [unowned self] _, _, id, data in
                self.events.append(.dataChunk(id, data.readableBytes))
                self.received[id, default: []] += data.readableBytesView
            },
            onDataReceived: { [unowned self] _, flags, id, length in
                self.events.append(.dataReceived(id, flags, length))
            },
            beforeControlFrameSend: { [unowned self] _, frame in
                self.events.append(.beforeSend(frame.type!, frame.streamID))
            },
            onControlFrameSent: { [unowned self] _, frame in
                self.events.append(.controlSent(frame.type!, frame.streamID))
            },
            onControlFrameNotSent: { [unowned self] _, frame, code in
                self.events.append(.controlNotSent(frame.type!, frame.streamID, code))
            },
            onDataSent: { [unowned self] _, flags, id, length in
                self.events.append(.dataSent(id, flags, length))
            },
            onStreamClosed: { [unowned self] _, id, status in
                self.events.append(.streamClosed(id, status))
            },
            onRequestReceived: { [unowned self] _, id in
                self.events.append(.requestReceived(id))
            },
            onControlFrameParseError: { [unowned self] _, type, _, _, code in
                self.events.append(.parseError(type, code))
            },
            onUnknownControlFrameReceived: { [unowned self] _, head, _ in
                self.events.append(.unknownControl(UInt16(head[2]) << 8 | UInt16(head[3])))
            }
        )
    }

    /// Takes what this endpoint wrote.
    func takeOutbox() -> [UInt8] {
        defer { outbox = [] }
        return outbox
    }

    /// Clears the recorded events.
    func clearEvents() {
        events = []
        frames = []
    }
}

/// A client and a server session connected in memory.
final class SessionPair {
    let client: Endpoint
    let server: Endpoint

    init(
        version: SPDYVersion,
        client clientConfiguration: SPDYSession.Configuration = .init(),
        server serverConfiguration: SPDYSession.Configuration = .init()
    ) throws {
        client = try Endpoint(role: .client, version: version, configuration: clientConfiguration)
        server = try Endpoint(role: .server, version: version, configuration: serverConfiguration)
    }

    /// Moves bytes both ways until neither side has anything more to say.
    /// `split` cuts each transfer into pieces of at most that many bytes.
    @discardableResult
    func pump(split: Int? = nil, rounds: Int = 10_000) throws -> Int {
        var moved = 0
        for _ in 0..<rounds {
            try client.session.send()
            let toServer = client.takeOutbox()
            try deliver(toServer, to: server.session, split: split)
            try server.session.send()
            let toClient = server.takeOutbox()
            try deliver(toClient, to: client.session, split: split)
            moved += toServer.count + toClient.count
            if toServer.isEmpty && toClient.isEmpty { return moved }
        }
        return moved
    }

    private func deliver(_ bytes: [UInt8], to session: SPDYSession, split: Int?) throws {
        guard !bytes.isEmpty else { return }
        let step = split ?? bytes.count
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + step)
            try session.recv(bytes: bytes[offset..<end])
            offset = end
        }
    }
}

/// Standard request headers.
func requestHeaders(path: String = "/", method: String = "GET") -> SPDYHeaders {
    [
        (":method", method), (":path", path), (":version", "HTTP/1.1"), (":scheme", "https"),
        (":host", "example.org"),
    ]
}

/// Standard response headers.
func responseHeaders(status: String = "200 OK") -> SPDYHeaders {
    [(":status", status), (":version", "HTTP/1.1")]
}

/// A data provider sending `count` bytes of a repeating pattern, recording its calls.
final class PatternSource {
    let total: Int
    var sent = 0
    var reads: [Int] = []
    init(_ total: Int) { self.total = total }

    static func byte(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: i &* 31 &+ 7) }

    static func bytes(_ count: Int) -> [UInt8] { (0..<count).map(byte) }

    var provider: SPDYDataProvider {
        SPDYDataProvider(source: self) { [unowned self] _, _, length in
            self.reads.append(length)
            let n = min(length, self.total - self.sent)
            var buffer = ByteBuffer()
            buffer.writeBytes((self.sent..<(self.sent + n)).map(PatternSource.byte))
            self.sent += n
            return .data(buffer, endOfData: self.sent == self.total)
        }
    }
}

/// A hand-driven peer: encodes frames for a session under test and decodes what the
/// session sends back, so tests can send frames no well-behaved session would.
final class RawPeer {
    let endpoint: Endpoint
    let encoder: SPDYFrameEncoder
    let decoder: SPDYFrameDecoder

    init(
        testing role: SPDYRole,
        version: SPDYVersion,
        configuration: SPDYSession.Configuration = .init(),
        clock: SPDYClock = .system
    ) throws {
        endpoint = try Endpoint(role: role, version: version, configuration: configuration, clock: clock)
        encoder = try SPDYFrameEncoder(
            version: version, compression: .default(for: role == .client ? .server : .client))
        decoder = try SPDYFrameDecoder(version: version)
    }

    var session: SPDYSession { endpoint.session }

    /// Encodes `frames` and feeds them to the session.
    func deliver(_ frames: SPDYFrame...) throws {
        var buffer = ByteBuffer()
        for frame in frames {
            try encoder.encode(frame, into: &buffer)
        }
        try session.recv(buffer)
    }

    /// Feeds raw bytes to the session.
    func deliver(bytes: [UInt8]) throws {
        try session.recv(bytes: bytes)
    }

    /// Lets the session send, and decodes what it wrote.
    func collect() throws -> [SPDYFrame] {
        try session.send()
        decoder.append(bytes: endpoint.takeOutbox())
        var frames: [SPDYFrame] = []
        var data: [SPDYStreamID: (SPDYDataFlags, ByteBuffer)] = [:]
        while let event = try decoder.nextFrame() {
            switch event {
            case .frame(let frame, _):
                frames.append(frame)
            case .dataChunk(let chunk):
                var (flags, payload) = data[chunk.header.streamID] ?? (chunk.header.flags, ByteBuffer())
                var piece = chunk.payload
                payload.writeBuffer(&piece)
                flags = chunk.header.flags
                if chunk.isEndOfFrame {
                    frames.append(.data(.init(streamID: chunk.header.streamID, flags: flags, payload: payload)))
                    data[chunk.header.streamID] = nil
                } else {
                    data[chunk.header.streamID] = (flags, payload)
                }
            }
        }
        return frames
    }
}

extension SPDYFrame {
    /// A compact description for assertions: the type and the fields that matter.
    var summary: String {
        switch self {
        case .synStream(let f):
            return "SYN_STREAM \(f.streamID) assoc=\(f.associatedStreamID) flags=\(f.flags.rawValue)"
        case .synReply(let f): return "SYN_REPLY \(f.streamID) flags=\(f.flags.rawValue)"
        case .rstStream(let f): return "RST_STREAM \(f.streamID) \(f.status)"
        case .settings(let f): return "SETTINGS \(f.entries.map { "\($0.id)=\($0.value)" }.joined(separator: ","))"
        case .noop: return "NOOP"
        case .ping(let f): return "PING \(f.id)"
        case .goAway(let f): return "GOAWAY \(f.lastGoodStreamID) \(f.status)"
        case .headers(let f): return "HEADERS \(f.streamID) flags=\(f.flags.rawValue)"
        case .windowUpdate(let f): return "WINDOW_UPDATE \(f.streamID) \(f.deltaWindowSize)"
        case .credential(let f): return "CREDENTIAL \(f.slot)"
        case .data(let f): return "DATA \(f.streamID) flags=\(f.flags.rawValue) \(f.payload.readableBytes)"
        case .unknown(let f): return "UNKNOWN \(f.header.type.rawValue)"
        }
    }
}
