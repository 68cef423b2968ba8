import NIOCore
import SPDY

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The fuzzer's input, read from the front: configuration bytes first, then the rest.
///
/// Reading past the end gives zeros, so every input, even an empty one, is a valid run.
public struct FuzzInput {
    public let bytes: UnsafeBufferPointer<UInt8>
    public private(set) var offset = 0

    public init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        bytes = UnsafeBufferPointer(start: size > 0 ? data : nil, count: size)
    }

    public var remaining: Int { bytes.count - offset }

    /// The next byte, or 0 past the end.
    public mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// The next `count` bytes (fewer at the end).
    public mutating func take(_ count: Int) -> UnsafeBufferPointer<UInt8> {
        let n = min(max(count, 0), remaining)
        defer { offset += n }
        return UnsafeBufferPointer(rebasing: bytes[offset..<(offset + n)])
    }

    /// Everything not read yet.
    public mutating func rest() -> UnsafeBufferPointer<UInt8> { take(remaining) }
}

/// The version a configuration byte's two low bits pick: SPDY/2, SPDY/3, SPDY/3.1, SPDY/3.1.
public func fuzzVersion(_ bits: UInt8) -> SPDYVersion {
    switch bits & 3 {
    case 0: return .v2
    case 1: return .v3
    default: return .v3_1
    }
}

/// The configuration byte that picks `version` (the inverse of ``fuzzVersion(_:)``).
public func fuzzVersionBits(_ version: SPDYVersion) -> UInt8 {
    switch version {
    case .v2: return 0
    case .v3: return 1
    case .v3_1: return 2
    }
}

/// A small deterministic generator (SplitMix64) for split points derived from one input byte.
public struct SplitMix {
    var state: UInt64
    public init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1 }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A value in `1...bound`.
    public mutating func chunk(upTo bound: Int) -> Int { Int(next() % UInt64(max(bound, 1))) + 1 }
}

/// Stops the run as a crash: a broken invariant is a finding, like a trap.
public func fuzzFailure(_ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) -> Never
{
    fatalError("fuzz invariant broken: \(message())", file: file, line: line)
}

/// The frames a ``SPDYFrameDecoder`` yields, with DATA chunks joined into whole
/// frames and errors kept in line, for comparing two decodings.
public enum DecodedItem: Hashable, CustomStringConvertible {
    case frame(SPDYFrame, SPDYControlFrameHeader)
    case data(SPDYDataFrameHeader, ByteBuffer, complete: Bool)
    case error(SPDYFrameDecodingError.Code, SPDYControlFrameHeader, SPDYFrame?)

    public var description: String {
        switch self {
        case .frame(let frame, let header): return "frame \(header) \(frame)"
        case .data(let header, let payload, let complete):
            return "data \(header) \(payload.readableBytes) bytes\(complete ? "" : " (incomplete)")"
        case .error(let code, let header, let frame): return "error \(code) \(header) \(String(describing: frame))"
        }
    }
}

/// Collects a decoder's output as ``DecodedItem``s.
public struct DecodedStream {
    public private(set) var items: [DecodedItem] = []
    /// Events (frames, chunks, errors) seen, for the progress bound.
    public private(set) var events = 0

    public init() {}

    /// Takes every event the decoder has now; traps when it yields more events than
    /// `bound` (the decoder must make progress: each event consumes input).
    public mutating func drain(_ decoder: SPDYFrameDecoder, bound: Int) {
        while true {
            events += 1
            if events > bound { fuzzFailure("the decoder yielded more than \(bound) events") }
            do {
                guard let event = try decoder.nextFrame() else { return }
                switch event {
                case .frame(let frame, let header):
                    items.append(.frame(frame, header))
                case .dataChunk(let chunk):
                    if case .data(let header, var payload, complete: false)? = items.last, header == chunk.header {
                        items.removeLast()
                        var more = chunk.payload
                        payload.writeBuffer(&more)
                        items.append(.data(header, payload, complete: chunk.isEndOfFrame))
                    } else {
                        items.append(.data(chunk.header, chunk.payload, complete: chunk.isEndOfFrame))
                    }
                }
            } catch {
                items.append(.error(error.code, error.header, error.frame))
            }
        }
    }
}

/// `LLVMFuzzerInitialize`'s work shared by all targets: with `SPDY_FUZZ_WRITE_SEEDS=DIR`
/// in the environment, write this target's seed corpus into DIR and exit.
public func writeSeedsIfAsked(target: String) {
    guard let dir = getenv("SPDY_FUZZ_WRITE_SEEDS").map({ String(cString: $0) }) else { return }
    let seeds = SeedCorpus.seeds(for: target)
    for (name, bytes) in seeds {
        let path = dir + "/" + name
        guard let file = fopen(path, "wb") else { fuzzFailure("cannot write \(path)") }
        _ = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
    }
    print("\(target): wrote \(seeds.count) seeds to \(dir)")
    exit(0)
}
