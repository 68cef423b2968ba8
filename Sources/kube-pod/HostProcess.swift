import Foundation
import KubePod
import NIOCore

/// A command run as a host process (only with `--allow-host-commands`), its stdin, stdout
/// and stderr joined to the streams.
enum HostProcess {
    static func run(_ argv: [String], directory: String, io: CommandIO) async -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { process in
            exited.continuation.yield(process.terminationStatus)
            exited.continuation.finish()
        }
        do {
            try process.run()
        } catch {
            try? await io.writeStderr(ByteBuffer(string: "\(argv[0]): \(error)\n"))
            return 127
        }
        let feeder = Task {
            defer { try? input.fileHandleForWriting.close() }
            guard let read = io.readStdin else { return }
            while let chunk = try? await read() {
                do {
                    try input.fileHandleForWriting.write(contentsOf: Data(chunk.readableBytesView))
                } catch {
                    return
                }
            }
        }
        async let copiedOut: Void = copy(output.fileHandleForReading, to: io.writeStdout)
        async let copiedErr: Void = copy(errors.fileHandleForReading, to: io.writeStderr)
        _ = await (copiedOut, copiedErr)
        var status: Int32 = 1
        for await code in exited.stream { status = code }
        feeder.cancel()
        return status
    }

    /// Copies a pipe to a writer, a chunk at a time: the reading thread waits for each chunk
    /// to be written, so a slow client holds the process back instead of filling memory.
    private static func copy(_ handle: FileHandle, to write: @escaping @Sendable (ByteBuffer) async throws -> Void)
        async
    {
        let chunks = AsyncStream<Data>.makeStream(bufferingPolicy: .bufferingOldest(1))
        let consumed = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                chunks.continuation.yield(data)
                consumed.wait()
            }
            chunks.continuation.finish()
        }
        for await data in chunks.stream {
            try? await write(ByteBuffer(bytes: data))
            consumed.signal()
        }
    }
}
