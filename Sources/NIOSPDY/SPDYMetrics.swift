import CoreMetrics
import SPDY

/// The counters of SPDY connections, reported through swift-metrics.
///
/// One instance serves every connection of a server or a client: set it as `metrics` in
/// ``SPDYServer/Configuration``, ``SPDYServerPipelineConfiguration`` or
/// ``SPDYClient/Configuration`` (or on a ``SPDYConnection`` of your own); without one nothing
/// is counted. It makes its handlers once, up front, from the factory it is given (by default
/// `MetricsSystem.factory`: bootstrap the metrics system before creating it), and a
/// connection hands its frame and byte counts over once per flush, so counting costs no
/// lookup by name and no shared write per frame.
///
/// | Metric | Kind | Dimensions |
/// | --- | --- | --- |
/// | `spdy_connections_total` | counter | `role` |
/// | `spdy_connections_active` | meter | `role` |
/// | `spdy_streams_opened_total` | counter | `role`, `initiator` (`local`, `remote`) |
/// | `spdy_streams_active` | meter | `role` |
/// | `spdy_streams_closed_total` | counter | `role`, `status` (`OK`, the reset's status, or `CONNECTION_CLOSED` for a stream still open when its connection ended) |
/// | `spdy_resets_total` | counter | `role`, `direction` (`sent`, `received`), `status` |
/// | `spdy_frames_total` | counter | `role`, `direction`, `type` (`DATA`, `SYN_STREAM`, …, `UNKNOWN`) |
/// | `spdy_bytes_total` | counter | `role`, `direction` (bytes on the connection, TLS excluded) |
/// | `spdy_flow_control_stalls_total` | counter | `role` (DATA held back by a full window) |
/// | `spdy_abuse_limits_hit_total` | counter | `role`, `limit` (``SPDYAbuse``) |
/// | `spdy_tls_handshake_failures_total` | counter | `role` |
///
/// `role` is `server` or `client`; `dimensions` given to the initializer are added to every
/// metric.
public final class SPDYMetrics: Sendable {
    /// Whether the connections of a server or a client count, or not.
    public enum Role: String, Sendable {
        /// Connections a server accepted.
        case server
        /// Connections a client opened.
        case client
    }

    let connections: CounterHandler
    let activeConnections: MeterHandler
    /// Indexed by `initiator`: 0 local, 1 remote.
    let streamsOpened: [CounterHandler]
    let activeStreams: MeterHandler
    /// Indexed by status code 0...11; `otherStatus` for the rest.
    let streamsClosed: [CounterHandler]
    /// Streams still open when their connection ended (status `CONNECTION_CLOSED`), so that
    /// opened = closed + active.
    let streamsClosedWithConnection: CounterHandler
    /// Indexed by direction (0 sent, 1 received), then by status code 0...11 and 12 for others.
    let resets: [[CounterHandler]]
    /// Indexed by direction, then by frame type 0 (DATA) ... 10 (CREDENTIAL) and 11 (unknown).
    let frames: [[CounterHandler]]
    /// Indexed by direction.
    let bytes: [CounterHandler]
    let flowControlStalls: CounterHandler
    let abuse: [SPDYAbuse: CounterHandler]
    let tlsHandshakeFailures: CounterHandler

    static let otherStatus = 12
    static let unknownFrameType = 11

    /// Makes every handler through `factory`.
    ///
    /// - Parameters:
    ///   - role: Whether the connections are a server's or a client's.
    ///   - dimensions: Added to every metric (a server's name, say).
    ///   - factory: The metrics backend; by default the one `MetricsSystem.bootstrap` set.
    public init(role: Role, dimensions: [(String, String)] = [], factory: any MetricsFactory = MetricsSystem.factory) {
        let base = [("role", role.rawValue)] + dimensions
        func counter(_ label: String, _ extra: [(String, String)] = []) -> CounterHandler {
            factory.makeCounter(label: label, dimensions: base + extra)
        }
        func meter(_ label: String) -> MeterHandler {
            factory.makeMeter(label: label, dimensions: base)
        }
        func statusName(_ code: Int) -> String {
            code == Self.otherStatus ? "OTHER" : SPDYStreamStatus(rawValue: UInt32(code)).description
        }
        let directions = ["sent", "received"]
        connections = counter("spdy_connections_total")
        activeConnections = meter("spdy_connections_active")
        streamsOpened = ["local", "remote"].map { counter("spdy_streams_opened_total", [("initiator", $0)]) }
        activeStreams = meter("spdy_streams_active")
        streamsClosed = (0...Self.otherStatus).map {
            counter("spdy_streams_closed_total", [("status", statusName($0))])
        }
        streamsClosedWithConnection = counter("spdy_streams_closed_total", [("status", "CONNECTION_CLOSED")])
        resets = directions.map { direction in
            (0...Self.otherStatus).map {
                counter("spdy_resets_total", [("direction", direction), ("status", statusName($0))])
            }
        }
        frames = directions.map { direction in
            (0...Self.unknownFrameType).map { type in
                let name =
                    type == 0
                    ? "DATA"
                    : type == Self.unknownFrameType ? "UNKNOWN" : SPDYFrameType(rawValue: UInt16(type)).description
                return counter("spdy_frames_total", [("direction", direction), ("type", name)])
            }
        }
        bytes = directions.map { counter("spdy_bytes_total", [("direction", $0)]) }
        flowControlStalls = counter("spdy_flow_control_stalls_total")
        let limits: [(SPDYAbuse, String)] = [
            (.emptyDataFrames, "empty_data_frames"), (.resetFrames, "reset_frames"), (.streamErrors, "stream_errors"),
            (.controlFrames, "control_frames"), (.queuedFrames, "queued_frames"),
        ]
        abuse = Dictionary(
            uniqueKeysWithValues: limits.map { ($0.0, counter("spdy_abuse_limits_hit_total", [("limit", $0.1)])) })
        tlsHandshakeFailures = counter("spdy_tls_handshake_failures_total")
    }

    /// Counts a TLS handshake that failed (servers count their own; a pipeline of your own
    /// calls this where its TLS handler reports the failure).
    public func recordTLSHandshakeFailure() {
        tlsHandshakeFailures.increment(by: 1)
    }

    func statusIndex(_ status: SPDYStreamStatus) -> Int {
        status.rawValue < UInt32(Self.otherStatus) ? Int(status.rawValue) : Self.otherStatus
    }

    func frameTypeIndex(_ frame: SPDYFrame) -> Int {
        guard let type = frame.type else { return Self.unknownFrameType }
        let raw = Int(type.rawValue)
        return raw < Self.unknownFrameType ? raw : Self.unknownFrameType
    }
}

/// What one connection counted since it last reported to its ``SPDYMetrics``: plain integers
/// on the event loop, handed to the handlers once per flush rather than per frame.
struct SPDYConnectionCounts {
    /// By direction (0 sent, 1 received), then frame type index (see ``SPDYMetrics``).
    var frames = [[Int]](repeating: [Int](repeating: 0, count: SPDYMetrics.unknownFrameType + 1), count: 2)
    var bytes = [0, 0]
    var pending = false
    /// Streams counted as open and not yet as closed.
    var openStreams = 0
    /// The session's ``SPDYSession/flowControlStallCount`` already reported.
    var reportedStalls = 0

    mutating func frame(_ direction: Int, _ typeIndex: Int) {
        frames[direction][typeIndex] &+= 1
        pending = true
    }

    mutating func bytes(_ direction: Int, _ count: Int) {
        bytes[direction] &+= count
        pending = true
    }

    /// Hands what was counted to `metrics`, and the stalls the session counted since.
    mutating func report(to metrics: SPDYMetrics, session: SPDYSession) {
        let stalls = session.flowControlStallCount
        if stalls != reportedStalls {
            metrics.flowControlStalls.increment(by: Int64(stalls &- reportedStalls))
            reportedStalls = stalls
        }
        guard pending else { return }
        pending = false
        for direction in 0..<2 {
            if bytes[direction] > 0 {
                metrics.bytes[direction].increment(by: Int64(bytes[direction]))
                bytes[direction] = 0
            }
            for type in 0..<frames[direction].count where frames[direction][type] > 0 {
                metrics.frames[direction][type].increment(by: Int64(frames[direction][type]))
                frames[direction][type] = 0
            }
        }
    }
}
