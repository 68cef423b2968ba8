import Foundation
import NIOConcurrencyHelpers
import SPDYTestSupport

/// What a tool printed and how it exited.
struct ToolResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var stdoutBytes: Data
}

/// Runs the built command-line tools (spdycat, spdyd, spdyload) as child processes.
///
/// `swift test` builds the executables next to the test bundle (the test target depends
/// on them), so they are found in the directory of the running test binary.
enum ToolRunner {
    /// The directory holding the built products.
    static let productsDirectory: URL = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.pathComponents.count > 1 {
            url.deleteLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("spdycat").path) {
                return url
            }
        }
        return Bundle.main.bundleURL.deletingLastPathComponent()
    }()

    /// The path of a built tool; an absolute path (a system command such as
    /// `/usr/bin/openssl`) is taken as it is.
    static func path(of tool: String) -> String {
        tool.hasPrefix("/") ? tool : productsDirectory.appendingPathComponent(tool).path
    }

    /// Runs `tool` with `arguments` to completion (killed after `timeout` seconds), feeding
    /// `stdin` if given, in `directory` if given.
    /// ``run(_:_:stdin:directory:timeout:)`` for async tests: the blocking wait for the tool
    /// happens on a Dispatch thread, not on one of the few threads (one per core) that every
    /// async test shares. Two async tests blocking those at once stalled every other async
    /// test for as long as their tools ran, and timed-out connections followed.
    static func run(
        _ tool: String,
        _ arguments: [String],
        stdin: Data? = nil,
        directory: URL? = nil,
        timeout: TimeInterval = 60
    ) async throws -> ToolResult {
        try await offCooperativePool {
            try ToolRunner.runBlocking(tool, arguments, stdin: stdin, directory: directory, timeout: timeout)
        }
    }

    @available(*, noasync, message: "blocks a thread of the cooperative pool: use the async run")
    static func run(
        _ tool: String,
        _ arguments: [String],
        stdin: Data? = nil,
        directory: URL? = nil,
        timeout: TimeInterval = 60
    ) throws -> ToolResult {
        try runBlocking(tool, arguments, stdin: stdin, directory: directory, timeout: timeout)
    }

    private static func runBlocking(
        _ tool: String,
        _ arguments: [String],
        stdin: Data? = nil,
        directory: URL? = nil,
        timeout: TimeInterval = 60
    ) throws -> ToolResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path(of: tool))
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try? input.fileHandleForWriting.close()
        // Read both pipes concurrently so a chatty child never blocks on a full pipe.
        let outData = Locked(Data())
        let errData = Locked(Data())
        let group = DispatchGroup()
        group.enter()
        Thread.detachNewThread {
            outData.set(out.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
        group.enter()
        Thread.detachNewThread {
            errData.set(err.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        if process.isRunning {
            process.terminate()
        }
        process.waitUntilExit()
        group.wait()
        let stdoutData = outData.get()
        return ToolResult(
            status: process.terminationStatus,
            stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: errData.get(), as: UTF8.self),
            stdoutBytes: stdoutData
        )
    }

    /// Starts `tool` in the background; stop it with `terminate()` and `waitUntilExit()`.
    static func start(_ tool: String, _ arguments: [String], directory: URL? = nil) throws -> BackgroundTool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path(of: tool))
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return BackgroundTool(process: process, stdout: out, stderr: err)
    }
}

/// A tool running in the background (a server).
final class BackgroundTool: @unchecked Sendable {
    let process: Process
    private let stdoutPipe: Pipe
    private let stderrPipe: Pipe
    private let collected = Locked(Data())
    private let collectedErr = Locked(Data())
    private let group = DispatchGroup()

    init(process: Process, stdout: Pipe, stderr: Pipe) {
        self.process = process
        self.stdoutPipe = stdout
        self.stderrPipe = stderr
        drain(stdout, into: collected)
        drain(stderr, into: collectedErr)
    }

    /// Reads `pipe` on a background queue until it closes, appending what arrives.
    private func drain(_ pipe: Pipe, into sink: Locked<Data>) {
        group.enter()
        Thread.detachNewThread { [group] in
            while true {
                let chunk = pipe.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                sink.append(chunk)
            }
            group.leave()
        }
    }

    /// What it printed so far on standard output.
    var stdout: String { String(decoding: collected.get(), as: UTF8.self) }
    /// What it printed so far on standard error.
    var stderr: String { String(decoding: collectedErr.get(), as: UTF8.self) }

    /// ``waitForOutput(_:timeout:)`` for async tests: polls with `Task.sleep`, leaving the
    /// thread to other tests.
    func waitForOutput(_ text: String, timeout: TimeInterval = 30) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if stdout.contains(text) || stderr.contains(text) { return true }
            if !process.isRunning { return stdout.contains(text) || stderr.contains(text) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// ``stop(signal:timeout:)`` for async tests: the wait for the exit happens off the
    /// cooperative pool.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: TimeInterval = 30) async -> Int32 {
        (try? await offCooperativePool { self.stopBlocking(signal: signal, timeout: timeout) }) ?? -1
    }

    /// Sends SIGKILL without waiting for the exit (for a `defer` in an async test, which cannot
    /// wait); the process is reaped when it exits.
    func killNow() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Waits until standard output contains `text` (or `timeout` passes); returns whether it did.
    @available(*, noasync, message: "blocks a thread of the cooperative pool: use the async waitForOutput")
    func waitForOutput(_ text: String, timeout: TimeInterval = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if stdout.contains(text) || stderr.contains(text) { return true }
            if !process.isRunning { return stdout.contains(text) || stderr.contains(text) }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    /// Sends `signal` (SIGTERM by default) and waits for the exit; returns the status.
    @available(*, noasync, message: "blocks a thread of the cooperative pool: use the async stop")
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: TimeInterval = 30) -> Int32 {
        stopBlocking(signal: signal, timeout: timeout)
    }

    private func stopBlocking(signal: Int32, timeout: TimeInterval) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        group.wait()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// A value behind a lock.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func get() -> Value { lock.withLock { value } }
    func set(_ newValue: Value) { lock.withLock { value = newValue } }
}

extension Locked where Value == Data {
    func append(_ data: Data) { lock.withLock { value.append(data) } }
}

/// A memory field of /proc/PID/status (`VmRSS`, `VmHWM`, …) in KiB; `nil` when the process
/// is gone or the field is missing (Linux only). Tests measure a child process this way: the
/// test process's own memory moves with the suites running alongside.
func processStatusKiB(_ pid: Int32, _ field: String) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        return words.count > 1 ? Int(words[1]) : nil
    }
    return nil
}

/// Samples a process's VmRSS every 10 ms until ``stop()``, which returns the peak: the
/// highest sample or VmHWM, whichever is higher.
final class MemoryWatch: Sendable {
    let pid: Int32
    private let highest: NIOLockedValueBox<Int>
    private let sampler: Task<Void, Never>

    init(pid: Int32) {
        let highest = NIOLockedValueBox(0)
        self.pid = pid
        self.highest = highest
        sampler = Task {
            while !Task.isCancelled {
                if let rss = processStatusKiB(pid, "VmRSS") { highest.withLockedValue { $0 = max($0, rss) } }
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    func stop() async -> Int {
        sampler.cancel()
        await sampler.value
        let hwm = processStatusKiB(pid, "VmHWM") ?? 0
        return highest.withLockedValue { max($0, hwm) }
    }
}

/// Resets VmHWM of `pid` to its current RSS (Linux 4.0 and later); returns whether it could.
/// Without it VmHWM also holds what the process reached before the baseline was taken,
/// which only makes the check stricter.
func resetPeakResident(_ pid: Int32) -> Bool {
    let fd = open("/proc/\(pid)/clear_refs", O_WRONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return write(fd, "5", 1) == 1
}
