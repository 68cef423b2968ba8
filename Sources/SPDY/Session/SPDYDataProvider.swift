import NIOCore

/// What a data provider's read function hands back (`read_cb`'s result).
public enum SPDYDataReadResult: Sendable {
    /// Bytes for the next DATA frame, at most the requested length. With
    /// `endOfData` set (the reference's `READ_EOF`), this is the last chunk:
    /// the frame carries FIN when the submission asked for it.
    case data(ByteBuffer, endOfData: Bool)
    /// No data now (`ERR_DEFERRED`): the DATA leaves the outbound queue until
    /// ``SPDYSession/resumeData(streamID:)`` puts it back.
    case deferred
}

/// The source of a stream's DATA frames (`DataProvider`).
///
/// The session calls ``read`` each time it can send a DATA frame on the stream,
/// asking for at most `length` bytes (the DATA payload size, bounded by the
/// flow-control windows). The function returns data, possibly with the end
/// of data, or defers. To fail, it throws: ``SPDYError/temporalCallbackFailure``
/// resets only this stream with RST_STREAM INTERNAL_ERROR; any other error ends
/// the session and comes out of ``SPDYSession/send()`` as
/// ``SPDYError/Code-swift.enum/callbackFailure``. Returning more than `length`
/// bytes is a callback failure too.
///
/// A provider is a value: the session keeps its own copy once it is submitted, and its
/// fields cannot be changed. Where the reference's application assigns a new `read_cb` to a
/// provider it already submitted, call ``SPDYSession/replaceDataProvider(streamID:with:)``.
public struct SPDYDataProvider {
    /// The read function: `(session, streamID, length) -> result`.
    public let read: (SPDYSession, SPDYStreamID, Int) throws -> SPDYDataReadResult
    /// Any object the application wants to keep with the provider (the reference's `source`).
    public let source: Any?

    /// Creates a data provider from a read function.
    public init(
        source: Any? = nil,
        read: @escaping (SPDYSession, SPDYStreamID, Int) throws -> SPDYDataReadResult
    ) {
        self.source = source
        self.read = read
    }

    /// A provider that sends the readable bytes of `buffer`, sliced into frames without copying.
    public static func buffer(_ buffer: ByteBuffer) -> SPDYDataProvider {
        var remaining = buffer
        return SPDYDataProvider(source: buffer) { _, _, length in
            let count = min(length, remaining.readableBytes)
            let slice = remaining.readSlice(length: count)!
            return .data(slice, endOfData: remaining.readableBytes == 0)
        }
    }

    /// A provider that sends the bytes of `string` as UTF-8.
    public static func string(_ string: String) -> SPDYDataProvider {
        .buffer(ByteBuffer(string: string))
    }
}
