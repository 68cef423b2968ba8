import NIOCore

/// The callbacks a session calls: the reference's 14 callback arguments of `Session(...)`.
///
/// Every callback is optional. Each receives the session first. An error
/// thrown by a notification callback is kept and thrown again by the
/// ``SPDYSession/send()`` or ``SPDYSession/recv()`` call that invoked it
/// once that call has finished its work (as the reference's Python module
/// does); errors thrown by ``send`` and ``recv`` themselves are fatal.
public struct SPDYSessionCallbacks {
    /// `send_cb(session, data)`: write as much of `data` as possible and return how
    /// many bytes were taken; 0 means "would block". Throw to fail the session
    /// (``SPDYError/Code-swift.enum/callbackFailure``). Without it, the session
    /// acts as if everything was written.
    public var send: ((SPDYSession, ByteBuffer) throws -> Int)?

    /// `recv_cb(session, length)`: return at most `length` received bytes, an empty
    /// buffer or `nil` when nothing can be read without blocking; throw
    /// ``SPDYError/eof`` when the peer closed the connection, anything else to fail.
    public var recv: ((SPDYSession, Int) throws -> ByteBuffer?)?

    /// `on_ctrl_recv_cb(session, frame)`: a valid control frame arrived.
    public var onControlFrameReceived: ((SPDYSession, SPDYFrame, SPDYControlFrameHeader) throws -> Void)?

    /// `on_invalid_ctrl_recv_cb(session, frame, status_code)`: an invalid control frame
    /// arrived; a RST_STREAM (or GOAWAY) with `status` answers it.
    public var onInvalidControlFrameReceived: ((SPDYSession, SPDYFrame, SPDYStreamStatus) throws -> Void)?

    /// `on_data_chunk_recv_cb(session, flags, stream_id, data)`: a piece of a DATA frame arrived.
    public var onDataChunkReceived: ((SPDYSession, SPDYDataFlags, SPDYStreamID, ByteBuffer) throws -> Void)?

    /// `on_data_recv_cb(session, flags, stream_id, length)`: a whole DATA frame arrived.
    public var onDataReceived: ((SPDYSession, SPDYDataFlags, SPDYStreamID, Int) throws -> Void)?

    /// `before_ctrl_send_cb(session, frame)`: a control frame is about to be sent; for a
    /// SYN_STREAM the stream exists already, so its user data can be read.
    public var beforeControlFrameSend: ((SPDYSession, SPDYFrame) throws -> Void)?

    /// `on_ctrl_send_cb(session, frame)`: a control frame was sent.
    public var onControlFrameSent: ((SPDYSession, SPDYFrame) throws -> Void)?

    /// `on_ctrl_not_send_cb(session, frame, error_code)`: a queued control frame could not be
    /// sent (never called for WINDOW_UPDATE).
    public var onControlFrameNotSent: ((SPDYSession, SPDYFrame, SPDYError.Code) throws -> Void)?

    /// `on_data_send_cb(session, flags, stream_id, length)`: a DATA frame was sent; `length`
    /// is its payload size and `flags` has FIN only on the stream's last frame.
    public var onDataSent: ((SPDYSession, SPDYDataFlags, SPDYStreamID, Int) throws -> Void)?

    /// `on_stream_close_cb(session, stream_id, status_code)`: a stream closed; its user data
    /// is still readable.
    public var onStreamClosed: ((SPDYSession, SPDYStreamID, SPDYStreamStatus) throws -> Void)?

    /// `on_request_recv_cb(session, stream_id)`: the peer finished sending on a stream it
    /// opened (a frame with FIN arrived): for a server, the request is complete.
    public var onRequestReceived: ((SPDYSession, SPDYStreamID) throws -> Void)?

    /// `on_ctrl_recv_parse_error_cb(session, type, head, payload, error_code)`: a control
    /// frame could not be parsed; GOAWAY follows.
    public var onControlFrameParseError:
        ((SPDYSession, SPDYFrameType, [UInt8], ByteBuffer, SPDYError.Code) throws -> Void)?

    /// `on_unknown_ctrl_recv_cb(session, head, payload)`: a control frame of an unknown type arrived.
    public var onUnknownControlFrameReceived: ((SPDYSession, [UInt8], ByteBuffer) throws -> Void)?

    /// Creates a set of callbacks; every one defaults to none.
    public init(
        send: ((SPDYSession, ByteBuffer) throws -> Int)? = nil,
        recv: ((SPDYSession, Int) throws -> ByteBuffer?)? = nil,
        onControlFrameReceived: ((SPDYSession, SPDYFrame, SPDYControlFrameHeader) throws -> Void)? = nil,
        onInvalidControlFrameReceived: ((SPDYSession, SPDYFrame, SPDYStreamStatus) throws -> Void)? = nil,
        onDataChunkReceived: ((SPDYSession, SPDYDataFlags, SPDYStreamID, ByteBuffer) throws -> Void)? = nil,
        onDataReceived: ((SPDYSession, SPDYDataFlags, SPDYStreamID, Int) throws -> Void)? = nil,
        beforeControlFrameSend: ((SPDYSession, SPDYFrame) throws -> Void)? = nil,
        onControlFrameSent: ((SPDYSession, SPDYFrame) throws -> Void)? = nil,
        onControlFrameNotSent: ((SPDYSession, SPDYFrame, SPDYError.Code) throws -> Void)? = nil,
        onDataSent: ((SPDYSession, SPDYDataFlags, SPDYStreamID, Int) throws -> Void)? = nil,
        onStreamClosed: ((SPDYSession, SPDYStreamID, SPDYStreamStatus) throws -> Void)? = nil,
        onRequestReceived: ((SPDYSession, SPDYStreamID) throws -> Void)? = nil,
        onControlFrameParseError: (
            (SPDYSession, SPDYFrameType, [UInt8], ByteBuffer, SPDYError.Code) throws -> Void
        )? = nil,
        onUnknownControlFrameReceived: ((SPDYSession, [UInt8], ByteBuffer) throws -> Void)? = nil
    ) {
        self.send = send
        self.recv = recv
        self.onControlFrameReceived = onControlFrameReceived
        self.onInvalidControlFrameReceived = onInvalidControlFrameReceived
        self.onDataChunkReceived = onDataChunkReceived
        self.onDataReceived = onDataReceived
        self.beforeControlFrameSend = beforeControlFrameSend
        self.onControlFrameSent = onControlFrameSent
        self.onControlFrameNotSent = onControlFrameNotSent
        self.onDataSent = onDataSent
        self.onStreamClosed = onStreamClosed
        self.onRequestReceived = onRequestReceived
        self.onControlFrameParseError = onControlFrameParseError
        self.onUnknownControlFrameReceived = onUnknownControlFrameReceived
    }
}
