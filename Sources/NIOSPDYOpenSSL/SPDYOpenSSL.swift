import NIOCore
import NIOSPDY
import NIOSSL
import SPDY

/// TLS on the system OpenSSL (`libssl-dev`) for ``SPDYServer`` and ``SPDYClient``: SPDY
/// versions are offered by ALPN *and* NPN, for peers of the SPDY era that know only NPN.
///
/// swift-nio-ssl, the default backend of `NIOSPDY`, speaks ALPN only. Spell it
/// `transport: .openSSL(identity, versions: …)` for a server and
/// `tlsProvider: .openSSL()` (or `.openSSL(.npnOnly)`) for a client. TLS versions and
/// cipher suites are those of ``SPDYTLS``: TLS 1.2 and later with ECDHE and AEAD suites
/// unless a lower minimum is given.
public enum SPDYOpenSSL {
    /// What a client offers in its ClientHello.
    public enum Negotiation: Sendable, Hashable {
        /// ALPN and NPN: ALPN servers get TLS 1.3; against a server that answers a TLS 1.3
        /// handshake with no protocol (one that speaks NPN only) the client connects once
        /// more at TLS 1.2 and negotiates by NPN (``SPDYTLS/NoProtocolAtTLS13``).
        case alpnAndNPN
        /// NPN only, as SPDY-era clients did; held to TLS 1.2, since NPN does not exist in
        /// TLS 1.3.
        case npnOnly
    }

    /// The server side: presents an identity and offers versions by ALPN and NPN.
    ///
    /// A ClientHello that offers NPN but no ALPN protocol of ours is held to TLS 1.2 for
    /// that connection (NPN does not exist in TLS 1.3); ALPN clients keep TLS 1.3.
    public struct ServerTLS: SPDYTLS.ServerProvider {
        /// The certificate chain and key presented.
        public var identity: SPDYTLS.Identity
        /// The versions offered, most preferred first.
        public var versions: [SPDYVersion]
        /// The lowest TLS version accepted (default 1.2).
        public var minimumTLSVersion: TLSVersion
        /// Whether `http/1.1` is offered after the versions (by ALPN and NPN), for a port
        /// that serves HTTP/1.1 too. Default `false`; ``SPDYServer`` asks for it itself when
        /// it serves HTTP/1.1 (``makeServerContext(offeringHTTP1:)``).
        public var offersHTTP1: Bool

        /// Creates the settings of a server.
        public init(
            identity: SPDYTLS.Identity,
            versions: [SPDYVersion] = SPDYVersion.negotiationPreference,
            minimumTLSVersion: TLSVersion = .tlsv12,
            offersHTTP1: Bool = false
        ) {
            self.identity = identity
            self.versions = versions
            self.minimumTLSVersion = minimumTLSVersion
            self.offersHTTP1 = offersHTTP1
        }

        /// Makes the server's `SSL_CTX`; throws ``SPDYTLS/OpenSSLError`` when OpenSSL
        /// refuses the identity.
        public func makeServerContext() throws -> any SPDYTLS.ServerContext {
            try makeServerContext(offeringHTTP1: offersHTTP1)
        }

        /// Makes the server's `SSL_CTX`, offering `http/1.1` after the versions when
        /// `offeringHTTP1` or ``offersHTTP1`` is set.
        public func makeServerContext(offeringHTTP1: Bool) throws -> any SPDYTLS.ServerContext {
            OpenSSLServerContext(
                context: try OpenSSLContext(
                    role: .server,
                    versions: versions,
                    offeringHTTP1: offeringHTTP1 || offersHTTP1,
                    minimumTLSVersion: minimumTLSVersion,
                    identity: identity,
                    verify: false,
                    trustRoots: nil
                )
            )
        }
    }

    /// The client side: offers the client configuration's versions by NPN (and ALPN), with
    /// its certificate checks, client identity and minimum TLS version.
    public struct ClientTLS: SPDYTLS.ClientProvider {
        /// What the ClientHello offers.
        public var negotiation: Negotiation
        /// Called during a handshake that negotiates by NPN with the connection's number,
        /// the protocols the server offered and the one we chose (`nil`: none of ours, and
        /// the handshake fails). It runs on the connection's event loop (spdycat's "NPN
        /// select next protocol" log).
        public var npnObserver: (@Sendable (_ connection: Int, _ offered: [String], _ selected: String?) -> Void)?

        /// Creates the settings of a client.
        public init(
            negotiation: Negotiation = .alpnAndNPN,
            npnObserver: (@Sendable (_ connection: Int, _ offered: [String], _ selected: String?) -> Void)? = nil
        ) {
            self.negotiation = negotiation
            self.npnObserver = npnObserver
        }

        /// Makes the client's `SSL_CTX` from `configuration`'s TLS settings; throws
        /// ``SPDYTLS/OpenSSLError`` when OpenSSL refuses them.
        public func makeClientContext(configuration: SPDYClient.Configuration) throws -> any SPDYTLS.ClientContext {
            OpenSSLClientContext(
                context: try OpenSSLContext(
                    role: .client(offerALPN: negotiation == .alpnAndNPN, offerNPN: true),
                    versions: configuration.versions,
                    minimumTLSVersion: configuration.minimumTLSVersion,
                    identity: configuration.clientIdentity,
                    verify: configuration.verifyCertificates,
                    trustRoots: try configuration.trustRoots?.map { try $0.toDERBytes() }
                ),
                npnObserver: npnObserver
            )
        }
    }
}

extension SPDYServer.Transport {
    /// TLS on the system OpenSSL offering `versions` by ALPN *and* NPN, for SPDY-era clients
    /// that know only NPN, accepting TLS `minimumTLSVersion` and later (default 1.2). See
    /// ``SPDYOpenSSL/ServerTLS``.
    public static func openSSL(
        _ identity: SPDYTLS.Identity,
        versions: [SPDYVersion] = SPDYVersion.negotiationPreference,
        minimumTLSVersion: TLSVersion = .tlsv12
    ) -> SPDYServer.Transport {
        .custom(SPDYOpenSSL.ServerTLS(identity: identity, versions: versions, minimumTLSVersion: minimumTLSVersion))
    }
}

extension SPDYTLS.ClientProvider where Self == SPDYOpenSSL.ClientTLS {
    /// The system OpenSSL offering ALPN and NPN (`.alpnAndNPN`, for servers that may know
    /// only NPN) or NPN only (`.npnOnly`), with an observer of NPN's offer and choice. See
    /// ``SPDYOpenSSL/ClientTLS``.
    public static func openSSL(
        _ negotiation: SPDYOpenSSL.Negotiation = .alpnAndNPN,
        npnObserver: (@Sendable (_ connection: Int, _ offered: [String], _ selected: String?) -> Void)? = nil
    ) -> SPDYOpenSSL.ClientTLS {
        SPDYOpenSSL.ClientTLS(negotiation: negotiation, npnObserver: npnObserver)
    }
}

extension SPDYTLS {
    /// A TLS error reported by the system OpenSSL backend.
    public struct OpenSSLError: Error, CustomStringConvertible, Sendable {
        /// What went wrong, with OpenSSL's reasons.
        public var description: String
    }
}

/// Adds an ``OpenSSLHandler`` of a server context to every accepted connection.
struct OpenSSLServerContext: SPDYTLS.ServerContext {
    let context: OpenSSLContext

    func addHandlers(to channel: any Channel) throws {
        try channel.pipeline.syncOperations.addHandler(OpenSSLHandler(context: context))
    }
}

/// Adds an ``OpenSSLHandler`` of a client context, with the NPN observer, to a connection.
struct OpenSSLClientContext: SPDYTLS.ClientContext {
    let context: OpenSSLContext
    let npnObserver: (@Sendable (_ connection: Int, _ offered: [String], _ selected: String?) -> Void)?

    func addHandlers(to channel: any Channel, for attempt: SPDYTLS.ConnectionAttempt) throws {
        let handler = OpenSSLHandler(
            context: context, serverName: attempt.serverName, maximumTLSVersion: attempt.maximumTLSVersion)
        if let npnObserver {
            let number = attempt.connectionNumber
            handler.npnObserver = { offered, selected in npnObserver(number, offered, selected) }
        }
        try channel.pipeline.syncOperations.addHandler(handler)
    }
}
