import NIOCore

/// A SPDY frame: one of the ten control frames of the drafts, a DATA frame,
/// or a control frame of a type the drafts do not define.
///
/// Frames are version independent values. The encoder lays them out for its
/// session's version (16-bit name/value lengths and 2-bit priorities in
/// SPDY/2, 32-bit lengths, 3-bit priorities and a credential slot in SPDY/3);
/// the decoder reports the version a control frame carried in its
/// ``SPDYControlFrameHeader``.
public enum SPDYFrame: Hashable, Sendable {
    /// SYN_STREAM: opens a stream.
    case synStream(SynStream)
    /// SYN_REPLY: answers a SYN_STREAM.
    case synReply(SynReply)
    /// RST_STREAM: ends a stream abnormally.
    case rstStream(RstStream)
    /// SETTINGS: configuration values.
    case settings(Settings)
    /// NOOP: does nothing (SPDY/2).
    case noop
    /// PING: a round-trip probe.
    case ping(Ping)
    /// GOAWAY: no new streams from here on.
    case goAway(GoAway)
    /// HEADERS: more name/value pairs for a stream.
    case headers(Headers)
    /// WINDOW_UPDATE: flow-control credit (SPDY/3 and later).
    case windowUpdate(WindowUpdate)
    /// CREDENTIAL: client certificates (SPDY/3).
    case credential(Credential)
    /// DATA: stream payload.
    case data(DataFrame)
    /// A control frame whose type the drafts do not define.
    case unknown(UnknownControlFrame)

    /// The frame's type; DATA frames have none and report `nil`.
    public var type: SPDYFrameType? {
        switch self {
        case .synStream: return .synStream
        case .synReply: return .synReply
        case .rstStream: return .rstStream
        case .settings: return .settings
        case .noop: return .noop
        case .ping: return .ping
        case .goAway: return .goAway
        case .headers: return .headers
        case .windowUpdate: return .windowUpdate
        case .credential: return .credential
        case .data: return nil
        case .unknown(let frame): return frame.header.type
        }
    }

    /// The stream the frame belongs to, for the frames that carry a stream ID.
    ///
    /// A SPDY/3.1 WINDOW_UPDATE for the session reports stream 0.
    public var streamID: SPDYStreamID? {
        switch self {
        case .synStream(let f): return f.streamID
        case .synReply(let f): return f.streamID
        case .rstStream(let f): return f.streamID
        case .headers(let f): return f.streamID
        case .windowUpdate(let f): return f.streamID
        case .data(let f): return f.streamID
        case .settings, .noop, .ping, .goAway, .credential, .unknown: return nil
        }
    }

    /// The 8-bit flags field the frame is written with.
    public var flagsByte: UInt8 {
        switch self {
        case .synStream(let f): return f.flags.rawValue
        case .synReply(let f): return f.flags.rawValue
        case .headers(let f): return f.flags.rawValue
        case .settings(let f): return f.flags.rawValue
        case .data(let f): return f.flags.rawValue
        case .unknown(let f): return f.header.flags
        case .rstStream, .noop, .ping, .goAway, .windowUpdate, .credential: return 0
        }
    }
}

extension SPDYFrame {
    /// SYN_STREAM: opens a stream, optionally associated with another (server push).
    public struct SynStream: Hashable, Sendable {
        /// The new stream's ID.
        public var streamID: SPDYStreamID
        /// The stream this one is associated with (server push), or 0.
        public var associatedStreamID: SPDYStreamID
        /// The priority: 0 is the highest, 3 (SPDY/2) or 7 (SPDY/3) the lowest.
        public var priority: UInt8
        /// The credential slot (SPDY/3; always 0 in SPDY/2).
        public var slot: UInt8
        /// `FIN` and `UNIDIRECTIONAL`.
        public var flags: SPDYControlFlags
        /// The name/value header block.
        public var headers: SPDYHeaders

        /// Creates a SYN_STREAM frame.
        public init(
            streamID: SPDYStreamID,
            associatedStreamID: SPDYStreamID = .zero,
            priority: UInt8 = 0,
            slot: UInt8 = 0,
            flags: SPDYControlFlags = [],
            headers: SPDYHeaders
        ) {
            self.streamID = streamID
            self.associatedStreamID = associatedStreamID
            self.priority = priority
            self.slot = slot
            self.flags = flags
            self.headers = headers
        }
    }

    /// SYN_REPLY: the recipient's answer to a SYN_STREAM.
    public struct SynReply: Hashable, Sendable {
        /// The stream being answered.
        public var streamID: SPDYStreamID
        /// `FIN`.
        public var flags: SPDYControlFlags
        /// The name/value header block.
        public var headers: SPDYHeaders

        /// Creates a SYN_REPLY frame.
        public init(streamID: SPDYStreamID, flags: SPDYControlFlags = [], headers: SPDYHeaders) {
            self.streamID = streamID
            self.flags = flags
            self.headers = headers
        }
    }

    /// HEADERS: further name/value pairs for an open stream.
    public struct Headers: Hashable, Sendable {
        /// The stream the headers belong to.
        public var streamID: SPDYStreamID
        /// `FIN`.
        public var flags: SPDYControlFlags
        /// The name/value header block.
        public var headers: SPDYHeaders

        /// Creates a HEADERS frame.
        public init(streamID: SPDYStreamID, flags: SPDYControlFlags = [], headers: SPDYHeaders) {
            self.streamID = streamID
            self.flags = flags
            self.headers = headers
        }
    }

    /// RST_STREAM: ends a stream abnormally.
    public struct RstStream: Hashable, Sendable {
        /// The stream being reset.
        public var streamID: SPDYStreamID
        /// Why the stream is reset.
        public var status: SPDYStreamStatus

        /// Creates a RST_STREAM frame.
        public init(streamID: SPDYStreamID, status: SPDYStreamStatus) {
            self.streamID = streamID
            self.status = status
        }
    }

    /// One entry of a SETTINGS frame.
    public struct SettingsEntry: Hashable, Sendable {
        /// The setting's 24-bit ID.
        public var id: SPDYSettingsID
        /// `PERSIST_VALUE` and `PERSISTED`.
        public var flags: SPDYSettingsEntryFlags
        /// The setting's 32-bit value.
        public var value: UInt32

        /// Creates a settings entry.
        public init(id: SPDYSettingsID, flags: SPDYSettingsEntryFlags = [], value: UInt32) {
            self.id = id
            self.flags = flags
            self.value = value
        }
    }

    /// SETTINGS: configuration values, in the order they are written.
    public struct Settings: Hashable, Sendable {
        /// `CLEAR_SETTINGS`.
        public var flags: SPDYSettingsFlags
        /// The entries (the reference API's `iv`).
        public var entries: [SettingsEntry]

        /// Creates a SETTINGS frame.
        public init(flags: SPDYSettingsFlags = [], entries: [SettingsEntry]) {
            self.flags = flags
            self.entries = entries
        }
    }

    /// PING: a 32-bit ID the recipient echoes back.
    public struct Ping: Hashable, Sendable {
        /// The ping's unique ID.
        public var id: UInt32

        /// Creates a PING frame.
        public init(id: UInt32) { self.id = id }
    }

    /// GOAWAY: the sender accepts no stream above ``lastGoodStreamID``.
    public struct GoAway: Hashable, Sendable {
        /// The last stream the sender processed (or may still process).
        public var lastGoodStreamID: SPDYStreamID
        /// Why the session ends. SPDY/2 has no status field: it is not written
        /// there and decodes as ``SPDYGoAwayStatus/ok``.
        public var status: SPDYGoAwayStatus

        /// Creates a GOAWAY frame.
        public init(lastGoodStreamID: SPDYStreamID, status: SPDYGoAwayStatus = .ok) {
            self.lastGoodStreamID = lastGoodStreamID
            self.status = status
        }
    }

    /// WINDOW_UPDATE: the sender can receive `deltaWindowSize` more bytes on the stream
    /// (or, with stream 0 in SPDY/3.1, on the session).
    public struct WindowUpdate: Hashable, Sendable {
        /// The stream, or 0 for the session (SPDY/3.1).
        public var streamID: SPDYStreamID
        /// The credit, 1 to 2^31−1.
        public var deltaWindowSize: UInt32

        /// Creates a WINDOW_UPDATE frame.
        public init(streamID: SPDYStreamID, deltaWindowSize: UInt32) {
            self.streamID = streamID
            self.deltaWindowSize = deltaWindowSize
        }
    }

    /// CREDENTIAL (SPDY/3): a proof and a certificate chain for a slot.
    public struct Credential: Hashable, Sendable {
        /// The credential vector slot, 16 bits.
        public var slot: UInt16
        /// The proof: a signature over the TLS-unique value.
        public var proof: ByteBuffer
        /// The client certificates, leaf first. There is at least one.
        public var certificates: [ByteBuffer]

        /// Creates a CREDENTIAL frame.
        public init(slot: UInt16, proof: ByteBuffer, certificates: [ByteBuffer]) {
            self.slot = slot
            self.proof = proof
            self.certificates = certificates
        }
    }

    /// DATA: bytes of a stream.
    public struct DataFrame: Hashable, Sendable {
        /// The stream the bytes belong to.
        public var streamID: SPDYStreamID
        /// `FIN`.
        public var flags: SPDYDataFlags
        /// The payload.
        public var payload: ByteBuffer

        /// Creates a DATA frame.
        public init(streamID: SPDYStreamID, flags: SPDYDataFlags = [], payload: ByteBuffer) {
            self.streamID = streamID
            self.flags = flags
            self.payload = payload
        }
    }

    /// A control frame of a type the drafts do not define, kept whole.
    public struct UnknownControlFrame: Hashable, Sendable {
        /// The frame's header as received (or as it is to be written; its
        /// ``SPDYControlFrameHeader/length`` is replaced by the payload's size when encoding).
        public var header: SPDYControlFrameHeader
        /// The frame's payload.
        public var payload: ByteBuffer

        /// Creates an unknown control frame.
        public init(header: SPDYControlFrameHeader, payload: ByteBuffer) {
            self.header = header
            self.payload = payload
        }
    }
}

/// The 8-byte header of a control frame: control bit, 15-bit version, 16-bit
/// type, 8-bit flags, 24-bit payload length.
public struct SPDYControlFrameHeader: Hashable, Sendable, CustomStringConvertible {
    /// The 15-bit version field (2 or 3 from a conforming peer).
    public var version: UInt16
    /// The frame type.
    public var type: SPDYFrameType
    /// The flags byte.
    public var flags: UInt8
    /// The payload length (the header's 8 bytes not included), 0 to 2^24−1.
    public var length: Int

    /// Creates a control frame header.
    public init(version: UInt16, type: SPDYFrameType, flags: UInt8, length: Int) {
        self.version = version
        self.type = type
        self.flags = flags
        self.length = length
    }

    /// The eight bytes of the header as they appear on the wire.
    public var bytes: [UInt8] {
        let v = version & 0x7fff
        return [
            UInt8(truncatingIfNeeded: v >> 8) | 0x80, UInt8(truncatingIfNeeded: v),
            UInt8(truncatingIfNeeded: type.rawValue >> 8), UInt8(truncatingIfNeeded: type.rawValue),
            flags,
            UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8),
            UInt8(truncatingIfNeeded: length),
        ]
    }

    public var description: String {
        "\(type) frame <version=\(version), flags=\(flags), length=\(length)>"
    }
}

/// The 8-byte header of a DATA frame: control bit 0, 31-bit stream ID, 8-bit
/// flags, 24-bit payload length.
public struct SPDYDataFrameHeader: Hashable, Sendable {
    /// The stream the payload belongs to.
    public var streamID: SPDYStreamID
    /// `FIN`.
    public var flags: SPDYDataFlags
    /// The whole payload's length, 0 to 2^24−1.
    public var length: Int

    /// Creates a DATA frame header.
    public init(streamID: SPDYStreamID, flags: SPDYDataFlags, length: Int) {
        self.streamID = streamID
        self.flags = flags
        self.length = length
    }
}
