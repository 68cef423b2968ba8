import Foundation
import NIOCore
import Testing

@testable import KubePod

/// A temporary folder per test: `root` stands for the pod's "/", `outside` is a sibling that
/// nothing the pod does may touch. Removed when the value goes away.
final class Sandbox {
    let base: String
    let root: String
    let outside: String

    init() throws {
        var template = Array(
            (NSTemporaryDirectory() as NSString).appendingPathComponent("kubepod-test-XXXXXX").utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let created else {
            throw PosixError.current
        }
        base = String(cString: created)
        root = base + "/root"
        outside = base + "/outside"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
    }

    deinit {
        // Make everything writable first: extracted read-only directories would stop removal.
        if let paths = FileManager.default.enumerator(atPath: base) {
            for case let path as String in paths {
                chmod(base + "/" + path, 0o755)
            }
        }
        try? FileManager.default.removeItem(atPath: base)
    }

    var commands: BuiltinCommands {
        BuiltinCommands(root: root)
    }

    /// Writes a file under the root (`path` is a pod path), creating its directories.
    func write(_ path: String, _ contents: [UInt8], mode: Int = 0o644) throws {
        let host = root + path
        try FileManager.default.createDirectory(
            atPath: (host as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        guard FileManager.default.createFile(atPath: host, contents: Data(contents)) else {
            throw PosixError(EIO)
        }
        chmod(host, mode_t(mode))
    }

    func write(_ path: String, _ text: String, mode: Int = 0o644) throws {
        try write(path, Array(text.utf8), mode: mode)
    }

    func mkdir(_ path: String, mode: Int = 0o755) throws {
        try FileManager.default.createDirectory(atPath: root + path, withIntermediateDirectories: true)
        chmod(root + path, mode_t(mode))
    }

    func symlink(_ path: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: root + path, withDestinationPath: target)
    }

    /// The contents of a host file, nil when it does not exist.
    func read(host path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { Array($0) }
    }

    func read(_ path: String) -> [UInt8]? {
        read(host: root + path)
    }

    /// lstat of a host path, nil when nothing is there.
    func info(host path: String) -> FileInfo? {
        try? Posix.lstat(path)
    }

    func exists(host path: String) -> Bool {
        info(host: path) != nil
    }

    /// Every path below `outside`, to check that nothing appeared there.
    func outsideContents() -> [String] {
        (try? FileManager.default.subpathsOfDirectory(atPath: outside))?.sorted() ?? []
    }
}

/// Collects what a command writes.
actor Collector {
    private(set) var bytes: [UInt8] = []
    private(set) var writes = 0
    private(set) var largestWrite = 0

    func append(_ buffer: ByteBuffer) {
        bytes += buffer.readableBytesView
        writes += 1
        largestWrite = max(largestWrite, buffer.readableBytes)
    }
}

/// Hands out stdin in chunks of a fixed size.
actor Feeder {
    private let data: [UInt8]
    private let chunkSize: Int
    private var offset = 0
    private(set) var chunksServed = 0

    init(_ data: [UInt8], chunkSize: Int) {
        self.data = data
        self.chunkSize = chunkSize
    }

    func next() -> ByteBuffer? {
        guard offset < data.count else {
            return nil
        }
        let end = min(offset + chunkSize, data.count)
        defer { offset = end }
        chunksServed += 1
        return ByteBuffer(bytes: data[offset..<end])
    }
}

struct CommandResult {
    var status: Int32
    var stdout: [UInt8]
    var stderr: [UInt8]
    var stdoutWrites: Int
    var largestStdoutWrite: Int

    var output: String {
        String(decoding: stdout, as: UTF8.self)
    }

    var errors: String {
        String(decoding: stderr, as: UTF8.self)
    }
}

/// Runs a built-in command with stdin given in chunks (nil: no stdin) and an optional TTY.
func run(
    _ argv: [String],
    in sandbox: Sandbox,
    stdin: [UInt8]? = nil,
    chunkSize: Int = 64 * 1024,
    terminal: (width: Int, height: Int)? = nil
) async -> CommandResult {
    await run(argv, commands: sandbox.commands, stdin: stdin, chunkSize: chunkSize, terminal: terminal)
}

func run(
    _ argv: [String],
    commands: BuiltinCommands,
    stdin: [UInt8]? = nil,
    chunkSize: Int = 64 * 1024,
    terminal: (width: Int, height: Int)? = nil
) async -> CommandResult {
    let stdout = Collector()
    let stderr = Collector()
    var readStdin: (@Sendable () async throws -> ByteBuffer?)?
    if let stdin {
        let feeder = Feeder(stdin, chunkSize: chunkSize)
        readStdin = { await feeder.next() }
    }
    let io = CommandIO(
        readStdin: readStdin,
        writeStdout: { await stdout.append($0) },
        writeStderr: { await stderr.append($0) },
        terminalSize: { terminal }
    )
    let status = await commands.run(argv, io: io)
    return CommandResult(
        status: status,
        stdout: await stdout.bytes,
        stderr: await stderr.bytes,
        stdoutWrites: await stdout.writes,
        largestStdoutWrite: await stdout.largestWrite
    )
}

/// Deterministic pseudo-random bytes.
func randomBytes(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
    var state = seed
    var bytes = [UInt8](repeating: 0, count: count)
    for index in 0..<count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        bytes[index] = UInt8(truncatingIfNeeded: state)
    }
    return bytes
}

/// Runs a host program (tests only: GNU tar for interoperability).
@discardableResult
func runHost(_ executable: String, _ arguments: [String], stdin: [UInt8]? = nil) throws -> (
    status: Int32, stdout: [UInt8], stderr: String
) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    let errors = Pipe()
    let input = Pipe()
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = stdin == nil ? FileHandle.nullDevice : input
    try process.run()
    if let stdin {
        Thread.detachNewThread {
            input.fileHandleForWriting.write(Data(stdin))
            try? input.fileHandleForWriting.close()
        }
    }
    // Read both pipes concurrently so that a full pipe does not block the process.
    let errorData = LockedData()
    let group = DispatchGroup()
    group.enter()
    Thread.detachNewThread {
        errorData.set(errors.fileHandleForReading.readDataToEndOfFile())
        group.leave()
    }
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return (process.terminationStatus, Array(outputData), String(decoding: errorData.get(), as: UTF8.self))
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func set(_ value: Data) {
        lock.lock()
        data = value
        lock.unlock()
    }

    func get() -> Data {
        lock.lock()
        defer { lock.unlock() }
        return data
    }
}

/// Builds archives by hand, for hostile and unusual inputs.
struct ArchiveBuilder {
    var bytes: [UInt8] = []

    mutating func entry(
        _ name: String,
        type: UInt8 = TarFormat.regular,
        contents: [UInt8] = [],
        mode: UInt32 = 0o644,
        linkName: String = "",
        size: Int64? = nil
    ) {
        bytes += TarHeader.encode(
            name: Array(name.utf8),
            mode: mode,
            size: size ?? Int64(contents.count),
            modificationTime: 1_700_000_000,
            typeFlag: type,
            linkName: Array(linkName.utf8)
        )
        bytes += contents
        pad()
    }

    mutating func file(_ name: String, _ text: String, mode: UInt32 = 0o644) {
        entry(name, contents: Array(text.utf8), mode: mode)
    }

    mutating func raw(_ block: [UInt8]) {
        bytes += block
    }

    mutating func pad() {
        let remainder = bytes.count % 512
        if remainder != 0 {
            bytes += [UInt8](repeating: 0, count: 512 - remainder)
        }
    }

    mutating func end() {
        bytes += [UInt8](repeating: 0, count: 1024)
    }
}

/// A header block with a correct checksum after `edit` changed it.
func headerBlock(_ name: String, size: Int64 = 0, edit: (inout [UInt8]) -> Void) -> [UInt8] {
    var block = TarHeader.encode(
        name: Array(name.utf8),
        mode: 0o644,
        size: size,
        modificationTime: 0,
        typeFlag: TarFormat.regular
    )
    edit(&block)
    for index in 148..<156 {
        block[index] = UInt8(ascii: " ")
    }
    let checksum = block.reduce(0) { $0 + Int($1) }
    let digits = Array(String(checksum, radix: 8).utf8)
    let field = [UInt8](repeating: UInt8(ascii: "0"), count: 6 - digits.count) + digits + [0, UInt8(ascii: " ")]
    block.replaceSubrange(148..<156, with: field)
    return block
}

// MARK: - Trees (TarTests, TarInteropTests)

/// What a file in a tree is, for comparing trees.
struct TreeEntry: Equatable, CustomStringConvertible {
    var kind: FileKind
    var permissions: UInt32
    var contents: [UInt8]?
    var linkTarget: String?

    var description: String {
        "\(kind) \(String(permissions, radix: 8)) \(contents?.count ?? -1) bytes \(linkTarget ?? "")"
    }
}

/// Every path below a host directory with its kind, mode, contents and link target.
func snapshot(_ hostPath: String) throws -> [String: TreeEntry] {
    var entries: [String: TreeEntry] = [:]
    var pending = try Posix.listDirectory(hostPath)
    while let path = pending.popLast() {
        let full = hostPath + "/" + path
        let info = try Posix.lstat(full)
        entries[path] = TreeEntry(
            kind: info.kind,
            permissions: info.permissions,
            contents: info.kind == .regular ? Array(FileManager.default.contents(atPath: full) ?? Data()) : nil,
            linkTarget: info.kind == .symlink ? try Posix.readlink(full) : nil
        )
        if info.kind == .directory {
            pending += try Posix.listDirectory(full).map { path + "/" + $0 }
        }
    }
    return entries
}

/// A tree with nested directories, a name over 100 bytes, a 1 MB file, an empty file,
/// assorted modes and a symbolic link, under the pod path `at`.
func makeSampleTree(in sandbox: Sandbox, at base: String) throws -> String {
    let longName = String(repeating: "long-file-name-", count: 9) + "end.txt"  // 141 bytes
    try sandbox.write(base + "/nested/deeper/deepest/file.txt", "deep\n", mode: 0o640)
    try sandbox.mkdir(base + "/nested/empty-dir", mode: 0o750)
    try sandbox.write(base + "/long/" + longName, "long name\n")
    try sandbox.write(
        base + "/" + String(repeating: "d", count: 60) + "/" + String(repeating: "e", count: 60) + "/f.txt",
        "long path\n"
    )
    try sandbox.write(base + "/big.bin", randomBytes(1_048_576, seed: 42), mode: 0o600)
    try sandbox.write(base + "/empty", [])
    try sandbox.write(base + "/script.sh", "#!/bin/sh\necho hi\n", mode: 0o755)
    try sandbox.symlink(base + "/link", to: "nested/deeper")
    chmod(sandbox.root + base + "/nested", 0o700)
    return longName
}
