import HummingbirdCore
import NIOSPDY
import NIOSSL
import SPDY

extension HTTPServerBuilder {
    /// Serves the application over SPDY/3.1, SPDY/3, SPDY/2 and HTTP/1.1 on one TLS port,
    /// the protocol chosen by ALPN.
    ///
    /// ```swift
    /// let app = Application(
    ///     router: router,
    ///     server: try .spdy(tlsConfiguration: tlsConfiguration)
    /// )
    /// ```
    /// - Parameters:
    ///   - tlsConfiguration: the server's TLS settings; its `applicationProtocols` are
    ///     replaced by ``SPDYChannelConfiguration/applicationProtocols``.
    ///   - configuration: protocols, limits and timeouts.
    /// - Returns: the server builder.
    public static func spdy(
        tlsConfiguration: TLSConfiguration,
        configuration: SPDYChannelConfiguration = .init()
    ) throws -> HTTPServerBuilder {
        // The TLS context is made here, so that a bad certificate fails here rather than
        // when the server starts.
        let context = try SPDYChannel.makeSSLContext(tlsConfiguration, configuration: configuration)
        return .init { responder in
            SPDYChannel(transport: .tls(context), configuration: configuration, responder: responder)
        }
    }

    /// Serves the application over SPDY and HTTP/1.1 on one TLS port with a certificate
    /// chain and key (PEM files or `SPDYTLS.Identity.selfSigned()`), the TLS settings of
    /// `SPDYTLS.serverConfiguration`: TLS 1.2 and 1.3 with forward-secret AEAD suites, or
    /// down to `minimumTLSVersion` for clients of the SPDY era.
    ///
    /// ```swift
    /// let app = Application(
    ///     router: router,
    ///     server: try .spdy(identity: .selfSigned())
    /// )
    /// ```
    /// - Parameters:
    ///   - identity: the certificate chain and private key.
    ///   - minimumTLSVersion: the lowest TLS version accepted.
    ///   - configuration: protocols, limits and timeouts.
    /// - Returns: the server builder.
    public static func spdy(
        identity: SPDYTLS.Identity,
        minimumTLSVersion: TLSVersion = .tlsv12,
        configuration: SPDYChannelConfiguration = .init()
    ) throws -> HTTPServerBuilder {
        try .spdy(
            tlsConfiguration: SPDYTLS.serverConfiguration(
                identity: identity,
                versions: configuration.versions,
                minimumTLSVersion: minimumTLSVersion
            ),
            configuration: configuration
        )
    }

    /// Serves the application over SPDY and HTTP/1.1 on one plain-TCP port: a connection
    /// whose first bytes are a SPDY control frame speaks SPDY (version 3 frames as
    /// ``SPDYChannelConfiguration/plaintextSPDY3Version``), one that starts with an HTTP
    /// request line speaks HTTP/1.1. Without TLS there is no ALPN, so clients must know in
    /// advance that the server speaks SPDY (`spdycat --no-tls`).
    ///
    /// ```swift
    /// let app = Application(router: router, server: .plaintextSPDY())
    /// ```
    /// - Parameter configuration: protocols, limits and timeouts.
    /// - Returns: the server builder.
    public static func plaintextSPDY(configuration: SPDYChannelConfiguration = .init()) -> HTTPServerBuilder {
        .init { responder in
            SPDYChannel(plaintextConfiguration: configuration, responder: responder)
        }
    }
}
