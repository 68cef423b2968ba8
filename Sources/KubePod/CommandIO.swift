import NIOCore

/// What a built-in command reads and writes.
public struct CommandIO: Sendable {
    /// The next chunk of stdin, nil at end of input; nil when the command has no stdin.
    public var readStdin: (@Sendable () async throws -> ByteBuffer?)?
    public var writeStdout: @Sendable (ByteBuffer) async throws -> Void
    public var writeStderr: @Sendable (ByteBuffer) async throws -> Void
    /// The terminal size (width, height) last reported by the client, nil without a TTY.
    public var terminalSize: @Sendable () -> (width: Int, height: Int)?

    public init(
        readStdin: (@Sendable () async throws -> ByteBuffer?)?,
        writeStdout: @escaping @Sendable (ByteBuffer) async throws -> Void,
        writeStderr: @escaping @Sendable (ByteBuffer) async throws -> Void,
        terminalSize: @escaping @Sendable () -> (width: Int, height: Int)? = { nil }
    ) {
        self.readStdin = readStdin
        self.writeStdout = writeStdout
        self.writeStderr = writeStderr
        self.terminalSize = terminalSize
    }
}

extension CommandIO {
    /// Writes text to stdout.
    func print(_ text: String) async throws {
        try await writeStdout(ByteBuffer(string: text))
    }

    /// Writes one line to stderr, ignoring a failure (the client may be gone).
    func error(_ line: String) async {
        try? await writeStderr(ByteBuffer(string: line + "\n"))
    }

    /// The next stdin chunk; nil at end of input or when there is no stdin.
    func nextStdinChunk() async throws -> ByteBuffer? {
        guard let readStdin else {
            return nil
        }
        try Task.checkCancellation()
        return try await readStdin()
    }
}
