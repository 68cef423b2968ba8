import NIOCore

/// Why a frame could not be encoded. The encoder writes nothing for a frame
/// it refuses, and its header compression stays usable.
public enum SPDYFrameEncodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The payload would exceed 2^24−1 bytes, the largest a frame can carry.
    case frameTooLarge(payloadSize: Int)
    /// A header name is empty or holds a byte outside 0x20–0x7e.
    case invalidHeaderName(name: String, reason: String)
    /// A header value holds NUL or a control byte other than HT.
    case invalidHeaderValue(name: String, reason: String)
    /// A name, value or pair count is longer than the version's length field can say
    /// (65535 in SPDY/2).
    case headerFieldTooLong(name: String, length: Int, maximum: Int)
    /// A field is outside the range the protocol allows (a priority above the
    /// version's lowest, a stream ID or window delta above 2^31−1, a settings
    /// ID above 2^24−1, …).
    case invalidField(String)
    /// The frame type does not exist in the encoder's version (NOOP in
    /// SPDY/3, WINDOW_UPDATE or CREDENTIAL in SPDY/2).
    case frameTypeNotInVersion(SPDYFrameType, SPDYVersion)
    /// zlib failed to compress the header block.
    case compressionFailed(String)

    public var description: String {
        switch self {
        case .frameTooLarge(let size):
            return "the frame payload of \(size) bytes exceeds the maximum of \(SPDYProtocol.maxFramePayloadSize)"
        case .invalidHeaderName(let name, let reason): return "invalid header name \"\(name)\": \(reason)"
        case .invalidHeaderValue(let name, let reason): return "invalid value of header \"\(name)\": \(reason)"
        case .headerFieldTooLong(let name, let length, let maximum):
            return "header \"\(name)\" is \(length) bytes long; the maximum is \(maximum)"
        case .invalidField(let detail): return "invalid frame field: \(detail)"
        case .frameTypeNotInVersion(let type, let version): return "\(type) does not exist in \(version)"
        case .compressionFailed(let detail): return "header compression failed: \(detail)"
        }
    }
}

/// Why a received control frame could not be decoded.
///
/// The error carries what a session needs to answer it: the frame's header,
/// the fixed fields of a header-block frame (so a stream error can be
/// answered with RST_STREAM on the right stream) and the raw payload where it
/// was kept. When it throws, the decoder has consumed the frame; a frame it
/// refuses at its header (too large, or a header block after the compression
/// context was lost) is consumed as far as it has arrived and the rest is
/// skipped as it comes. The next call to ``SPDYFrameDecoder/nextFrame()``
/// continues with the following frame (after ``Code-swift.enum/compressionError``
/// every later header block fails too, since the compression context is lost).
public struct SPDYFrameDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure, mirroring the reference's error codes.
    public enum Code: Hashable, Sendable {
        /// The frame's structure is wrong (`ERR_INVALID_FRAME`): a bad length for
        /// its type, a header block with a bad count, a length running past the
        /// end or trailing bytes. A session answers with GOAWAY.
        case invalidFrame
        /// The header block is well formed but breaks the name/value rules
        /// (`ERR_INVALID_HEADER_BLOCK`). A session answers with RST_STREAM
        /// PROTOCOL_ERROR.
        case invalidHeaderBlock
        /// The frame, or its inflated header block, exceeds the decoder's limits
        /// (`ERR_FRAME_TOO_LARGE`). A session answers a header-block frame with
        /// RST_STREAM FRAME_TOO_LARGE and any other frame with GOAWAY.
        case frameTooLarge
        /// zlib could not inflate the header block, or the block was so large the
        /// decoder gave up keeping the compression context (`ERR_ZLIB`). A session
        /// answers with GOAWAY.
        case compressionError
    }

    /// The kind of failure.
    public var code: Code
    /// The frame's header as received.
    public var header: SPDYControlFrameHeader
    /// For SYN_STREAM, SYN_REPLY and HEADERS, the frame with its fixed fields
    /// (stream IDs, priority, flags) and an empty header block, when they
    /// could be read.
    public var frame: SPDYFrame?
    /// The payload as received, when the decoder kept it (frames without a
    /// header block up to the size limit; for header-block frames the
    /// compressed block is streamed into zlib and only the fixed fields are kept).
    public var payload: ByteBuffer?
    /// A human-readable account of what was wrong.
    public var message: String

    /// Creates a decoding error.
    public init(
        code: Code,
        header: SPDYControlFrameHeader,
        frame: SPDYFrame? = nil,
        payload: ByteBuffer? = nil,
        message: String
    ) {
        self.code = code
        self.header = header
        self.frame = frame
        self.payload = payload
        self.message = message
    }

    /// The stream of a header-block frame whose fixed fields were read.
    public var streamID: SPDYStreamID? { frame?.streamID }

    public var description: String {
        "\(code) in \(header): \(message)"
    }
}
