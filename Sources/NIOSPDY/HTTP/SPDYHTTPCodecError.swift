/// Why an HTTP mapping codec (``SPDYToHTTP1ServerCodec``, ``SPDYToHTTP1ClientCodec``,
/// ``SPDYToHTTPServerCodec``, ``SPDYToHTTPClientCodec``) refused a message: what the
/// pipeline sees in `errorCaught` when the codec resets the stream, and what failed write
/// promises carry.
public enum SPDYHTTPCodecError: Error, Sendable, Hashable {
    /// A header the protocol requires is absent: `:method`, `:path`, `:version`, `:host` or
    /// `:scheme` of a request, `:status` of a response, or a request's `host` (which becomes
    /// `:host`).
    case missingHeader(String)
    /// A header's value cannot be understood: a `:status` that is not a three-digit code, a
    /// `:version` that is not `HTTP/x.y`, a method that is not a token, `content-length`
    /// values that are not one decimal number.
    case invalidHeader(name: String, value: String)
    /// A request's `:path` is not a request target: empty, not starting with `/` (except `*`
    /// for OPTIONS and an absolute `http`/`https` URL), or holding spaces, control characters
    /// or bytes outside ASCII.
    case invalidPath(String)
    /// The DATA of a message did not add up to its `content-length` (the stream is reset
    /// with PROTOCOL_ERROR).
    case contentLengthMismatch(expected: Int, received: Int)
    /// The application wrote a body as a file region; a SPDY stream carries bytes only.
    case fileRegionUnsupported
    /// The application wrote message parts out of order: a body before the head, a second
    /// head, anything after the end.
    case invalidWrite(String)
}

extension SPDYHTTPCodecError: CustomStringConvertible {
    /// A sentence saying what was wrong.
    public var description: String {
        switch self {
        case .missingHeader(let name): "the header \(name) is missing"
        case .invalidHeader(let name, let value): "the value of \(name) is invalid: \(value.debugDescription)"
        case .invalidPath(let path): "the path is not a request target: \(path.debugDescription)"
        case .contentLengthMismatch(let expected, let received):
            "content-length says \(expected) bytes but the body has \(received)"
        case .fileRegionUnsupported: "a SPDY stream cannot send a file region"
        case .invalidWrite(let what): "message parts out of order: \(what)"
        }
    }
}
