import Foundation
import NIOCore
import NIOSPDY
import SPDY
import SPDYToolSupport

/// What one connection measured.
struct ClientResult: Sendable {
    var started = 0
    var succeeded = 0
    var failed = 0
    var errored = 0
    var status2xx = 0
    var status3xx = 0
    var status4xx = 0
    var status5xx = 0
    var bodyBytes = 0
    /// Requests sent again by a retrying connection (`--retry`).
    var retried = 0
    /// 2xx bodies whose SHA-256 matched, or did not match, `--checksums`.
    var verified = 0
    var corrupted = 0
    /// The first few distinct errors that ended requests.
    var requestErrors: [String] = []
    /// Nanoseconds from submitting each completed request to the end of its response.
    var latencies: [UInt64] = []
    /// Nanoseconds from submitting each completed request to its SYN_REPLY.
    var timesToFirstByte: [UInt64] = []
    var connectTime: TimeAmount?
    var connectError: String?
    var protocolName: String?
    /// Kept open until the report is printed (for `--keep-open`).
    var connection: SPDYClientConnection?
    var retryingConnection: SPDYRetryingConnection?
}

/// Distribution of a set of durations.
struct Distribution: Codable, Sendable {
    var min: Double
    var mean: Double
    var p50: Double
    var p90: Double
    var p99: Double
    var max: Double

    /// Microseconds, from nanosecond samples; nil for no samples.
    init?(nanoseconds samples: [UInt64]) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        func percentile(_ p: Double) -> Double {
            // Nearest rank.
            let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
            return Double(sorted[Swift.max(0, Swift.min(sorted.count - 1, rank - 1))]) / 1000
        }
        min = Double(sorted.first!) / 1000
        max = Double(sorted.last!) / 1000
        mean = Double(sorted.reduce(0, +)) / Double(sorted.count) / 1000
        p50 = percentile(50)
        p90 = percentile(90)
        p99 = percentile(99)
    }
}

/// The results of a run, as text (in h2load's manner) or JSON.
struct LoadReport: Codable, Sendable {
    struct Requests: Codable, Sendable {
        var total: Int
        var started: Int
        var done: Int
        var succeeded: Int
        var failed: Int
        var errored: Int
        var retried: Int
        var verified: Int
        var corrupted: Int
    }
    struct StatusCodes: Codable, Sendable {
        var status2xx: Int
        var status3xx: Int
        var status4xx: Int
        var status5xx: Int

        enum CodingKeys: String, CodingKey {
            case status2xx = "2xx"
            case status3xx = "3xx"
            case status4xx = "4xx"
            case status5xx = "5xx"
        }
    }

    var protocolName: String?
    var clients: Int
    var connected: Int
    var threads: Int
    var streamsPerClient: Int
    var seconds: Double
    var requests: Requests
    var statusCodes: StatusCodes
    var requestsPerSecond: Double
    var bodyBytes: Int
    var bytesPerSecond: Double
    /// Microseconds.
    var timeForRequest: Distribution?
    /// Microseconds.
    var timeToFirstByte: Distribution?
    /// Microseconds.
    var timeForConnect: Distribution?
    var connectErrors: [String]
    var requestErrors: [String]
    /// Whether `--checksums` was given (the text report then has a checksums line).
    var checked: Bool

    var completed: Int { requests.succeeded + requests.failed }

    init(results: [ClientResult], elapsed: TimeAmount, plan: LoadPlan, threads: Int, checked: Bool) {
        self.checked = checked
        seconds = Double(elapsed.nanoseconds) / 1e9
        protocolName = results.lazy.compactMap(\.protocolName).first
        clients = plan.clients
        connected = results.filter { $0.connectError == nil }.count
        self.threads = threads
        streamsPerClient = plan.streamsPerClient
        let sum = { (key: KeyPath<ClientResult, Int>) in results.reduce(0) { $0 + $1[keyPath: key] } }
        let done = sum(\.succeeded) + sum(\.failed)
        requests = Requests(
            total: plan.total ?? sum(\.started),
            started: sum(\.started),
            done: done,
            succeeded: sum(\.succeeded),
            failed: sum(\.failed),
            errored: sum(\.errored),
            retried: sum(\.retried),
            verified: sum(\.verified),
            corrupted: sum(\.corrupted)
        )
        statusCodes = StatusCodes(
            status2xx: sum(\.status2xx), status3xx: sum(\.status3xx), status4xx: sum(\.status4xx),
            status5xx: sum(\.status5xx))
        requestsPerSecond = seconds > 0 ? Double(done) / seconds : 0
        bodyBytes = sum(\.bodyBytes)
        bytesPerSecond = seconds > 0 ? Double(bodyBytes) / seconds : 0
        timeForRequest = Distribution(nanoseconds: results.flatMap(\.latencies))
        timeToFirstByte = Distribution(nanoseconds: results.flatMap(\.timesToFirstByte))
        timeForConnect = Distribution(
            nanoseconds: results.compactMap { $0.connectTime.map { UInt64($0.nanoseconds) } })
        connectErrors = Array(Set(results.compactMap(\.connectError))).sorted()
        requestErrors = Array(Set(results.flatMap(\.requestErrors))).sorted()
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    func text() -> String {
        var lines: [String] = []
        if let protocolName { lines.append("Application protocol: \(protocolName)") }
        for error in connectErrors { lines.append("connection failed: \(error)") }
        for error in requestErrors { lines.append("request failed: \(error)") }
        lines.append(
            "finished in \(format(seconds, 2))s, \(format(requestsPerSecond, 2)) req/s, \(bytes(bytesPerSecond))/s")
        lines.append(
            "requests: \(requests.total) total, \(requests.started) started, \(requests.done) done, "
                + "\(requests.succeeded) succeeded, \(requests.failed) failed, \(requests.errored) errored")
        if requests.retried > 0 { lines.append("retries: \(requests.retried)") }
        if checked {
            lines.append("checksums: \(requests.verified) verified, \(requests.corrupted) corrupted")
        }
        lines.append(
            "status codes: \(statusCodes.status2xx) 2xx, \(statusCodes.status3xx) 3xx, "
                + "\(statusCodes.status4xx) 4xx, \(statusCodes.status5xx) 5xx")
        lines.append("traffic: \(bytes(Double(bodyBytes))) (\(bodyBytes)) data")
        if timeForRequest != nil || timeForConnect != nil {
            lines.append(
                pad("", 19) + ["min", "mean", "p50", "p90", "p99", "max"].map { pad($0, 11, left: true) }.joined())
        }
        for (title, distribution) in [
            ("time for request:", timeForRequest), ("time to 1st byte:", timeToFirstByte),
            ("time for connect:", timeForConnect),
        ] {
            guard let d = distribution else { continue }
            lines.append(
                pad(title, 19)
                    + [d.min, d.mean, d.p50, d.p90, d.p99, d.max].map { pad(duration($0), 11, left: true) }.joined())
        }
        return lines.joined(separator: "\n")
    }

    private func format(_ value: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }

    private func bytes(_ value: Double) -> String {
        if value >= Double(1 << 30) { return format(value / Double(1 << 30), 2) + "GB" }
        if value >= Double(1 << 20) { return format(value / Double(1 << 20), 2) + "MB" }
        if value >= Double(1 << 10) { return format(value / Double(1 << 10), 2) + "KB" }
        return format(value, 0) + "B"
    }

    private func duration(_ microseconds: Double) -> String {
        if microseconds >= 1_000_000 { return format(microseconds / 1_000_000, 2) + "s" }
        if microseconds >= 1000 { return format(microseconds / 1000, 2) + "ms" }
        return format(microseconds, 0) + "us"
    }

    private func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return left ? fill + text : text + fill
    }
}

/// The scheme, host and port of a URI, and its request headers.
struct LoadTarget: Sendable {
    let url: SPDYURL
    var tls: Bool { url.scheme == "https" }
    var host: String { url.host }
    var port: Int { url.port }
    var authorityKey: String { "\(url.scheme)://\(url.authority)" }

    init(uri: String) throws {
        do {
            url = try SPDYURL(uri)
        } catch {
            throw ToolError("\(uri): not an http:// or https:// URI")
        }
    }

    /// The request's header block with `overrides` applied (a name given replaces the
    /// built-in header, case-insensitively; other names are added).
    func headers(overrides: [HeaderOverride], bodyLength: Int?) -> SPDYHeaders {
        var fields: [(String, String)] = [
            (":method", bodyLength == nil ? "GET" : "POST"),
            (":path", url.path),
            (":version", "HTTP/1.1"),
            (":scheme", url.scheme),
            (":host", url.authority),
            ("accept", "*/*"),
            ("user-agent", "spdyload swift-spdy"),
        ]
        if let bodyLength { fields.append(("content-length", String(bodyLength))) }
        for override in overrides {
            if let index = fields.firstIndex(where: { $0.0 == override.name }) {
                fields[index].1 = override.value
            } else {
                fields.append((override.name, override.value))
            }
        }
        var block = SPDYHeaders()
        for (name, value) in fields { block.add(name: name, value: value) }
        return block
    }
}

/// A `-H 'name: value'` option: the separator is the first ':' after the first
/// character (so `:method: HEAD` works); spaces before the value are skipped.
struct HeaderOverride: Sendable {
    let name: String
    let value: String

    static func parse(_ text: String) throws -> HeaderOverride {
        guard text.count > 1, let colon = text.dropFirst().firstIndex(of: ":") else {
            throw ToolError("-H: invalid header: \(text)")
        }
        let name = text[..<colon].lowercased()
        let value = text[text.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
        guard !name.isEmpty, !value.isEmpty else { throw ToolError("-H: invalid header: \(text)") }
        return HeaderOverride(name: name, value: String(value))
    }
}
