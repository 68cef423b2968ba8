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
let responseBodySize = 1024
let transferSize = 1 << 30
let transferSourceSize = 1 << 20
let copyPieceSize = 64 * 1024

let requestHeaders: SPDYHeaders = [
    (":method", "GET"),
    (":path", "/assets/img-1234.png"),
    (":version", "HTTP/1.1"),
    (":host", "www.example.com"),
    (":scheme", "https"),
    ("accept", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"),
    ("accept-encoding", "gzip, deflate, br"),
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"),
]

let responseHeaders: SPDYHeaders = [
    (":status", "200 OK"),
    (":version", "HTTP/1.1"),
    ("content-type", "image/png"),
    ("content-length", "\(responseBodySize)"),
]

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

/// The server side of the request benchmark: answers every request with the same 1 KiB
/// body, through one data provider shared by all streams (so the harness allocates
/// nothing per request). Each stream's progress is kept in a preallocated array.
final class ResponseServer {
    let body = SlicedBody(source: patternBuffer(responseBodySize), count: responseBodySize)
    /// Bytes sent per stream, indexed by stream ID / 2 (client streams are 1, 3, 5, …).
    var sent = [Int](repeating: 0, count: requestCount)
    private(set) var provider: SPDYDataProvider!

    init() {
        provider = SPDYDataProvider { [unowned self] _, id, length in
            let index = Int(id.rawValue) >> 1
            let offset = self.sent[index]
            let result = self.body.piece(at: offset, length: length)
            if case .data(let slice, _) = result {
                self.sent[index] = offset + slice.readableBytes
            }
            return result
        }
    }

    func reset() {
        for i in sent.indices { sent[i] = 0 }
    }

    func respond(_ session: SPDYSession, _ id: SPDYStreamID) throws {
        try session.submitResponse(streamID: id, headers: responseHeaders, dataProvider: provider)
    }
}

/// The server side of the transfer benchmark: one response of `transferSize` bytes.
final class TransferServer {
    let body = SlicedBody(source: patternBuffer(transferSourceSize), count: transferSize)
    var sent = 0

    var provider: SPDYDataProvider {
        SPDYDataProvider { [unowned self] _, _, length in
            let result = self.body.piece(at: self.sent, length: length)
            if case .data(let slice, _) = result {
                self.sent += slice.readableBytes
            }
            return result
        }
    }

    func respond(_ session: SPDYSession, _ id: SPDYStreamID) throws {
        try session.submitResponse(streamID: id, headers: responseHeaders, dataProvider: provider)
    }
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
        maxIterations: 30
    )

    // MARK: Requests

    let responder = ResponseServer()
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

    for payloadSize in [4096, 16384] {
        Benchmark(
            "1 GiB response, \(payloadSize / 1024) KiB DATA frames (SPDY/3.1, in memory)",
            configuration: .init(warmupIterations: 1, maxDuration: .seconds(20), maxIterations: 20)
        ) { benchmark in
            let source = TransferServer()
            let link = try SessionLink(
                configuration: .init(dataFramePayloadSize: payloadSize),
                outboxCapacity: 1 << 18,
                respond: source.respond
            )
            try measure(benchmark, requests: 1, bytes: transferSize) {
                try link.client.submitRequest(priority: 3, headers: requestHeaders)
                while link.completed < 1 {
                    let moved = try link.pumpOnce()
                    precondition(moved > 0, "the sessions stalled after \(link.receivedBytes) bytes")
                }
            }
            precondition(link.receivedBytes == transferSize && source.sent == transferSize)
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
