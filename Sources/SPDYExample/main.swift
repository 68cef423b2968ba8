// A small tour of the SPDY wire layer: a client and a server encoder/decoder
// pair exchange a request and a response for each SPDY version, and every
// decoded frame is printed together with its bytes on the wire.

import NIOCore
import SPDY

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

func hex(_ buffer: ByteBuffer, limit: Int = 32) -> String {
    let bytes = buffer.readableBytesView
    let shown = bytes.prefix(limit).map { b -> String in
        let s = String(b, radix: 16)
        return s.count == 1 ? "0" + s : s
    }.joined(separator: " ")
    return bytes.count > limit ? shown + " … (\(bytes.count) bytes)" : shown
}

func describe(_ event: SPDYFrameDecoder.Event) -> String {
    switch event {
    case .dataChunk(let chunk):
        let text = String(buffer: chunk.payload)
        return "DATA frame (stream_id=\(chunk.header.streamID), flags=\(chunk.header.flags.rawValue), "
            + "length=\(chunk.header.length)) \"\(text)\""
    case .frame(let frame, let header):
        var lines = ["\(header)"]
        switch frame {
        case .synStream(let f):
            lines.append("  (stream_id=\(f.streamID), assoc_stream_id=\(f.associatedStreamID), pri=\(f.priority))")
            lines += f.headers.map { "  \($0.name): \($0.value)" }
        case .synReply(let f):
            lines.append("  (stream_id=\(f.streamID))")
            lines += f.headers.map { "  \($0.name): \($0.value)" }
        case .settings(let f):
            lines.append("  (niv=\(f.entries.count))")
            lines += f.entries.map { "  [\($0.id)(\($0.flags.rawValue)):\($0.value)]" }
        case .ping(let f):
            lines.append("  (unique_id=\(f.id))")
        case .goAway(let f):
            lines.append("  (last_good_stream_id=\(f.lastGoodStreamID), status=\(f.status))")
        default:
            lines.append("  \(frame)")
        }
        return lines.joined(separator: "\n")
    }
}

func exchange(version: SPDYVersion) throws {
    print("=== \(version) ===")
    let clientEncoder = try SPDYFrameEncoder(version: version, compression: .default(for: .client))
    let serverEncoder = try SPDYFrameEncoder(version: version, compression: .default(for: .server))
    let serverDecoder = try SPDYFrameDecoder(version: version)
    let clientDecoder = try SPDYFrameDecoder(version: version)

    let request: [SPDYFrame] = [
        .settings(.init(entries: [.init(id: .maxConcurrentStreams, value: 100)])),
        .synStream(
            .init(
                streamID: 1,
                priority: 3,
                flags: .fin,
                headers: [
                    (":method", "GET"), (":path", "/index.html"), (":version", "HTTP/1.1"),
                    (":scheme", "https"), (":host", "example.org"), ("Accept", "*/*"),
                    ("user-agent", "swift-spdy example"),
                ]
            )
        ),
        .ping(.init(id: 1)),
    ]
    let body = ByteBuffer(string: "<html>hello over \(version)</html>")
    let response: [SPDYFrame] = [
        .synReply(
            .init(
                streamID: 1,
                headers: [(":status", "200 OK"), (":version", "HTTP/1.1"), ("content-type", "text/html")]
            )
        ),
        .data(.init(streamID: 1, flags: .fin, payload: body)),
        .ping(.init(id: 1)),
        .goAway(.init(lastGoodStreamID: 1, status: .ok)),
    ]

    for (label, frames, encoder, decoder) in [
        ("client → server", request, clientEncoder, serverDecoder),
        ("server → client", response, serverEncoder, clientDecoder),
    ] {
        print("--- \(label)")
        for frame in frames {
            var wire = ByteBuffer()
            try encoder.encode(frame, into: &wire)
            print("wire: \(hex(wire))")
            decoder.append(bytes: wire)
            while let event = try decoder.nextFrame() {
                print(describe(event))
            }
        }
    }
}

do {
    for version in SPDYVersion.allCases {
        try exchange(version: version)
    }
} catch {
    print("error: \(error)")
    exit(1)
}
