import NIOCore
import SPDY

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `spdy-interop frames --dump FILE`: every SPDY/3 frame type as our encoders write it, one
/// frame per packet, as a text2pcap hex dump (`O` client to server, `I` server to client;
/// each direction has its own header compression context, as on a real connection).
///
/// `spdy-interop frames --verify FILE`: compares tshark's dissection (`-T fields` with the
/// columns of ``FramesCell/tsharkFields``) with what was encoded.
enum FramesCell {
    struct Packet {
        var outbound: Bool  // client to server
        var frame: SPDYFrame
        var bytes: ByteBuffer = ByteBuffer()
    }

    static let requestHeaders: SPDYHeaders = [
        (":method", "POST"), (":path", "/upload?name=interop"), (":version", "HTTP/1.1"), (":scheme", "https"),
        (":host", "example.org:8443"), ("user-agent", "swift-spdy interop"), ("x-test", "request value"),
    ]
    static let responseHeaders: SPDYHeaders = [
        (":status", "200 OK"), (":version", "HTTP/1.1"), ("content-type", "text/plain; charset=UTF-8"),
        ("server", "swift-spdy"), ("x-test", "response value"),
    ]

    /// The exchange: every frame type of SPDY/3 at least once.
    static func packets() throws -> [Packet] {
        var packets: [Packet] = [
            Packet(
                outbound: true,
                frame: .settings(
                    .init(entries: [
                        .init(id: .maxConcurrentStreams, value: 100), .init(id: .initialWindowSize, value: 65536),
                    ]))),
            Packet(
                outbound: false, frame: .settings(.init(entries: [.init(id: .maxConcurrentStreams, value: 100)]))),
            Packet(
                outbound: true,
                frame: .synStream(.init(streamID: 1, priority: 2, flags: [], headers: requestHeaders))),
            Packet(
                outbound: true, frame: .data(.init(streamID: 1, payload: ByteBuffer(string: "request body, part 1")))),
            Packet(
                outbound: true,
                frame: .data(.init(streamID: 1, flags: .fin, payload: ByteBuffer(string: "request body, part 2")))),
            Packet(outbound: false, frame: .synReply(.init(streamID: 1, headers: responseHeaders))),
            Packet(outbound: false, frame: .windowUpdate(.init(streamID: 1, deltaWindowSize: 40))),
            Packet(outbound: false, frame: .headers(.init(streamID: 1, headers: [("x-extra", "server headers")]))),
            Packet(
                outbound: false,
                frame: .data(.init(streamID: 1, flags: .fin, payload: ByteBuffer(string: "response body")))),
            Packet(outbound: true, frame: .ping(.init(id: 1))),
            Packet(outbound: false, frame: .ping(.init(id: 1))),
            Packet(
                outbound: true,
                frame: .synStream(
                    .init(
                        streamID: 3, priority: 0, flags: .fin,
                        headers: [
                            (":method", "GET"), (":path", "/cancelled"), (":version", "HTTP/1.1"), (":scheme", "https"),
                            (":host", "example.org:8443"),
                        ]))),
            Packet(outbound: true, frame: .rstStream(.init(streamID: 3, status: .cancel))),
            Packet(outbound: false, frame: .goAway(.init(lastGoodStreamID: 3, status: .ok))),
        ]
        let client = try SPDYFrameEncoder(version: .v3, compression: .default(for: .client))
        let server = try SPDYFrameEncoder(version: .v3, compression: .default(for: .server))
        for index in packets.indices {
            var bytes = ByteBuffer()
            try (packets[index].outbound ? client : server).encode(packets[index].frame, into: &bytes)
            packets[index].bytes = bytes
        }
        return packets
    }

    static func dump(to path: String) throws {
        var text = ""
        for packet in try packets() {
            text += packet.outbound ? "O\n" : "I\n"
            let bytes = Array(packet.bytes.readableBytesView)
            var offset = 0
            while offset < bytes.count {
                let line = bytes[offset..<min(offset + 16, bytes.count)]
                text += hex(offset, width: 6) + " " + line.map { hex(Int($0), width: 2) }.joined(separator: " ") + "\n"
                offset += 16
            }
        }
        guard let file = fopen(path, "w") else { throw SPDYError(.invalidArgument, "cannot write \(path)") }
        fputs(text, file)
        fclose(file)
    }

    static func hex(_ value: Int, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// The tshark columns `--verify` reads, in order (`-T fields -E separator=/t -E aggregator='|'`).
    static let tsharkFields = [
        "frame.number", "spdy.control_bit", "spdy.version", "spdy.type", "spdy.flags", "spdy.streamid",
        "spdy.associated.streamid", "spdy.priority", "spdy.header.name", "spdy.header.value", "spdy.data",
        "spdy.rst_stream_status", "spdy.setting.id", "spdy.setting.value", "spdy.ping_id",
        "spdy.goaway_last_good_stream_id", "spdy.goaway_status", "spdy.window_update_delta", "_ws.expert.message",
        "_ws.malformed",
    ]

    /// What tshark must show for a frame, as (column, value) pairs; every other SPDY column
    /// must be empty.
    static func expectation(_ frame: SPDYFrame) -> (type: String, fields: [String: String]) {
        func names(_ headers: SPDYHeaders) -> [String: String] {
            // On the wire the names are sorted (our encoder's rule, as spdylay's).
            let headers = headers.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
            return [
                "spdy.header.name": headers.map(\.name).joined(separator: "|"),
                "spdy.header.value": headers.map(\.value).joined(separator: "|"),
            ]
        }
        func flags(_ raw: UInt8) -> String { "0x" + hex(Int(raw), width: 2) }
        var fields: [String: String] = ["spdy.control_bit": "1", "spdy.version": "3"]
        switch frame {
        case .synStream(let f):
            fields.merge(names(f.headers)) { $1 }
            fields["spdy.type"] = "1"
            fields["spdy.streamid"] = "\(f.streamID.rawValue)"
            fields["spdy.associated.streamid"] = "\(f.associatedStreamID.rawValue)"
            fields["spdy.priority"] = "\(f.priority)"
            fields["spdy.flags"] = flags(f.flags.rawValue)
            return ("SYN_STREAM", fields)
        case .synReply(let f):
            fields.merge(names(f.headers)) { $1 }
            fields["spdy.type"] = "2"
            fields["spdy.streamid"] = "\(f.streamID.rawValue)"
            fields["spdy.flags"] = flags(f.flags.rawValue)
            return ("SYN_REPLY", fields)
        case .headers(let f):
            fields.merge(names(f.headers)) { $1 }
            fields["spdy.type"] = "8"
            fields["spdy.streamid"] = "\(f.streamID.rawValue)"
            fields["spdy.flags"] = flags(f.flags.rawValue)
            return ("HEADERS", fields)
        case .rstStream(let f):
            fields["spdy.type"] = "3"
            fields["spdy.streamid"] = "\(f.streamID.rawValue)"
            fields["spdy.rst_stream_status"] = "\(f.status.rawValue)"
            fields["spdy.flags"] = flags(0)
            return ("RST_STREAM", fields)
        case .settings(let f):
            fields["spdy.type"] = "4"
            fields["spdy.setting.id"] = f.entries.map { "\($0.id.rawValue)" }.joined(separator: "|")
            fields["spdy.setting.value"] = f.entries.map { "\($0.value)" }.joined(separator: "|")
            // The frame's flags, then each entry's flags, share the column.
            fields["spdy.flags"] = ([flags(f.flags.rawValue)] + f.entries.map { flags($0.flags.rawValue) })
                .joined(separator: "|")
            return ("SETTINGS", fields)
        case .ping(let f):
            fields["spdy.type"] = "6"
            fields["spdy.ping_id"] = "\(f.id)"
            fields["spdy.flags"] = flags(0)
            return ("PING", fields)
        case .goAway(let f):
            fields["spdy.type"] = "7"
            fields["spdy.goaway_last_good_stream_id"] = "\(f.lastGoodStreamID.rawValue)"
            fields["spdy.goaway_status"] = "\(f.status.rawValue)"
            fields["spdy.flags"] = flags(0)
            return ("GOAWAY", fields)
        case .windowUpdate(let f):
            fields["spdy.type"] = "9"
            fields["spdy.streamid"] = "\(f.streamID.rawValue)"
            fields["spdy.window_update_delta"] = "\(f.deltaWindowSize)"
            fields["spdy.flags"] = flags(0)
            return ("WINDOW_UPDATE", fields)
        case .data(let f):
            fields = ["spdy.control_bit": "0"]
            fields["spdy.streamid"] = "\(f.streamID.rawValue)"
            fields["spdy.flags"] = flags(f.flags.rawValue)
            fields["spdy.data"] = f.payload.readableBytesView.map { hex(Int($0), width: 2) }.joined()
            return ("DATA", fields)
        default:
            return ("?", [:])
        }
    }

    static func verify(_ path: String) throws -> Never {
        let checks = Checks(prefix: "frames")
        guard let text = readFile(path) else {
            say("frames: FAIL cannot read \(path)")
            exit(1)
        }
        let lines = text.split(separator: "\n").map(String.init)
        let packets = try packets()
        checks.check(
            lines.count == packets.count, "tshark shows \(packets.count) packets", "it shows \(lines.count)")
        var seenTypes: Set<String> = []
        for (index, packet) in packets.enumerated() where index < lines.count {
            let columns = lines[index].split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            var shown: [String: String] = [:]
            for (i, name) in tsharkFields.enumerated() { shown[name] = i < columns.count ? columns[i] : "" }
            let (type, expected) = expectation(packet.frame)
            var wrong: [String] = []
            for name in tsharkFields.dropFirst() {
                let want = expected[name] ?? ""
                var got = shown[name] ?? ""
                if name == "spdy.data" { got = got.filter { $0 != ":" } }
                if got != want { wrong.append("\(name) is '\(got)', expected '\(want)'") }
            }
            if wrong.isEmpty { seenTypes.insert(type) }
            checks.check(
                wrong.isEmpty,
                "packet \(index + 1): \(type) (stream \(packet.frame.streamID?.rawValue ?? 0)) dissected as encoded",
                wrong.joined(separator: "; "))
        }
        let all: Set = [
            "SYN_STREAM", "SYN_REPLY", "RST_STREAM", "SETTINGS", "PING", "GOAWAY", "HEADERS", "WINDOW_UPDATE", "DATA",
        ]
        checks.check(seenTypes == all, "every frame type recognised", "missing \(all.subtracting(seenTypes).sorted())")
        checks.finish()
    }
}
