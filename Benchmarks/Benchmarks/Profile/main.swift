// A plain executable running one session workload once, outside the benchmark
// framework, for profilers: `valgrind --tool=callgrind` counts its instructions
// exactly (these machines are too noisy for small wall-clock differences), and
// `perf record` samples it without the plugin's processes around it.
//
//     swift build -c release --product SessionProfile
//     valgrind --tool=callgrind .build/release/SessionProfile transfer 16384 64
//
// Workloads: `transfer PAYLOAD MIB` (one response of MIB MiB in PAYLOAD-byte DATA
// frames) and `requests COUNT` (COUNT requests with 1 KiB responses, 100 in flight).
//
// `recorded requests [RUNS]` and `recorded responses [RUNS]` feed the recorded SPDY/3
// connection of the `RecordedStream` benchmarks (`Recording.swift`) to a fresh server
// (client) session RUNS times (default 1) and print each run's time, the best and the
// median; only `feedPieces` is the measured work:
//
//     valgrind --tool=callgrind --toggle-collect='*feedPieces*' \
//         /tmp/SessionProfile recorded responses
//
// `recorded dump DIR` writes the two recordings to DIR/requests.spdy and
// DIR/responses.spdy, for a harness that feeds the same bytes to the C library.

import NIOCore
import SPDY

#if canImport(Glibc)
    import Glibc
#endif

let arguments = CommandLine.arguments.dropFirst()
guard let workload = arguments.first else {
    print(
        "usage: SessionProfile transfer PAYLOAD MIB [WINDOW] | memcpy MIB | requests COUNT | idle COUNT"
            + " | recorded requests|responses [RUNS] | recorded dump DIR"
    )
    exit(2)
}
let numbers = workload == "recorded" ? [] : arguments.dropFirst().map { Int($0)! }

func seconds(_ elapsed: Duration) -> Double {
    Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

func rate(_ bytes: Int, _ elapsed: Duration) -> Int {
    Int(Double(bytes) / seconds(elapsed) / 1e6)
}

/// `recorded requests|responses [RUNS]` and `recorded dump DIR`.
func runRecorded(_ arguments: [String]) throws {
    switch (arguments.first, arguments.count) {
    case ("dump", 2):
        let directory = arguments[1]
        for (name, stream) in [
            ("requests", RecordedConnection.recordRequests()), ("responses", RecordedConnection.recordResponses()),
        ] {
            let path = "\(directory)/\(name).spdy"
            guard let file = fopen(path, "wb") else {
                print("cannot open \(path)")
                exit(1)
            }
            let written = stream.withUnsafeReadableBytes { fwrite($0.baseAddress, 1, $0.count, file) }
            fclose(file)
            precondition(written == stream.readableBytes, "short write to \(path)")
            print("wrote \(stream.readableBytes) bytes to \(path)")
        }
    case ("requests", 1...2), ("responses", 1...2):
        let requests = arguments[0] == "requests"
        let runs = arguments.count > 1 ? Int(arguments[1])! : 1
        let stream = requests ? RecordedConnection.recordRequests() : RecordedConnection.recordResponses()
        let pieces = RecordedConnection.pieces(of: stream)
        var times: [Double] = []
        for _ in 0..<runs {
            let receiver = try requests ? RecordedReceiver.server() : RecordedReceiver.client()
            let start = ContinuousClock.now
            try receiver.feedPieces(pieces)
            times.append(seconds(start.duration(to: .now)) * 1e3)
            if requests { receiver.checkRequestsReceived() } else { receiver.checkResponsesReceived() }
        }
        let list = times.map { format3($0) }.joined(separator: " ")
        let sorted = times.sorted()
        print(
            "recorded \(arguments[0]): \(stream.readableBytes) bytes in \(pieces.count) pieces; ms per run: \(list); "
                + "best \(format3(sorted[0])) ms, median \(format3(sorted[sorted.count / 2])) ms"
        )
    default:
        print("usage: SessionProfile recorded requests|responses [RUNS] | recorded dump DIR")
        exit(2)
    }
}

/// `value` with three decimals.
func format3(_ value: Double) -> String {
    let thousandths = Int((value * 1000).rounded())
    let fraction = String(thousandths % 1000)
    return "\(thousandths / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
}

switch workload {
case "transfer":
    let payloadSize = numbers[0]
    let size = numbers[1] << 20
    let window = numbers.count > 2 ? numbers[2] : nil
    let workload = try TransferWorkload(size: size, payloadSize: payloadSize, window: window)
    let start = ContinuousClock.now
    try workload.run()
    let elapsed = start.duration(to: .now)
    print("transferred \(size) bytes in \(elapsed): \(rate(size, elapsed)) MB/s")
case "memcpy":
    // The benchmark's baseline: the same bytes copied 64 KiB at a time into a reused buffer.
    let size = numbers[0] << 20
    let source = patternBuffer(transferSourceSize)
    let pieces = stride(from: 0, to: transferSourceSize, by: 1 << 16).map { source.getSlice(at: $0, length: 1 << 16)! }
    var target = ByteBufferAllocator().buffer(capacity: 1 << 16)
    var copied = 0
    let start = ContinuousClock.now
    for _ in 0..<(size / transferSourceSize) {
        for piece in pieces {
            target.clear()
            target.writeImmutableBuffer(piece)
            copied &+= target.readableBytes
        }
    }
    let elapsed = start.duration(to: .now)
    precondition(copied == size && target.readableBytes == 1 << 16)
    print("copied \(copied) bytes in \(elapsed): \(rate(size, elapsed)) MB/s")
case "idle":
    // COUNT client/server pairs that each completed one request and stay open: the
    // memory a session keeps between requests (VmRSS growth per pair, both sides).
    let count = numbers[0]
    func residentKiB() -> Int {
        guard let file = fopen("/proc/self/status", "r") else { return 0 }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("VmRSS:") {
                return Int(text.split(separator: " ").dropFirst().first ?? "0") ?? 0
            }
        }
        return 0
    }
    let before = residentKiB()
    var links: [SessionLink] = []
    let responder = ResponseServer(count: 1)
    for _ in 0..<count {
        let link = try SessionLink(configuration: .init(), outboxCapacity: 4096, respond: responder.respond)
        try link.client.submitRequest(priority: 3, headers: requestHeaders)
        while link.completed < 1 {
            let moved = try link.pumpOnce()
            precondition(moved > 0)
        }
        responder.reset()
        links.append(link)
    }
    let after = residentKiB()
    print("\(count) idle pairs: VmRSS \(before) -> \(after) KiB, \((after - before) * 1024 / count) bytes per pair")
case "requests":
    let count = numbers[0]
    let responder = ResponseServer(count: count)
    let link = try SessionLink(configuration: .init(), outboxCapacity: 1 << 18, respond: responder.respond)
    var submitted = 0
    while link.completed < count {
        while submitted - link.completed < 100 && submitted < count {
            try link.client.submitRequest(priority: 3, headers: requestHeaders)
            submitted += 1
        }
        let moved = try link.pumpOnce()
        precondition(moved > 0, "stalled after \(link.completed) requests")
    }
    print("completed \(link.completed) requests")
case "recorded":
    try runRecorded(Array(arguments.dropFirst()))
default:
    print("unknown workload \(workload)")
    exit(2)
}
