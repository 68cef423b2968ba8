// Session benchmarks: an SPDY/3.1 client and server `SPDYSession` connected in memory.
//
// One iteration runs the whole workload (100 000 requests, or one 1 GiB response),
// so the framework's numbers are per workload: allocations per request are
// (mallocCountTotal − "baseline: empty measured region") / 100 000. `requests/s` and
// `MB/s` (10^6 bytes of response body per second) are measured around the same
// region as `wallClock`. The sessions are created outside the measured region.

import Benchmark
import NIOCore
import SPDY

let requestsPerSecond = BenchmarkMetric.custom("requests/s", polarity: .prefersLarger, useScalingFactor: false)
let megabytesPerSecond = BenchmarkMetric.custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)

let requestCount = 100_000
let requestsInFlight = 100
let transferSize = 1 << 30
let copyPieceSize = 64 * 1024

/// Runs `body` between `startMeasurement()` and `stopMeasurement()` and records
/// `requests/s` for `requests` requests and `MB/s` for `bytes` body bytes.
@inline(__always)
func measure(_ benchmark: Benchmark, requests: Int, bytes: Int, _ body: () throws -> Void) rethrows {
    benchmark.startMeasurement()
    let start = ContinuousClock.now
    try body()
    let elapsed = start.duration(to: .now)
    benchmark.stopMeasurement()
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    benchmark.measurement(requestsPerSecond, Int(Double(requests) / seconds))
    benchmark.measurement(megabytesPerSecond, Int(Double(bytes) / seconds / 1e6))
}

/// The tolerances `swift package benchmark baseline check` (and `thresholds check`) apply:
/// allocations are exact, so 0.05 more per request (`requests` / 20 over a workload) is a
/// regression; the timings vary by ±10–20 % from run to run on these shared machines, so
/// only a loss of more than 25 % at the median counts.
func tolerances(allocationsPer requests: Int) -> [BenchmarkMetric: BenchmarkThresholds] {
    let timing = BenchmarkThresholds(relative: [.p50: 25.0])
    return [
        .mallocCountTotal: .init(absolute: [.p50: requests / 20, .p90: requests / 20]),
        .wallClock: timing,
        .throughput: timing,
        requestsPerSecond: timing,
        megabytesPerSecond: timing,
    ]
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .instructions, .mallocCountTotal, requestsPerSecond, megabytesPerSecond],
        timeUnits: .milliseconds,
        // Exact counts, not rounded to K/M, so per-request values can be derived.
        units: [.mallocCountTotal: .count, .throughput: .count, requestsPerSecond: .count, megabytesPerSecond: .count],
        warmupIterations: 2,
        scalingFactor: .one,
        maxDuration: .seconds(15),
        maxIterations: 30,
        thresholds: tolerances(allocationsPer: requestCount)
    )

    // MARK: Requests

    let responder = ResponseServer(count: requestCount)
    Benchmark(
        "\(requestCount) requests, 1 KiB responses, \(requestsInFlight) in flight (SPDY/3.1, in memory)"
    ) { benchmark in
        responder.reset()
        let link = try SessionLink(configuration: .init(), outboxCapacity: 1 << 18, respond: responder.respond)
        try measure(benchmark, requests: requestCount, bytes: requestCount * responseBodySize) {
            var submitted = 0
            while link.completed < requestCount {
                while submitted - link.completed < requestsInFlight && submitted < requestCount {
                    try link.client.submitRequest(priority: 3, headers: requestHeaders)
                    submitted += 1
                }
                let moved = try link.pumpOnce()
                precondition(moved > 0, "the sessions stalled after \(link.completed) requests")
            }
        }
        precondition(link.receivedBytes == requestCount * responseBodySize)
        precondition(link.client.openStreamCount == 0 && link.server.openStreamCount == 0)
    }

    // MARK: 1 GiB transfer

    // With the protocol's 64 KiB windows (every receiver's default), and with the 1 MiB
    // windows a client tuned for bulk downloads advertises (SETTINGS INITIAL_WINDOW_SIZE
    // and a session WINDOW_UPDATE): the framing and flow-control work per byte is what
    // is being measured.
    let transfers: [(payload: Int, window: Int?)] = [(4096, nil), (16384, nil), (16384, 1 << 20), (65536, 1 << 20)]
    for (payloadSize, window) in transfers {
        let windows = window.map { "\($0 >> 20) MiB windows" } ?? "64 KiB windows"
        Benchmark(
            "1 GiB response, \(payloadSize / 1024) KiB DATA frames, \(windows) (SPDY/3.1, in memory)",
            configuration: .init(warmupIterations: 1, maxDuration: .seconds(20), maxIterations: 20)
        ) { benchmark in
            let workload = try TransferWorkload(size: transferSize, payloadSize: payloadSize, window: window)
            try measure(benchmark, requests: 1, bytes: transferSize) {
                try workload.run()
            }
        }
    }

    // MARK: Baselines

    // The framework's own allocations in an empty measured region: subtract from every malloc count.
    Benchmark("baseline: empty measured region") { benchmark in
        benchmark.startMeasurement()
        blackHole(benchmark)
        benchmark.stopMeasurement()
    }

    // Plain memory copy of 1 GiB from the same 1 MiB source, 64 KiB at a time, into a
    // reused 64 KiB buffer: what the transfer would cost without framing or flow control.
    Benchmark(
        "baseline: memcpy 1 GiB in 64 KiB pieces",
        configuration: .init(warmupIterations: 1, maxDuration: .seconds(20), maxIterations: 20)
    ) { benchmark in
        let source = patternBuffer(transferSourceSize)
        var pieces: [ByteBuffer] = []
        for offset in stride(from: 0, to: transferSourceSize, by: copyPieceSize) {
            pieces.append(source.getSlice(at: offset, length: copyPieceSize)!)
        }
        var target = ByteBufferAllocator().buffer(capacity: copyPieceSize)
        var copied = 0
        measure(benchmark, requests: 1, bytes: transferSize) {
            for _ in 0..<(transferSize / transferSourceSize) {
                for piece in pieces {
                    target.clear()
                    target.writeImmutableBuffer(piece)
                    copied &+= target.readableBytes
                }
            }
        }
        blackHole(target)
        precondition(copied == transferSize)
    }
}
