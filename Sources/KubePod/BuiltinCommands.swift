import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The pod's commands, run over a scratch folder that stands for the pod's file system.
///
/// Every path a command touches, from its arguments or from a tar archive, is resolved inside
/// the root folder (see PodFileSystem); no command starts a host process.
public struct BuiltinCommands: Sendable {
    let fileSystem: PodFileSystem

    /// - Parameter root: the absolute host path standing for the pod's "/".
    public init(root: String) {
        self.fileSystem = PodFileSystem(root: root)
    }

    /// The commands it knows.
    public static let names: [String] = [
        "[", "cat", "echo", "env", "false", "ls", "mkdir", "pwd", "rm", "sh", "sleep", "stty", "tail", "tar",
        "test", "true",
    ]

    /// The fixed environment `env` prints.
    static let path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Runs one command; argv[0] may be a path (/bin/sh): its last component names the command.
    ///
    /// - Returns: the exit status: 127 for an unknown command, 2 for a usage error, 1 (2 for tar)
    ///   for other errors, 130 when the task was cancelled.
    public func run(_ argv: [String], io: CommandIO) async -> Int32 {
        guard let first = argv.first else {
            await io.error("exec: no command given")
            return 127
        }
        let arguments = Array(argv.dropFirst())
        do {
            switch Self.commandName(first) {
            case "echo": return try await echo(arguments, io: io)
            case "cat": return try await cat(arguments, io: io)
            case "sh": return try await Shell(commands: self).main(arguments, io: io)
            case "true": return 0
            case "false": return 1
            case "pwd": return try await pwd(arguments, io: io)
            case "ls": return try await ls(arguments, io: io)
            case "mkdir": return try await mkdir(arguments, io: io)
            case "rm": return try await rm(arguments, io: io)
            case "sleep": return try await sleep(arguments, io: io)
            case "stty": return try await stty(arguments, io: io)
            case "env": return try await env(arguments, io: io)
            case "test": return await test(arguments, name: "test", io: io)
            case "[": return await test(arguments, name: "[", io: io)
            case "tail": return try await tail(arguments, io: io)
            case "tar": return await TarCommand(fileSystem: fileSystem).run(arguments, io: io)
            default:
                await io.error("\(first): command not found")
                return 127
            }
        } catch is CancellationError {
            return 130
        } catch {
            // Writing to stdout failed (the client went away, or a pipe's reader ended).
            return 1
        }
    }

    /// "sh" for "/bin/sh".
    static func commandName(_ argv0: String) -> String {
        guard argv0.contains("/") else {
            return argv0
        }
        return argv0.split(separator: "/").last.map(String.init) ?? argv0
    }

    // MARK: - echo, pwd, env, sleep, stty

    /// `echo [-neE] args...`, as coreutils: -n drops the newline, -e interprets backslash escapes.
    func echo(_ arguments: [String], io: CommandIO) async throws -> Int32 {
        var newline = true
        var escapes = false
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            guard argument.count > 1, argument.hasPrefix("-"),
                argument.dropFirst().allSatisfy({ "neE".contains($0) })
            else {
                break
            }
            for flag in argument.dropFirst() {
                switch flag {
                case "n": newline = false
                case "e": escapes = true
                default: escapes = false
                }
            }
            index += 1
        }
        var text = arguments[index...].joined(separator: " ")
        if escapes {
            let (expanded, stop) = Self.expandEscapes(text)
            text = expanded
            if stop {
                newline = false
            }
        }
        if newline {
            text += "\n"
        }
        try await io.print(text)
        return 0
    }

    /// echo -e's escapes; `stop` is true after \c (no more output, no newline).
    static func expandEscapes(_ text: String) -> (text: String, stop: Bool) {
        var output: [UInt8] = []
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            guard byte == UInt8(ascii: "\\"), index < bytes.count else {
                output.append(byte)
                continue
            }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "a"): output.append(0x07)
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "v"): output.append(0x0B)
            case UInt8(ascii: "e"): output.append(0x1B)
            case UInt8(ascii: "\\"): output.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "c"): return (String(decoding: output, as: UTF8.self), true)
            case UInt8(ascii: "0"):
                var value: UInt32 = 0
                var digits = 0
                while digits < 3, index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(bytes[index]) {
                    value = value * 8 + UInt32(bytes[index] - UInt8(ascii: "0"))
                    index += 1
                    digits += 1
                }
                output.append(UInt8(truncatingIfNeeded: value))
            default:
                output.append(UInt8(ascii: "\\"))
                output.append(escape)
            }
        }
        return (String(decoding: output, as: UTF8.self), false)
    }

    func pwd(_ arguments: [String], io: CommandIO) async throws -> Int32 {
        try await io.print("/\n")
        return 0
    }

    /// `env`: prints the fixed environment; `env [-i] [NAME=VALUE]... COMMAND [ARGS]...` runs
    /// COMMAND (the assignments are accepted and dropped).
    func env(_ arguments: [String], io: CommandIO) async throws -> Int32 {
        var index = 0
        var assignments: [String] = []
        var clear = false
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "-i" || argument == "-" || argument == "--ignore-environment" {
                clear = true
            } else if argument == "--" {
                index += 1
                break
            } else if argument.hasPrefix("-") {
                await io.error("env: invalid option -- '\(argument.dropFirst())'")
                return 2
            } else if argument.contains("=") && !argument.hasPrefix("=") {
                assignments.append(argument)
            } else {
                break
            }
            index += 1
        }
        if index < arguments.count {
            return await run(Array(arguments[index...]), io: io)
        }
        var lines: [String] = clear ? [] : [Self.path]
        if !clear && io.terminalSize() != nil {
            lines.append("TERM=xterm")
        }
        lines += assignments
        try await io.print(lines.map { $0 + "\n" }.joined())
        return 0
    }

    /// `sleep NUMBER[smhd]...`: sleeps for the sum; "infinity" sleeps until cancelled.
    func sleep(_ arguments: [String], io: CommandIO) async throws -> Int32 {
        guard !arguments.isEmpty else {
            await io.error("sleep: missing operand")
            return 2
        }
        var total = 0.0
        for argument in arguments {
            guard let seconds = Self.parseDuration(argument) else {
                await io.error("sleep: invalid time interval '\(argument)'")
                return 2
            }
            total += seconds
        }
        var remaining = total
        while remaining > 0 {
            let step = min(remaining, 3600)
            try await Task.sleep(nanoseconds: UInt64(step * 1_000_000_000))
            if remaining.isFinite {
                remaining -= step
            }
        }
        return 0
    }

    static func parseDuration(_ text: String) -> Double? {
        var number = Substring(text)
        var multiplier = 1.0
        if let unit = number.last, "smhd".contains(unit) {
            number.removeLast()
            switch unit {
            case "m": multiplier = 60
            case "h": multiplier = 3600
            case "d": multiplier = 86400
            default: multiplier = 1
            }
        }
        if number == "inf" || number == "infinity" {
            return .infinity
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            let value = Double(number), value.isFinite, value >= 0
        else {
            return nil
        }
        return value * multiplier
    }

    /// `stty size` prints "ROWS COLUMNS"; other settings are accepted and ignored on a TTY.
    func stty(_ arguments: [String], io: CommandIO) async throws -> Int32 {
        guard let size = io.terminalSize() else {
            await io.error("stty: 'standard input': Inappropriate ioctl for device")
            return 1
        }
        if arguments == ["size"] {
            try await io.print("\(size.height) \(size.width)\n")
        } else if arguments.isEmpty || arguments == ["-a"] {
            try await io.print("speed 38400 baud; rows \(size.height); columns \(size.width); line = 0;\n")
        }
        return 0
    }
}
