import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOSPDY
import SPDY
import SPDYTestSupport
import Testing

/// A server in this process that counts the requests it answers.
private final class CountingServer: Sendable {
    let server: SPDYServer
    let count = NIOLockedValueBox(0)
    static let body = String(repeating: "x", count: 1024)

    init(transport: SPDYServer.Transport) throws {
        let count = self.count
        server = try SPDYServer(
            configuration: .init(host: "127.0.0.1", port: 0, transport: transport, threads: 2)
        ) { request in
            count.withLockedValue { $0 += 1 }
            if request.path == "/missing" {
                return .text("not here\n", status: 404)
            }
            return .text(Self.body)
        }
        try server.start()
    }

    var url: String { "http://127.0.0.1:\(server.port!)" }
    var tlsURL: String { "https://127.0.0.1:\(server.port!)" }

    func stop() async throws {
        try await server.shutdownGracefully()
    }
}

private struct LoadJSON: Decodable {
    struct Requests: Decodable {
        var total, started, done, succeeded, failed, errored: Int
    }
    struct Distribution: Decodable {
        var min, mean, p50, p90, p99, max: Double
    }
    var protocolName: String?
    var requests: Requests
    var statusCodes: [String: Int]
    var bodyBytes: Int
    var requestsPerSecond: Double
    var timeForRequest: Distribution?
    var timeToFirstByte: Distribution?
    var connected: Int

    static func decode(_ text: String) throws -> LoadJSON {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(LoadJSON.self, from: Data(text.utf8))
    }
}

@Suite("spdyload end to end", .serialized)
struct SpdyloadTests {
    @Test("Its counts match the server's: 600 requests over 3 connections × 10 streams, 2 threads")
    func countsMatchServer() async throws {
        let server = try CountingServer(transport: .plain(.v3_1))
        let result = try await ToolRunner.run(
            "spdyload",
            ["-n", "600", "-c", "3", "-m", "10", "-t", "2", "--no-tls", "--spdy3-1", "--json", server.url + "/"])
        try await server.stop()
        #expect(result.status == 0, "\(result.stderr)")
        let report = try LoadJSON.decode(result.stdout)
        #expect(report.requests.total == 600)
        #expect(report.requests.succeeded == 600)
        #expect(report.requests.failed == 0 && report.requests.errored == 0)
        #expect(server.count.withLockedValue { $0 } == 600)
        #expect(report.bodyBytes == 600 * 1024)
        #expect(report.statusCodes["2xx"] == 600)
        #expect(report.protocolName == "spdy/3.1")
        #expect(report.connected == 3)
        let latency = try #require(report.timeForRequest)
        #expect(latency.min <= latency.p50 && latency.p50 <= latency.p90)
        #expect(latency.p90 <= latency.p99 && latency.p99 <= latency.max && latency.mean > 0)
        let firstByte = try #require(report.timeToFirstByte)
        #expect(firstByte.min <= latency.min && firstByte.max <= latency.max)
    }

    @Test("URIs are requested in turn; 4xx responses count as failed, with their status class")
    func failedRequests() async throws {
        let server = try CountingServer(transport: .plain(.v3))
        let result = try await ToolRunner.run(
            "spdyload",
            ["-n", "100", "-c", "2", "-m", "5", "--no-tls", "-3", "--json", server.url + "/", server.url + "/missing"])
        try await server.stop()
        let report = try LoadJSON.decode(result.stdout)
        #expect(report.requests.succeeded == 50 && report.requests.failed == 50)
        #expect(report.statusCodes["2xx"] == 50 && report.statusCodes["4xx"] == 50)
        #expect(server.count.withLockedValue { $0 } == 100)
    }

    @Test("Duration mode runs about -D seconds and the server saw every request it started")
    func durationMode() async throws {
        let server = try CountingServer(transport: .plain(.v3_1))
        let started = Date()
        let result = try await ToolRunner.run(
            "spdyload", ["-D", "1", "-c", "2", "-m", "4", "--no-tls", "--spdy3-1", "--json", server.url + "/"])
        let elapsed = Date().timeIntervalSince(started)
        try await server.stop()
        let report = try LoadJSON.decode(result.stdout)
        #expect(elapsed >= 1 && elapsed < 20)
        #expect(report.requests.done > 10)
        #expect(report.requests.started == report.requests.done + report.requests.errored)
        #expect(server.count.withLockedValue { $0 } == report.requests.done)
    }

    @Test("Over TLS the version is negotiated by ALPN; the text report has every line")
    func tlsAndTextReport() async throws {
        let identity = try SPDYTLS.Identity.selfSigned()
        let server = try CountingServer(transport: .tls(identity, versions: SPDYVersion.negotiationPreference))
        let result = try await ToolRunner.run("spdyload", ["-n", "20", "-m", "4", server.tlsURL + "/"])
        try await server.stop()
        #expect(result.status == 0, "\(result.stderr)")
        for line in [
            "Application protocol: spdy/3.1",
            "requests: 20 total, 20 started, 20 done, 20 succeeded, 0 failed, 0 errored",
            "status codes: 20 2xx, 0 3xx, 0 4xx, 0 5xx", "traffic: 20.00KB (20480) data", "time for request:",
            "time to 1st byte:", "time for connect:",
        ] {
            #expect(result.stdout.contains(line), "missing: \(line)")
        }
        #expect(result.stdout.contains(" req/s, "))
    }

    @Test("An unreachable server: every request errored, exit status 1")
    func unreachable() throws {
        let port = freeLocalPort()
        let result = try ToolRunner.run(
            "spdyload", ["-n", "6", "-c", "2", "--no-tls", "-3", "--json", "http://127.0.0.1:\(port)/"])
        #expect(result.status == 1)
        let report = try LoadJSON.decode(result.stdout)
        #expect(report.requests.errored == 6 && report.requests.done == 0 && report.connected == 0)
    }

    @Test("Bad arguments give one line on stderr and a non-zero exit; --help starts with the usage line")
    func badArguments() throws {
        for arguments in [
            [String](), ["-n", "0", "http://x/"], ["-n", "abc", "http://x/"], ["--no-tls", "http://127.0.0.1:1/"],
            ["-d", "/nonexistent/file", "--no-tls", "-3", "http://127.0.0.1:1/"],
            ["-H", "novalue", "--no-tls", "-3", "http://127.0.0.1:1/"],
            ["ftp://example.org/"],
        ] {
            let result = try ToolRunner.run("spdyload", arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stdout.isEmpty, "\(arguments)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(arguments): \(result.stderr)")
            #expect(lines.first?.hasPrefix("spdyload: ") == true, "\(arguments)")
        }
        let help = try ToolRunner.run("spdyload", ["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.hasPrefix("Usage: spdyload [-n <N>] [-c <N>] [-m <N>]"))
        #expect(help.stdout.contains("--json"))
    }
}
