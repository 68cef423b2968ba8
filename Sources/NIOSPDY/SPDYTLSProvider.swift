import NIOCore
import NIOSSL

extension SPDYTLS {
    /// A TLS implementation for a ``SPDYServer`` in place of swift-nio-ssl, used through
    /// ``SPDYServer/Transport-swift.enum/custom(_:)``.
    ///
    /// The server calls ``makeServerContext(offeringHTTP1:)`` once, when it is created, and
    /// the context's ``ServerContext/addHandlers(to:)`` for every accepted connection. The
    /// handlers must fire `TLSUserEvent.handshakeCompleted(negotiatedProtocol:)` (NIOTLS) when
    /// the handshake completes, with the protocol they negotiated (`spdy/3.1`, `spdy/3`,
    /// `spdy/2`, `http/1.1`) or `nil`, as swift-nio-ssl does: the server picks the SPDY version
    /// from it, serves HTTP/1.1 for `http/1.1` (and for `nil`, when it serves HTTP/1.1) and
    /// closes a connection that negotiated anything else. The `NIOSPDYOpenSSL` module provides
    /// one on the system OpenSSL that offers NPN next to ALPN.
    public protocol ServerProvider: Sendable {
        /// Makes what secures every connection of one server (certificates, protocol
        /// lists, a TLS library context); a thrown error fails the server's creation.
        func makeServerContext() throws -> any ServerContext

        /// Makes the context for a server that serves HTTP/1.1 on the same port when
        /// `offeringHTTP1` is set: it offers `http/1.1` after the SPDY versions (by ALPN, and
        /// by NPN where the implementation has it) and may report it as the negotiated
        /// protocol. ``SPDYServer`` calls this one. The default ignores the flag and calls
        /// ``makeServerContext()``: such a provider's clients get HTTP/1.1 only when they
        /// negotiate no protocol at all.
        func makeServerContext(offeringHTTP1: Bool) throws -> any ServerContext
    }

    /// What adds TLS to the connections a ``SPDYServer`` accepts; made by a
    /// ``ServerProvider``.
    public protocol ServerContext: Sendable {
        /// Adds the TLS handler(s) to a newly accepted `channel`. It runs on the channel's
        /// event loop, so it can use `channel.pipeline.syncOperations`; the server adds its
        /// own handlers after them.
        func addHandlers(to channel: any Channel) throws
    }

    /// A TLS implementation for a ``SPDYClient`` in place of swift-nio-ssl, set in
    /// ``SPDYClient/Configuration-swift.struct/tlsProvider``.
    ///
    /// The client calls ``makeClientContext(configuration:)`` once, when it is created, and
    /// the context's ``ClientContext/addHandlers(to:for:)`` for every TLS connection. The
    /// handlers must fire `TLSUserEvent.handshakeCompleted(negotiatedProtocol:)` (NIOTLS)
    /// when the handshake completes, as swift-nio-ssl does, and report a failed handshake
    /// with `errorCaught`. A handler that offered NPN and finds that the handshake settled on
    /// TLS 1.3 (which has no NPN) without a protocol fires ``NoProtocolAtTLS13`` instead, and
    /// the client connects once more held to TLS 1.2.
    public protocol ClientProvider: Sendable {
        /// Makes what secures every connection of one client, following `configuration`'s
        /// TLS settings (``SPDYClient/Configuration-swift.struct/versions``,
        /// `verifyCertificates`, `trustRoots`, `clientIdentity`, `minimumTLSVersion`); a
        /// thrown error fails the client's creation.
        func makeClientContext(configuration: SPDYClient.Configuration) throws -> any ClientContext
    }

    /// What adds TLS to the connections of a ``SPDYClient``; made by a ``ClientProvider``.
    public protocol ClientContext: Sendable {
        /// Adds the TLS handler(s) for one connection attempt to `channel`. It runs on the
        /// channel's event loop, so it can use `channel.pipeline.syncOperations`; the client
        /// adds its own handlers after them.
        func addHandlers(to channel: any Channel, for attempt: ConnectionAttempt) throws
    }

    /// One client connection attempt, as a ``ClientContext`` sees it.
    public struct ConnectionAttempt: Sendable, Hashable {
        /// The name to send by SNI and to check the certificate against (an IP address
        /// takes no SNI and is checked as an address).
        public var serverName: String
        /// The connection's number, as in the client's observers (counted from 1; a second
        /// attempt keeps the number of the first).
        public var connectionNumber: Int
        /// The highest TLS version to offer: `nil` leaves it to the context; `.tlsv12` on the
        /// attempt that follows ``NoProtocolAtTLS13``.
        public var maximumTLSVersion: TLSVersion?

        /// Creates an attempt.
        public init(serverName: String, connectionNumber: Int, maximumTLSVersion: TLSVersion? = nil) {
            self.serverName = serverName
            self.connectionNumber = connectionNumber
            self.maximumTLSVersion = maximumTLSVersion
        }
    }

    /// The error a client TLS handler fires (and closes its connection with) when it offered
    /// NPN but the handshake settled on TLS 1.3, where NPN does not exist, and negotiated no
    /// protocol: the server may well speak SPDY over NPN at TLS 1.2, as SPDY-era servers do
    /// on a TLS 1.3-capable OpenSSL. ``SPDYClient/connect(host:port:tls:serverName:)``
    /// answers it by connecting once more with
    /// ``ConnectionAttempt/maximumTLSVersion`` `.tlsv12`.
    public struct NoProtocolAtTLS13: Error, Sendable, Hashable, CustomStringConvertible {
        /// Creates the error.
        public init() {}

        /// A one-line explanation.
        public var description: String {
            "the TLS 1.3 handshake negotiated no protocol (NPN needs TLS 1.2)"
        }
    }
}

extension SPDYTLS.ServerProvider {
    /// Calls ``makeServerContext()``: a provider that knows nothing of HTTP/1.1 keeps its
    /// protocol list.
    public func makeServerContext(offeringHTTP1: Bool) throws -> any SPDYTLS.ServerContext {
        try makeServerContext()
    }
}
