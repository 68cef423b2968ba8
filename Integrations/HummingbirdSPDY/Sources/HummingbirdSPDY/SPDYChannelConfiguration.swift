import HummingbirdCore
import NIOCore
import NIOSPDY
import SPDY

/// Settings of a ``SPDYChannel``: which protocols a connection may speak, the limits of its
/// SPDY session and streams, and the timeouts.
public struct SPDYChannelConfiguration: Sendable {
    /// The SPDY versions offered, most preferred first. Over TLS they are offered by ALPN
    /// (`spdy/3.1`, `spdy/3`, `spdy/2`); over plain TCP a connection whose first bytes are a
    /// SPDY control frame of a version not listed here is closed. Default: all three.
    public var versions: [SPDYVersion]
    /// Whether HTTP/1.1 is served on the same port: offered as `http/1.1` by ALPN (and
    /// chosen for a TLS client that offers nothing), or recognised by the first bytes of a
    /// plain-TCP connection. Default `true`.
    public var acceptsHTTP1: Bool
    /// What a plain-TCP connection speaking version 3 frames gets: SPDY/3 and SPDY/3.1 have
    /// the same framing, so a plain-TCP server has to pick one. Default SPDY/3.1.
    public var plaintextSPDY3Version: SPDYVersion
    /// MAX_CONCURRENT_STREAMS announced to each SPDY client. Default 100.
    public var maxConcurrentStreams: UInt32
    /// A SPDY connection with no open streams and no traffic for this long gets GOAWAY and
    /// is closed; `nil` keeps it open. Default 5 minutes. (HTTP/1.1 connections follow
    /// `streamConfiguration.idleTimeout`, as with Hummingbird's `.http1()`.)
    public var idleTimeout: Duration?
    /// A connection that has not finished its TLS handshake (with ALPN), or sent its first
    /// two bytes on plain TCP, within this time is closed. Default 10 seconds.
    public var negotiationTimeout: Duration
    /// A frame the client has started must be complete within this time, else the
    /// connection gets GOAWAY PROTOCOL_ERROR and is closed (see
    /// `SPDYConnection.frameCompletionTimeout`); `nil` waits forever. Default 30 seconds.
    public var frameCompletionTimeout: Duration?
    /// A connection whose client does not read what we send for this long is closed (see
    /// `SPDYConnection.writeTimeout`); `nil` waits forever. Default 60 seconds.
    public var writeTimeout: Duration?
    /// Options and limits of each SPDY session (header block sizes, DATA frame size,
    /// queued frames). `manualDataConsumption` is always on: a stream's window is granted as
    /// the route reads its body, which is what keeps a large upload's memory bounded.
    public var session: SPDYSession.Configuration
    /// Watermarks and caps of the SPDY stream channels: what a stream may buffer each way.
    public var streams: SPDYConnection.StreamConfiguration
    /// Settings applied to every HTTP/1.1 connection and every SPDY stream, as for
    /// Hummingbird's `.http1()`: additional channel handlers (added after the HTTP codec,
    /// before the responder), the idle timeout and the HTTP/1.1 decoder's limits.
    public var streamConfiguration: HTTP1Channel.Configuration

    /// Creates a configuration.
    /// - Parameters:
    ///   - versions: SPDY versions offered, most preferred first.
    ///   - acceptsHTTP1: whether HTTP/1.1 is served on the same port.
    ///   - plaintextSPDY3Version: the version plain-TCP connections with version 3 frames speak.
    ///   - maxConcurrentStreams: MAX_CONCURRENT_STREAMS announced to SPDY clients.
    ///   - idleTimeout: how long a SPDY connection without streams and traffic stays open.
    ///   - negotiationTimeout: how long the TLS handshake (or the first two bytes) may take.
    ///   - frameCompletionTimeout: how long a started frame may take to complete.
    ///   - writeTimeout: how long writing may stay stuck.
    ///   - session: session options and limits.
    ///   - streams: stream channel watermarks and caps.
    ///   - streamConfiguration: settings of HTTP/1.1 connections and SPDY streams.
    public init(
        versions: [SPDYVersion] = SPDYVersion.negotiationPreference,
        acceptsHTTP1: Bool = true,
        plaintextSPDY3Version: SPDYVersion = .v3_1,
        maxConcurrentStreams: UInt32 = 100,
        idleTimeout: Duration? = .seconds(300),
        negotiationTimeout: Duration = .seconds(10),
        frameCompletionTimeout: Duration? = .seconds(30),
        writeTimeout: Duration? = .seconds(60),
        session: SPDYSession.Configuration = .init(),
        streams: SPDYConnection.StreamConfiguration = .init(),
        streamConfiguration: HTTP1Channel.Configuration = .init()
    ) {
        self.versions = versions
        self.acceptsHTTP1 = acceptsHTTP1
        self.plaintextSPDY3Version = plaintextSPDY3Version
        self.maxConcurrentStreams = maxConcurrentStreams
        self.idleTimeout = idleTimeout
        self.negotiationTimeout = negotiationTimeout
        self.frameCompletionTimeout = frameCompletionTimeout
        self.writeTimeout = writeTimeout
        self.session = session
        self.streams = streams
        self.streamConfiguration = streamConfiguration
    }

    /// The ALPN protocol names offered: the SPDY versions, then `http/1.1` when accepted.
    public var applicationProtocols: [String] {
        SPDYTLS.protocolNames(versions, offeringHTTP1: acceptsHTTP1)
    }
}
