import Foundation
import NIOSPDY
import SPDY
import SPDYTestSupport
import Testing

@Suite("spdyd --metrics-port")
struct SpdydMetricsTests {
    /// The value of the Prometheus sample `name{labels}` in `text`, if present.
    static func sample(_ text: String, _ name: String, _ labels: [String: String]) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let value = Double(parts[1]) else { continue }
            let labelText = parts[0].dropFirst(name.count)
            let found = labelText.trimmingCharacters(in: CharacterSet(charactersIn: "{}")).split(separator: ",")
                .reduce(into: [String: String]()) { result, pair in
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    if kv.count == 2 {
                        result[String(kv[0])] = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                    }
                }
            if found == labels { return value }
        }
        return nil
    }

    @Test("The counters of served requests, in the Prometheus text format on 127.0.0.1; other paths 404")
    func prometheusText() async throws {
        let curl = "/usr/bin/curl"
        try #require(FileManager.default.isExecutableFile(atPath: curl), "curl is missing: run scripts/install-deps.sh")
        let folder = try ServedFolder()
        let metricsPort = freeLocalPort()
        let server = try await RunningSpdyd.start(
            root: folder.root, extra: ["--no-tls", "--spdy3-1", "--metrics-port", String(metricsPort)],
            client: .init(plainVersion: .v3_1))
        #expect(await server.tool.waitForOutput("metrics on http://127.0.0.1:\(metricsPort)/metrics"))
        for _ in 0..<3 { #expect(try await server.get("/hello.txt").status == "200 OK") }
        #expect(try await server.get("/missing").status.hasPrefix("404"))
        let url = "http://127.0.0.1:\(metricsPort)/metrics"
        // The counters are handed over once per flush: the last response is out before the scrape.
        var text = ""
        for _ in 0..<50 {
            text = try await ToolRunner.run(curl, ["-sS", "-D", "/dev/stderr", url]).stdout
            if Self.sample(text, "spdy_streams_closed_total", ["role": "server", "status": "OK"]) == 4 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(Self.sample(text, "spdy_connections_total", ["role": "server"]) == 1, "\(text)")
        #expect(Self.sample(text, "spdy_connections_active", ["role": "server"]) == 1)
        #expect(Self.sample(text, "spdy_streams_opened_total", ["role": "server", "initiator": "remote"]) == 4)
        #expect(Self.sample(text, "spdy_streams_closed_total", ["role": "server", "status": "OK"]) == 4)
        #expect(Self.sample(text, "spdy_streams_active", ["role": "server"]) == 0)
        #expect(
            Self.sample(text, "spdy_frames_total", ["role": "server", "direction": "received", "type": "SYN_STREAM"])
                == 4)
        #expect(
            Self.sample(text, "spdy_frames_total", ["role": "server", "direction": "sent", "type": "SYN_REPLY"]) == 4)
        #expect((Self.sample(text, "spdy_bytes_total", ["role": "server", "direction": "sent"]) ?? 0) > 0)
        #expect(
            Self.sample(text, "spdy_resets_total", ["role": "server", "direction": "received", "status": "CANCEL"]) == 0
        )
        let headers = try await ToolRunner.run(curl, ["-sS", "-o", "/dev/null", "-D", "-", url]).stdout
        #expect(headers.lowercased().contains("content-type: text/plain; version=0.0.4"), "\(headers)")
        let other = try await ToolRunner.run(
            curl, ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(metricsPort)/"])
        #expect(other.stdout == "404")
        // After the client leaves, the connection is no longer active.
        server.connection.close()
        for _ in 0..<50 {
            text = try await ToolRunner.run(curl, ["-sS", url]).stdout
            if Self.sample(text, "spdy_connections_active", ["role": "server"]) == 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(Self.sample(text, "spdy_connections_active", ["role": "server"]) == 0)
        #expect(try await server.stop() == 0)
    }
}
