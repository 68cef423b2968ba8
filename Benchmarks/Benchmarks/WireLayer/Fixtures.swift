import CZlibBaseline
import NIOCore
import SPDY

/// The inputs of the wire-layer benchmarks, built once, outside every measured region.
///
/// The workload is a SPDY/3 session of `requestCount` requests: a SYN_STREAM
/// with 12 browser-like headers, followed by a 4 KiB DATA frame (with FIN).
final class Fixtures: Sendable {
    static let requestCount = 10_000
    static let dataPayloadSize = 4096
    static let pieceSize = 64 * 1024

    /// The request headers, one list per request (only `:path` and `referer` vary).
    let requestHeaders: [SPDYHeaders]
    /// SYN_STREAM, DATA, SYN_STREAM, DATA, … (`2 * requestCount` frames).
    let mixedFrames: [SPDYFrame]
    /// The SYN_STREAMs of ``mixedFrames`` only.
    let synStreamFrames: [SPDYFrame]

    /// ``mixedFrames`` encoded by a client-default encoder (compression level 0).
    let mixedStream: ByteBuffer
    /// ``mixedFrames`` encoded by a server-default encoder (compression level 9).
    let mixedStreamLevel9: ByteBuffer
    /// `requestCount` DATA frames of 4 KiB.
    let dataOnlyStream: ByteBuffer
    /// ``synStreamFrames`` encoded by a client-default encoder (level 0).
    let synStreamOnlyStream: ByteBuffer
    /// ``synStreamFrames`` encoded by a server-default encoder (level 9).
    let synStreamOnlyStreamLevel9: ByteBuffer

    /// The streams above cut into 64 KiB pieces (slices: no copies).
    let mixedPieces: [ByteBuffer]
    let mixedPiecesLevel9: [ByteBuffer]
    let dataOnlyPieces: [ByteBuffer]
    let synStreamOnlyPieces: [ByteBuffer]
    let synStreamOnlyPiecesLevel9: [ByteBuffer]

    /// The uncompressed SPDY/3 name/value blocks of the requests, end to end, and their sizes.
    let plainHeaderBlocks: [UInt8]
    let plainHeaderBlockLengths: [Int]
    /// ``plainHeaderBlocks`` compressed by plain zlib (level 9, windowBits 11, memLevel 1, no
    /// dictionary, one sync flush per block), and each block's compressed size.
    let zlibHeaderBlocks: [UInt8]
    let zlibHeaderBlockLengths: [Int]

    init() {
        let n = Self.requestCount
        let cookie =
            "_ga=GA1.2.1283746512.1700000000; _gid=GA1.2.918273645.1700000000; "
            + "sessionid=3f9a6c2e8b1d4f7a9c0e5b2d8f1a3c6e; csrftoken=Zx8Kq2Lm9Np4Rs7Tv1Wy3Ab6Cd0Ef5Gh; "
            + "theme=dark; consent=analytics:1,ads:0; lang=en-US"
        let userAgent =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            + "Chrome/124.0.6367.91 Safari/537.36"
        var headers: [SPDYHeaders] = []
        headers.reserveCapacity(n)
        for i in 0..<n {
            headers.append([
                (":method", "GET"),
                (":path", "/assets/img-\(1000 + i * 7 % 9000).png"),
                (":version", "HTTP/1.1"),
                (":host", "www.example.com"),
                (":scheme", "https"),
                ("accept", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"),
                ("accept-encoding", "gzip, deflate, br"),
                ("accept-language", "en-US,en;q=0.9,de;q=0.8"),
                ("user-agent", userAgent),
                ("cookie", cookie),
                ("referer", "https://www.example.com/gallery/page-\(i / 50)"),
                ("cache-control", "no-cache"),
            ])
        }
        requestHeaders = headers

        var payload = ByteBuffer()
        var seed: UInt32 = 0x1234_5678
        for _ in 0..<Self.dataPayloadSize {
            seed = seed &* 1_664_525 &+ 1_013_904_223
            payload.writeInteger(UInt8(truncatingIfNeeded: seed >> 24))
        }

        var mixed: [SPDYFrame] = []
        var synStreams: [SPDYFrame] = []
        var datas: [SPDYFrame] = []
        for i in 0..<n {
            let streamID = SPDYStreamID(1 + 2 * i)!
            let syn = SPDYFrame.synStream(.init(streamID: streamID, priority: 3, headers: headers[i]))
            let data = SPDYFrame.data(.init(streamID: streamID, flags: .fin, payload: payload))
            mixed.append(syn)
            mixed.append(data)
            synStreams.append(syn)
            datas.append(data)
        }
        mixedFrames = mixed
        synStreamFrames = synStreams

        mixedStream = Self.encode(mixed, compression: .default(for: .client))
        mixedStreamLevel9 = Self.encode(mixed, compression: .default(for: .server))
        dataOnlyStream = Self.encode(datas, compression: .default(for: .client))
        synStreamOnlyStream = Self.encode(synStreams, compression: .default(for: .client))
        synStreamOnlyStreamLevel9 = Self.encode(synStreams, compression: .default(for: .server))

        mixedPieces = Self.pieces(of: mixedStream)
        mixedPiecesLevel9 = Self.pieces(of: mixedStreamLevel9)
        dataOnlyPieces = Self.pieces(of: dataOnlyStream)
        synStreamOnlyPieces = Self.pieces(of: synStreamOnlyStream)
        synStreamOnlyPiecesLevel9 = Self.pieces(of: synStreamOnlyStreamLevel9)

        var blocks: [UInt8] = []
        var lengths: [Int] = []
        for h in headers {
            let start = blocks.count
            Self.appendPlainHeaderBlock(h, to: &blocks)
            lengths.append(blocks.count - start)
        }
        plainHeaderBlocks = blocks
        plainHeaderBlockLengths = lengths

        var compressed = [UInt8](repeating: 0, count: blocks.count + 64 * n + 1024)
        var compressedLengths = [Int](repeating: 0, count: n)
        let total = blocks.withUnsafeBufferPointer { input in
            lengths.withUnsafeBufferPointer { lengths in
                compressed.withUnsafeMutableBufferPointer { output in
                    compressedLengths.withUnsafeMutableBufferPointer { compressedLengths in
                        zlib_baseline_compress(
                            input.baseAddress,
                            lengths.baseAddress,
                            n,
                            9,
                            11,
                            1,
                            output.baseAddress,
                            output.count,
                            compressedLengths.baseAddress
                        )
                    }
                }
            }
        }
        precondition(total > 0, "zlib baseline compression failed")
        compressed.removeSubrange(total...)
        zlibHeaderBlocks = compressed
        zlibHeaderBlockLengths = compressedLengths
    }

    private static func encode(_ frames: [SPDYFrame], compression: SPDYHeaderCompression) -> ByteBuffer {
        let encoder = try! SPDYFrameEncoder(version: .v3, compression: compression)
        var buffer = ByteBuffer()
        for frame in frames {
            try! encoder.encode(frame, into: &buffer)
        }
        return buffer
    }

    private static func pieces(of stream: ByteBuffer) -> [ByteBuffer] {
        var rest = stream
        var pieces: [ByteBuffer] = []
        while rest.readableBytes > 0 {
            pieces.append(rest.readSlice(length: min(pieceSize, rest.readableBytes))!)
        }
        return pieces
    }

    /// Appends the SPDY/3 name/value block of `headers` (names already lowercase and distinct).
    private static func appendPlainHeaderBlock(_ headers: SPDYHeaders, to block: inout [UInt8]) {
        func appendLength(_ value: Int) {
            for shift in stride(from: 24, through: 0, by: -8) {
                block.append(UInt8(truncatingIfNeeded: value >> shift))
            }
        }
        let pairs = headers.map { (Array($0.name.utf8), Array($0.value.utf8)) }
            .sorted { $0.0.lexicographicallyPrecedes($1.0) }
        appendLength(pairs.count)
        for (name, value) in pairs {
            appendLength(name.count)
            block += name
            appendLength(value.count)
            block += value
        }
    }
}

let fixtures = Fixtures()
