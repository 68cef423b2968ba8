/// Something a session sent or received, as the reference's tools print it: every
/// callback of ``SPDYSessionCallbacks`` that reports a frame, in one value.
///
/// ``SPDYSessionCallbacks/addObserver(_:)`` produces them; ``SPDYFrameFormatter``
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

/// Formats ``SPDYFrameEvent``s as the reference's spdycat and spdyd print them with `-v`:
///
/// ```text
/// [  0.012] send SYN_STREAM frame <version=3, flags=1, length=212>
///           (stream_id=1, assoc_stream_id=0, pri=3)
///           :host: example.com
/// [  0.015] recv DATA frame (stream_id=1, flags=1, length=4096)
/// ```
public struct SPDYFrameFormatter: Sendable {
    /// ANSI colours, as the originals' `--color`.
    public var color: Bool

    /// Creates a formatter.
    public init(color: Bool = false) {
        self.color = color
    }

    /// The `[  s.mmm]` prefix for a time since the start of the program.
    public func timer(_ elapsed: Duration) -> String {
        let millis = max(
            0, Int(elapsed.components.seconds) * 1000 + Int(elapsed.components.attoseconds / 1_000_000_000_000_000))
        let seconds = String(millis / 1000)
        let fraction = String(millis % 1000)
        let padded = String(repeating: " ", count: max(0, 3 - seconds.count)) + seconds
        let milliseconds = String(repeating: "0", count: 3 - fraction.count) + fraction
        return esc("\u{1B}[33m") + "[\(padded).\(milliseconds)]" + escEnd
    }

    /// The lines of one event (each ending in a newline), prefixed with the timer.
    /// Stream closes have no line in the originals' frame dump; they give "".
    public func format(_ event: SPDYFrameEvent, at elapsed: Duration) -> String {
        let time = timer(elapsed)
        switch event {
        case .controlSent(let frame, let header):
            return time + " send " + controlFrame(frame, header: header, sent: true)
        case .controlReceived(let frame, let header):
            return time + " recv " + controlFrame(frame, header: header, sent: false)
        case .invalidControlReceived(let frame, let header, let status):
            return time + " [INVALID; status=\(status)] recv " + controlFrame(frame, header: header, sent: false)
        case .dataSent(let id, let flags, let length):
            return time + " send " + dataFrame(id, flags, length, sent: true)
        case .dataReceived(let id, let flags, let length):
            return time + " recv " + dataFrame(id, flags, length, sent: false)
        case .parseError(let type, let header, let code):
            return time + " [PARSE_ERROR] recv " + name(type, sent: false) + " frame\n" + indent + "Error: "
                + code.message + "\n" + headerDump(header)
        case .unknownReceived(let header):
            return time + " recv unknown frame\n" + headerDump(header)
        case .streamClosed:
            return ""
        }
    }

    private static let indentString = String(repeating: " ", count: 10)
    private var indent: String { Self.indentString }

    private func esc(_ code: String) -> String { color ? code : "" }
    private var escEnd: String { color ? "\u{1B}[0m" : "" }

    private func name(_ type: SPDYFrameType, sent: Bool) -> String {
        esc(sent ? "\u{1B}[1;35m" : "\u{1B}[1;36m") + type.description + escEnd
    }

    private func dataFrame(_ id: SPDYStreamID, _ flags: SPDYDataFlags, _ length: Int, sent: Bool) -> String {
        esc(sent ? "\u{1B}[1;35m" : "\u{1B}[1;36m") + "DATA" + escEnd
            + " frame (stream_id=\(id.rawValue), flags=\(flags.rawValue), length=\(length))\n"
    }

    private func headerDump(_ header: [UInt8]) -> String {
        indent + "Header dump: " + header.map { hex($0) + " " }.joined() + "\n"
    }

    private func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }

    private func headerLines(_ headers: SPDYHeaders) -> String {
        var out = ""
        for (fieldName, value) in headers {
            // A value holding several NUL-separated values prints one line per value.
            for part in value.split(separator: "\0", omittingEmptySubsequences: false) {
                out += indent + esc("\u{1B}[1;34m") + fieldName + escEnd + ": " + part + "\n"
            }
        }
        return out
    }

    private func controlFrame(_ frame: SPDYFrame, header: SPDYControlFrameHeader, sent: Bool) -> String {
        var out =
            name(header.type, sent: sent)
            + " frame <version=\(header.version), flags=\(header.flags), length=\(header.length)>\n"
        switch frame {
        case .synStream(let f):
            out +=
                indent
                + "(stream_id=\(f.streamID.rawValue), assoc_stream_id=\(f.associatedStreamID.rawValue), pri=\(f.priority))\n"
            out += headerLines(f.headers)
        case .synReply(let f):
            out += indent + "(stream_id=\(f.streamID.rawValue))\n" + headerLines(f.headers)
        case .rstStream(let f):
            out += indent + "(stream_id=\(f.streamID.rawValue), status_code=\(f.status.rawValue))\n"
        case .settings(let f):
            out += indent + "(niv=\(f.entries.count))\n"
            for entry in f.entries {
                out += indent + "[\(entry.id.rawValue)(\(entry.flags.rawValue)):\(entry.value)]\n"
            }
        case .ping(let f):
            out += indent + "(unique_id=\(f.id))\n"
        case .goAway(let f):
            out += indent + "(last_good_stream_id=\(f.lastGoodStreamID.rawValue))\n"
        case .headers(let f):
            out += indent + "(stream_id=\(f.streamID.rawValue))\n" + headerLines(f.headers)
        case .windowUpdate(let f):
            out += indent + "(stream_id=\(f.streamID.rawValue), delta_window_size=\(f.deltaWindowSize))\n"
        case .noop, .credential, .data, .unknown:
            break
        }
        return out
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
