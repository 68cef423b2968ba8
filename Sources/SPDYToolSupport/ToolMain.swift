import ArgumentParser

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs a command-line tool the way the originals behave: `--help` prints the help on
/// standard output and exits 0; a bad argument, an unreadable file or any other error
/// prints one line, `tool: message`, on standard error and exits 1 (never a stack trace);
/// an `ExitCode` thrown by the command is the exit status.
public enum ToolMain {
    /// Parses the arguments, runs the command and exits.
    public static func run<Command: AsyncParsableCommand>(_ command: Command.Type) async -> Never {
        let name = Command.configuration.commandName ?? "\(Command.self)"
        do {
            var parsed = try Command.parseAsRoot()
            if var asyncCommand = parsed as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try parsed.run()
            }
            exit(0)
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch {
            let status = Command.exitCode(for: error)
            if status == .success {
                // --help, or a help subcommand.
                Output.standardOutput.write(usageFirst(Command.fullMessage(for: error)) + "\n")
                exit(0)
            }
            let message = Command.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            Output.standardError.write("\(name): \(message)\n")
            exit(status == .validationFailure ? 1 : status.rawValue)
        }
    }
}

/// The originals' help starts with the usage line: move ArgumentParser's `USAGE:` line
/// (and its continuation lines) to the top as `Usage: …`.
func usageFirst(_ help: String) -> String {
    var lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard let start = lines.firstIndex(where: { $0.hasPrefix("USAGE: ") }) else { return help }
    var end = start + 1
    while end < lines.count, lines[end].hasPrefix(" ") { end += 1 }
    var usage = lines[start..<end].map { $0.trimmingCharacters(in: " ") }.joined(separator: " ")
    usage = "Usage: " + usage.dropFirst("USAGE: ".count)
    lines.removeSubrange(start..<end)
    if start < lines.count, lines[start].isEmpty { lines.remove(at: start) }
    while lines.last?.isEmpty == true { lines.removeLast() }
    return ([usage, ""] + lines).joined(separator: "\n")
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}

/// An error a tool reports with one line and exit status 1.
public struct ToolError: Error, CustomStringConvertible, Sendable {
    /// The line printed after `tool: `.
    public var description: String

    /// Creates an error with the line to print.
    public init(_ description: String) {
        self.description = description
    }
}

/// Standard output or standard error, written with `write(2)` under a lock so that lines
/// from several event loops never interleave.
public final class Output: Sendable {
    /// Standard output.
    public static let standardOutput = Output(descriptor: 1)
    /// Standard error.
    public static let standardError = Output(descriptor: 2)

    private let descriptor: Int32
    private let lock = NIOLockBox()

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// A file opened for appending (created if missing, mode 0644), such as an access log. It
    /// stays open for the life of the process.
    public convenience init(appendingTo path: String) throws {
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw ToolError(String(cString: strerror(errno))) }
        self.init(descriptor: descriptor)
    }

    /// Whether the descriptor is a terminal (for progress bars).
    public var isTerminal: Bool { isatty(descriptor) == 1 }

    /// Writes `text` whole.
    public func write(_ text: String) {
        var text = text
        lock.withLock {
            text.withUTF8 { writeAll($0) }
        }
    }

    /// Writes `bytes` whole.
    public func write(bytes: UnsafeRawBufferPointer) {
        lock.withLock { writeAll(bytes) }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let written = systemWrite(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }

    private func writeAll(_ bytes: UnsafeBufferPointer<UInt8>) {
        writeAll(UnsafeRawBufferPointer(bytes))
    }
}

private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
        Glibc.write(descriptor, bytes, count)
    #elseif canImport(Musl)
        Musl.write(descriptor, bytes, count)
    #else
        Darwin.write(descriptor, bytes, count)
    #endif
}
