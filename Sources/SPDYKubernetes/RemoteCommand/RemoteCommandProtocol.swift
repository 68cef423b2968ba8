/// The versions of Kubernetes' remotecommand stream protocol (`kubectl exec` and `attach`)
/// over SPDY, named as in `X-Stream-Protocol-Version`.
public enum RemoteCommandProtocol: String, Sendable, Hashable, CaseIterable {
    /// v1: streams error, stdin, stdout, stderr; no reliable exit status.
    case v1 = "channel.k8s.io"
    /// v2: the error stream carries text on failure only.
    case v2 = "v2.channel.k8s.io"
    /// v3: adds the resize stream.
    case v3 = "v3.channel.k8s.io"
    /// v4: the error stream carries a JSON `Status`, with the exit code.
    case v4 = "v4.channel.k8s.io"

    /// What a server supports, most preferred first (as the kubelet: v4 to v1).
    public static let serverPreference: [RemoteCommandProtocol] = [.v4, .v3, .v2, .v1]
    /// What a client offers, most preferred first. kubectl also offers `v5.channel.k8s.io`,
    /// which over SPDY means v4; a server should not choose it.
    public static let clientOffer: [RemoteCommandProtocol] = [.v4, .v3, .v2, .v1]

    /// Whether the protocol has a resize stream.
    public var hasResize: Bool { self == .v3 || self == .v4 }
    /// Whether the error stream carries a JSON `Status` (with exit codes).
    public var hasStatus: Bool { self == .v4 }
}
