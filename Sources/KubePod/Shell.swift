// `sh`: a tiny interpreter for one-line scripts of the pod's built-in commands.
//
// Supported: words with '...', "..." and backslash quoting, `;`, newlines, `&&`, `||`, pipelines
// with `|`, comments, and the `exit [N]` and `:` built-ins. Anything that would need
// expansion, redirection, globbing, subshells, variables or control flow is refused with
// "sh: unsupported script: ..." and status 2, rather than run wrongly.

import NIOCore

struct Shell {
    let commands: BuiltinCommands

    /// Why a script cannot be run.
    struct Unsupported: Error, Equatable {
        var reason: String
    }

    enum Token: Equatable {
        case word(String)
        case `operator`(String)
    }

    enum Connector: Equatable {
        case sequence
        case and
        case or
    }

    /// One pipeline of a script and how it hangs on the previous one's status.
    struct Item: Equatable {
        var connector: Connector
        /// The commands of the pipeline, each argv.
        var commands: [[String]]
    }

    /// Reserved words and constructs the interpreter does not have.
    static let unsupportedWords: Set<String> = [
        "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac", "function",
        "select", "time", "{", "}", "!", "[[", "]]", "cd", "export", "set", "unset", "read", "eval", "exec",
        "source", ".", "alias", "trap", "shift", "local", "return",
    ]

    /// The longest line the stdin loop keeps before discarding it.
    static let maximumLineLength = 64 * 1024

    // MARK: - Entry

    /// `sh -c SCRIPT [NAME [ARG]...]`, or `sh [-s] [-i]` reading commands from stdin.
    func main(_ arguments: [String], io: CommandIO) async throws -> Int32 {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" || argument == "-" {
                index += 1
                break
            }
            guard argument.hasPrefix("-") || argument.hasPrefix("+"), argument.count > 1 else {
                break
            }
            let flags = argument.dropFirst()
            guard flags.allSatisfy({ "ceisuxv".contains($0) }) else {
                await io.error("sh: illegal option \(argument)")
                return 2
            }
            if flags.contains("c") {
                guard index + 1 < arguments.count else {
                    await io.error("sh: -c requires an argument")
                    return 2
                }
                return await runScript(arguments[index + 1], io: io).status
            }
            index += 1
        }
        if index < arguments.count {
            await io.error("sh: unsupported script: cannot run the script file \(arguments[index])")
            return 2
        }
        return try await readLoop(io: io)
    }

    /// Runs a script; `exited` is true when it ran `exit`.
    func runScript(_ script: String, io: CommandIO, lastStatus: Int32 = 0) async -> (status: Int32, exited: Bool) {
        let items: [Item]
        do {
            items = try Self.parse(script)
        } catch {
            await io.error("sh: unsupported script: \(error.reason)")
            return (2, false)
        }
        var status = lastStatus
        for item in items {
            switch item.connector {
            case .and where status != 0: continue
            case .or where status == 0: continue
            default: break
            }
            let result = await runPipeline(item.commands, io: io, lastStatus: status)
            status = result.status
            if result.exited {
                return (status, true)
            }
        }
        return (status, false)
    }

    // MARK: - Parsing

    /// Splits a script into words and operators.
    static func tokenize(_ script: String) throws(Unsupported) -> [Token] {
        let characters = Array(script.unicodeScalars)
        var tokens: [Token] = []
        var word = String.UnicodeScalarView()
        var inWord = false
        var bracket = false
        var index = 0

        /// Whether "$" followed by this starts a parameter expansion or a substitution.
        func startsExpansion(_ next: Unicode.Scalar) -> Bool {
            next.properties.isAlphabetic || ("0"..."9").contains(next) || "_{(?#@*!$-".unicodeScalars.contains(next)
        }

        func flush() throws(Unsupported) {
            guard inWord else {
                return
            }
            let text = String(word)
            if bracket && text != "[" && text != "[[" {
                throw Unsupported(reason: "globbing")
            }
            tokens.append(.word(text))
            word = String.UnicodeScalarView()
            inWord = false
            bracket = false
        }

        while index < characters.count {
            let character = characters[index]
            let next: Unicode.Scalar? = index + 1 < characters.count ? characters[index + 1] : nil
            switch character {
            case " ", "\t", "\r":
                try flush()
                index += 1
            case "\n":
                try flush()
                if let last = tokens.last, case .word = last {
                    tokens.append(.operator(";"))
                }
                index += 1
            case "#" where !inWord:
                while index < characters.count && characters[index] != "\n" {
                    index += 1
                }
            case "'":
                inWord = true
                index += 1
                while index < characters.count && characters[index] != "'" {
                    word.append(characters[index])
                    index += 1
                }
                guard index < characters.count else {
                    throw Unsupported(reason: "unterminated quoted string")
                }
                index += 1
            case "\"":
                inWord = true
                index += 1
                while index < characters.count && characters[index] != "\"" {
                    let inner = characters[index]
                    if inner == "\\", index + 1 < characters.count,
                        "$`\"\\\n".unicodeScalars.contains(characters[index + 1])
                    {
                        if characters[index + 1] != "\n" {
                            word.append(characters[index + 1])
                        }
                        index += 2
                        continue
                    }
                    if inner == "`"
                        || (inner == "$" && index + 1 < characters.count && startsExpansion(characters[index + 1]))
                    {
                        throw Unsupported(reason: "expansion")
                    }
                    word.append(inner)
                    index += 1
                }
                guard index < characters.count else {
                    throw Unsupported(reason: "unterminated quoted string")
                }
                index += 1
            case "\\":
                if next == "\n" {
                    index += 2
                } else if let next {
                    inWord = true
                    word.append(next)
                    index += 2
                } else {
                    inWord = true
                    word.append(character)
                    index += 1
                }
            case "&":
                try flush()
                guard next == "&" else {
                    throw Unsupported(reason: "background jobs")
                }
                tokens.append(.operator("&&"))
                index += 2
            case "|":
                try flush()
                if next == "|" {
                    tokens.append(.operator("||"))
                    index += 2
                } else {
                    tokens.append(.operator("|"))
                    index += 1
                }
            case ";":
                try flush()
                guard next != ";" else {
                    throw Unsupported(reason: "case")
                }
                tokens.append(.operator(";"))
                index += 1
            case "$":
                if let next, startsExpansion(next) {
                    throw Unsupported(reason: "expansion")
                }
                inWord = true
                word.append(character)
                index += 1
            case "`":
                throw Unsupported(reason: "command substitution")
            case "<", ">":
                throw Unsupported(reason: "redirection")
            case "(", ")":
                throw Unsupported(reason: "subshells")
            case "*", "?":
                throw Unsupported(reason: "globbing")
            case "~" where !inWord:
                throw Unsupported(reason: "tilde expansion")
            case "[":
                bracket = true
                inWord = true
                word.append(character)
                index += 1
            default:
                inWord = true
                word.append(character)
                index += 1
            }
        }
        try flush()
        return tokens
    }

    /// Splits a script into pipelines joined by `;`, `&&` and `||`.
    static func parse(_ script: String) throws(Unsupported) -> [Item] {
        var items: [Item] = []
        var connector = Connector.sequence
        var pipeline: [[String]] = []
        var words: [String] = []
        for token in try tokenize(script) {
            switch token {
            case .word(let word):
                words.append(word)
            case .operator(let symbol):
                guard !words.isEmpty else {
                    throw Unsupported(reason: "syntax error near '\(symbol)'")
                }
                try validate(words)
                pipeline.append(words)
                words = []
                if symbol == "|" {
                    continue
                }
                items.append(Item(connector: connector, commands: pipeline))
                pipeline = []
                switch symbol {
                case "&&": connector = .and
                case "||": connector = .or
                default: connector = .sequence
                }
            }
        }
        if !words.isEmpty {
            try validate(words)
            pipeline.append(words)
            items.append(Item(connector: connector, commands: pipeline))
        } else if !pipeline.isEmpty || connector != .sequence {
            throw Unsupported(reason: "syntax error: unexpected end of script")
        }
        return items
    }

    private static func validate(_ words: [String]) throws(Unsupported) {
        let name = words[0]
        if unsupportedWords.contains(name) {
            throw Unsupported(reason: "'\(name)'")
        }
        if let equals = name.firstIndex(of: "="), equals != name.startIndex {
            throw Unsupported(reason: "variable assignment")
        }
    }

    // MARK: - Running

    /// Runs one command: `exit` and `:` here, everything else as a built-in command.
    private func runCommand(_ words: [String], io: CommandIO, lastStatus: Int32) async -> (status: Int32, exited: Bool)
    {
        switch words[0] {
        case "exit":
            guard words.count > 1 else {
                return (lastStatus, true)
            }
            guard let value = Int(words[1]), value >= 0 else {
                await io.error("sh: exit: Illegal number: \(words[1])")
                return (2, true)
            }
            return (Int32(value & 0xFF), true)
        case ":":
            return (0, false)
        default:
            return (await commands.run(words, io: io), false)
        }
    }

    /// Runs a pipeline, its commands side by side joined by bounded pipes; the status is the
    /// last command's. `exit` inside a pipeline of several commands ends only its own command.
    private func runPipeline(_ pipeline: [[String]], io: CommandIO, lastStatus: Int32) async -> (
        status: Int32, exited: Bool
    ) {
        if pipeline.count == 1 {
            return await runCommand(pipeline[0], io: io, lastStatus: lastStatus)
        }
        let pipes = (0..<(pipeline.count - 1)).map { _ in PipeChannel() }
        let last = pipeline.count - 1
        return await withTaskGroup(of: (Int, Int32).self) { group in
            for (position, words) in pipeline.enumerated() {
                var commandIO = io
                if position > 0 {
                    let input = pipes[position - 1]
                    commandIO.readStdin = { try await input.read() }
                }
                if position < last {
                    let output = pipes[position]
                    commandIO.writeStdout = { try await output.write($0) }
                }
                group.addTask {
                    let status = await runCommand(words, io: commandIO, lastStatus: lastStatus).status
                    if position > 0 {
                        await pipes[position - 1].closeReader()
                    }
                    if position < last {
                        await pipes[position].closeWriter()
                    }
                    return (position, status)
                }
            }
            var status: Int32 = 0
            for await (position, result) in group where position == last {
                status = result
            }
            return (status, false)
        }
    }

    // MARK: - Reading commands from stdin

    /// `sh` without -c: runs stdin line by line until end of input or `exit`.
    ///
    /// With a TTY (terminalSize() != nil) it also plays the terminal's part, as a pty would for
    /// a real shell: prints the "$ " prompt, echoes what is typed, takes CR as the end of a line,
    /// handles backspace, ^C, ^U and ^D, skips escape sequences (arrow keys), and turns "\n"
    /// into "\r\n" in what the commands print. The commands it runs get no stdin.
    func readLoop(io: CommandIO) async throws -> Int32 {
        let tty = io.terminalSize() != nil
        var commandIO = io
        commandIO.readStdin = nil
        if tty {
            let writeStdout = io.writeStdout
            let writeStderr = io.writeStderr
            commandIO.writeStdout = { try await writeStdout(Self.translateNewlines($0)) }
            commandIO.writeStderr = { try await writeStderr(Self.translateNewlines($0)) }
        }
        var status: Int32 = 0
        var line: [UInt8] = []
        var discarding = false
        var afterCarriageReturn = false
        var escape = 0  // 0: none, 1: after ESC, 2: inside a CSI sequence
        var echo = ByteBuffer()

        func flushEcho() async throws {
            if echo.readableBytes > 0 {
                let pending = echo
                echo.clear()
                try await io.writeStdout(pending)
            }
        }

        /// Runs the line; true when it ran `exit`.
        func runLine() async throws -> Bool {
            try await flushEcho()
            defer {
                line.removeAll(keepingCapacity: true)
                discarding = false
            }
            if discarding {
                await commandIO.error("sh: line too long")
                status = 2
                return false
            }
            if !tty && line.last == 0x0D {
                line.removeLast()
            }
            let result = await runScript(String(decoding: line, as: UTF8.self), io: commandIO, lastStatus: status)
            status = result.status
            return result.exited
        }

        if tty {
            echo.writeString("$ ")
        }
        try await flushEcho()
        while let chunk = try await io.nextStdinChunk() {
            for byte in chunk.readableBytesView {
                guard tty else {
                    if byte == 0x0A {
                        if try await runLine() {
                            return status
                        }
                    } else if line.count < Self.maximumLineLength {
                        line.append(byte)
                    } else {
                        discarding = true
                    }
                    continue
                }
                if escape == 1 {
                    escape = byte == UInt8(ascii: "[") || byte == UInt8(ascii: "O") ? 2 : 0
                    continue
                }
                if escape == 2 {
                    if (0x40...0x7E).contains(byte) {
                        escape = 0
                    }
                    continue
                }
                if byte == 0x0A && afterCarriageReturn {
                    afterCarriageReturn = false
                    continue
                }
                afterCarriageReturn = byte == 0x0D
                switch byte {
                case 0x0D, 0x0A:
                    echo.writeString("\r\n")
                    if try await runLine() {
                        return status
                    }
                    echo.writeString("$ ")
                case 0x7F, 0x08:
                    guard !line.isEmpty else {
                        break
                    }
                    // Drop one UTF-8 character: its continuation bytes, then its first byte.
                    while let last = line.last, last & 0xC0 == 0x80 {
                        line.removeLast()
                    }
                    if !line.isEmpty {
                        line.removeLast()
                    }
                    echo.writeString("\u{8} \u{8}")
                case 0x03:
                    echo.writeString("^C\r\n$ ")
                    line.removeAll(keepingCapacity: true)
                    discarding = false
                    status = 130
                case 0x04:
                    if line.isEmpty {
                        echo.writeString("exit\r\n")
                        try await flushEcho()
                        return status
                    }
                case 0x15:
                    let characters = String(decoding: line, as: UTF8.self).count
                    for _ in 0..<characters {
                        echo.writeString("\u{8} \u{8}")
                    }
                    line.removeAll(keepingCapacity: true)
                case 0x1B:
                    escape = 1
                default:
                    guard byte >= 0x20 || byte == 0x09 else {
                        break
                    }
                    if line.count < Self.maximumLineLength {
                        line.append(byte)
                        echo.writeInteger(byte)
                    } else {
                        discarding = true
                    }
                }
            }
            try await flushEcho()
        }
        if !tty && (!line.isEmpty || discarding) {
            _ = try await runLine()
        }
        return status
    }

    /// "\n" as "\r\n", as a terminal's output processing (ONLCR) does.
    static func translateNewlines(_ buffer: ByteBuffer) -> ByteBuffer {
        guard buffer.readableBytesView.contains(0x0A) else {
            return buffer
        }
        var translated = ByteBuffer()
        translated.reserveCapacity(buffer.readableBytes + 64)
        for byte in buffer.readableBytesView {
            if byte == 0x0A {
                translated.writeInteger(UInt8(0x0D))
            }
            translated.writeInteger(byte)
        }
        return translated
    }
}
