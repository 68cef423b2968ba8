/// Protocol-wide numbers of SPDY.
public enum SPDYProtocol {
    /// The size of every frame header, control or DATA: 8 bytes.
    public static let frameHeaderSize = 8
    /// The largest payload a frame can carry: 2^24−1 bytes.
    public static let maxFramePayloadSize = 0xff_ffff
    /// The flow-control window every stream (and a SPDY/3.1 session) starts with: 65536.
    public static let defaultInitialWindowSize = 65536
    /// The largest flow-control window: 2^31−1.
    public static let maxWindowSize = 0x7fff_ffff
    /// The DATA payload size the reference implementation writes: 4096 bytes.
    public static let defaultDataPayloadSize = 4096
    /// The default value of `MAX_CONCURRENT_STREAMS` when the peer has not sent one: 2^31−1.
    public static let defaultMaxConcurrentStreams = 0x7fff_ffff
}
