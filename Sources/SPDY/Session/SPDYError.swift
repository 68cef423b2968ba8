/// An error of the session API: every `ERR_*` code and exception of the
/// reference API, as a Swift error thrown by the call that caused it.
///
/// Codes above ``Code-swift.enum/fatal`` are recoverable: the call failed but
/// the session goes on. ``Code-swift.enum/fatal``, ``Code-swift.enum/noMemory``
/// and ``Code-swift.enum/callbackFailure`` end the session.
public struct SPDYError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The reference's error codes, with its numeric values.
    public enum Code: Int, Hashable, Sendable, CaseIterable {
        /// `ERR_INVALID_ARGUMENT` (−501): an argument is out of range or malformed (`InvalidArgumentError`).
        case invalidArgument = -501
        /// `ERR_ZLIB` (−502): zlib failed (`ZlibError`).
        case zlib = -502
        /// `ERR_UNSUPPORTED_VERSION` (−503): the SPDY version is not supported (`UnsupportedVersionError`).
        case unsupportedVersion = -503
        /// `ERR_WOULDBLOCK` (−504): the operation would block.
        case wouldBlock = -504
        /// `ERR_PROTO` (−505): a generic protocol error.
        case proto = -505
        /// `ERR_INVALID_FRAME` (−506): a frame is malformed.
        case invalidFrame = -506
        /// `ERR_EOF` (−507): the peer closed the connection (`EOFError`).
        case eof = -507
        /// `ERR_DEFERRED` (−508): a data provider deferred its data.
        case deferred = -508
        /// `ERR_STREAM_ID_NOT_AVAILABLE` (−509): every stream ID has been used.
        case streamIDNotAvailable = -509
        /// `ERR_STREAM_CLOSED` (−510): the stream is closed or does not exist (`StreamClosedError`).
        case streamClosed = -510
        /// `ERR_STREAM_CLOSING` (−511): a RST_STREAM is queued for the stream.
        case streamClosing = -511
        /// `ERR_STREAM_SHUT_WR` (−512): the stream is half-closed for sending.
        case streamShutWR = -512
        /// `ERR_INVALID_STREAM_ID` (−513): the stream ID is not valid here.
        case invalidStreamID = -513
        /// `ERR_INVALID_STREAM_STATE` (−514): the stream's state does not allow the frame.
        case invalidStreamState = -514
        /// `ERR_DEFERRED_DATA_EXIST` (−515): the stream already has deferred DATA.
        case deferredDataExist = -515
        /// `ERR_SYN_STREAM_NOT_ALLOWED` (−516): no new stream after GOAWAY.
        case synStreamNotAllowed = -516
        /// `ERR_GOAWAY_ALREADY_SENT` (−517): GOAWAY was sent already.
        case goAwayAlreadySent = -517
        /// `ERR_INVALID_HEADER_BLOCK` (−518): a header block breaks the name/value rules.
        case invalidHeaderBlock = -518
        /// `ERR_INVALID_STATE` (−519): the session's state does not allow the call.
        case invalidState = -519
        /// `ERR_GZIP` (−520): gzip decompression failed.
        case gzip = -520
        /// `ERR_TEMPORAL_CALLBACK_FAILURE` (−521): a data provider failed for its stream only
        /// (`TemporalCallbackFailureError`); the stream is reset with INTERNAL_ERROR.
        case temporalCallbackFailure = -521
        /// `ERR_FRAME_TOO_LARGE` (−522): a frame exceeds the maximum size.
        case frameTooLarge = -522
        /// `ERR_FATAL` (−900): the boundary of fatal errors.
        case fatal = -900
        /// `ERR_NOMEM` (−901): out of memory (`MemoryError`).
        case noMemory = -901
        /// `ERR_CALLBACK_FAILURE` (−902): a callback failed; the session cannot go on
        /// (`CallbackFailureError`).
        case callbackFailure = -902

        /// Whether the error ends the session (`ERR_FATAL` and below).
        public var isFatal: Bool { rawValue <= Code.fatal.rawValue }

        /// The reference's message for the code (`spdylay_strerror`).
        public var message: String {
            switch self {
            case .invalidArgument: return "Invalid argument"
            case .zlib: return "Zlib error"
            case .unsupportedVersion: return "Unsupported SPDY version"
            case .wouldBlock: return "Operation would block"
            case .proto: return "Protocol error"
            case .invalidFrame: return "Invalid frame octets"
            case .eof: return "EOF"
            case .deferred: return "Data transfer deferred"
            case .streamIDNotAvailable: return "No more Stream ID available"
            case .streamClosed: return "Stream was already closed or invalid"
            case .streamClosing: return "Stream is closing"
            case .streamShutWR: return "The transmission is not allowed for this stream"
            case .invalidStreamID: return "Stream ID is invalid"
            case .invalidStreamState: return "Invalid stream state"
            case .deferredDataExist: return "Another DATA frame has already been deferred"
            case .synStreamNotAllowed: return "SYN_STREAM is not allowed"
            case .goAwayAlreadySent: return "GOAWAY has already been sent"
            case .invalidHeaderBlock: return "Invalid header block"
            case .invalidState: return "Invalid state"
            case .gzip: return "Gzip error"
            case .temporalCallbackFailure: return "The user callback function failed due to the temporal error"
            case .frameTooLarge: return "The length of the frame is too large"
            case .fatal: return "Fatal error"
            case .noMemory: return "Out of memory"
            case .callbackFailure: return "The user callback function failed"
            }
        }
    }

    /// The error code.
    public var code: Code
    /// What went wrong, in detail.
    public var detail: String?

    /// Creates an error.
    public init(_ code: Code, _ detail: String? = nil) {
        self.code = code
        self.detail = detail
    }

    /// `ERR_INVALID_ARGUMENT`.
    public static func invalidArgument(_ detail: String) -> SPDYError { SPDYError(.invalidArgument, detail) }
    /// `ERR_EOF`: a receive callback throws this when the peer closed the connection.
    public static let eof = SPDYError(.eof)
    /// `ERR_TEMPORAL_CALLBACK_FAILURE`: a data provider throws this to reset only its stream.
    public static let temporalCallbackFailure = SPDYError(.temporalCallbackFailure)
    /// `ERR_CALLBACK_FAILURE`: a callback throws this to end the session.
    public static let callbackFailure = SPDYError(.callbackFailure)

    /// The reference's message for the code, followed by the detail.
    public var description: String {
        detail.map { "\(code.message): \($0)" } ?? code.message
    }
}

/// The reference's `spdylay_strerror`: the message of an error code.
public func spdyErrorMessage(_ code: SPDYError.Code) -> String { code.message }
