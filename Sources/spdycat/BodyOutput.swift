import Foundation
import NIOSPDY
import SPDYToolSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file `-O` saves a body in: named after the URI's last path component, created in the
/// current directory, never overwriting (`name.1`, `name.2`, … like wget).
final class OutputFile {
    let name: String
    private var descriptor: Int32

    private init(name: String, descriptor: Int32) {
        self.name = name
        self.descriptor = descriptor
    }

    /// The file name for a URI path: its last component, percent-decoded, with anything that
    /// could leave the current directory replaced; `index.html` for a path ending in '/'.
    static func fileName(for path: String) -> String {
        let withoutQuery = path.prefix { $0 != "?" }
        guard !withoutQuery.hasSuffix("/"), let last = withoutQuery.split(separator: "/").last else {
            return "index.html"
        }
        var name = (String(last).removingPercentEncoding ?? String(last))
            .map { $0 == "/" || $0 == "\\" || $0 == "\0" || $0.isNewline ? "_" : String($0) }
            .joined()
        while name.utf8.count > 200 { name.removeLast() }
        if name.isEmpty || name == "." || name == ".." { return "index.html" }
        return name
    }

    /// Creates the file for `url`, choosing the first free name.
    static func create(for url: SPDYURL) throws -> OutputFile {
        let base = fileName(for: url.path)
        var candidate = base
        var suffix = 0
        while true {
            let descriptor = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if descriptor >= 0 { return OutputFile(name: candidate, descriptor: descriptor) }
            guard errno == EEXIST, suffix < 10_000 else {
                throw ToolError("cannot create \(candidate): \(String(cString: strerror(errno)))")
            }
            suffix += 1
            candidate = "\(base).\(suffix)"
        }
    }

    /// Appends `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) {
        guard descriptor >= 0, let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            #if canImport(Glibc)
                let written = Glibc.write(descriptor, base + offset, bytes.count - offset)
            #elseif canImport(Musl)
                let written = Musl.write(descriptor, base + offset, bytes.count - offset)
            #else
                let written = Darwin.write(descriptor, base + offset, bytes.count - offset)
            #endif
            if written < 0 {
                if errno == EINTR { continue }
                Output.standardError.write("spdycat: cannot write \(name): \(String(cString: strerror(errno)))\n")
                close()
                return
            }
            offset += written
        }
    }

    /// Closes the file.
    func close() {
        guard descriptor >= 0 else { return }
        #if canImport(Glibc)
            _ = Glibc.close(descriptor)
        #elseif canImport(Musl)
            _ = Musl.close(descriptor)
        #else
            _ = Darwin.close(descriptor)
        #endif
        descriptor = -1
    }

    deinit { close() }
}

/// A download progress line on standard error, redrawn with `\r`: only when standard error is
/// a terminal, and only for a large body (a content-length of 1 MiB or more, or an unknown
/// length once more than 1 MiB has arrived).
final class ProgressBar {
    static let threshold = 1 << 20
    private let label: String
    private let total: Int?
    private var received = 0
    private var shown = false
    private var lastDraw: ContinuousClock.Instant?

    /// A progress bar, or `nil` when standard error is not a terminal.
    init?(label: String, total: Int?) {
        guard Output.standardError.isTerminal else { return nil }
        self.label = label
        self.total = total
    }

    /// Counts `count` more bytes received.
    func advance(by count: Int) {
        received += count
        if !shown {
            guard (total ?? 0) >= Self.threshold || received >= Self.threshold else { return }
            shown = true
        }
        let now = ContinuousClock.now
        if let lastDraw, lastDraw.duration(to: now) < .milliseconds(100) { return }
        lastDraw = now
        draw()
    }

    /// Draws the final state and ends the line.
    func finish() {
        guard shown else { return }
        draw()
        Output.standardError.write("\n")
        shown = false
    }

    private func draw() {
        var line = "\r\(label) "
        if let total, total > 0 {
            let percent = min(100, received * 100 / total)
            let width = 30
            let filled = percent * width / 100
            let bar =
                String(repeating: "=", count: filled) + (filled < width ? ">" : "")
                + String(repeating: " ", count: max(0, width - filled - 1))
            line += "[\(bar)] \(percent)% \(Self.size(received))/\(Self.size(total))"
        } else {
            line += Self.size(received)
        }
        Output.standardError.write(line + "\u{1B}[K")
    }

    private static func size(_ bytes: Int) -> String {
        if bytes >= 1 << 20 {
            let tenths = bytes * 10 / (1 << 20)
            return "\(tenths / 10).\(tenths % 10) MiB"
        }
        return "\(bytes / 1024) KiB"
    }
}
