import CFuzzZlib
import NIOCore
import SPDY

/// The seed corpus of every target (`Fuzz/Corpus/<target>/`), built with our encoder:
/// valid frames of every type for SPDY/2, /3 and /3.1, whole request/response
/// exchanges, and a few malformed inputs. `scripts/fuzz.sh --seeds` rewrites the
/// committed corpus from here.
public enum SeedCorpus {
    /// `(file name, bytes)` for `target`.
    public static func seeds(for target: String) -> [(String, [UInt8])] {
        var seeds: [(String, [UInt8])] = []
        switch target {
        case "FuzzFrameDecoder":
            for version in SPDYVersion.allCases {
                let v = fuzzVersionBits(version)
                for (name, stream) in frameStreams(version) {
                    seeds.append(("\(version.fileTag)-\(name)", [v, 0] + stream))
                }
                let all = frameStreams(version).filter { $0.0 == "mixed" }.map(\.1)[0]
                seeds.append(("\(version.fileTag)-mixed-1byte", [v, 1] + all))
                seeds.append(("\(version.fileTag)-mixed-small-limits", [v | 4 | 0x10, 7] + all))
            }
        case "FuzzRoundTrip":
            for version in SPDYVersion.allCases {
                let v = fuzzVersionBits(version)
                for (name, stream) in frameStreams(version) {
                    seeds.append(("\(version.fileTag)-\(name)", [v | 9 << 2] + stream))
                }
            }
        case "FuzzSession":
            for version in SPDYVersion.allCases {
                let v = fuzzVersionBits(version)
                let toClient = serverFrames(version)
                let toServer = clientFrames(version)
                seeds.append(("\(version.fileTag)-client", [v | 8, 1] + toClient))
                seeds.append(("\(version.fileTag)-client-at-once", [v | 128, 0] + toClient))
                seeds.append(("\(version.fileTag)-client-limits-partial", [v | 8 | 32 | 64, 2] + toClient))
                seeds.append(("\(version.fileTag)-server", [v | 4 | 8, 1] + toServer))
                seeds.append(("\(version.fileTag)-server-at-once", [v | 4 | 128, 0] + toServer))
                seeds.append(("\(version.fileTag)-server-not-reading", [v | 4 | 16, 3] + toServer))
                seeds.append(("\(version.fileTag)-server-limits-partial", [v | 4 | 8 | 32 | 64, 4] + toServer))
                seeds.append(("\(version.fileTag)-server-pings", [v | 4 | 16, 5] + pingFlood(version)))
            }
        case "FuzzHeaderBlock":
            for version in [SPDYVersion.v2, .v3] {
                let v: UInt8 = version == .v2 ? 0 : 1
                let request = requestHeaders(version)
                let response = responseHeaders(version)
                // Mode 0: compressed blocks as a peer writes them (with the dictionary).
                let first = compressed(plainBlock(request, version), dictionary: version)
                seeds.append(("\(version.fileTag)-raw-one-block", [v, 0xff, 0xff] + first))
                let both = compressed(
                    [plainBlock(request, version), plainBlock(response, version)],
                    dictionary: version
                )
                seeds.append(("\(version.fileTag)-raw-two-blocks", [v] + split(both.0.count) + both.0 + both.1))
                let noDictionary = compressed(plainBlock(request, version), dictionary: nil)
                seeds.append(("\(version.fileTag)-raw-no-dictionary", [v, 0xff, 0xff] + noDictionary))
                // Mode 1 and 2: uncompressed blocks.
                for (mode, tag) in [(UInt8(1), "plain"), (2, "plain-no-dictionary")] {
                    let a = plainBlock(request, version)
                    let b = plainBlock(response, version)
                    seeds.append(("\(version.fileTag)-\(tag)", [v | mode << 1 | 9 << 3] + split(a.count) + a + b))
                }
                var multi = plainBlock([("accept", "a"), ("cookie", "x=1\0y=2")], version)
                seeds.append(("\(version.fileTag)-plain-nul-value", [v | 1 << 1] + split(multi.count) + multi))
                multi = plainBlock([("Upper", "a")], version)
                seeds.append(("\(version.fileTag)-plain-uppercase", [v | 1 << 1] + split(multi.count) + multi))
                multi = plainBlock([("a", "1"), ("a", "2")], version)
                seeds.append(("\(version.fileTag)-plain-duplicate", [v | 1 << 1] + split(multi.count) + multi))
                // Mode 3: header lists for our encoder.
                var list: [UInt8] = []
                for (name, value) in request + [("Accept", "x"), ("accept", ""), ("accept", "y")] {
                    list += [UInt8(name.utf8.count)] + Array(name.utf8)
                    list += [UInt8(value.utf8.count >> 8), UInt8(value.utf8.count & 0xff)] + Array(value.utf8)
                }
                seeds.append(("\(version.fileTag)-list", [v | 3 << 1 | 9 << 3] + list))
                seeds.append(("\(version.fileTag)-list-level0", [v | 3 << 1] + list))
                // A zlib bomb in a small limit: 64 KiB of zeros.
                let bomb = compressed(
                    plainBlock([("x", String(repeating: "a", count: 60000))], version),
                    dictionary: version
                )
                seeds.append(("\(version.fileTag)-raw-bomb", [v | 0x80, 0xff, 0xff] + bomb))
            }
        default:
            fuzzFailure("no seeds for \(target)")
        }
        return seeds
    }

    static func split(_ n: Int) -> [UInt8] { [UInt8(n >> 8), UInt8(n & 0xff)] }

    static func requestHeaders(_ version: SPDYVersion) -> [(String, String)] {
        let names =
            version == .v2
            ? ["method", "url", "version", "scheme", "host"]
            : [":method", ":path", ":version", ":scheme", ":host"]
        return Array(zip(names, ["GET", "/index.html", "HTTP/1.1", "https", "example.org"]))
            + [("accept", "*/*"), ("user-agent", "swift-spdy-fuzz")]
    }

    static func responseHeaders(_ version: SPDYVersion) -> [(String, String)] {
        let names = version == .v2 ? ["status", "version"] : [":status", ":version"]
        return Array(zip(names, ["200 OK", "HTTP/1.1"])) + [("content-type", "text/html")]
    }

    /// An uncompressed name/value block, pairs as given (no sorting, no merging).
    static func plainBlock(_ pairs: [(String, String)], _ version: SPDYVersion) -> [UInt8] {
        let size = version == .v2 ? 2 : 4
        func length(_ n: Int) -> [UInt8] {
            (0..<size).reversed().map { UInt8(truncatingIfNeeded: n >> (8 * $0)) }
        }
        var block = length(pairs.count)
        for (name, value) in pairs {
            block += length(name.utf8.count) + Array(name.utf8) + length(value.utf8.count) + Array(value.utf8)
        }
        return block
    }

    static func compressed(_ block: [UInt8], dictionary: SPDYVersion?) -> [UInt8] {
        compressed([block], dictionary: dictionary).0
    }

    /// The blocks compressed on one zlib stream (the first two returned).
    static func compressed(_ blocks: [[UInt8]], dictionary: SPDYVersion?) -> ([UInt8], [UInt8]) {
        let deflater = makeDeflater(dictionaryOf: dictionary, level: 9)
        defer { cfuzz_deflater_free(deflater) }
        var out: [[UInt8]] = []
        for block in blocks {
            var buffer = [UInt8](repeating: 0, count: cfuzz_bound(block.count))
            let n = block.withUnsafeBufferPointer { input in
                buffer.withUnsafeMutableBufferPointer {
                    cfuzz_deflate(deflater, input.baseAddress, input.count, 0, $0.baseAddress, $0.count)
                }
            }
            guard n >= 0 else { fuzzFailure("deflate failed") }
            out.append(Array(buffer[..<n]))
        }
        return (out[0], out.count > 1 ? out[1] : [])
    }

    static func encode(_ frames: [SPDYFrame], _ version: SPDYVersion, role: SPDYRole) -> [UInt8] {
        guard let encoder = try? SPDYFrameEncoder(version: version, compression: .default(for: role)) else {
            fuzzFailure("encoder setup failed")
        }
        var buffer = ByteBuffer()
        for frame in frames {
            do {
                try encoder.encode(frame, into: &buffer)
            } catch {
                fuzzFailure("seed frame refused: \(error): \(frame)")
            }
        }
        return Array(buffer.readableBytesView)
    }

    static func request(_ id: UInt32, _ version: SPDYVersion, fin: Bool, path: String = "/") -> SPDYFrame {
        .synStream(
            .init(
                streamID: SPDYStreamID(rawValue: id)!,
                priority: 2,
                flags: fin ? .fin : [],
                headers: [
                    (":method", fin ? "GET" : "POST"), (":path", path), (":version", "HTTP/1.1"),
                    (":scheme", "https"), (":host", "example.org"), ("accept", "*/*"),
                ]
            )
        )
    }

    static func reply(_ id: UInt32, fin: Bool = false) -> SPDYFrame {
        .synReply(
            .init(
                streamID: SPDYStreamID(rawValue: id)!,
                flags: fin ? .fin : [],
                headers: [(":status", "200 OK"), (":version", "HTTP/1.1"), ("content-type", "text/plain")]
            )
        )
    }

    static func data(_ id: UInt32, _ count: Int, fin: Bool = false) -> SPDYFrame {
        .data(
            .init(
                streamID: SPDYStreamID(rawValue: id)!,
                flags: fin ? .fin : [],
                payload: ByteBuffer(repeating: 0x64, count: count)
            )
        )
    }

    /// Every frame type of `version`, from a client's encoder.
    static func everyFrame(_ version: SPDYVersion) -> [(String, SPDYFrame)] {
        var frames: [(String, SPDYFrame)] = [
            ("syn-stream", request(1, version, fin: true)),
            ("syn-reply", reply(1)),
            ("rst-stream", .rstStream(.init(streamID: 3, status: .cancel))),
            (
                "settings",
                .settings(
                    .init(
                        flags: .clearSettings,
                        entries: [
                            .init(id: .maxConcurrentStreams, value: 100),
                            .init(id: .initialWindowSize, flags: .persistValue, value: 1 << 20),
                        ]
                    )
                )
            ),
            ("ping", .ping(.init(id: 1))),
            ("goaway", .goAway(.init(lastGoodStreamID: 1, status: version == .v2 ? .ok : .protocolError))),
            ("headers", .headers(.init(streamID: 1, flags: .fin, headers: [("trailer", "yes"), ("x", "1")]))),
            ("data", data(1, 100, fin: true)),
            ("data-empty", data(1, 0)),
            (
                "unknown",
                .unknown(
                    .init(
                        header: .init(version: version.wireVersion, type: .init(rawValue: 0x0fff), flags: 3, length: 3),
                        payload: ByteBuffer(bytes: [1, 2, 3])
                    )
                )
            ),
        ]
        if version == .v2 {
            frames.append(("noop", .noop))
        } else {
            frames.append(("window-update", .windowUpdate(.init(streamID: 1, deltaWindowSize: 4096))))
            frames.append(
                (
                    "credential",
                    .credential(
                        .init(
                            slot: 1,
                            proof: ByteBuffer(bytes: [9, 9, 9, 9]),
                            certificates: [ByteBuffer(bytes: [0x30, 0x03, 1, 2, 3]), ByteBuffer(bytes: [0x30, 0])]
                        )
                    )
                )
            )
        }
        if version == .v3_1 {
            frames.append(("window-update-session", .windowUpdate(.init(streamID: 0, deltaWindowSize: 1 << 16))))
        }
        return frames
    }

    /// One stream per frame type, all of them in one stream ("mixed"), and malformed inputs.
    static func frameStreams(_ version: SPDYVersion) -> [(String, [UInt8])] {
        let frames = everyFrame(version)
        var streams = frames.map { ($0.0, encode([$0.1], version, role: .client)) }
        let mixed = encode(frames.map(\.1), version, role: .client)
        streams.append(("mixed", mixed))
        streams.append(("mixed-level9", encode(frames.map(\.1), version, role: .server)))
        let w = version.wireVersion
        // Malformed: truncated, a PING with a bad length, a header block of garbage, a
        // SYN_STREAM whose length runs short of its fixed fields, a version 1 frame.
        streams.append(("truncated", Array(mixed.prefix(mixed.count / 2))))
        streams.append(("ping-bad-length", [0x80, UInt8(w), 0, 6, 0, 0, 0, 3, 0, 0, 1]))
        streams.append(
            (
                "syn-stream-garbage-block",
                [0x80, UInt8(w), 0, 1, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x78, 0xbb, 1, 2, 3, 4]
            )
        )
        streams.append(("syn-stream-short", [0x80, UInt8(w), 0, 1, 0, 0, 0, 4, 0, 0, 0, 1]))
        streams.append(("version-1", [0x80, 1, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]))
        streams.append(("data-huge-length", [0, 0, 0, 1, 1, 0xff, 0xff, 0xff, 1, 2, 3]))
        return streams
    }

    /// What a server sends a client that asked for streams 1 and 3.
    static func serverFrames(_ version: SPDYVersion) -> [UInt8] {
        var frames: [SPDYFrame] = [
            .settings(.init(entries: [.init(id: .maxConcurrentStreams, value: 100)])),
            reply(1),
            .synStream(
                .init(
                    streamID: 2,
                    associatedStreamID: 1,
                    priority: 0,
                    flags: .unidirectional,
                    headers: [
                        (":scheme", "https"), (":host", "example.org"), (":path", "/style.css"),
                        (":status", "200 OK"), (":version", "HTTP/1.1"),
                    ]
                )
            ),
            data(2, 50, fin: true),
            data(1, 120),
            .headers(.init(streamID: 1, headers: [("x-trailer", "1")])),
            data(1, 10, fin: true),
            reply(3, fin: true),
            .ping(.init(id: 1)),
            .ping(.init(id: 2)),
        ]
        if version != .v2 {
            frames.insert(.windowUpdate(.init(streamID: 3, deltaWindowSize: 1000)), at: 1)
        }
        if version == .v3_1 {
            frames.insert(.windowUpdate(.init(streamID: 0, deltaWindowSize: 1000)), at: 1)
        }
        frames.append(.goAway(.init(lastGoodStreamID: 0)))
        return encode(frames, version, role: .server)
    }

    /// What a client sends a server: a GET, a POST with a body, a cancelled stream.
    static func clientFrames(_ version: SPDYVersion) -> [UInt8] {
        var frames: [SPDYFrame] = [
            .settings(.init(entries: [.init(id: .initialWindowSize, value: 1 << 17)])),
            request(1, version, fin: true),
            request(3, version, fin: false, path: "/upload"),
            data(3, 1000),
            data(3, 24, fin: true),
            request(5, version, fin: false),
            .rstStream(.init(streamID: 5, status: .cancel)),
            .ping(.init(id: 1)),
        ]
        if version != .v2 {
            frames.insert(.windowUpdate(.init(streamID: 1, deltaWindowSize: 1 << 16)), at: 2)
        }
        if version == .v3_1 {
            frames.insert(.windowUpdate(.init(streamID: 0, deltaWindowSize: 1 << 16)), at: 1)
        }
        frames.append(.goAway(.init(lastGoodStreamID: 0)))
        return encode(frames, version, role: .client)
    }

    /// 40 PINGs: answers a non-reading peer provokes.
    static func pingFlood(_ version: SPDYVersion) -> [UInt8] {
        encode((0..<40).map { .ping(.init(id: 2 * UInt32($0) + 1)) }, version, role: .client)
    }
}

extension SPDYVersion {
    var fileTag: String {
        switch self {
        case .v2: return "v2"
        case .v3: return "v3"
        case .v3_1: return "v31"
        }
    }
}

/// A header-block deflater (windowBits 11, as SPDY peers use) primed with the zlib
/// dictionary of `version` (the library's ``SPDYVersion/headerDictionary``), or with none
/// when `version` is nil. Free it with `cfuzz_deflater_free`.
public func makeDeflater(dictionaryOf version: SPDYVersion?, level: CInt) -> OpaquePointer {
    let dictionary = version?.headerDictionary ?? []
    let deflater = dictionary.withUnsafeBufferPointer {
        cfuzz_deflater_new($0.baseAddress, $0.count, level, 11)
    }
    guard let deflater else { fuzzFailure("deflateInit failed") }
    return deflater
}
