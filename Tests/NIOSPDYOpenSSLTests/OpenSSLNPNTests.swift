import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import NIOSSL
import SPDY
import Testing

@testable import NIOSPDYOpenSSL

/// The system OpenSSL backend: NPN next to ALPN on one port.
extension OpenSSLBackendTests {
    @Suite("OpenSSL backend: NPN for SPDY-era clients")
    struct OpenSSLNPNTests {
        static let identity = try! SPDYTLS.Identity.selfSigned()

        func startServer(minimumTLSVersion: TLSVersion = .tlsv12, servesHTTP1: Bool = true) throws -> SPDYServer {
            let configuration = SPDYServer.Configuration(
                host: "127.0.0.1", port: 0,
                transport: .openSSL(
                    Self.identity, versions: SPDYVersion.negotiationPreference, minimumTLSVersion: minimumTLSVersion),
                handshakeTimeout: .seconds(5), threads: 2, servesHTTP1: servesHTTP1)
            let server = try SPDYServer(configuration: configuration) { request in .text("hello \(request.path)\n") }
            try server.start()
            return server
        }

        /// GET `path` on a new connection of `client`; the version and the body.
        func fetch(_ client: SPDYClient, port: Int, path: String = "/") async throws -> (SPDYVersion, Int, String) {
            let connection = try await client.connect(host: "127.0.0.1", port: port)
            let response = try await connection.request(SPDYClientRequest(path: path, authority: "127.0.0.1"))
            let body = try await response.collectBody()
            let version = connection.version
            try await connection.channel.close()
            return (version, response.statusCode, String(buffer: body))
        }

        func sClient(port: Int, _ arguments: [String]) async throws -> String {
            try await OpenSSLCommand.sClient(port: port, arguments)
        }

        /// Whether the peer closes `channel` within 5 seconds.
        func closes(_ channel: any Channel) async throws -> Bool {
            let promise = channel.eventLoop.makePromise(of: Bool.self)
            channel.closeFuture.whenComplete { _ in promise.succeed(true) }
            let timeout = channel.eventLoop.scheduleTask(in: .seconds(5)) { promise.succeed(false) }
            defer { timeout.cancel() }
            return try await promise.futureResult.get()
        }

        /// Waits until `condition` holds (or 5 seconds pass).
        func eventually(_ condition: () -> Bool) async throws -> Bool {
            for _ in 0..<100 {
                if condition() { return true }
                try await Task.sleep(for: .milliseconds(50))
            }
            return condition()
        }

        @Test("Our OpenSSL client offering NPN only gets SPDY from our server, which held it to TLS 1.2")
        func npnClient() async throws {
            let server = try startServer()
            let offers = NIOLockedValueBox<[([String], String?)]>([])
            let client = try SPDYClient(
                configuration: .init(
                    verifyCertificates: false,
                    tlsProvider: .openSSL(.npnOnly) { _, offered, selected in
                        offers.withLockedValue { $0.append((offered, selected)) }
                    }))
            let (version, status, body) = try await fetch(client, port: server.port!, path: "/npn")
            #expect(version == .v3_1)
            #expect(status == 200)
            #expect(body.contains("hello /npn"))
            let seen = offers.withLockedValue { $0 }
            #expect(seen.count == 1)
            // The server serves HTTP/1.1 on the port too, and says so last.
            #expect(seen.first?.0 == ["spdy/3.1", "spdy/3", "spdy/2", "http/1.1"])
            #expect(seen.first?.1 == "spdy/3.1")
            // A client that speaks only SPDY/3 picks it from the offer.
            let older = try SPDYClient(
                configuration: .init(versions: [.v3], verifyCertificates: false, tlsProvider: .openSSL(.npnOnly)))
            #expect(try await fetch(older, port: server.port!).0 == .v3)
            try await client.shutdown()
            try await older.shutdown()
            try await server.shutdownGracefully(timeout: .seconds(5))
        }

        @Test("openssl s_client -nextprotoneg spdy/3 (TLS 1.3 allowed) gets spdy/3 at TLS 1.2; -alpn keeps TLS 1.3")
        func opensslCommandLine() async throws {
            let server = try startServer()
            let npn = try await sClient(port: server.port!, ["-nextprotoneg", "spdy/3"])
            #expect(npn.contains("Next protocol: (1) spdy/3"), "\(npn)")
            #expect(npn.contains("New, TLSv1.2,"), "\(npn)")
            let alpn = try await sClient(port: server.port!, ["-alpn", "spdy/3.1"])
            #expect(alpn.contains("ALPN protocol: spdy/3.1"), "\(alpn)")
            #expect(alpn.contains("New, TLSv1.3,"), "\(alpn)")
            // Both offered: ALPN wins, TLS 1.3 stays.
            let both = try await sClient(port: server.port!, ["-alpn", "spdy/3", "-nextprotoneg", "spdy/3"])
            #expect(both.contains("ALPN protocol: spdy/3"), "\(both)")
            #expect(both.contains("New, TLSv1.3,"), "\(both)")
            try await server.shutdownGracefully(timeout: .seconds(5))
        }

        @Test("An ALPN client (swift-nio-ssl, the default), an OpenSSL ALPN client and an NPN client on one port")
        func alpnAndNPNOnOnePort() async throws {
            let server = try startServer()
            let port = server.port!
            let alpn = try SPDYClient(configuration: .init(verifyCertificates: false))
            let openSSLALPN = try SPDYClient(
                configuration: .init(trustRoots: Self.identity.certificateChain, tlsProvider: .openSSL()))
            let npn = try SPDYClient(
                configuration: .init(trustRoots: Self.identity.certificateChain, tlsProvider: .openSSL(.npnOnly)))
            async let a = fetch(alpn, port: port, path: "/alpn")
            async let b = fetch(openSSLALPN, port: port, path: "/openssl")
            async let c = fetch(npn, port: port, path: "/npn")
            let results = try await [a, b, c]
            for (result, path) in zip(results, ["/alpn", "/openssl", "/npn"]) {
                #expect(result.0 == .v3_1)
                #expect(result.1 == 200)
                #expect(result.2.contains("hello \(path)"))
            }
            for client in [alpn, openSSLALPN, npn] { try await client.shutdown() }
            try await server.shutdownGracefully(timeout: .seconds(5))
        }

        @Test("With HTTP/1.1 off, a client offering no SPDY protocol is closed; the server keeps serving")
        func noProtocol() async throws {
            let server = try startServer(servesHTTP1: false)
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .none
            tls.applicationProtocols = ["http/1.1"]
            let context = try NIOSSLContext(configuration: tls)
            let channel = try await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: context, serverHostname: nil))
                    }
                }
                .connect(host: "127.0.0.1", port: server.port!).get()
            #expect(try await closes(channel))
            // s_client with neither ALPN nor NPN: no protocol, no session.
            let none = try await sClient(port: server.port!, [])
            #expect(none.contains("No ALPN negotiated"), "\(none)")
            let client = try SPDYClient(
                configuration: .init(verifyCertificates: false, tlsProvider: .openSSL(.npnOnly)))
            #expect(try await fetch(client, port: server.port!).1 == 200)
            try await client.shutdown()
            try await group.shutdownGracefully()
            try await server.shutdownGracefully(timeout: .seconds(5))
        }

        @Test("A certificate that does not verify fails the OpenSSL client clearly; the server keeps serving")
        func badCertificate() async throws {
            let server = try startServer()
            for negotiation in [SPDYOpenSSL.Negotiation.alpnAndNPN, .npnOnly] {
                let strict = try SPDYClient(configuration: .init(tlsProvider: .openSSL(negotiation)))
                do {
                    _ = try await strict.connect(host: "localhost", port: server.port!)
                    Issue.record("the self-signed certificate was accepted")
                } catch let error as SPDYTLS.OpenSSLError {
                    #expect(error.description.contains("certificate verify failed"), "\(error)")
                    #expect(error.description.contains("self-signed certificate"), "\(error)")
                }
                try await strict.shutdown()
            }
            // A name the certificate does not carry fails too.
            let wrongName = try SPDYClient(
                configuration: .init(trustRoots: Self.identity.certificateChain, tlsProvider: .openSSL()))
            await #expect(throws: SPDYTLS.OpenSSLError.self) {
                _ = try await wrongName.connect(host: "127.0.0.1", port: server.port!, serverName: "other.example")
            }
            #expect(try await fetch(wrongName, port: server.port!).1 == 200)
            try await wrongName.shutdown()
            try await server.shutdownGracefully(timeout: .seconds(5))
        }

        @Test("Garbage instead of a ClientHello closes only that connection")
        func garbage() async throws {
            let server = try startServer()
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let client = try SPDYClient(configuration: .init(verifyCertificates: false, tlsProvider: .openSSL()))
            let open = try await client.connect(host: "127.0.0.1", port: server.port!)
            let channel = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: server.port!).get()
            var junk = channel.allocator.buffer(capacity: 1024)
            junk.writeString("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            junk.writeBytes((0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            try await channel.writeAndFlush(junk)
            #expect(try await closes(channel))
            // The connection made before still works, and new ones are accepted.
            let response = try await open.request(SPDYClientRequest(path: "/still", authority: "127.0.0.1"))
            #expect(String(buffer: try await response.collectBody()).contains("hello /still"))
            #expect(try await fetch(client, port: server.port!).1 == 200)
            try await client.shutdown()
            try await group.shutdownGracefully()
            try await server.shutdownGracefully(timeout: .seconds(5))
        }

        @Test("200 connections (ALPN and NPN) leave no handler, SSL or SSL_CTX object behind")
        func noLeaks() async throws {
            let contextsBefore = OpenSSLContext.liveContexts.withLockedValue { $0 }
            do {
                let server = try startServer()
                let alpn = try SPDYClient(configuration: .init(verifyCertificates: false, tlsProvider: .openSSL()))
                let npn = try SPDYClient(
                    configuration: .init(verifyCertificates: false, tlsProvider: .openSSL(.npnOnly)))
                #expect(OpenSSLContext.liveContexts.withLockedValue { $0 } == contextsBefore + 3)
                for round in 0..<200 {
                    _ = try await fetch(round.isMultiple(of: 2) ? alpn : npn, port: server.port!)
                }
                try await alpn.shutdown()
                try await npn.shutdown()
                try await server.shutdownGracefully(timeout: .seconds(5))
            }
            #expect(try await eventually { OpenSSLHandler.liveSSLObjects.withLockedValue { $0 } == 0 })
            #expect(try await eventually { OpenSSLHandler.liveHandlers.withLockedValue { $0 } == 0 })
            // The server's and the clients' contexts go with them (VmRSS is not measured here:
            // the suites running in parallel in this process move it by far more).
            #expect(try await eventually { OpenSSLContext.liveContexts.withLockedValue { $0 } == contextsBefore })
        }
    }
}
