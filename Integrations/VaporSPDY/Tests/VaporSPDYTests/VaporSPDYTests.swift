import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSPDY
import SPDY
import Testing
import Vapor
import VaporSPDY

/// A real Vapor application served by ``VaporSPDYServer``: the same routes answer over
/// SPDY/3.1, SPDY/3, SPDY/2 and HTTP/1.1, with TLS (ALPN) and over plain TCP.
@Suite("Vapor over SPDY", .timeLimit(.minutes(2)))
struct VaporSPDYTests {
    @Test("GET with a path parameter and a query", arguments: allClients)
    func getWithParameters(transport: Transport, client: ClientProtocol) async throws {
        let server = try await TestApp.start(transport, spdy3Version: client.spdy3Version)
        do {
            let response = try await server.request(client, .GET, "/hello/spdy?greeting=Hi")
            #expect(response.status == 200)
            #expect(response.text == "Hi, spdy!")
            #expect(response.header("content-type")?.hasPrefix("text/plain") == true)
            #expect(response.header("content-length") == "9")
            #expect(response.header("date")?.hasSuffix(" GMT") == true)
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    @Test("POST JSON", arguments: allClients)
    func postJSON(transport: Transport, client: ClientProtocol) async throws {
        let server = try await TestApp.start(transport, spdy3Version: client.spdy3Version)
        do {
            let body = ByteBuffer(string: #"{"name":"vapor","count":41}"#)
            let response = try await server.request(
                client, .POST, "/greet", headers: [("content-type", "application/json")], body: body)
            #expect(response.status == 200)
            #expect(response.header("content-type")?.hasPrefix("application/json") == true)
            let greeting = try JSONDecoder().decode(Greeting.self, from: Data(buffer: response.body))
            #expect(greeting.name == "VAPOR")
            #expect(greeting.count == 42)
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    @Test("Abort(.notFound), a thrown error and an unknown route", arguments: allClients)
    func errors(transport: Transport, client: ClientProtocol) async throws {
        let server = try await TestApp.start(transport, spdy3Version: client.spdy3Version)
        do {
            let missing = try await server.request(client, .GET, "/missing")
            #expect(missing.status == 404)
            #expect(missing.text.contains("nothing here"))
            let boom = try await server.request(client, .GET, "/boom")
            #expect(boom.status == 500)
            let unknown = try await server.request(client, .GET, "/no/such/route")
            #expect(unknown.status == 404)
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    @Test("Request and response headers, repeated ones too", arguments: allClients)
    func headers(transport: Transport, client: ClientProtocol) async throws {
        let server = try await TestApp.start(transport, spdy3Version: client.spdy3Version)
        do {
            let response = try await server.request(client, .GET, "/headers", headers: [("x-test", "yes")])
            #expect(response.status == 200)
            #expect(response.text == "yes")
            #expect(response.header("x-answer") == "42")
            #expect(response.header("x-peer") == "127.0.0.1")
            let cookies = response.headers.filter { $0.name == "set-cookie" }.flatMap {
                $0.value.split(separator: "\0").map(String.init)
            }
            #expect(Set(cookies) == ["a=1", "b=2"])
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    @Test("A streamed response arrives complete and in order", arguments: allClients)
    func streamedResponse(transport: Transport, client: ClientProtocol) async throws {
        let server = try await TestApp.start(transport, spdy3Version: client.spdy3Version)
        do {
            for path in ["/stream", "/stream-callback"] {
                let response = try await server.request(client, .GET, path)
                #expect(response.status == 200)
                #expect(response.text == expectedStream)
                #expect(response.header("content-length") == "\(streamChunks * streamChunkSize)")
                #expect(response.header("transfer-encoding") == nil)
            }
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    @Test("A body of a mebibyte, many flow-control windows long", arguments: allClients)
    func bigResponse(transport: Transport, client: ClientProtocol) async throws {
        let server = try await TestApp.start(transport, spdy3Version: client.spdy3Version)
        do {
            let response = try await server.request(client, .GET, "/big")
            #expect(response.status == 200)
            #expect(response.body == bigBody)
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    @Test("A WebSocket route is refused with 501, not answered with a 101 nobody follows", arguments: allClients)
    func webSocketRefused(transport: Transport, client: ClientProtocol) async throws {
        let server = try await TestApp.start(transport, spdy3Version: client.spdy3Version)
        do {
            let response = try await server.request(
                client, .GET, "/ws",
                headers: [
                    ("upgrade", "websocket"), ("connection", "Upgrade"), ("sec-websocket-version", "13"),
                    ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ])
            #expect(response.status == 501)
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    @Test("An HTTP/1.1 client that shuts down its sending side still gets its answer")
    func http1HalfClosure() async throws {
        let server = try await TestApp.start(.plaintext)
        do {
            // The streamed response takes tens of milliseconds, long after the shutdown.
            let answer = try await rawExchange(
                port: server.port, "GET /stream HTTP/1.1\r\nhost: localhost\r\n\r\n")
            #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(answer.hasSuffix("\r\n\r\n\(expectedStream)"))
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    @Test("HTTP/1.1 on a Unix domain socket")
    func unixDomainSocket() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vapor-spdy-\(UUID().uuidString).sock")
            .path
        var environment = Environment.testing
        environment.arguments = ["vapor"]
        let app = try await Application.make(environment)
        do {
            app.logger.logLevel = .warning
            try installRoutes(app)
            app.servers.use(.spdy(.init(address: .unixDomainSocket(path: path), logger: app.logger)))
            try await app.startup()
            let answer = try await TestApp.http1Client { client in
                let encoded = path.addingPercentEncoding(withAllowedCharacters: .urlHostAllowed) ?? path
                let response = try await client.execute(
                    HTTPClientRequest(url: "http+unix://\(encoded)/hello/socket"), timeout: .seconds(10))
                return (response.status, String(buffer: try await response.body.collect(upTo: 1024)))
            }
            #expect(answer.0 == .ok)
            #expect(answer.1 == "Hello, socket!")
        } catch {
            try? await app.asyncShutdown()
            try? FileManager.default.removeItem(atPath: path)
            throw error
        }
        try await app.asyncShutdown()
        try? FileManager.default.removeItem(atPath: path)
    }

    @Test("A streamed response that fails before its end is a 500", arguments: allClients)
    func failingStream(transport: Transport, client: ClientProtocol) async throws {
        let server = try await TestApp.start(transport, spdy3Version: client.spdy3Version)
        do {
            let response = try await server.request(client, .GET, "/stream-fails")
            #expect(response.status == 500)
            #expect(response.body.readableBytes == 0)
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    @Test("HEAD: the GET route's headers and no body", arguments: allClients)
    func head(transport: Transport, client: ClientProtocol) async throws {
        let server = try await TestApp.start(transport, spdy3Version: client.spdy3Version)
        do {
            let response = try await server.request(client, .HEAD, "/hello/spdy")
            #expect(response.status == 200)
            #expect(response.header("content-length") == "12")
            #expect(response.body.readableBytes == 0)
            let stream = try await server.request(client, .HEAD, "/stream")
            #expect(stream.status == 200)
            #expect(stream.body.readableBytes == 0)
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    @Test("Uploads up to the limit are accepted, one byte more is 413 before the body is read", arguments: allClients)
    func uploadLimit(transport: Transport, client: ClientProtocol) async throws {
        let server = try await TestApp.start(transport, spdy3Version: client.spdy3Version)
        do {
            let limit = 64 * 1024
            let (atLimit, expected) = uploadBody(limit)
            // AsyncHTTPClient sends content-length itself; the SPDY client is given one.
            let length = client == .http1 ? [] : [("content-length", "\(limit)")]
            let accepted = try await server.request(client, .POST, "/upload", headers: length, body: atLimit)
            #expect(accepted.status == 200)
            #expect(accepted.text == expected)
            let streamed = try await server.request(client, .POST, "/upload-stream", headers: length, body: atLimit)
            #expect(streamed.status == 200)
            #expect(streamed.text == "\(limit)")
            let (overLimit, _) = uploadBody(limit + 1)
            let overLength = client == .http1 ? [] : [("content-length", "\(limit + 1)")]
            let refused = try await server.request(client, .POST, "/upload", headers: overLength, body: overLimit)
            #expect(refused.status == 413)
            // The server still serves afterwards.
            let after = try await server.request(client, .GET, "/hello/again")
            #expect(after.text == "Hello, again!")
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    @Test("A body without content-length is counted as it arrives", arguments: allClients)
    func uploadWithoutLength(transport: Transport, client: ClientProtocol) async throws {
        let server = try await TestApp.start(transport, spdy3Version: client.spdy3Version)
        do {
            let limit = 64 * 1024
            let (atLimit, expected) = uploadBody(limit)
            let (overLimit, _) = uploadBody(limit + 1)
            let accepted = try await server.streamedUpload(client, "/upload", body: atLimit)
            #expect(accepted.status == 200)
            #expect(accepted.text == expected)
            let refused = try await server.streamedUpload(client, "/upload", body: overLimit)
            #expect(refused.status == 413)
            let after = try await server.request(client, .GET, "/hello/again")
            #expect(after.text == "Hello, again!")
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    @Test(
        "A refused upload leaves the SPDY connection serving", arguments: Transport.allCases,
        SPDYVersion.negotiationPreference)
    func refusedUploadKeepsConnection(transport: Transport, version: SPDYVersion) async throws {
        let server = try await TestApp.start(transport, spdy3Version: version == .v3 ? .v3 : .v3_1)
        do {
            let (overLimit, _) = uploadBody(64 * 1024 + 1)
            try await server.withSPDYConnection(version) { connection in
                let headers = server.spdyHeaders(.POST, "/upload", headers: [])
                let refused = try await TestApp.collect(
                    connection.request(headers: headers, streamingBody: TestApp.chunks(of: overLimit)))
                #expect(refused.status == 413)
                let after = try await TestApp.collect(
                    connection.request(headers: server.spdyHeaders(.GET, "/hello/again", headers: [])))
                #expect(after.text == "Hello, again!")
            }
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    @Test(
        "The limit follows the configuration, or routes.defaultMaxBodySize as it is now", arguments: Transport.allCases)
    func configuredLimit(transport: Transport) async throws {
        let configured = try await TestApp.start(transport, configure: { $0.maxBodySize = "1kb" })
        do {
            // The configured limit wins over routes.defaultMaxBodySize (64 KiB here).
            try await Self.expectLimit(1024, on: configured)
        } catch {
            try await configured.shutdown()
            throw error
        }
        try await configured.shutdown()

        let server = try await TestApp.start(transport)
        do {
            // Without one, the application's setting counts, read at each request.
            server.app.routes.defaultMaxBodySize = "2kb"
            try await Self.expectLimit(2048, on: server)
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    static func expectLimit(_ limit: Int, on server: TestApp) async throws {
        for client in ClientProtocol.allCases where server.serves(client) {
            let (atLimit, expected) = uploadBody(limit)
            let accepted = try await server.request(client, .POST, "/upload", body: atLimit)
            #expect(accepted.text == expected, "\(client)")
            let (overLimit, _) = uploadBody(limit + 1)
            let refused = try await server.request(client, .POST, "/upload", body: overLimit)
            #expect(refused.status == 413, "\(client)")
        }
    }

    @Test("Concurrent streams on one SPDY connection", arguments: Transport.allCases, SPDYVersion.negotiationPreference)
    func concurrentStreams(transport: Transport, version: SPDYVersion) async throws {
        let server = try await TestApp.start(transport, spdy3Version: version == .v3 ? .v3 : .v3_1)
        do {
            try await server.withSPDYConnection(version) { connection in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<20 {
                        group.addTask {
                            let path = index.isMultiple(of: 2) ? "/hello/n\(index)" : "/stream"
                            let response = try await TestApp.collect(
                                connection.request(headers: server.spdyHeaders(.GET, path, headers: [])))
                            #expect(response.status == 200)
                            #expect(response.text == (index.isMultiple(of: 2) ? "Hello, n\(index)!" : expectedStream))
                        }
                    }
                    try await group.waitForAll()
                }
            }
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    @Test("Keep-alive: several requests on one HTTP/1.1 connection", arguments: Transport.allCases)
    func http1KeepAlive(transport: Transport) async throws {
        let server = try await TestApp.start(transport)
        do {
            try await server.withHTTPClient { client in
                for index in 0..<5 {
                    let response = try await client.execute(
                        HTTPClientRequest(url: "\(server.baseURL)/hello/k\(index)"), timeout: .seconds(10))
                    #expect(response.status == .ok)
                    #expect(response.headers.first(name: "connection") == "keep-alive")
                    let body = try await response.body.collect(upTo: 1024)
                    #expect(String(buffer: body) == "Hello, k\(index)!")
                }
            }
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    @Test(
        "Shutdown lets a request in flight finish, then stops listening", arguments: Transport.allCases,
        ClientProtocol.allCases)
    func shutdownWithRequestInFlight(transport: Transport, client: ClientProtocol) async throws {
        let (started, gate) = AsyncStream<Void>.makeStream()
        let server = try await TestApp.start(
            transport, spdy3Version: client.spdy3Version,
            routes: { app in
                try installRoutes(app)
                app.get("slow") { _ -> String in
                    gate.yield()
                    try await Task.sleep(for: .milliseconds(300))
                    return "done"
                }
            })
        let inFlight = Task {
            do {
                return try await server.request(client, .GET, "/slow")
            } catch {
                // Not left waiting for a route that never ran.
                gate.finish()
                throw error
            }
        }
        var iterator = started.makeAsyncIterator()
        await iterator.next()
        let clock = ContinuousClock()
        let shutdownStarted = clock.now
        try await server.shutdown()
        // The request in flight is waited for, not the shutdown timeout (10 seconds).
        let shutdownTook = clock.now - shutdownStarted
        #expect(shutdownTook < .seconds(5), "shutdown took \(shutdownTook)")
        let response = try await inFlight.value
        #expect(response.status == 200)
        #expect(response.text == "done")
        // Nothing listens any more.
        await #expect(throws: (any Error).self) {
            try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: server.port).get().close()
        }
    }

    @Test(
        "Shutdown closes what is still open after its timeout", arguments: Transport.allCases,
        [ClientProtocol.spdy31, .http1])
    func shutdownTimeout(transport: Transport, client: ClientProtocol) async throws {
        let (started, gate) = AsyncStream<Void>.makeStream()
        let server = try await TestApp.start(
            transport, configure: { $0.shutdownTimeout = .milliseconds(300) },
            routes: { app in
                try installRoutes(app)
                app.get("stuck") { _ -> String in
                    gate.yield()
                    try await Task.sleep(for: .seconds(5))
                    return "too late"
                }
            })
        let inFlight = Task {
            do {
                return try await server.request(client, .GET, "/stuck")
            } catch {
                gate.finish()
                throw error
            }
        }
        var iterator = started.makeAsyncIterator()
        await iterator.next()
        let clock = ContinuousClock()
        let shutdownStarted = clock.now
        try await server.shutdown()
        let shutdownTook = clock.now - shutdownStarted
        #expect(shutdownTook < .seconds(3), "shutdown took \(shutdownTook)")
        await #expect(throws: (any Error).self) {
            _ = try await inFlight.value
        }
    }

    @Test("Start-up and shutdown leave no thread behind")
    func noThreadLeak() async throws {
        // A first run starts what stays for the process (the shared event loops, Swift's
        // cooperative pool); later ones must add nothing.
        let warmUp = try await TestApp.start(.tls)
        _ = try await warmUp.request(.spdy31, .GET, "/hello/x")
        _ = try await warmUp.request(.http1, .GET, "/hello/x")
        try await warmUp.shutdown()
        let before = threadCount()
        for transport in Transport.allCases {
            for _ in 0..<3 {
                let server = try await TestApp.start(transport)
                _ = try await server.request(.spdy31, .GET, "/hello/x")
                _ = try await server.request(.http1, .GET, "/hello/x")
                try await server.shutdown()
            }
        }
        // The shared event loop group's threads stay; what a run starts must not pile up.
        let after = threadCount()
        #expect(after <= before + 4, "threads before \(before), after \(after)")
    }
}

/// The threads of this process (Linux: the entries of /proc/self/task).
func threadCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
}
