import NIOConcurrencyHelpers
import NIOCore
import NIOSPDY
import NIOSPDYOpenSSL
import NIOSSL
import SPDY
import Testing

/// TLS versions and cipher suites of the OpenSSL backend, and NPN against a server that
/// speaks NPN only on a TLS 1.3-capable OpenSSL (as the reference spdyd does on OpenSSL 3).
extension OpenSSLBackendTests {
    @Suite("OpenSSL backend: TLS versions, cipher suites, NPN held to TLS 1.2")
    struct OpenSSLTLSVersionTests {
        static let identity = try! SPDYTLS.Identity.selfSigned()

        func startServer(minimumTLSVersion: TLSVersion) throws -> SPDYServer {
            let server = try SPDYServer(
                configuration: .init(
                    host: "127.0.0.1", port: 0,
                    transport: .openSSL(Self.identity, minimumTLSVersion: minimumTLSVersion),
                    handshakeTimeout: .seconds(5), threads: 1)
            ) { request in .text("hello \(request.path)\n") }
            try server.start()
            return server
        }

        /// s_client at TLS 1.0 or 1.1 needs OpenSSL's security level 0 (SHA-1 in the handshake).
        static let legacyClient = ["-cipher", "DEFAULT@SECLEVEL=0"]

        @Test("By default the server refuses TLS 1.0, 1.1 and CBC suites; minimumTLSVersion .tlsv1 lets 1.0 and 1.1 in")
        func serverMinimum() async throws {
            let strict = try startServer(minimumTLSVersion: .tlsv12)
            for flag in ["-tls1", "-tls1_1"] {
                let output = try await OpenSSLCommand.sClient(
                    port: strict.port!, [flag, "-alpn", "spdy/3.1"] + Self.legacyClient)
                #expect(OpenSSLCommand.negotiated(output) == nil, "\(output)")
            }
            let cbc = try await OpenSSLCommand.sClient(
                port: strict.port!, ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA256"])
            #expect(OpenSSLCommand.negotiated(cbc) == nil, "\(cbc)")
            let modern = try await OpenSSLCommand.sClient(port: strict.port!, ["-tls1_2", "-alpn", "spdy/3.1"])
            let suite = try #require(OpenSSLCommand.negotiated(modern), "\(modern)")
            #expect(suite.version == "TLSv1.2")
            #expect(SPDYTLS.modernCipherSuites.contains(suite.cipher), "\(suite)")
            try await strict.shutdownGracefully(timeout: .seconds(5))

            let legacy = try startServer(minimumTLSVersion: .tlsv1)
            for (flag, version) in [("-tls1", "TLSv1"), ("-tls1_1", "TLSv1.1")] {
                let output = try await OpenSSLCommand.sClient(
                    port: legacy.port!, [flag, "-alpn", "spdy/3.1"] + Self.legacyClient)
                let suite = try #require(OpenSSLCommand.negotiated(output), "\(output)")
                #expect(suite.version == version)
                #expect(SPDYTLS.legacyCipherSuites.contains(suite.cipher), "\(suite)")
                #expect(output.contains("ALPN protocol: spdy/3.1"), "\(output)")
            }
            // NPN at TLS 1.0, as an old OpenSSL-based client would negotiate.
            let npn = try await OpenSSLCommand.sClient(
                port: legacy.port!, ["-tls1", "-nextprotoneg", "spdy/3"] + Self.legacyClient)
            #expect(OpenSSLCommand.negotiated(npn)?.version == "TLSv1", "\(npn)")
            #expect(npn.contains("Next protocol: (1) spdy/3"), "\(npn)")
            // TLS 1.3 stays available.
            let newest = try await OpenSSLCommand.sClient(port: legacy.port!, ["-alpn", "spdy/3.1"])
            #expect(OpenSSLCommand.negotiated(newest)?.version == "TLSv1.3", "\(newest)")
            try await legacy.shutdownGracefully(timeout: .seconds(5))
        }

        @Test("The OpenSSL client refuses a TLS 1.1 server by default; minimumTLSVersion .tlsv11 connects")
        func clientMinimum() async throws {
            let server = try OpenSSLCommand.Server(
                identity: Self.identity, ["-tls1_1", "-alpn", "spdy/3.1"] + Self.legacyClient)
            defer { server.stop() }
            let strict = try SPDYClient(configuration: .init(verifyCertificates: false, tlsProvider: .openSSL()))
            await #expect(throws: SPDYTLS.OpenSSLError.self) {
                _ = try await strict.connect(host: "127.0.0.1", port: server.port)
            }
            try await strict.shutdown()
            let lenient = try SPDYClient(
                configuration: .init(verifyCertificates: false, minimumTLSVersion: .tlsv11, tlsProvider: .openSSL()))
            let connection = try await lenient.connect(host: "127.0.0.1", port: server.port)
            #expect(connection.version == .v3_1)
            try await connection.channel.close()
            try await lenient.shutdown()
        }

        @Test(
            "Against an NPN-only server that allows TLS 1.3 the NPN client stays at TLS 1.2 and the ALPN+NPN client retries there"
        )
        func npnOnlyServer() async throws {
            let server = try OpenSSLCommand.Server(identity: Self.identity, ["-nextprotoneg", "spdy/3.1"])
            defer { server.stop() }
            for negotiation in [SPDYOpenSSL.Negotiation.npnOnly, .alpnAndNPN] {
                let offers = NIOLockedValueBox<[(Int, [String], String?)]>([])
                let established = NIOLockedValueBox<[(Int, String?)]>([])
                let client = try SPDYClient(
                    configuration: .init(
                        verifyCertificates: false,
                        establishedObserver: { number, _, name in
                            established.withLockedValue { $0.append((number, name)) }
                        },
                        tlsProvider: .openSSL(negotiation) { number, offered, selected in
                            offers.withLockedValue { $0.append((number, offered, selected)) }
                        }))
                let connection = try await client.connect(host: "127.0.0.1", port: server.port)
                #expect(connection.version == .v3_1, "\(negotiation)")
                let seen = offers.withLockedValue { $0 }
                // Asked once, in the TLS 1.2 handshake (TLS 1.3 has no NPN).
                #expect(seen.count == 1, "\(negotiation)")
                #expect(seen.first?.0 == 1)
                #expect(seen.first?.1 == ["spdy/3.1"])
                #expect(seen.first?.2 == "spdy/3.1")
                #expect(established.withLockedValue { $0.map(\.0) } == [1])
                #expect(established.withLockedValue { $0.map(\.1) } == ["spdy/3.1"])
                try await connection.channel.close()
                try await client.shutdown()
            }
        }

        @Test("A server with neither ALPN nor NPN: the ALPN+NPN client retries once, then fails")
        func noProtocolAfterRetry() async throws {
            let server = try OpenSSLCommand.Server(identity: Self.identity, [])
            defer { server.stop() }
            let client = try SPDYClient(configuration: .init(verifyCertificates: false, tlsProvider: .openSSL()))
            await #expect(throws: SPDYClientError.negotiationFailed(nil)) {
                _ = try await client.connect(host: "127.0.0.1", port: server.port)
            }
            try await client.shutdown()
        }
    }
}
