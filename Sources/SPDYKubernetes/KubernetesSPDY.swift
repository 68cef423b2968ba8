import NIOCore
import NIOSPDY
import SPDY

/// SPDY as Kubernetes speaks it: moby/spdystream on both ends (kubectl and client-go, the
/// kubelet and the API server), reached by an HTTP/1.1 upgrade to `SPDY/3.1`.
///
/// Despite the token, the frames are SPDY/3 (`80 03` in every control header), and neither
/// side keeps flow control: ``sessionConfiguration`` is a SPDY/3 session in
/// spdystream-compatible mode. Clients open every stream; the one header that matters is
/// `streamtype`.
public enum KubernetesSPDY {
    /// The token of the HTTP/1.1 `Upgrade` header.
    public static let upgradeToken = "SPDY/3.1"
    /// The protocol version of the frames.
    public static let frameVersion = SPDYVersion.v3

    /// The session options for a peer built on spdystream: no flow control, everything
    /// else the defaults.
    public static var sessionConfiguration: SPDYSession.Configuration {
        var configuration = SPDYSession.Configuration(spdystreamCompatible: true)
        configuration.manualDataConsumption = true
        return configuration
    }

    /// The names of the stream headers.
    public enum Header {
        /// What a stream carries: `error`, `stdin`, `stdout`, `stderr`, `resize`, `data`.
        public static let streamType = "streamtype"
        /// The pod's port a port-forward stream pair connects to.
        public static let port = "port"
        /// The number that pairs a port-forward stream pair.
        public static let requestID = "requestid"
    }

    /// The `streamtype` values.
    public enum StreamType: String, Sendable, Hashable, CaseIterable {
        /// The command's status (remotecommand) or a port-forward error.
        case error
        /// The command's standard input.
        case stdin
        /// The command's standard output.
        case stdout
        /// The command's standard error.
        case stderr
        /// Terminal size changes, as newline-separated JSON.
        case resize
        /// A port-forward connection's bytes.
        case data
    }
}
