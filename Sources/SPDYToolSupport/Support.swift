import ArgumentParser
import NIOConcurrencyHelpers
import NIOSPDY
import SPDY

/// A lock usable from `Sendable` classes.
final class NIOLockBox: Sendable {
    private let lock = NIOLock()

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        try lock.withLock(body)
    }
}

/// `-2`, `-3` and `--spdy3-1`: the SPDY version to offer or speak.
public struct VersionOptions: ParsableArguments, Sendable {
    @Flag(name: .customShort("2"), help: "Use SPDY/2 only.")
    public var spdy2 = false
    @Flag(name: .customShort("3"), help: "Use SPDY/3 only.")
    public var spdy3 = false
    @Flag(name: .customLong("spdy3-1"), help: "Use SPDY/3.1 only.")
    public var spdy31 = false

    /// Creates the options (for ArgumentParser).
    public init() {}

    /// The version forced by a flag, or `nil` when none was given.
    public var version: SPDYVersion? {
        if spdy31 { return .v3_1 }
        if spdy3 { return .v3 }
        if spdy2 { return .v2 }
        return nil
    }

    /// The versions to offer by ALPN/NPN, most preferred first.
    public var versions: [SPDYVersion] {
        version.map { [$0] } ?? SPDYVersion.negotiationPreference
    }

    public mutating func validate() throws {
        if [spdy2, spdy3, spdy31].filter({ $0 }).count > 1 {
            throw ValidationError("give only one of -2, -3 and --spdy3-1")
        }
    }
}

/// The `-v` frame log of spdycat and spdyd: one block per frame event, in the originals'
/// format, with the time since the tool started.
public final class FrameLog: Sendable {
    private let start = ContinuousClock.now
    private let formatter: SPDYFrameFormatter
    /// spdyd prefixes every block with `[id=N] ` (the connection) and reports stream and
    /// connection closes; spdycat does neither.
    private let serverStyle: Bool
    private let output: Output

    /// Creates a log writing to `output` (standard output by default).
    public init(serverStyle: Bool, color: Bool = false, output: Output = .standardOutput) {
        self.serverStyle = serverStyle
        self.formatter = SPDYFrameFormatter(color: color)
        self.output = output
    }

    /// The time since the log was created.
    public var elapsed: Duration { start.duration(to: .now) }

    /// A free-form line with the timer, such as `[  0.003] Handshake complete`.
    public func line(_ text: String, connection: Int? = nil) {
        output.write(prefix(connection) + formatter.timer(elapsed) + " " + text + "\n")
    }

    /// The observer to install in ``SPDYServer/Configuration`` or ``SPDYClient/Configuration``.
    public var observer: @Sendable (_ connection: Int, _ event: SPDYFrameEvent) -> Void {
        { [self] connection, event in
            if case .streamClosed(let id, _) = event {
                if serverStyle { line("stream_id=\(id.rawValue) closed", connection: connection) }
                return
            }
            output.write(prefix(connection) + formatter.format(event, at: elapsed))
        }
    }

    private func prefix(_ connection: Int?) -> String {
        guard serverStyle, let connection else { return "" }
        return "[id=\(connection)] "
    }
}
