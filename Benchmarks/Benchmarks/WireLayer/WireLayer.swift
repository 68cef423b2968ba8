// Wire-layer benchmarks: decoding and encoding a realistic SPDY/3 session.
//
// One iteration processes the whole workload (10 000 requests), so the
// framework's numbers are per workload: divide `mallocCountTotal` and
// `instructions` by the frame count in the benchmark's name for per-frame
// values. `frames/s` and `MB/s` are measured around the same region as
// `wallClock` (MB = 10^6 bytes of SPDY wire data).

import Benchmark
import CZlibBaseline
import NIOCore
import SPDY

let framesPerSecond = BenchmarkMetric.custom("frames/s", polarity: .prefersLarger, useScalingFactor: false)
let megabytesPerSecond = BenchmarkMetric.custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)

/// Runs `body` between `startMeasurement()` and `stopMeasurement()` and records
/// `frames/s` and `MB/s` for `frames` frames of `bytes` wire bytes.
@inline(__always)
func measure(_ benchmark: Benchmark, frames: Int, bytes: Int, _ body: () throws -> Int) rethrows {
    benchmark.startMeasurement()
    let start = ContinuousClock.now
    let processed = try body()
    let elapsed = start.duration(to: .now)
    benchmark.stopMeasurement()
    precondition(processed == frames, "processed \(processed) frames, expected \(frames)")
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    benchmark.measurement(framesPerSecond, Int(Double(frames) / seconds))
    benchmark.measurement(megabytesPerSecond, Int(Double(bytes) / seconds / 1e6))
}

/// Feeds `pieces` to `decoder` and drains it; returns the number of complete frames.
@inline(__always)
func decodeAll(_ pieces: [ByteBuffer], with decoder: SPDYFrameDecoder) throws(SPDYFrameDecodingError) -> Int {
    var frames = 0
    var headerPairs = 0
    var payloadBytes = 0
    for piece in pieces {
        decoder.append(bytes: piece)
        while let event = try decoder.nextFrame() {
            switch event {
            case .frame(let frame, _):
                if case .synStream(let syn) = frame {
                    headerPairs += syn.headers.count
                }
                frames += 1
            case .dataChunk(let chunk):
                payloadBytes += chunk.payload.readableBytes
                if chunk.isEndOfFrame {
                    frames += 1
                }
            }
        }
    }
    blackHole(headerPairs)
    blackHole(payloadBytes)
    return frames
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .instructions, .mallocCountTotal, framesPerSecond, megabytesPerSecond],
        timeUnits: .microseconds,
        // Exact counts, not rounded to K/M, so per-frame values can be derived.
        units: [.mallocCountTotal: .count, .throughput: .count, framesPerSecond: .count, megabytesPerSecond: .count],
        warmupIterations: 2,
        scalingFactor: .one,
        maxDuration: .seconds(10),
        maxIterations: 40
    )

    let requests = Fixtures.requestCount

    // MARK: 1. decode + inflate

    Benchmark("decode SYN_STREAM+DATA (level-0 stream), \(2 * requests) frames, 64 KiB pieces") { benchmark in
        let decoder = try SPDYFrameDecoder(version: .v3)
        try measure(benchmark, frames: 2 * requests, bytes: fixtures.mixedStream.readableBytes) {
            try decodeAll(fixtures.mixedPieces, with: decoder)
        }
    }

    Benchmark("decode SYN_STREAM+DATA (level-9 stream), \(2 * requests) frames, 64 KiB pieces") { benchmark in
        let decoder = try SPDYFrameDecoder(version: .v3)
        try measure(benchmark, frames: 2 * requests, bytes: fixtures.mixedStreamLevel9.readableBytes) {
            try decodeAll(fixtures.mixedPiecesLevel9, with: decoder)
        }
    }

    // MARK: 2. encode + deflate

    for (role, level) in [(SPDYRole.server, 9), (SPDYRole.client, 0)] {
        // Reused across iterations: cleared, never reallocated once large enough.
        var output = ByteBuffer()
        output.reserveCapacity(fixtures.mixedStream.readableBytes + (1 << 20))
        Benchmark("encode SYN_STREAM+DATA (\(role) default, level \(level)), \(2 * requests) frames") {
            benchmark in
            let encoder = try SPDYFrameEncoder(version: .v3, compression: .default(for: role))
            output.clear()
            let expectedBytes =
                role == .server ? fixtures.mixedStreamLevel9.readableBytes : fixtures.mixedStream.readableBytes
            try measure(benchmark, frames: 2 * requests, bytes: expectedBytes) {
                for frame in fixtures.mixedFrames {
                    try encoder.encode(frame, into: &output)
                }
                return fixtures.mixedFrames.count
            }
            precondition(output.readableBytes == expectedBytes)
        }
    }

    // MARK: 3. DATA only

    Benchmark("decode DATA only, \(requests) frames of 4 KiB, 64 KiB pieces") { benchmark in
        let decoder = try SPDYFrameDecoder(version: .v3)
        try measure(benchmark, frames: requests, bytes: fixtures.dataOnlyStream.readableBytes) {
            try decodeAll(fixtures.dataOnlyPieces, with: decoder)
        }
    }

    // The whole 41 MB stream appended at once. NIO cannot slice a ByteBuffer at an
    // offset past 16 MiB without copying, so this shows what a huge input costs.
    Benchmark("decode DATA only, \(requests) frames of 4 KiB, one buffer") { benchmark in
        let decoder = try SPDYFrameDecoder(version: .v3)
        let whole = [fixtures.dataOnlyStream]
        try measure(benchmark, frames: requests, bytes: fixtures.dataOnlyStream.readableBytes) {
            try decodeAll(whole, with: decoder)
        }
    }

    // MARK: 4. header blocks only

    Benchmark("decode SYN_STREAM only (level-0 stream), \(requests) header blocks, 64 KiB pieces") { benchmark in
        let decoder = try SPDYFrameDecoder(version: .v3)
        try measure(benchmark, frames: requests, bytes: fixtures.synStreamOnlyStream.readableBytes) {
            try decodeAll(fixtures.synStreamOnlyPieces, with: decoder)
        }
    }

    Benchmark("decode SYN_STREAM only (level-9 stream), \(requests) header blocks, 64 KiB pieces") { benchmark in
        let decoder = try SPDYFrameDecoder(version: .v3)
        try measure(benchmark, frames: requests, bytes: fixtures.synStreamOnlyStreamLevel9.readableBytes) {
            try decodeAll(fixtures.synStreamOnlyPiecesLevel9, with: decoder)
        }
    }

    // MARK: Baselines

    // The framework's own allocations in an empty measured region: subtract from every malloc count.
    Benchmark("baseline: empty measured region") { benchmark in
        benchmark.startMeasurement()
        blackHole(benchmark)
        benchmark.stopMeasurement()
    }

    // Copying the bytes of the level-0 SYN_STREAM+DATA stream once (memcpy speed).
    var copyTarget = ByteBuffer()
    copyTarget.reserveCapacity(fixtures.mixedStream.readableBytes)
    Benchmark("baseline: copy the level-0 SYN_STREAM+DATA stream, \(2 * requests) frames") { benchmark in
        copyTarget.clear()
        measure(benchmark, frames: 2 * requests, bytes: fixtures.mixedStream.readableBytes) {
            for piece in fixtures.mixedPieces {
                copyTarget.writeImmutableBuffer(piece)
            }
            return 2 * requests
        }
        precondition(copyTarget.readableBytes == fixtures.mixedStream.readableBytes)
    }

    // Plain zlib inflate of the same header blocks (compressed at level 9 without
    // SPDY framing): what the SYN_STREAM-only decode costs in zlib alone.
    var scratch = [UInt8](repeating: 0, count: 1 << 16)
    Benchmark("baseline: zlib inflate only (level 9), \(requests) header blocks") { benchmark in
        measure(benchmark, frames: requests, bytes: fixtures.zlibHeaderBlocks.count) {
            let inflated = fixtures.zlibHeaderBlocks.withUnsafeBufferPointer { input in
                fixtures.zlibHeaderBlockLengths.withUnsafeBufferPointer { lengths in
                    scratch.withUnsafeMutableBufferPointer { scratch in
                        zlib_baseline_inflate(
                            input.baseAddress, lengths.baseAddress, requests, scratch.baseAddress, scratch.count)
                    }
                }
            }
            precondition(inflated == fixtures.plainHeaderBlocks.count, "zlib baseline inflate failed")
            return requests
        }
    }
}
