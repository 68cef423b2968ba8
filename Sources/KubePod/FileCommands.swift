// cat, ls, mkdir, rm, test and tail over the pod's file system.

import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How much a command reads from a file at a time.
let fileChunkSize = 64 * 1024

/// Short options parsed GNU style: "-rf" is "-r -f", "--" ends them, "-" is an operand.
struct ShortOptions {
    var flags: Set<Character> = []
    var operands: [String] = []
    /// The first unknown option, if any.
    var invalid: String?

    init(_ arguments: [String], allowed: String, long: [String: Character] = [:]) {
        var endOfOptions = false
        for argument in arguments {
            if endOfOptions || argument == "-" || !argument.hasPrefix("-") {
                operands.append(argument)
            } else if argument == "--" {
                endOfOptions = true
            } else if argument.hasPrefix("--") {
                if let flag = long[String(argument.dropFirst(2))] {
                    flags.insert(flag)
                } else if invalid == nil {
                    invalid = "unrecognized option '\(argument)'"
                }
            } else {
                for flag in argument.dropFirst() {
                    if allowed.contains(flag) {
                        flags.insert(flag)
                    } else if invalid == nil {
                        invalid = "invalid option -- '\(flag)'"
                    }
                }
            }
        }
    }
}

extension BuiltinCommands {
    // MARK: - cat

    /// `cat [FILE]...`: no operand or "-" copies stdin to stdout chunk by chunk.
    func cat(_ arguments: [String], io: CommandIO) async throws -> Int32 {
        let options = ShortOptions(arguments, allowed: "u")
        if let invalid = options.invalid {
            await io.error("cat: \(invalid)")
            return 2
        }
        var status: Int32 = 0
        for operand in options.operands.isEmpty ? ["-"] : options.operands {
            if operand == "-" {
                while let chunk = try await io.nextStdinChunk() {
                    if chunk.readableBytes > 0 {
                        try await io.writeStdout(chunk)
                    }
                }
                continue
            }
            do {
                try await copyFile(operand, to: io.writeStdout)
            } catch let error as PosixError {
                await io.error("cat: \(operand): \(error.message)")
                status = 1
            }
        }
        return status
    }

    /// Writes a pod file to `output` in pieces of fileChunkSize.
    func copyFile(_ path: String, to output: @Sendable (ByteBuffer) async throws -> Void) async throws {
        let resolved = try fileSystem.resolve(path, followFinalSymlink: true)
        guard let info = resolved.info else {
            throw PosixError(ENOENT)
        }
        switch info.kind {
        case .directory: throw PosixError(EISDIR)
        case .regular: break
        default: throw PosixError(EACCES)  // devices, fifos, sockets: never opened
        }
        let file = try Posix.openForReading(resolved.hostPath)
        defer { file.close() }
        while true {
            try Task.checkCancellation()
            var chunk = ByteBufferAllocator().buffer(capacity: fileChunkSize)
            guard try file.read(into: &chunk, maximum: fileChunkSize) > 0 else {
                return
            }
            try await output(chunk)
        }
    }

    // MARK: - ls

    /// `ls [-1aAdl] [PATH]...`, one name a line.
    func ls(_ arguments: [String], io: CommandIO) async throws -> Int32 {
        let options = ShortOptions(arguments, allowed: "1aAdl", long: ["all": "a", "almost-all": "A"])
        if let invalid = options.invalid {
            await io.error("ls: \(invalid)")
            return 2
        }
        let long = options.flags.contains("l")
        let directoryItself = options.flags.contains("d")
        let operands = options.operands.isEmpty ? ["."] : options.operands
        var status: Int32 = 0
        var files: [(name: String, resolved: PodFileSystem.Resolved)] = []
        var directories: [(name: String, resolved: PodFileSystem.Resolved)] = []
        for operand in operands {
            do {
                // Like GNU ls, a symbolic link operand is listed as itself with -l or -d.
                let resolved = try fileSystem.resolve(operand, followFinalSymlink: !(long || directoryItself))
                guard let info = resolved.info else {
                    throw PosixError(ENOENT)
                }
                if info.kind == .directory && !directoryItself {
                    directories.append((operand, resolved))
                } else {
                    files.append((operand, resolved))
                }
            } catch let error as PosixError {
                await io.error("ls: cannot access '\(operand)': \(error.message)")
                status = 2
            }
        }
        var sections: [String] = []
        if !files.isEmpty {
            var text = ""
            for file in files.sorted(by: { $0.name < $1.name }) {
                text += formatEntry(name: file.name, hostPath: file.resolved.hostPath, long: long)
            }
            sections.append(text)
        }
        let showHeaders = operands.count > 1
        for directory in directories.sorted(by: { $0.name < $1.name }) {
            var text = showHeaders ? "\(directory.name):\n" : ""
            do {
                var names = try Posix.listDirectory(directory.resolved.hostPath)
                if !options.flags.contains("a") && !options.flags.contains("A") {
                    names.removeAll { $0.hasPrefix(".") }
                }
                if options.flags.contains("a") {
                    names = [".", ".."] + names
                }
                for name in names {
                    let host =
                        name == "." || name == ".."
                        ? directory.resolved.hostPath : directory.resolved.hostPath + "/" + name
                    text += formatEntry(name: name, hostPath: host, long: long)
                }
            } catch {
                await io.error("ls: cannot open directory '\(directory.name)': \(error.message)")
                status = 2
                continue
            }
            sections.append(text)
        }
        try await io.print(sections.joined(separator: "\n"))
        return status
    }

    /// One line of ls: the name, or with `long` the mode, size, date and name like ls -l.
    private func formatEntry(name: String, hostPath: String, long: Bool) -> String {
        guard long else {
            return name + "\n"
        }
        guard let info = try? Posix.lstat(hostPath) else {
            return "?????????? ? ? ? ? ? \(name)\n"
        }
        let type: Character
        switch info.kind {
        case .directory: type = "d"
        case .symlink: type = "l"
        case .regular: type = "-"
        case .other: type = "?"
        }
        var mode = String(type)
        let letters: [Character] = ["r", "w", "x"]
        for bit in 0..<9 {
            mode.append(info.permissions & (0o400 >> UInt32(bit)) != 0 ? letters[bit % 3] : "-")
        }
        var line = "\(mode) 1 root root \(info.size) \(Self.formatDate(info.modificationTime)) \(name)"
        if info.kind == .symlink, let target = try? Posix.readlink(hostPath) {
            line += " -> \(target)"
        }
        return line + "\n"
    }

    /// "Jan  2 15:04" (UTC), or "Jan  2  2006" when more than six months from now.
    static func formatDate(_ seconds: Int64) -> String {
        var timestamp = time_t(seconds)
        var parts = tm()
        gmtime_r(&timestamp, &parts)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let month = months[Int(parts.tm_mon) % 12]
        let day = parts.tm_mday < 10 ? " \(parts.tm_mday)" : "\(parts.tm_mday)"
        let now = Int64(time(nil))
        if abs(now - seconds) > 183 * 86400 {
            return "\(month) \(day)  \(parts.tm_year + 1900)"
        }
        func twoDigits(_ value: Int32) -> String {
            value < 10 ? "0\(value)" : "\(value)"
        }
        return "\(month) \(day) \(twoDigits(parts.tm_hour)):\(twoDigits(parts.tm_min))"
    }

    // MARK: - mkdir

    /// `mkdir [-p] [-m MODE] DIRECTORY...`
    func mkdir(_ arguments: [String], io: CommandIO) async throws -> Int32 {
        var remaining = arguments
        var permissions: UInt32 = 0o755
        if let index = remaining.firstIndex(where: { $0 == "-m" || ($0.hasPrefix("-m") && $0.count > 2) }) {
            let value: String
            if remaining[index] == "-m" {
                guard index + 1 < remaining.count else {
                    await io.error("mkdir: option requires an argument -- 'm'")
                    return 2
                }
                value = remaining[index + 1]
                remaining.removeSubrange(index...(index + 1))
            } else {
                value = String(remaining[index].dropFirst(2))
                remaining.remove(at: index)
            }
            guard let mode = UInt32(value, radix: 8), mode <= 0o7777 else {
                await io.error("mkdir: invalid mode '\(value)'")
                return 2
            }
            permissions = mode
        }
        let options = ShortOptions(remaining, allowed: "pv", long: ["parents": "p"])
        if let invalid = options.invalid {
            await io.error("mkdir: \(invalid)")
            return 2
        }
        guard !options.operands.isEmpty else {
            await io.error("mkdir: missing operand")
            return 2
        }
        var status: Int32 = 0
        for operand in options.operands {
            do {
                if options.flags.contains("p") {
                    let resolved = try fileSystem.resolve(operand, followFinalSymlink: true, createDirectories: true)
                    guard resolved.info?.kind == .directory else {
                        throw PosixError(EEXIST)
                    }
                } else {
                    let resolved = try fileSystem.resolve(operand, followFinalSymlink: false)
                    guard resolved.info == nil else {
                        throw PosixError(EEXIST)
                    }
                    try Posix.mkdir(resolved.hostPath, permissions: permissions)
                }
            } catch let error as PosixError {
                await io.error("mkdir: cannot create directory '\(operand)': \(error.message)")
                status = 1
            }
        }
        return status
    }

    // MARK: - rm

    /// `rm [-r] [-f] [-d] PATH...`; never removes the pod's "/" and never follows a link.
    func rm(_ arguments: [String], io: CommandIO) async throws -> Int32 {
        let options = ShortOptions(
            arguments,
            allowed: "rRfdv",
            long: ["recursive": "r", "force": "f", "dir": "d"]
        )
        if let invalid = options.invalid {
            await io.error("rm: \(invalid)")
            return 2
        }
        let recursive = options.flags.contains("r") || options.flags.contains("R")
        let force = options.flags.contains("f")
        guard !options.operands.isEmpty || force else {
            await io.error("rm: missing operand")
            return 2
        }
        var status: Int32 = 0
        for operand in options.operands {
            if let last = PodFileSystem.split(operand).last, last == "." || last == ".." {
                await io.error("rm: refusing to remove '.' or '..' directory: skipping '\(operand)'")
                status = 1
                continue
            }
            do {
                let resolved = try fileSystem.resolve(operand, followFinalSymlink: false)
                guard let info = resolved.info else {
                    throw PosixError(ENOENT)
                }
                if resolved.components.isEmpty {
                    if recursive {
                        await io.error("rm: it is dangerous to operate recursively on '/'")
                        await io.error("rm: use --no-preserve-root to override this failsafe")
                    } else {
                        await io.error("rm: cannot remove '\(operand)': Is a directory")
                    }
                    status = 1
                    continue
                }
                if info.kind == .directory {
                    if recursive {
                        if !(await removeTree(resolved.hostPath, shownAs: operand, io: io)) {
                            status = 1
                        }
                    } else if options.flags.contains("d") {
                        try Posix.rmdir(resolved.hostPath)
                    } else {
                        throw PosixError(EISDIR)
                    }
                } else {
                    try Posix.unlink(resolved.hostPath)
                }
            } catch let error as PosixError {
                if force && error.code == ENOENT {
                    continue
                }
                await io.error("rm: cannot remove '\(operand)': \(error.message)")
                status = 1
            }
        }
        return status
    }

    /// Removes a directory and everything below it, depth first, without following links.
    /// Returns false (after printing why) when something could not be removed.
    private func removeTree(_ hostPath: String, shownAs shown: String, io: CommandIO) async -> Bool {
        // (host path, shown path, children already pushed)
        var stack: [(String, String, Bool)] = [(hostPath, shown, false)]
        var succeeded = true
        while let (path, name, expanded) = stack.popLast() {
            do throws(PosixError) {
                if expanded {
                    try Posix.rmdir(path)
                    continue
                }
                let info = try Posix.lstat(path)
                guard info.kind == .directory else {
                    try Posix.unlink(path)
                    continue
                }
                stack.append((path, name, true))
                for child in try Posix.listDirectory(path).reversed() {
                    stack.append((path + "/" + child, name + "/" + child, false))
                }
            } catch {
                await io.error("rm: cannot remove '\(name)': \(error.message)")
                succeeded = false
            }
        }
        return succeeded
    }

    // MARK: - test, [

    /// `test EXPRESSION` and `[ EXPRESSION ]` with -d -e -f -L -h -s -r -w -x -n -z, = != and
    /// the integer comparisons, and "!": 0 true, 1 false, 2 for a malformed expression.
    func test(_ arguments: [String], name: String, io: CommandIO) async -> Int32 {
        var expression = arguments
        if name == "[" {
            guard expression.last == "]" else {
                await io.error("[: missing ']'")
                return 2
            }
            expression.removeLast()
        }
        var negate = false
        if expression.count > 1 && expression.first == "!" && expression.count != 3 {
            negate = true
            expression.removeFirst()
        }
        let result: Bool
        switch expression.count {
        case 0:
            result = false
        case 1:
            result = !expression[0].isEmpty
        case 2:
            guard let value = unaryTest(expression[0], expression[1]) else {
                await io.error("\(name): \(expression[0]): unary operator expected")
                return 2
            }
            result = value
        case 3:
            if expression[0] == "!" {
                guard let value = unaryTest(expression[1], expression[2]) else {
                    await io.error("\(name): \(expression[1]): unary operator expected")
                    return 2
                }
                result = !value
            } else {
                guard let value = binaryTest(expression[0], expression[1], expression[2]) else {
                    await io.error("\(name): \(expression[1]): binary operator expected")
                    return 2
                }
                result = value
            }
        default:
            await io.error("\(name): too many arguments")
            return 2
        }
        return result != negate ? 0 : 1
    }

    private func unaryTest(_ operation: String, _ operand: String) -> Bool? {
        switch operation {
        case "-n": return !operand.isEmpty
        case "-z": return operand.isEmpty
        case "-L", "-h":
            return (try? fileSystem.resolve(operand, followFinalSymlink: false))?.info?.kind == .symlink
        case "-d", "-e", "-f", "-s", "-r", "-w", "-x":
            guard let info = (try? fileSystem.resolve(operand, followFinalSymlink: true))?.info else {
                return false
            }
            switch operation {
            case "-d": return info.kind == .directory
            case "-f": return info.kind == .regular
            case "-s": return info.size > 0
            case "-x": return info.kind == .directory || info.permissions & 0o111 != 0
            default: return true
            }
        default:
            return nil
        }
    }

    private func binaryTest(_ left: String, _ operation: String, _ right: String) -> Bool? {
        switch operation {
        case "=", "==": return left == right
        case "!=": return left != right
        case "-eq", "-ne", "-lt", "-le", "-gt", "-ge":
            guard let a = Int64(left), let b = Int64(right) else {
                return nil
            }
            switch operation {
            case "-eq": return a == b
            case "-ne": return a != b
            case "-lt": return a < b
            case "-le": return a <= b
            case "-gt": return a > b
            default: return a >= b
            }
        default:
            return nil
        }
    }

    // MARK: - tail

    /// `tail -c [+]N [FILE]`: from byte N on (+N, as `kubectl cp --retries` uses it), or the
    /// last N bytes.
    func tail(_ arguments: [String], io: CommandIO) async throws -> Int32 {
        var count: String?
        var operands: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "-c" || argument == "--bytes" {
                guard index + 1 < arguments.count else {
                    await io.error("tail: option requires an argument -- 'c'")
                    return 2
                }
                count = arguments[index + 1]
                index += 2
                continue
            }
            if argument.hasPrefix("-c") {
                count = String(argument.dropFirst(2))
            } else if argument.hasPrefix("--bytes=") {
                count = String(argument.dropFirst("--bytes=".count))
            } else if argument.hasPrefix("-") && argument != "-" {
                await io.error("tail: unsupported option '\(argument)' (only -c is supported)")
                return 2
            } else {
                operands.append(argument)
            }
            index += 1
        }
        guard let count, let parsed = Int64(count.hasPrefix("+") ? String(count.dropFirst()) : count), parsed >= 0
        else {
            await io.error("tail: invalid number of bytes: '\(count ?? "")'")
            return 2
        }
        guard operands.count <= 1 else {
            await io.error("tail: only one file is supported")
            return 2
        }
        let fromStart = count.hasPrefix("+")
        let chunks = ChunkSource(commands: self, operand: operands.first ?? "-", io: io)
        if fromStart {
            var skip = max(parsed - 1, 0)
            while var chunk = try await chunks.next() {
                if skip > 0 {
                    let dropped = Int(min(Int64(chunk.readableBytes), skip))
                    chunk.moveReaderIndex(forwardBy: dropped)
                    skip -= Int64(dropped)
                }
                if chunk.readableBytes > 0 {
                    try await io.writeStdout(chunk)
                }
            }
        } else {
            var kept = CircularBuffer<ByteBuffer>()
            var keptBytes: Int64 = 0
            while let chunk = try await chunks.next() {
                kept.append(chunk)
                keptBytes += Int64(chunk.readableBytes)
                while var first = kept.first, keptBytes - Int64(first.readableBytes) >= parsed {
                    keptBytes -= Int64(first.readableBytes)
                    kept.removeFirst()
                    first.clear()
                }
            }
            if var first = kept.first, keptBytes > parsed {
                kept.removeFirst()
                first.moveReaderIndex(forwardBy: Int(keptBytes - parsed))
                kept.prepend(first)
            }
            for chunk in kept where chunk.readableBytes > 0 {
                try await io.writeStdout(chunk)
            }
        }
        return chunks.failed ? 1 : 0
    }
}

/// The chunks of stdin ("-") or of a pod file, for tail.
private final class ChunkSource {
    let commands: BuiltinCommands
    let operand: String
    let io: CommandIO
    private var file: FileDescriptor?
    private var opened = false
    private(set) var failed = false

    init(commands: BuiltinCommands, operand: String, io: CommandIO) {
        self.commands = commands
        self.operand = operand
        self.io = io
    }

    deinit {
        file?.close()
    }

    func next() async throws -> ByteBuffer? {
        if operand == "-" {
            return try await io.nextStdinChunk()
        }
        if !opened {
            opened = true
            do {
                let resolved = try commands.fileSystem.resolve(operand, followFinalSymlink: true)
                guard resolved.info?.kind == .regular else {
                    throw PosixError(resolved.info == nil ? ENOENT : EISDIR)
                }
                file = try Posix.openForReading(resolved.hostPath)
            } catch let error as PosixError {
                await io.error("tail: cannot open '\(operand)' for reading: \(error.message)")
                failed = true
            }
        }
        guard let file else {
            return nil
        }
        try Task.checkCancellation()
        var chunk = ByteBufferAllocator().buffer(capacity: fileChunkSize)
        return try file.read(into: &chunk, maximum: fileChunkSize) > 0 ? chunk : nil
    }
}
