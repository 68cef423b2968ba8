import NIOCore
import NIOHTTP1
import SPDY

/// The settings of a server connection that serves SPDY and HTTP/1.1 on one port, for the
/// pipeline helpers (`configureAsyncSPDYServerPipeline`, `configureCommonSPDYServerPipeline`
/// and their HTTP-types twins): the hardening ``SPDYServer`` applies to its own connections,
/// with the same safe defaults.
public struct SPDYServerPipelineConfiguration: Sendable {
    /// The HTTP/1.1 side's limits.
    public struct HTTP1: Sendable, Hashable {
        /// The largest request head accepted, counting the names and values of its header
        /// fields (NIOHTTP1's decoder limit for the whole list and for one field); a larger
        /// one is answered 400 and the connection closed. Default 64 KiB, SPDY's default
        /// limit on an inflated header block.
        public var maxHeaderSize: Int
        /// How long a connection may wait for a request head: from its start, and from the
        /// end of the previous exchange, until the head has been parsed; then it is closed.
        /// This bounds a head dribbled a byte at a time (which keeps the idle timer alive) and
        /// an idle keep-alive connection. `nil` waits forever. Default 30 seconds.
        public var requestHeadTimeout: TimeAmount?

        /// Creates the limits.
        public init(maxHeaderSize: Int = 64 << 10, requestHeadTimeout: TimeAmount? = .seconds(30)) {
            self.maxHeaderSize = maxHeaderSize
            self.requestHeadTimeout = requestHeadTimeout
        }

        /// NIOHTTP1's decoder limits for ``maxHeaderSize``.
        var decoderLimits: NIOHTTPDecoderLimitConfiguration {
            var limits = NIOHTTPDecoderLimitConfiguration()
            limits.maxHeaderListSize = maxHeaderSize
            limits.maxHeaderFieldSize = maxHeaderSize
            return limits
        }
    }

    /// Session options and limits of SPDY connections
    /// (`SPDYSession.Configuration.manualDataConsumption` is always on:
    /// window follows what the streams read).
    public var session: SPDYSession.Configuration
    /// Watermarks and caps of the stream channels.
    public var streams: SPDYConnection.StreamConfiguration
    /// MAX_CONCURRENT_STREAMS announced in the first SETTINGS of a SPDY connection; `nil`
    /// sends no SETTINGS. Default 100.
    public var maxConcurrentStreams: UInt32?
    /// How long the TLS handshake (with ALPN) or, on plain TCP, the client's first two bytes
    /// may take; then the connection is closed. `nil` waits forever. Default 10 seconds.
    public var negotiationTimeout: TimeAmount?
    /// A connection with no traffic for this long is closed (SPDY: after GOAWAY). `nil`
    /// keeps it. Default 5 minutes.
    public var idleTimeout: TimeAmount?
    /// A SPDY frame the client has started must be complete within this time (see
    /// ``SPDYConnection/frameCompletionTimeout``). Default 30 seconds.
    public var frameCompletionTimeout: TimeAmount?
    /// A connection whose client does not read what we send for this long is closed (see
    /// ``SPDYConnection/writeTimeout``; on HTTP/1.1, the time the channel stays unwritable).
    /// Default 60 seconds.
    public var writeTimeout: TimeAmount?
    /// Finds a client that went silent while its streams are open (see ``SPDYKeepAlive``);
    /// `nil` (the default) relies on the idle and write timeouts.
    public var keepAlive: SPDYKeepAlive?
    /// The HTTP/1.1 side's limits.
    public var http1: HTTP1
    /// Where the SPDY connections' counters go (``SPDYMetrics`` with role `server`); `nil`
    /// (the default) counts nothing.
    public var metrics: SPDYMetrics?

    /// Creates a configuration.
    public init(
        session: SPDYSession.Configuration = .init(),
        streams: SPDYConnection.StreamConfiguration = .init(),
        maxConcurrentStreams: UInt32? = 100,
        negotiationTimeout: TimeAmount? = .seconds(10),
        idleTimeout: TimeAmount? = .minutes(5),
        frameCompletionTimeout: TimeAmount? = .seconds(30),
        writeTimeout: TimeAmount? = .seconds(60),
        http1: HTTP1 = .init(),
        metrics: SPDYMetrics? = nil
    ) {
        self.metrics = metrics
        self.session = session
        self.streams = streams
        self.maxConcurrentStreams = maxConcurrentStreams
        self.negotiationTimeout = negotiationTimeout
        self.idleTimeout = idleTimeout
        self.frameCompletionTimeout = frameCompletionTimeout
        self.writeTimeout = writeTimeout
        self.http1 = http1
    }

    /// The first SETTINGS of a SPDY connection.
    var initialSettings: [SPDYFrame.SettingsEntry] {
        maxConcurrentStreams.map { [.init(id: .maxConcurrentStreams, value: $0)] } ?? []
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Adds an HTTP/1.1 server's handlers with the hardening of `configuration`: the idle
    /// timer, NIOHTTP1's server pipeline (pipelining, error answers, the head-size limit) and
    /// the connection guard (request-head and write timeouts, half-closure).
    func addHardenedHTTP1ServerHandlers(_ configuration: SPDYServerPipelineConfiguration) throws {
        if let idle = configuration.idleTimeout {
            try addHandler(IdleStateHandler(allTimeout: idle))
        }
        try configureHTTPServerPipeline(
            withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: configuration.http1.decoderLimits
        )
        try addHandler(
            HTTP1ServerConnectionGuard(
                requestHeadTimeout: configuration.http1.requestHeadTimeout,
                writeTimeout: configuration.writeTimeout
            ))
    }
}
