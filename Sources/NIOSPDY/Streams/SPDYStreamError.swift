import SPDY

/// Why a ``SPDYStreamChannel`` closed before both sides finished, or why a write failed:
/// what its pipeline sees in `errorCaught` before `channelInactive`, and what failed
/// promises carry.
public enum SPDYStreamError: Error, Sendable, Hashable {
    /// The peer reset the stream with RST_STREAM and this status.
    case resetByPeer(SPDYStreamStatus)
    /// We reset the stream with this status: the peer broke the protocol on it (a frame
    /// that is not allowed, more DATA than the window), or the application asked.
    case resetLocally(SPDYStreamStatus)
    /// The peer sent GOAWAY with a last-good-stream-ID below this stream: it never
    /// processed the stream, so the request may be sent again on another connection.
    case refusedByGoAway(lastGoodStreamID: SPDYStreamID)
    /// The connection closed (or failed) while the stream was open.
    case connectionClosed
    /// A write would have queued more than the stream's outbound buffer limit
    /// (``SPDYConnection/StreamConfiguration/maxBufferedOutboundBytes``): the writer ignored
    /// the channel's writability.
    case outboundBufferFull(limit: Int)
    /// A write the stream's state does not allow: a DATA frame before the stream's first
    /// header block, anything after FIN, a SYN_STREAM on a stream that has one.
    case invalidWrite(String)
    /// The session refused to open the stream (no stream IDs left, GOAWAY sent or received,
    /// an invalid header block).
    case cannotOpen(String)

    /// Whether a request on the stream can be retried on a new connection because the peer
    /// promised it did no work on it (GOAWAY above it, or RST_STREAM REFUSED_STREAM).
    public var mayBeRetried: Bool {
        switch self {
        case .refusedByGoAway, .resetByPeer(.refusedStream): true
        default: false
        }
    }
}
