import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdSPDY
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import SPDY
import ServiceLifecycle
import Testing

/// Every protocol a client may speak to the app, over TLS (ALPN) and over plain TCP (first
/// bytes): the same app, the same routes.
let allCases: [(Transport, Wire)] = [
    (.tls, .spdy3_1), (.tls, .spdy3), (.tls, .spdy2), (.tls, .http1),
    (.plain, .spdy3_1), (.plain, .spdy2), (.plain, .http1),
]

// Serialized: the memory test reads the resident size of the process, which other tests
// running at the same time would disturb.
@Suite(.serialized)
struct HummingbirdOverSPDYTests {
    @Test("plain routes: body, request and response headers, query, small echo", arguments: allCases)
    func plainRoutes(transport: Transport, wire: Wire) async throws {
        try await withApp(transport: transport) { app in
            try await withClient(wire, transport: transport, port: app.port) { client in

                let hello = try await client.request("GET", "/hello")
                #expect(hello.status == 200)
                #expect(hello.text == TestRoutes.hello)
                #expect(hello.header("content-length") == "\(TestRoutes.hello.utf8.count)")

                let headers = try await client.request("GET", "/headers?a=1&b=two", headers: [("x-test", "spdy value")])
                #expect(headers.status == 200)
                #expect(headers.header("x-echo") == "spdy value")
                #expect(headers.header("content-type") == "text/plain")
                #expect(headers.text == "GET /headers?a=1&b=two")

                let echo = try await client.request("POST", "/echo", body: ByteBuffer(string: "ping over \(wire)"))
                #expect(echo.status == 200)
                #expect(echo.text == "ping over \(wire)")

                let missing = try await client.request("GET", "/no/such/route")
                #expect(missing.status == 404)
            }
        }
    }

    @Test("thrown errors: HTTPError, an HTTPResponseError of the app's own, any other error", arguments: allCases)
    func thrownErrors(transport: Transport, wire: Wire) async throws {
        try await withApp(transport: transport) { app in
            try await withClient(wire, transport: transport, port: app.port) { client in

                let notFound = try await client.request("GET", "/not-found")
                #expect(notFound.status == 404)
                #expect(notFound.text.contains("no such thing"))

                let teapot = try await client.request("GET", "/teapot")
                #expect(teapot.status == 409)
                #expect(teapot.header("x-error") == "teapot")
                #expect(teapot.text == "no teapot left\n")

                let crash = try await client.request("GET", "/crash")
                #expect(crash.status == 500)
                #expect(crash.body.readableBytes == 0)

                // The connection is still good after errors.
                let hello = try await client.request("GET", "/hello")
                #expect(hello.status == 200)
            }
        }
    }

    @Test("HEAD: the headers of GET, content-length kept, no body", arguments: allCases)
    func head(transport: Transport, wire: Wire) async throws {
        try await withApp(transport: transport) { app in
            try await withClient(wire, transport: transport, port: app.port) { client in

                let head = try await client.request("HEAD", "/hello")
                #expect(head.status == 200)
                #expect(head.header("content-length") == "\(TestRoutes.hello.utf8.count)")
                #expect(head.body.readableBytes == 0)

                let missing = try await client.request("HEAD", "/no/such/route")
                #expect(missing.status == 404)
                #expect(missing.body.readableBytes == 0)

                // The stream (or connection) is left in a good state.
                let hello = try await client.request("GET", "/hello")
                #expect(hello.text == TestRoutes.hello)
            }
        }
    }

    @Test("a response body written in chunks arrives whole and in order", arguments: allCases)
    func chunkedResponse(transport: Transport, wire: Wire) async throws {
        try await withApp(transport: transport) { app in
            try await withClient(wire, transport: transport, port: app.port) { client in

                let count = 300
                let size = 1500
                let response = try await client.request("GET", "/chunks?count=\(count)&size=\(size)")
                #expect(response.status == 200)
                #expect(response.header("content-length") == nil)
                var expected = ByteBuffer()
                for index in 0..<count {
                    var chunk = TestRoutes.chunk(index, size: size)
                    expected.writeBuffer(&chunk)
                }
                #expect(response.body.readableBytes == count * size)
                #expect(response.body == expected)
                if wire == .http1 {
                    #expect(response.header("transfer-encoding") == "chunked")
                } else {
                    #expect(client.dataFramesReceived > 1)
                }
            }
        }
    }

    @Test(
        "100 MiB request body streamed to the route and echoed back, with bounded memory",
        arguments: [(Transport.tls, Wire.spdy3_1), (.tls, .spdy3), (.tls, .spdy2), (.tls, .http1), (.plain, .spdy3_1)]
    )
    func streamedEcho(transport: Transport, wire: Wire) async throws {
        try await withApp(transport: transport) { app in
            try await withClient(wire, transport: transport, port: app.port) { client in
                // Warm up: buffers and pools that any request makes.
                _ = try await client.request("POST", "/echo", body: ByteBuffer(repeating: 1, count: 1 << 20))

                let total = 100 << 20
                let before = residentMemory()
                let started = ContinuousClock.now
                let ((status, checker), peak) = try await withMemorySampling {
                    var checker = PatternChecker()
                    let status = try await client.streamingRequest(
                        "POST", "/echo", upload: PatternBody(total: total, pieceSize: 64 << 10), length: total
                    ) { checker.check($0) }
                    return (status, checker)
                }
                let elapsed = ContinuousClock.now - started
                let growth = peak - before
                print(
                    "streamed echo \(transport) \(wire): 100 MiB in \(elapsed), resident before \(before >> 20) MiB, "
                        + "peak \(peak >> 20) MiB, growth \(growth >> 20) MiB (VmHWM \(residentMemory("VmHWM") >> 20) MiB)"
                )
                #expect(status == 200)
                #expect(checker.received == total)
                #expect(checker.mismatch == nil)
                // Server and client share the process: this bounds both together.
                #expect(growth < 40 << 20, "resident memory grew by \(growth >> 20) MiB")
            }
        }
    }

    @Test(
        "1,000 concurrent streams on one connection (spdyload -c 1 -m 1000), all held open at once",
        arguments: [Transport.tls, .plain]
    )
    func thousandStreamsWithSpdyload(transport: Transport) async throws {
        let spdyload = try SpdyloadTool.path()
        let barrier = Gate(opensAt: 1000)
        try await withApp(transport: transport, router: TestRoutes.router(barrier: barrier)) { app in
            let scheme = transport == .tls ? "https" : "http"
            var arguments = ["-n", "1000", "-c", "1", "-m", "1000", "--json"]
            if transport == .plain { arguments += ["--no-tls", "--spdy3-1"] }
            arguments.append("\(scheme)://127.0.0.1:\(app.port)/barrier")
            let started = ContinuousClock.now
            let output = try await SpdyloadTool.run(spdyload, arguments: arguments)
            let report = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
            let requests = report?["requests"] as? [String: Any]
            print("spdyload \(transport): \(ContinuousClock.now - started), \(output)")
            #expect(report?["connected"] as? Int == 1)
            #expect(requests?["succeeded"] as? Int == 1000)
            #expect(requests?["failed"] as? Int == 0)
            #expect(requests?["errored"] as? Int == 0)
            // The barrier opens only when all 1,000 requests are in the route together.
            #expect(await barrier.arrived == 1000)
        }
    }

    @Test("1,000 concurrent streams on one connection with our client", arguments: [Wire.spdy3, .spdy2])
    func thousandStreamsWithClient(wire: Wire) async throws {
        let barrier = Gate(opensAt: 1000)
        try await withApp(transport: .tls, router: TestRoutes.router(barrier: barrier)) { app in
            try await withClient(wire, transport: .tls, port: app.port) { client in
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<1000 {
                        group.addTask { try await client.request("GET", "/barrier").status }
                    }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
                #expect(statuses.count == 1000)
                #expect(statuses.allSatisfy { $0 == 200 })
                #expect(await barrier.arrived == 1000)
            }
        }
    }

    @Test("plain TCP with plaintextSPDY3Version .v3 serves SPDY/3 clients")
    func plaintextSPDY3() async throws {
        let configuration = SPDYChannelConfiguration(plaintextSPDY3Version: .v3)
        try await withApp(transport: .plain, configuration: configuration) { app in
            try await withClient(.spdy3, transport: .plain, port: app.port) { client in
                let hello = try await client.request("GET", "/hello")
                #expect(hello.text == TestRoutes.hello)
            }
        }
    }

    @Test("versions not offered, and HTTP/1.1 when not accepted, are refused", arguments: [Transport.tls, .plain])
    func refusesWhatIsNotOffered(transport: Transport) async throws {
        let configuration = SPDYChannelConfiguration(versions: [.v3_1], acceptsHTTP1: false)
        try await withApp(transport: transport, configuration: configuration) { app in
            try await withClient(.spdy3_1, transport: transport, port: app.port) { client in
                let hello = try await client.request("GET", "/hello")
                #expect(hello.status == 200)
            }
            await #expect(throws: (any Error).self) {
                try await withClient(.spdy2, transport: transport, port: app.port) { client in
                    try await client.request("GET", "/hello")
                }
            }
            await #expect(throws: (any Error).self) {
                try await withClient(.http1, transport: transport, port: app.port) { client in
                    try await client.request("GET", "/hello")
                }
            }
        }
    }

    @Test("SPDY and HTTP/1.1 clients on the same port at the same time get the same answers")
    func sameRouterForAll() async throws {
        try await withApp(transport: .tls) { app in
            var clients: [TestClient] = []
            for wire in [Wire.spdy3_1, .spdy3, .spdy2, .http1] {
                clients.append(try await TestClient.connect(wire, transport: .tls, port: app.port))
            }
            let all = clients
            let answers = try await withThrowingTaskGroup(of: String.self) { group in
                for client in all {
                    group.addTask {
                        try await client.request("GET", "/headers?same=1", headers: [("x-test", "same")]).text
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            for client in all { try await client.close() }
            #expect(answers == Array(repeating: "GET /headers?same=1", count: 4))
        }
    }

    @Test(
        "graceful stop through a ServiceGroup: requests in flight complete, new connections are refused",
        .timeLimit(.minutes(2))
    )
    func gracefulShutdown() async throws {
        let gate = Gate()
        let clients = NIOLockedValueBox<[TestClient]>([])
        let inFlight = try await withApp(transport: .tls, router: TestRoutes.router(gate: gate)) { app in
            let spdy = try await TestClient.connect(.spdy3_1, transport: .tls, port: app.port)
            let spdy2 = try await TestClient.connect(.spdy2, transport: .tls, port: app.port)
            let http1 = try await TestClient.connect(.http1, transport: .tls, port: app.port)
            clients.withLockedValue { $0 = [spdy, spdy2, http1] }
            // An upload that is still arriving when the stop begins: half of it now, half after.
            let (upload, uploadContinuation) = AsyncStream<ByteBuffer>.makeStream()
            let half = 2 << 20

            return try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for _ in 0..<5 {
                    group.addTask {
                        let response = try await spdy.request("GET", "/gate")
                        return (response.status, response.text)
                    }
                }
                group.addTask {
                    let response = try await spdy2.request("GET", "/gate")
                    return (response.status, response.text)
                }
                group.addTask {
                    let response = try await http1.request("GET", "/gate")
                    return (response.status, response.text)
                }
                group.addTask {
                    var text = ""
                    let status = try await spdy.streamingRequest("POST", "/count", upload: upload, length: 2 * half) {
                        text += String(buffer: $0)
                    }
                    return (status, text)
                }
                uploadContinuation.yield(ByteBuffer(repeating: 7, count: half))
                // Seven requests wait at the gate, and the upload has reached its route.
                try await gate.waitForArrivals(8)

                await app.serviceGroup.triggerGracefulShutdown()
                // The listening socket closes: new connections are refused.
                try await waitUntilRefused(port: app.port)
                // The SPDY connections got GOAWAY: they take no new streams.
                await #expect(throws: (any Error).self) {
                    try await spdy.request("GET", "/hello")
                }

                uploadContinuation.yield(ByteBuffer(repeating: 7, count: half))
                uploadContinuation.finish()
                await gate.release()
                var results: [(Int, String)] = []
                for try await result in group { results.append(result) }
                return results
            }
        }
        for client in clients.withLockedValue({ $0 }) { try? await client.close() }
        #expect(inFlight.count == 8)
        #expect(inFlight.filter { $0 == (200, "released") }.count == 7)
        #expect(inFlight.contains { $0 == (200, "\(4 << 20)") })
    }

    @Test("a SPDY connection closes after the idle timeout, but not while a slow request is open")
    func idleTimeout() async throws {
        let gate = Gate()
        let configuration = SPDYChannelConfiguration(idleTimeout: .milliseconds(300))
        try await withApp(transport: .tls, configuration: configuration, router: TestRoutes.router(gate: gate)) { app in
            let client = try SPDYClient(
                configuration: .init(versions: [.v3_1], verifyCertificates: false),
                group: MultiThreadedEventLoopGroup.singleton
            )
            let connection = try await client.connect(host: "127.0.0.1", port: app.port)
            let slow = Task {
                try await connection.request(
                    SPDYClientRequest(path: "/gate", authority: "127.0.0.1:\(app.port)")
                ).collectBody()
            }
            try await gate.waitForArrivals(1)
            try await Task.sleep(for: .seconds(1))
            #expect(connection.channel.isActive, "closed with a request open")
            await gate.release()
            let body = try await slow.value
            #expect(String(buffer: body) == "released")
            let started = ContinuousClock.now
            try await connection.channel.closeFuture.get()
            let closedAfter = ContinuousClock.now - started
            #expect(closedAfter < .seconds(5))
            let goAway = try await connection.eventLoop.submit { connection.connection.session.hasReceivedGoAway }.get()
            #expect(goAway)
            try await client.shutdown()
        }
    }
}

/// Connects to `port` until the connection is refused (at most 10 seconds).
func waitUntilRefused(port: Int) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port).get()
            try? await channel.close()
            try await Task.sleep(for: .milliseconds(20))
        } catch {
            return
        }
    }
    throw TestFailure("port \(port) still accepts connections")
}

/// The root package's `spdyload`: `$SPDYLOAD`, or built with `swift build --product
/// spdyload` in the root package into `.build-hb` (its own build folder, so that it does
/// not wait for or disturb the root's `.build`).
enum SpdyloadTool {
    static func path() throws -> String {
        if let path = ProcessInfo.processInfo.environment["SPDYLOAD"] { return path }
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let scratch = root.appendingPathComponent(".build-hb").path
        let build = try runSync(
            "/usr/bin/env",
            ["swift", "build", "--package-path", root.path, "--scratch-path", scratch, "--product", "spdyload"]
        )
        guard build.status == 0 else { throw TestFailure("building spdyload failed:\n\(build.output)") }
        let bin = try runSync(
            "/usr/bin/env",
            ["swift", "build", "--package-path", root.path, "--scratch-path", scratch, "--show-bin-path"]
        )
        return bin.output.trimmingCharacters(in: .whitespacesAndNewlines) + "/spdyload"
    }

    static func run(_ executable: String, arguments: [String]) async throws -> String {
        let result = try await Task.detached { try runSync(executable, arguments) }.value
        guard result.status == 0 else { throw TestFailure("spdyload exited \(result.status): \(result.output)") }
        return result.output
    }

    static func runSync(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.standardError
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
