import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import NIOSPDY
import SPDY

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The deterministic body pattern every peer of the suite writes and checks: byte `i` of a
/// body with seed `s` is `(i + s) % 251` (a prime, so a shifted or repeated 256-byte block
/// shows).
enum Pattern {
    static func byte(_ index: Int, seed: Int) -> UInt8 { UInt8((index + seed) % 251) }

    static func buffer(count: Int, seed: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(count)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { pointer in
            for i in 0..<count { pointer[i] = byte(i, seed: seed) }
            return count
        }
        return buffer
    }

    /// The offset of the first byte that does not follow the pattern, or `nil`.
    static func firstMismatch(_ buffer: ByteBuffer, seed: Int) -> Int? {
        buffer.withUnsafeReadableBytes { bytes in
            for i in 0..<bytes.count where bytes[i] != byte(i, seed: seed) { return i }
            return nil
        }
    }
}

/// Prints a line at once (the runner reads the output as it comes).
func say(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(1, bytes.baseAddress! + offset, bytes.count - offset)
            if written <= 0 { return }
            offset += written
        }
    }
}

/// The contents of a file as text.
func readFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count <= 0 { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Collects check results; the process exits non-zero when one failed.
final class Checks: @unchecked Sendable {
    private let lock = NIOLock()
    private var failures: [String] = []
    private var passes = 0
    let prefix: String

    init(prefix: String) { self.prefix = prefix }

    func check(_ condition: Bool, _ what: String, _ detail: @autoclosure () -> String = "") {
        lock.withLock {
            if condition {
                passes += 1
                say("\(prefix): ok   \(what)")
            } else {
                let text = detail().isEmpty ? what : "\(what): \(detail())"
                failures.append(text)
                say("\(prefix): FAIL \(text)")
            }
        }
    }

    var failed: Bool { lock.withLock { !failures.isEmpty } }

    func finish() -> Never {
        let (failures, passes) = lock.withLock { (self.failures, self.passes) }
        if failures.isEmpty {
            say("\(prefix): all \(passes) checks passed")
            exit(0)
        }
        say(
            "\(prefix): \(failures.count) of \(failures.count + passes) checks failed: \(failures.joined(separator: "; "))"
        )
        exit(1)
    }
}

/// Counts the control frames a session sends and receives, by hooking its callbacks (the
/// previous callbacks keep running). Lives in the session's `userData`; all access happens
/// on the connection's event loop.
final class FrameStats: @unchecked Sendable {
    var windowUpdatesSent = (session: 0, streams: 0)
    var windowUpdatesReceived = (session: 0, streams: 0)
    var peerPings = 0
    var pingReplies = 0
    var goAwayReceived = false
    var goAwaySent = false
    var settingsReceived: [SPDYFrame.SettingsEntry] = []
    var rstReceived = 0
    var rstSent = 0
    var synStreamsReceived = 0
    var openStreams = 0
    var maxOpenStreams = 0

    /// The stats of `connection`, hooked on first use.
    static func of(_ connection: SPDYConnection) -> FrameStats {
        if let stats = connection.session.userData as? FrameStats { return stats }
        let stats = FrameStats()
        stats.openStreams = connection.session.openStreamCount  // streams opened before the hook
        stats.install(on: connection)
        connection.session.userData = stats
        return stats
    }

    private func isOurs(_ pingID: UInt32, _ session: SPDYSession) -> Bool {
        (pingID & 1 == 1) == (session.role == .client)
    }

    func install(on connection: SPDYConnection) {
        let session = connection.session
        connection.addObserver { [unowned self] event in
            guard case .frame(let event) = event else { return }
            switch event {
            case .controlReceived(let frame, _):
                received(frame, session)
            case .controlSent(let frame, _):
                sent(frame)
            case .streamClosed:
                openStreams -= 1
            default:
                break
            }
        }
    }

    private func received(_ frame: SPDYFrame, _ session: SPDYSession) {
        switch frame {
        case .windowUpdate(let update):
            if update.streamID == .zero {
                windowUpdatesReceived.session += 1
            } else {
                windowUpdatesReceived.streams += 1
            }
        case .ping(let ping):
            if isOurs(ping.id, session) {
                pingReplies += 1
            } else {
                peerPings += 1
            }
        case .goAway: goAwayReceived = true
        case .settings(let settings): settingsReceived += settings.entries
        case .rstStream: rstReceived += 1
        case .synStream:
            synStreamsReceived += 1
            streamOpened()
        default: break
        }
    }

    private func sent(_ frame: SPDYFrame) {
        switch frame {
        case .windowUpdate(let update):
            if update.streamID == .zero {
                windowUpdatesSent.session += 1
            } else {
                windowUpdatesSent.streams += 1
            }
        case .goAway: goAwaySent = true
        case .rstStream: rstSent += 1
        case .synStream: streamOpened()
        default: break
        }
    }

    private func streamOpened() {
        openStreams += 1
        maxOpenStreams = max(maxOpenStreams, openStreams)
    }

    var summary: String {
        "wu_sent(session=\(windowUpdatesSent.session) streams=\(windowUpdatesSent.streams)) "
            + "wu_received(session=\(windowUpdatesReceived.session) streams=\(windowUpdatesReceived.streams)) "
            + "peer_pings=\(peerPings) ping_replies=\(pingReplies) goaway_received=\(goAwayReceived) "
            + "goaway_sent=\(goAwaySent) rst_received=\(rstReceived) rst_sent=\(rstSent) "
            + "max_open_streams=\(maxOpenStreams)"
    }
}

/// Command-line options: `--name value` pairs and bare flags.
struct Options {
    var values: [String: String] = [:]
    var positional: [String] = []

    init(_ arguments: ArraySlice<String>) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            if argument.hasPrefix("--") {
                let name = String(argument.dropFirst(2))
                if let equals = name.firstIndex(of: "=") {
                    values[String(name[..<equals])] = String(name[name.index(after: equals)...])
                } else {
                    values[name] = iterator.next() ?? ""
                }
            } else {
                positional.append(argument)
            }
        }
    }

    subscript(_ name: String) -> String? { values[name] }

    func int(_ name: String, default value: Int) -> Int { values[name].flatMap { Int($0) } ?? value }

    var version: SPDYVersion {
        switch values["version"] ?? "3.1" {
        case "2": return .v2
        case "3": return .v3
        default: return .v3_1
        }
    }
}

/// Exits with status 3 after `seconds` (a stuck peer must not hang the suite).
func startWatchdog(seconds: Int, name: String) {
    DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(seconds)) {
        say("\(name): FAIL timed out after \(seconds) s")
        exit(3)
    }
}
