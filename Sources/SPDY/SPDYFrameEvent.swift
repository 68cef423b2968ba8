/// Something a session sent or received, as the reference's tools print it: every
/// callback of ``SPDYSessionCallbacks`` that reports a frame, in one value.
///
/// ``SPDYSessionCallbacks/addObserver(_:)`` produces them; `SPDYFrameFormatter` (in the tools' support target)
/// prints them in the format of spdycat's and spdyd's `-v`.
public enum SPDYFrameEvent: Sendable {
    /// A control frame was sent (`on_ctrl_send_callback`), with its header as written.
    case controlSent(SPDYFrame, SPDYControlFrameHeader)
    /// A control frame was received and accepted (`on_ctrl_recv_callback`).
    case controlReceived(SPDYFrame, SPDYControlFrameHeader)
    /// A control frame was received and refused with `status` (`on_invalid_ctrl_recv_callback`).
    case invalidControlReceived(SPDYFrame, SPDYControlFrameHeader, SPDYStreamStatus)
    /// A DATA frame was sent; `length` excludes the 8-byte header (`on_data_send_callback`).
    case dataSent(SPDYStreamID, SPDYDataFlags, length: Int)
    /// A DATA frame was received completely (`on_data_recv_callback`).
    case dataReceived(SPDYStreamID, SPDYDataFlags, length: Int)
    /// A control frame could not be parsed (`on_ctrl_recv_parse_error_callback`): its
    /// type, the 8 header bytes, and the error.
    case parseError(SPDYFrameType, header: [UInt8], SPDYError.Code)
    /// A control frame of a type this version does not define (`on_unknown_ctrl_recv_callback`).
    case unknownReceived(header: [UInt8])
    /// A stream closed (`on_stream_close_callback`).
    case streamClosed(SPDYStreamID, SPDYStreamStatus)
}

extension SPDYSessionCallbacks {
    /// Reports every frame event to `observer` as well, after the callbacks already set
    /// (which keep working unchanged; an error they throw still comes out of
    /// `send()`/`recv()`). Install it after the other callbacks.
    public mutating func addObserver(_ observer: @escaping (SPDYSession, SPDYFrameEvent) -> Void) {
        let controlReceived = onControlFrameReceived
        onControlFrameReceived = { session, frame, header in
            observer(session, .controlReceived(frame, header))
            try controlReceived?(session, frame, header)
        }
        let controlSent = onControlFrameSent
        onControlFrameSent = { session, frame in
            let header = session.reportedHeader(session.sentControlFrameHeader, of: frame)
            observer(session, .controlSent(frame, header))
            try controlSent?(session, frame)
        }
        let invalid = onInvalidControlFrameReceived
        onInvalidControlFrameReceived = { session, frame, status in
            let header = session.reportedHeader(session.receivedControlFrameHeader, of: frame)
            observer(session, .invalidControlReceived(frame, header, status))
            try invalid?(session, frame, status)
        }
        let dataSent = onDataSent
        onDataSent = { session, flags, id, length in
            observer(session, .dataSent(id, flags, length: length))
            try dataSent?(session, flags, id, length)
        }
        let dataReceived = onDataReceived
        onDataReceived = { session, flags, id, length in
            observer(session, .dataReceived(id, flags, length: length))
            try dataReceived?(session, flags, id, length)
        }
        let parseError = onControlFrameParseError
        onControlFrameParseError = { session, type, header, payload, code in
            observer(session, .parseError(type, header: header, code))
            try parseError?(session, type, header, payload, code)
        }
        let unknown = onUnknownControlFrameReceived
        onUnknownControlFrameReceived = { session, header, payload in
            observer(session, .unknownReceived(header: header))
            try unknown?(session, header, payload)
        }
        let closed = onStreamClosed
        onStreamClosed = { session, id, status in
            observer(session, .streamClosed(id, status))
            try closed?(session, id, status)
        }
    }
}

extension SPDYSession {
    /// The wire header to report with a frame event: the one the session recorded, or, where
    /// it has none (a frame it made up itself), one with the frame's type and no flags or length.
    public func reportedHeader(_ recorded: SPDYControlFrameHeader?, of frame: SPDYFrame) -> SPDYControlFrameHeader {
        recorded
            ?? SPDYControlFrameHeader(
                version: version.wireVersion, type: frame.type ?? SPDYFrameType(rawValue: 0), flags: 0, length: 0)
    }
}
