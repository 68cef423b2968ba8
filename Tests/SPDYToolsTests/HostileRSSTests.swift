import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import SPDY
import Testing

#if os(Linux)

    // The memory of a spdyd process under attack, read from its /proc/PID/status: VmRSS
    // before the attack (after a warm-up) and VmHWM, the peak, during it. Only the child is
    // measured: the test process's memory moves with the suites running alongside.

    // MARK: - Deadlines

    /// The operation outlived its deadline (a stuck server must fail the test, not hang it).
    private struct DeadlineExceeded: Error, CustomStringConvertible {
        let what: String
        let seconds: Double
        var description: String { "\(what): no answer within \(seconds) seconds" }
    }

    /// Runs `operation` and returns its result, or throws ``DeadlineExceeded`` after `seconds`:
    /// the operation is then cancelled and left behind, whether or not it heeds the cancellation.
    private func within<T: Sendable>(
        _ seconds: Double, _ what: String, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let slot = NIOLockedValueBox<CheckedContinuation<T, any Error>?>(continuation)
            let take = { @Sendable in
                slot.withLockedValue { value -> CheckedContinuation<T, any Error>? in
                    let taken = value
                    value = nil
                    return taken
                }
            }
            let work = Task {
                do {
                    let result = try await operation()
                    take()?.resume(returning: result)
                } catch {
                    take()?.resume(throwing: error)
                }
            }
            Task {
                try? await Task.sleep(for: .seconds(seconds))
                if let pending = take() {
                    work.cancel()
                    pending.resume(throwing: DeadlineExceeded(what: what, seconds: seconds))
                }
            }
        }
    }

    /// Waits (sleeping, never spinning) until `condition` holds or `seconds` pass; returns whether it held.
    private func eventually(within seconds: Double, _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    // MARK: - Raw attacker connections

    /// What an attacker connection received (frame headers only) and whether it closed.
    private struct AttackReceipt: Sendable {
        /// The status codes of the GOAWAY frames.
        var goAways: [UInt32] = []
        /// The status codes of the RST_STREAM frames.
        var resets: [UInt32] = []
        /// PING frames (echoes).
        var pings = 0
        /// DATA payload bytes.
        var dataBytes = 0
        /// Whether the connection has closed.
        var closed = false
        /// The attacker's writes not yet taken by the kernel.
        var writesPending = 0
        /// Why one of the attacker's writes failed (the server reset the connection), if one did.
        var writeError: String?
    }

    /// Splits received bytes into SPDY frames by their 8-byte headers without decoding them:
    /// DATA payloads are skipped as they arrive, control frames are taken whole.
    private struct FrameSplitter {
        enum Piece {
            /// A DATA frame's header, with its payload length.
            case data(length: Int)
            /// A control frame: its type and the first two 32-bit words of its payload (0
            /// where the payload is shorter).
            case control(type: Int, first: UInt32, second: UInt32)
        }

        private var buffer = ByteBuffer()
        private var skip = 0

        mutating func split(_ bytes: inout ByteBuffer, _ each: (Piece) -> Void) {
            buffer.writeBuffer(&bytes)
            while true {
                if skip > 0 {
                    let count = min(skip, buffer.readableBytes)
                    buffer.moveReaderIndex(forwardBy: count)
                    skip -= count
                    if skip > 0 { break }
                }
                guard buffer.readableBytes >= 8, let header = buffer.getBytes(at: buffer.readerIndex, length: 8)
                else { break }
                let length = Int(header[5]) << 16 | Int(header[6]) << 8 | Int(header[7])
                if header[0] & 0x80 == 0 {
                    each(.data(length: length))
                    buffer.moveReaderIndex(forwardBy: 8)
                    skip = length
                    continue
                }
                guard buffer.readableBytes >= 8 + length else { break }
                let start = buffer.readerIndex + 8
                each(
                    .control(
                        type: Int(header[2]) << 8 | Int(header[3]),
                        first: length >= 4 ? buffer.getInteger(at: start, as: UInt32.self)! : 0,
                        second: length >= 8 ? buffer.getInteger(at: start + 4, as: UInt32.self)! : 0))
                buffer.moveReaderIndex(forwardBy: 8 + length)
            }
            buffer.discardReadBytes()
        }
    }

    /// Splits what arrives into SPDY frames by their 8-byte headers and records them; payloads
    /// are skipped as they arrive (no decompression: the attacker never looks at headers).
    private final class FrameHeaderScanner: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer

        private let receipt: NIOLockedValueBox<AttackReceipt>
        private var splitter = FrameSplitter()

        init(receipt: NIOLockedValueBox<AttackReceipt>) {
            self.receipt = receipt
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = Self.unwrapInboundIn(data)
            splitter.split(&bytes) { piece in
                receipt.withLockedValue { receipt in
                    switch piece {
                    case .data(let length): receipt.dataBytes += length
                    // RST_STREAM: stream, status; GOAWAY (SPDY/3): last good stream, status.
                    case .control(3, _, let status): receipt.resets.append(status)
                    case .control(6, _, _): receipt.pings += 1
                    case .control(7, _, let status): receipt.goAways.append(status)
                    case .control: break
                    }
                }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            receipt.withLockedValue { $0.closed = true }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    /// A raw TCP connection to spdyd that writes hand-made SPDY bytes without waiting for
    /// them to be taken: a server that stops reading cannot block the test.
    private struct Attacker: Sendable {
        let channel: any Channel
        let receipt: NIOLockedValueBox<AttackReceipt>

        /// Connects; with `reading: false` nothing is read until ``startReading()``.
        static func connect(port: Int, group: any EventLoopGroup, reading: Bool) async throws -> Attacker {
            let receipt = NIOLockedValueBox(AttackReceipt())
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(10))
                .channelOption(.autoRead, value: reading)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(FrameHeaderScanner(receipt: receipt))
                    }
                }
                .connect(host: "127.0.0.1", port: port)
                .get()
            return Attacker(channel: channel, receipt: receipt)
        }

        var received: AttackReceipt { receipt.withLockedValue { $0 } }
        var isClosed: Bool { received.closed || !channel.isActive }

        /// Writes and flushes `bytes`; returns at once (the outcome is kept in the receipt).
        func send(_ bytes: ByteBuffer) {
            let receipt = self.receipt
            receipt.withLockedValue { $0.writesPending += 1 }
            channel.writeAndFlush(bytes).whenComplete { result in
                receipt.withLockedValue { receipt in
                    receipt.writesPending -= 1
                    if case .failure(let error) = result { receipt.writeError = "\(error)" }
                }
            }
        }

        /// Starts reading (what the server sent, then its close).
        func startReading() async {
            try? await channel.setOption(.autoRead, value: true).get()
        }

        /// Closes at once, dropping what is still queued.
        func close() async {
            try? await channel.close()
        }
    }

    // MARK: - An uploader that never finishes

    /// What the uploader sent and what spdyd granted it.
    private struct UploadReceipt: Sendable {
        /// DATA payload bytes written.
        var sentBytes = 0
        /// WINDOW_UPDATE frames received, and the window they granted.
        var windowUpdates = 0
        var grantedBytes = 0
        /// The window left on the streams not reset.
        var openWindow = 0
        /// The streams spdyd reset, with the status of each RST_STREAM.
        var resets: [UInt32: UInt32] = [:]
        /// SYN_REPLY frames received (answers such as 413).
        var replies = 0
        /// The status codes of the GOAWAY frames.
        var goAways: [UInt32] = []
        /// When window last came: a WINDOW_UPDATE, or the start.
        var lastGrant = ContinuousClock.now
        var closed = false
    }

    /// Opens POST streams without FIN and sends DATA on them for as long as their windows
    /// allow, up to `limit` bytes; writes only while the socket takes them, so the test
    /// process holds no more than NIO's write watermark.
    private final class Uploader: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        private let receipt: NIOLockedValueBox<UploadReceipt>
        private let opening: ByteBuffer
        private let limit: Int
        private let chunk: ByteBuffer
        private var windows: [UInt32: Int]
        private let order: [UInt32]
        private var next = 0
        private var sent = 0
        private var stopped = false
        private var splitter = FrameSplitter()

        init(
            streams: [UInt32], initialWindow: Int, opening: ByteBuffer, limit: Int,
            receipt: NIOLockedValueBox<UploadReceipt>
        ) {
            self.order = streams
            self.windows = Dictionary(uniqueKeysWithValues: streams.map { ($0, initialWindow) })
            self.opening = opening
            self.limit = limit
            self.receipt = receipt
            self.chunk = ByteBuffer(repeating: 0x55, count: 16 << 10)
        }

        func channelActive(context: ChannelHandlerContext) {
            receipt.withLockedValue { $0.lastGrant = .now }
            context.write(Self.wrapOutboundOut(opening), promise: nil)
            pump(context: context)
            context.flush()
            context.fireChannelActive()
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            pump(context: context)
            context.fireChannelWritabilityChanged()
        }

        func channelInactive(context: ChannelHandlerContext) {
            stopped = true
            receipt.withLockedValue { $0.closed = true }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }

        /// Writes DATA on the streams with window, in turn, while the channel is writable.
        private func pump(context: ChannelHandlerContext) {
            var wrote = false
            while !stopped && sent < limit && context.channel.isWritable, let id = nextStreamWithWindow() {
                let length = min(windows[id]!, chunk.readableBytes, limit - sent)
                var header = context.channel.allocator.buffer(capacity: 8)
                header.writeInteger(id)
                header.writeInteger(UInt32(length))
                context.write(Self.wrapOutboundOut(header), promise: nil)
                context.write(
                    Self.wrapOutboundOut(chunk.getSlice(at: chunk.readerIndex, length: length)!), promise: nil)
                windows[id]! -= length
                sent += length
                wrote = true
            }
            let open = windows.values.reduce(0, +)
            receipt.withLockedValue {
                $0.sentBytes = sent
                $0.openWindow = open
            }
            if wrote { context.flush() }
        }

        private func nextStreamWithWindow() -> UInt32? {
            for step in 0..<order.count {
                let id = order[(next + step) % order.count]
                if let window = windows[id], window > 0 {
                    next = (next + step + 1) % order.count
                    return id
                }
            }
            return nil
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = Self.unwrapInboundIn(data)
            splitter.split(&bytes) { piece in
                // DATA from spdyd (an error page) is skipped.
                guard case .control(let type, let first, let second) = piece else { return }
                let id = first & 0x7fff_ffff
                switch type {
                case 2:
                    receipt.withLockedValue { $0.replies += 1 }
                case 3:
                    windows[id] = nil
                    receipt.withLockedValue { $0.resets[id] = second }
                case 7:
                    stopped = true
                    receipt.withLockedValue { $0.goAways.append(second) }
                case 9:
                    let delta = Int(second & 0x7fff_ffff)
                    if windows[id] != nil { windows[id]! += delta }
                    receipt.withLockedValue { receipt in
                        receipt.windowUpdates += 1
                        receipt.grantedBytes += delta
                        receipt.lastGrant = .now
                    }
                default:
                    break
                }
            }
            pump(context: context)
        }

        /// Connects and starts the upload.
        static func start(
            port: Int, group: any EventLoopGroup, streams: [UInt32], initialWindow: Int, opening: ByteBuffer,
            limit: Int
        ) async throws -> (channel: any Channel, receipt: NIOLockedValueBox<UploadReceipt>) {
            let receipt = NIOLockedValueBox(UploadReceipt())
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(10))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            Uploader(
                                streams: streams, initialWindow: initialWindow, opening: opening, limit: limit,
                                receipt: receipt))
                    }
                }
                .connect(host: "127.0.0.1", port: port)
                .get()
            return (channel, receipt)
        }
    }

    /// Frames as a SPDY/3.1 client sends them (one header compression context), with header
    /// blocks compressed at level 9: a client's default, level 0, would send a bomb uncompressed.
    private func clientFrames(_ frames: [SPDYFrame]) throws -> ByteBuffer {
        let encoder = try SPDYFrameEncoder(version: .v3_1, compression: .init(level: 9))
        var buffer = ByteBuffer()
        for frame in frames {
            try encoder.encode(frame, into: &buffer)
        }
        return buffer
    }

    /// A GET of `path` on a new stream, with FIN (or another `method`, with or without FIN);
    /// `extra` adds one header.
    private func getStream(
        _ id: UInt32, _ path: String, extra: (String, String)? = nil, method: String = "GET", fin: Bool = true
    ) -> SPDYFrame {
        var headers: SPDYHeaders = [
            (":method", method), (":path", path), (":version", "HTTP/1.1"), (":scheme", "http"),
            (":host", "127.0.0.1"),
        ]
        if let extra { headers.add(name: extra.0, value: extra.1) }
        return .synStream(
            .init(streamID: SPDYStreamID(rawValue: id)!, priority: 3, flags: fin ? .fin : [], headers: headers))
    }

    // MARK: - Memory readings

    // MARK: - A well-behaved client

    /// What the well-behaved client saw.
    private struct GoodResult: Sendable {
        var count = 0
        var failures: [String] = []
        var worst: Duration = .zero
    }

    /// Fetches `path` (whose content is `expected`) on `server`'s connection, one request
    /// after another until ``finish()``.
    private final class GoodTraffic: Sendable {
        private let stopFlag: NIOLockedValueBox<Bool>
        private let task: Task<GoodResult, Never>

        init(_ server: RunningSpdyd, path: String, expected: [UInt8]) {
            let stopFlag = NIOLockedValueBox(false)
            self.stopFlag = stopFlag
            task = Task {
                var result = GoodResult()
                let clock = ContinuousClock()
                while !stopFlag.withLockedValue({ $0 }) {
                    let started = clock.now
                    do {
                        let (status, _, body) = try await within(30, "good request #\(result.count)") {
                            try await server.get(path)
                        }
                        if status != "200 OK" || body != expected {
                            result.failures.append("#\(result.count): \(status), \(body.count) bytes")
                        }
                    } catch {
                        result.failures.append("#\(result.count): \(error)")
                        break
                    }
                    result.worst = max(result.worst, clock.now - started)
                    result.count += 1
                    try? await Task.sleep(for: .milliseconds(50))
                }
                return result
            }
        }

        func finish() async -> GoodResult {
            stopFlag.withLockedValue { $0 = true }
            return await task.value
        }
    }

    // MARK: - The siege

    /// A duration in seconds, to a tenth.
    private func seconds(_ duration: Duration) -> String {
        let (whole, fraction) = duration.components
        return String(format: "%.1f", Double(whole) + Double(fraction) / 1e18)
    }

    /// The spdyd under attack, and the event loop for the attackers' connections.
    private struct Target {
        let port: Int
        let pid: Int32
        let group: any EventLoopGroup
    }

    /// Returns once the VmRSS of `pid` has not grown (by more than 256 KiB) for a second, after
    /// at least `minimum` seconds and at most `maximum`; returns how long that took.
    private func holdUntilSteady(_ pid: Int32, minimum: Double, maximum: Double) async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        var highest = 0
        var lastGrowth = start
        while clock.now - start < .seconds(maximum) {
            let rss = processStatusKiB(pid, "VmRSS") ?? 0
            if rss > highest + 256 {
                highest = rss
                lastGrowth = clock.now
            }
            if clock.now - start >= .seconds(minimum) && clock.now - lastGrowth >= .seconds(1) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        return clock.now - start
    }

    /// What one attack did to spdyd's memory, in KiB.
    private struct Readings {
        var baseline = 0
        var peak = 0
        var after = 0
        var grown: Int { peak - baseline }
    }

    /// The served folder's check file: 256 KiB of a pattern the good client compares.
    private let checkBytes: [UInt8] = (0..<(256 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }

    /// Starts spdyd (plain TCP, SPDY/3.1 unless `version` says otherwise) on `folder`, warms it
    /// up, takes the baseline VmRSS, then runs `attack` while a well-behaved client fetches the
    /// check file and VmRSS is sampled; afterwards checks the peak against `bound` (KiB above
    /// the baseline), the client and a new connection, and stops spdyd. spdyd is killed
    /// whatever happens.
    private func besiege(
        _ name: String,
        bound: Int,
        folder: ServedFolder,
        version: SPDYVersion = .v3_1,
        attack: (_ target: Target) async throws -> Void
    ) async throws {
        try Data(checkBytes).write(to: folder.root.appendingPathComponent("check.bin"))
        let server = try await RunningSpdyd.start(
            root: folder.root, extra: ["--no-tls", version == .v3 ? "-3" : "--spdy3-1"],
            client: .init(plainVersion: version))
        defer { server.tool.killNow() }
        let pid = server.tool.process.processIdentifier
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var readings = Readings()
        var failure: (any Error)?
        do {
            // Warm-up: the code paths of a request, and of a raw connection that closes.
            for _ in 0..<4 {
                let (status, _, body) = try await within(30, "warm-up request") { try await server.get("/check.bin") }
                #expect(status == "200 OK" && body == checkBytes, "warm-up")
            }
            let warm = try await Attacker.connect(port: server.port, group: group, reading: true)
            warm.send(try clientFrames([getStream(1, "/hello.txt")]))
            #expect(await eventually(within: 30) { warm.received.dataBytes > 0 }, "warm-up raw request")
            await warm.close()
            try await Task.sleep(for: .milliseconds(300))
            readings.baseline = try #require(processStatusKiB(pid, "VmRSS"))
            let resetPeak = resetPeakResident(pid)

            let watch = MemoryWatch(pid: pid)
            let good = GoodTraffic(server, path: "/check.bin", expected: checkBytes)
            let clock = ContinuousClock()
            let started = clock.now
            do {
                try await attack(Target(port: server.port, pid: pid, group: group))
            } catch {
                failure = error
            }
            let attackTime = clock.now - started
            let traffic = await good.finish()
            readings.peak = await watch.stop()
            try await Task.sleep(for: .milliseconds(500))
            readings.after = processStatusKiB(pid, "VmRSS") ?? 0
            #expect(
                readings.grown < bound,
                "\(name): spdyd's peak grew \(readings.grown) KiB over its baseline \(readings.baseline) KiB")
            #expect(traffic.failures.isEmpty, "\(name): the good client failed: \(traffic.failures)")
            #expect(traffic.count > 0, "\(name): the good client made no request")

            // A new connection after the attack is served.
            let fresh = try SPDYClient(configuration: .init(plainVersion: version))
            do {
                let port = server.port
                let (status, body) = try await within(30, "request on a new connection") {
                    let connection = try await fresh.connect(host: "127.0.0.1", port: port, tls: false)
                    defer { connection.close() }
                    let response = try await connection.request(
                        SPDYClientRequest(path: "/check.bin", authority: "127.0.0.1:\(port)"))
                    let body = try await response.collectBody(upTo: 1 << 20)
                    return (response.status, Array(body.readableBytesView))
                }
                #expect(status == "200 OK" && body == checkBytes, "\(name): a new connection after the attack")
            } catch {
                Issue.record(error, "\(name): a new connection after the attack")
            }
            try? await within(30, "client shutdown") { try await fresh.shutdown() }

            print(
                "spdyd under attack [\(name)]: VmRSS baseline \(readings.baseline) KiB, peak \(readings.peak) KiB "
                    + "(+\(readings.grown) KiB, bound +\(bound) KiB\(resetPeak ? "" : ", VmHWM not reset")), "
                    + "after \(readings.after) KiB; "
                    + "attack \(seconds(attackTime)) s; good client: \(traffic.count) requests, slowest \(seconds(traffic.worst)) s"
            )
        } catch {
            failure = failure ?? error
        }
        try? await group.shutdownGracefully()
        server.connection.close()
        try? await within(30, "client shutdown") { try await server.client.shutdown() }
        if failure == nil {
            await #expect(server.tool.stop() == 0, "\(name): spdyd did not stop cleanly: \(server.tool.stderr)")
        }
        if let failure { throw failure }
    }

    // MARK: - Tests

    @Suite("spdyd's own memory (VmHWM of the process) under attack over 127.0.0.1", .serialized)
    struct HostileRSSTests {
        // The most spdyd's peak may exceed its baseline, in KiB, measured at +1.5 MiB for the
        // bombs, +0.5 MiB for the PING flood, +11 MiB for the endless uploads (4 MiB of request
        // bodies, 6.4 MiB of first windows) and +21 MiB for the files (50 streams × the
        // writer's 256 KiB watermark and a 128 KiB chunk). Inflating the bombs (16 × 15 MiB),
        // queueing the echoes of 2 million PINGs, holding 50 × 64 MiB or the uploads' gigabyte
        // (as spdyd did before stream channels: +1 GiB) would blow far past.

        /// For the bombs and the PING flood.
        static let smallBound = 32 << 10
        /// For the 50 streams of a 64 MiB file.
        static let filesBound = 64 << 10

        @Test("zlib bombs on 16 connections: RST_STREAM or GOAWAY and a close, memory bounded", .timeLimit(.minutes(2)))
        func zlibBombs() async throws {
            let folder = try ServedFolder()
            // On each connection, with one compression context: blocks inflating to 192 KiB
            // (past the 64 KiB limit, below the cut-off: RST_STREAM, the session goes on),
            // then one inflating to 15 MiB (GOAWAY; about the most a SYN_STREAM can carry
            // uncompressed, which our encoder checks). Every connection's bytes are the same.
            var frames = (0..<8).map { n in
                getStream(UInt32(2 * n + 1), "/hello.txt", extra: ("x-big", String(repeating: "b", count: 192 << 10)))
            }
            frames.append(getStream(17, "/hello.txt", extra: ("x-bomb", String(repeating: "a", count: 15 << 20))))
            let bombs = try clientFrames(frames)
            #expect(bombs.readableBytes < 64 << 10)
            var receipts: [AttackReceipt] = []
            try await besiege("zlib bombs", bound: Self.smallBound, folder: folder) { target in
                var attackers: [Attacker] = []
                defer { for attacker in attackers { attacker.channel.close(promise: nil) } }
                for _ in 0..<16 {
                    attackers.append(try await Attacker.connect(port: target.port, group: target.group, reading: true))
                }
                for attacker in attackers { attacker.send(bombs) }
                let closed = await eventually(within: 30) { attackers.allSatisfy(\.isClosed) }
                receipts = attackers.map(\.received)
                #expect(closed, "spdyd left a bomb's connection open")
                // What the bombs left behind is still watched, with the good client running.
                try await Task.sleep(for: .seconds(1))
            }
            for receipt in receipts {
                #expect(receipt.goAways == [1], "GOAWAY PROTOCOL_ERROR expected: \(receipt)")
                #expect(receipt.resets.allSatisfy { $0 == 11 }, "RST_STREAM FRAME_TOO_LARGE expected: \(receipt)")
            }
            let answers = Dictionary(grouping: receipts) { "\($0.resets.count) RST_STREAM, GOAWAY \($0.goAways)" }
            print(
                "zlib bombs: \(bombs.readableBytes) bytes on each of \(receipts.count) connections; answers: "
                    + answers.map { "\($0.value.count) x (\($0.key))" }.sorted().joined(separator: ", "))
        }

        @Test(
            "A PING flood from 4 connections that never read: cut off, memory bounded", .timeLimit(.minutes(2)))
        func pingFlood() async throws {
            let folder = try ServedFolder()
            // Echoes queued without limit would take far more than the bound (12 bytes on
            // the wire, more in memory, for each of 2 million PINGs).
            let count = 500_000
            let flood = try clientFrames((0..<count).map { SPDYFrame.ping(.init(id: UInt32(2 * $0 + 1))) })
            var receipts: [AttackReceipt] = []
            try await besiege("PING flood", bound: Self.smallBound, folder: folder) { target in
                var attackers: [Attacker] = []
                defer { for attacker in attackers { attacker.channel.close(promise: nil) } }
                for _ in 0..<4 {
                    attackers.append(try await Attacker.connect(port: target.port, group: target.group, reading: false))
                }
                for attacker in attackers { attacker.send(flood) }
                // The flood is taken (or refused with a reset) while nothing is read...
                #expect(
                    await eventually(within: 30) {
                        attackers.allSatisfy { $0.received.writesPending == 0 || $0.isClosed }
                    },
                    "the flood was not taken")
                try await Task.sleep(for: .seconds(1))
                // ...then reading shows what spdyd answered, and its close.
                for attacker in attackers { await attacker.startReading() }
                let closed = await eventually(within: 30) { attackers.allSatisfy(\.isClosed) }
                receipts = attackers.map(\.received)
                #expect(closed, "spdyd left a flooding connection open: \(receipts)")
            }
            for receipt in receipts {
                // Answered up to the control-frame limit, never all of them (unless the
                // connection was reset before the echoes could be read).
                #expect(receipt.pings < count, "every PING was echoed: \(receipt)")
                #expect(receipt.goAways.allSatisfy { $0 == 1 }, "\(receipt)")
            }
            print(
                "PING flood: \(count) PINGs a connection; echoes read: \(receipts.map(\.pings)), GOAWAY: \(receipts.map(\.goAways))"
            )
        }

        @Test(
            "50 streams of a 64 MiB file to a connection that never reads (windows wide open): memory bounded",
            .timeLimit(.minutes(2)))
        func largeResponses() async throws {
            let folder = try ServedFolder()
            let size = 64 << 20
            let path = folder.root.appendingPathComponent("big.bin").path
            let fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0o644)
            try #require(fd >= 0)
            #expect(ftruncate(fd, off_t(size)) == 0)
            close(fd)
            let streams = 50
            // Flow control out of the way, so that only the unread socket holds spdyd back.
            let request = try clientFrames(
                [
                    .settings(.init(entries: [.init(id: .initialWindowSize, value: 0x7fff_ffff)])),
                    .windowUpdate(.init(streamID: .zero, deltaWindowSize: 0x7fff_ffff - 65536)),
                ] + (0..<streams).map { getStream(UInt32(2 * $0 + 1), "/big.bin") })
            var received = AttackReceipt()
            var held = Duration.zero
            try await besiege("64 MiB x \(streams) to a non-reader", bound: Self.filesBound, folder: folder) {
                target in
                let attacker = try await Attacker.connect(port: target.port, group: target.group, reading: false)
                defer { attacker.channel.close(promise: nil) }
                attacker.send(request)
                // spdyd fills the socket buffers and its queues, then has to wait: hold it there
                // until its memory has stopped growing.
                held = try await holdUntilSteady(target.pid, minimum: 3, maximum: 15)
                #expect(!attacker.isClosed, "spdyd closed the non-reader early: \(attacker.received)")
                // The attack was real: far more than one 64 KiB window is on its way.
                await attacker.startReading()
                #expect(
                    await eventually(within: 30) { attacker.received.dataBytes >= 16 << 20 },
                    "spdyd did not send the files: \(attacker.received)")
                received = attacker.received
                await attacker.close()
            }
            print(
                "64 MiB x \(streams): held \(seconds(held)) s until spdyd's memory was steady; "
                    + "\(received.dataBytes >> 10) KiB of DATA read once reading")
        }

        @Test(
            "100 POST streams on one SPDY/3 connection, never finished, sent DATA up to every window granted: memory bounded",
            .timeLimit(.minutes(2)))
        func endlessUploads() async throws {
            let folder = try ServedFolder()
            // 64 KiB of window a stream to begin with: 6.4 MiB at once, and as much more as
            // spdyd grants. spdyd holds request bodies up to its per-connection budget (and the
            // oldest upload up to the largest body it takes); past that it must stop granting
            // window, or the memory would follow the gigabyte.
            let streams = (0..<100).map { UInt32(2 * $0 + 1) }
            let opening = try clientFrames(streams.map { getStream($0, "/upload\($0)", method: "POST", fin: false) })
            let limit = 1 << 30
            var receipt = UploadReceipt()
            var reason = ""
            var attackTime = Duration.zero
            try await besiege("100 endless uploads", bound: Self.smallBound, folder: folder, version: .v3) { target in
                let (channel, box) = try await Uploader.start(
                    port: target.port, group: target.group, streams: streams, initialWindow: 65536, opening: opening,
                    limit: limit)
                defer { channel.close(promise: nil) }
                let clock = ContinuousClock()
                let started = clock.now
                while true {
                    try await Task.sleep(for: .milliseconds(50))
                    let now = box.withLockedValue { $0 }
                    if now.sentBytes >= limit {
                        reason = "1 GiB sent"
                    } else if now.closed {
                        reason = "spdyd closed the connection"
                    } else if now.openWindow == 0 && ContinuousClock.now - now.lastGrant >= .seconds(2) {
                        reason = "spdyd stopped granting window"
                    } else if clock.now - started >= .seconds(15) {
                        reason = "15 s passed"
                    } else {
                        continue
                    }
                    break
                }
                attackTime = clock.now - started
                receipt = box.withLockedValue { $0 }
                #expect(!receipt.closed, "spdyd closed the uploading connection: \(receipt)")
                #expect(receipt.goAways.isEmpty, "spdyd sent GOAWAY: \(receipt)")
                // The attack was real: every stream's first window was filled.
                #expect(receipt.sentBytes >= streams.count * 65536, "the initial windows were not filled: \(receipt)")
                // What spdyd still holds is watched a little longer, with the good client running.
                try await Task.sleep(for: .seconds(1))
            }
            print(
                "100 endless uploads: stopped after \(seconds(attackTime)) s (\(reason)); "
                    + "\(receipt.sentBytes >> 10) KiB of DATA sent, \(receipt.grantedBytes >> 10) KiB granted "
                    + "in \(receipt.windowUpdates) WINDOW_UPDATEs, \(receipt.openWindow >> 10) KiB of window left; "
                    + "\(receipt.replies) SYN_REPLY, \(receipt.resets.count) RST_STREAM "
                    + "(statuses \(Set(receipt.resets.values).sorted()))")
        }
    }

#endif
