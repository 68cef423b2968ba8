// Recorded-stream benchmarks: the receive path of `SPDYSession` on a recorded SPDY/3
// connection (`Recording.swift`), fed through `recv(_:)` in 16 KiB pieces.
//
// - recorded requests: 10 000 SYN_STREAMs with FIN into a fresh server session;
// - recorded responses: 10 000 SYN_REPLYs, each followed by a 4 KiB DATA frame with FIN,
//   into a fresh client session that has sent the 10 000 requests.
//
// The recordings are made once, and each iteration's session (and, for the client, its
// requests) is set up outside the measured region. The same bytes, written out with
// `SessionProfile recorded dump DIR`, feed the C library's `spdylay_session_mem_recv`
// in a harness outside this repository; docs/PERFORMANCE.md has the ratio.

import Benchmark
import NIOCore
import SPDY

let megabytesPerSecond = BenchmarkMetric.custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)

/// Runs `body` between `startMeasurement()` and `stopMeasurement()` and records `MB/s`
/// (10^6 bytes of recorded wire data per second).
@inline(__always)
func measure(_ benchmark: Benchmark, bytes: Int, _ body: () throws -> Void) rethrows {
    benchmark.startMeasurement()
    let start = ContinuousClock.now
    try body()
    let elapsed = start.duration(to: .now)
    benchmark.stopMeasurement()
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    benchmark.measurement(megabytesPerSecond, Int(Double(bytes) / seconds / 1e6))
}

let benchmarks: @Sendable () -> Void = {
    let n = RecordedConnection.requestCount
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .instructions, .mallocCountTotal, megabytesPerSecond],
        timeUnits: .microseconds,
        // Exact counts, not rounded to K/M, so per-frame values can be derived.
        units: [.mallocCountTotal: .count, .throughput: .count, megabytesPerSecond: .count],
        warmupIterations: 2,
        scalingFactor: .one,
        maxDuration: .seconds(15),
        maxIterations: 40,
        // Allocations are exact: 0.05 more per frame is a regression (see the Session
        // benchmarks); timings count only beyond 25 % at the median.
        thresholds: [
            .mallocCountTotal: .init(absolute: [.p50: n / 20, .p90: n / 20]),
            .wallClock: .init(relative: [.p50: 25.0]),
            .throughput: .init(relative: [.p50: 25.0]),
            megabytesPerSecond: .init(relative: [.p50: 25.0]),
        ]
    )

    let requests = RecordedConnection.recordRequests()
    let requestPieces = RecordedConnection.pieces(of: requests)
    Benchmark("recorded requests: \(n) SYN_STREAMs into a server session (SPDY/3, 16 KiB pieces)") { benchmark in
        let receiver = try RecordedReceiver.server()
        try measure(benchmark, bytes: requests.readableBytes) {
            try receiver.feedPieces(requestPieces)
        }
        receiver.checkRequestsReceived()
    }

    let responses = RecordedConnection.recordResponses()
    let responsePieces = RecordedConnection.pieces(of: responses)
    Benchmark(
        "recorded responses: \(n) SYN_REPLYs + 4 KiB DATA into a client session (SPDY/3, 16 KiB pieces)"
    ) { benchmark in
        let receiver = try RecordedReceiver.client()
        try measure(benchmark, bytes: responses.readableBytes) {
            try receiver.feedPieces(responsePieces)
        }
        receiver.checkResponsesReceived()
    }

    // The framework's own allocations in an empty measured region: subtract from every malloc count.
    Benchmark("baseline: empty measured region") { benchmark in
        benchmark.startMeasurement()
        blackHole(benchmark)
        benchmark.stopMeasurement()
    }
}
