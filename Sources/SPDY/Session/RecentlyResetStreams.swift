/// The streams this session sent RST_STREAM for most recently, so that DATA the peer
/// had already sent when our RST_STREAM left is dropped quietly while DATA on any other
/// closed stream gets the stream error the drafts ask for.
///
/// Draft 3 §2.3.7 says DATA "after the stream is closed" gets `RST_STREAM PROTOCOL_ERROR`,
/// and §2.4.2 lets the sender of an RST_STREAM coalesce the further RST_STREAMs that
/// in-flight frames would cause. Such frames come within a round trip of the reset, so
/// only the last ``capacity`` resets are remembered: a fixed cost per session, however
/// many streams a peer makes us reset. A stream pushed out of the list by newer resets
/// just gets one more RST_STREAM for a late frame, bounded by the stream-error limit.
struct RecentlyResetStreams {
    /// How many resets are remembered.
    static let capacity = 64

    private var ids = [UInt32](repeating: 0, count: capacity)
    private var next = 0

    /// Remembers that an RST_STREAM for `id` was queued.
    mutating func insert(_ id: SPDYStreamID) {
        ids[next] = id.rawValue
        next = next == Self.capacity - 1 ? 0 : next + 1
    }

    /// Whether an RST_STREAM for `id` was among the last ``capacity`` queued.
    func contains(_ id: SPDYStreamID) -> Bool {
        // Stream 0 is never reset, so the empty slots match nothing.
        id != .zero && ids.contains(id.rawValue)
    }
}
