import NIOCore

/// The pipe between two commands of a shell pipeline (`tar cf - /x | tail -c+1`): bounded, so a
/// fast writer waits for a slow reader instead of filling memory.
actor PipeChannel {
    /// Bytes buffered before a writer waits.
    static let capacity = 256 * 1024

    /// Writing after the reader ended, as EPIPE.
    struct BrokenPipe: Error {}

    private var chunks = CircularBuffer<ByteBuffer>()
    private var bufferedBytes = 0
    private var writerClosed = false
    private var readerClosed = false
    private var waitingReader: CheckedContinuation<ByteBuffer?, any Error>?
    private var waitingWriter: CheckedContinuation<Void, any Error>?

    /// Queues a chunk; waits while the pipe holds `capacity` bytes or more.
    func write(_ chunk: ByteBuffer) async throws {
        guard !readerClosed else {
            throw BrokenPipe()
        }
        guard chunk.readableBytes > 0 else {
            return
        }
        if let reader = waitingReader {
            waitingReader = nil
            reader.resume(returning: chunk)
            return
        }
        chunks.append(chunk)
        bufferedBytes += chunk.readableBytes
        guard bufferedBytes >= Self.capacity else {
            return
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                waitingWriter = continuation
            }
        } onCancel: {
            Task { await self.cancelWriter() }
        }
    }

    /// The next chunk; nil once the writer closed and everything was read.
    func read() async throws -> ByteBuffer? {
        if let chunk = chunks.popFirst() {
            bufferedBytes -= chunk.readableBytes
            if bufferedBytes < Self.capacity, let writer = waitingWriter {
                waitingWriter = nil
                writer.resume()
            }
            return chunk
        }
        if writerClosed || readerClosed {
            return nil
        }
        try Task.checkCancellation()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                waitingReader = continuation
            }
        } onCancel: {
            Task { await self.cancelReader() }
        }
    }

    /// The writer is done: the reader sees end of input after the buffered chunks.
    func closeWriter() {
        writerClosed = true
        if let reader = waitingReader {
            waitingReader = nil
            reader.resume(returning: nil)
        }
    }

    /// The reader is done: buffered chunks are dropped and the writer's next write fails.
    func closeReader() {
        readerClosed = true
        chunks.removeAll()
        bufferedBytes = 0
        if let writer = waitingWriter {
            waitingWriter = nil
            writer.resume(throwing: BrokenPipe())
        }
    }

    private func cancelWriter() {
        if let writer = waitingWriter {
            waitingWriter = nil
            writer.resume(throwing: CancellationError())
        }
    }

    private func cancelReader() {
        if let reader = waitingReader {
            waitingReader = nil
            reader.resume(throwing: CancellationError())
        }
    }
}
