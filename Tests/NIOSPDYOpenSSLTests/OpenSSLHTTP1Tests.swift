import Dispatch
import Foundation
import NIOCore
import NIOSPDY
import NIOSPDYOpenSSL
import SPDY
import Testing

/// The system OpenSSL backend on a port that serves HTTP/1.1 too: `http/1.1` offered by NPN
/// and ALPN after the SPDY versions.
extension OpenSSLBackendTests {
    @Suite("OpenSSL backend: HTTP/1.1 next to SPDY by NPN and ALPN")
    struct OpenSSLHTTP1Tests {
        static let identity = try! SPDYTLS.Identity.selfSigned()

        /// `openssl s_client` with `arguments`, sending `request` and reading until the server
        /// closes; what it printed. It waits on a Dispatch thread: the server's handlers need the
        /// event loops, and the test's other work the cooperative pool, while it blocks.
        static func sClient(port: Int, _ arguments: [String], request: String) async throws -> String {
            try await withCheckedThrowingContinuation { continuation in
                Thread.detachNewThread {
                    continuation.resume(with: Result { try runSClient(port: port, arguments, request: request) })
                }
            }
        }

        private static func runSClient(port: Int, _ arguments: [String], request: String) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            process.arguments = ["s_client", "-connect", "127.0.0.1:\(port)", "-ign_eof"] + arguments
            let output = Pipe()
            let input = Pipe()
            process.standardOutput = output
            process.standardError = output
            process.standardInput = input
            try process.run()
            input.fileHandleForWriting.write(Data(request.utf8))
            try input.fileHandleForWriting.close()
            let deadline = Date().addingTimeInterval(20)
            while process.isRunning && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.05)
            }
            if process.isRunning { process.terminate() }
            return String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        }

        static let request = "GET /npn HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"

        /// Answers on the event loop, with the protocol the request came over.
        final class Hello: SPDYRequestHandler {
            override func doGET() {
                sendResponse(200)
                wfile.write("hello \(path) over \(SPDYNegotiation.protocolName(of: negotiatedProtocol))\n")
            }
        }

        @Test("s_client -nextprotoneg http/1.1 is offered http/1.1 after the SPDY versions and served HTTP/1.1")
        func npnHTTP1() async throws {
            let server = try SPDYServer(
                configuration: .init(host: "127.0.0.1", port: 0, transport: .openSSL(Self.identity), threads: 1),
                handler: Hello.self
            )
            try server.start()
            let port = server.port!

            let npn = try await Self.sClient(port: port, ["-nextprotoneg", "http/1.1"], request: Self.request)
            #expect(npn.contains("Protocols advertised by server: spdy/3.1, spdy/3, spdy/2, http/1.1"), "\(npn)")
            #expect(npn.contains("Next protocol: (1) http/1.1"), "\(npn)")
            #expect(npn.contains("HTTP/1.1 200 OK"), "\(npn)")
            #expect(npn.contains("hello /npn over http/1.1"), "\(npn)")

            // An NPN client that knows SPDY too gets it: NPN picks by the server's order.
            let spdy = try await OpenSSLCommand.sClient(port: port, ["-nextprotoneg", "http/1.1,spdy/3"])
            #expect(spdy.contains("Next protocol: (1) spdy/3"), "\(spdy)")

            let alpn = try await Self.sClient(port: port, ["-alpn", "http/1.1"], request: Self.request)
            #expect(alpn.contains("ALPN protocol: http/1.1"), "\(alpn)")
            #expect(alpn.contains("New, TLSv1.3,"), "\(alpn)")
            #expect(alpn.contains("hello /npn over http/1.1"), "\(alpn)")
            try await server.shutdownGracefully(timeout: .seconds(5))
        }

        @Test("ServerTLS offers http/1.1 only when asked: SPDY-only users keep their lists")
        func listsUnchangedByDefault() throws {
            #expect(SPDYTLS.protocolNames() == ["spdy/3.1", "spdy/3", "spdy/2"])
            #expect(SPDYTLS.protocolNames([.v3], offeringHTTP1: true) == ["spdy/3", "http/1.1"])
            #expect(
                SPDYTLS.serverConfiguration(identity: Self.identity).applicationProtocols.contains("http/1.1") == false)
            #expect(SPDYOpenSSL.ServerTLS(identity: Self.identity).offersHTTP1 == false)
        }
    }
}
