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

import NIOCore
import SPDY

#if canImport(Glibc)
    import Glibc
#endif

let arguments = CommandLine.arguments.dropFirst()
guard let workload = arguments.first else {
    print("usage: SessionProfile transfer PAYLOAD MIB [WINDOW] | memcpy MIB | requests COUNT | idle COUNT")
    exit(2)
}
let numbers = arguments.dropFirst().map { Int($0)! }

func rate(_ bytes: Int, _ elapsed: Duration) -> Int {
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    return Int(Double(bytes) / seconds / 1e6)
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
default:
    print("unknown workload \(workload)")
    exit(2)
}
