import NIOCore
import SPDY

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
