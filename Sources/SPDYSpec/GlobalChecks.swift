import NIOConcurrencyHelpers
@_spi(Testing) import SPDY

/// A rule about every frame of one kind the server sends, checked on every connection of a
/// run rather than by one case: whatever a case provokes (a GOAWAY, an RST_STREAM, a
/// server PING) is held to the draft's words for that frame.
public enum GlobalCheck: String, Sendable, CaseIterable {
    /// 2.1/1: the server sends GOAWAY before it closes the connection.
    case goAwayBeforeClose
    /// 2.2.1/1: every control frame carries the session's version.
    case controlFrameVersion
    /// 2.6.3/6: RST_STREAM has flags 0, length 8 and a status the version defines.
    case rstStreamFields
    /// 2.6.4/1: SETTINGS entries are well formed, with defined IDs and flags, none twice.
    case settingsFields
    /// 2.6.5/7: the server's own PINGs have even IDs.
    case serverPingParity
    /// 2.6.6/1: GOAWAY has flags 0, the version's length and (SPDY/3) a defined status.
    case goAwayFields
    /// 2.6.8/17: WINDOW_UPDATE has flags 0, length 8, a delta of 1 to 2^31−1, a stream the
    /// version allows.
    case windowUpdateFields
    /// 2.6.10/11: every header block the server sends follows the block rules.
    case headerBlockRules
    /// 3.2.2/1: every SYN_REPLY carries the status and version.
    case replyStatusAndVersion
    /// 3.2.2/2: no connection-specific headers in SYN_REPLY or HEADERS.
    case noConnectionHeaders
    /// 3.3.1/1: pushed SYN_STREAMs are even, increasing, unidirectional, associated with an
    /// open client stream, and name the pushed resource.
    case pushedStreams

    /// What the check expects, for a report.
    var expectation: String {
        switch self {
        case .goAwayBeforeClose: return "a GOAWAY before every close of the connection by the server"
        case .controlFrameVersion: return "the session's version in every control frame"
        case .rstStreamFields: return "RST_STREAM with flags 0, length 8 and a status the version defines"
        case .settingsFields: return "SETTINGS with flags 0 or 1, defined IDs and ID flags, no ID twice"
        case .serverPingParity: return "even IDs on the server's own PINGs"
        case .goAwayFields: return "GOAWAY with flags 0, the version's length and (SPDY/3) status 0, 1 or 2"
        case .windowUpdateFields:
            return "WINDOW_UPDATE with flags 0, length 8, delta 1 to 2^31-1 (stream 0 only in 3.1)"
        case .headerBlockRules:
            return "header blocks with non-empty lower-case names, no name twice, no empty value part"
        case .replyStatusAndVersion: return "status and version in every SYN_REPLY"
        case .noConnectionHeaders:
            return "no connection, keep-alive, proxy-connection or transfer-encoding header in replies"
        case .pushedStreams:
            return
                "pushed SYN_STREAMs even, increasing, UNIDIRECTIONAL, associated with an open stream, with the resource's headers"
        }
    }

    /// What kind of frame the check watches, for "SKIP: the server sent no …".
    var watched: String {
        switch self {
        case .goAwayBeforeClose: return "close of the connection"
        case .controlFrameVersion: return "control frame"
        case .rstStreamFields: return "RST_STREAM"
        case .settingsFields: return "SETTINGS"
        case .serverPingParity: return "PING of its own"
        case .goAwayFields: return "GOAWAY"
        case .windowUpdateFields: return "WINDOW_UPDATE"
        case .headerBlockRules: return "header block"
        case .replyStatusAndVersion: return "SYN_REPLY"
        case .noConnectionHeaders: return "SYN_REPLY or HEADERS"
        case .pushedStreams: return "pushed SYN_STREAM"
        }
    }
}

/// What the global checks saw over a run: how many frames each watched, and the first
/// violation of each with the case it happened in. Shared by the run's connections.
public final class SpecObservations: Sendable {
    struct Record {
        var seen = 0
        var violation: String?
    }
    private let records = NIOLockedValueBox([GlobalCheck: Record]())

    /// Observations of a new run: nothing seen yet.
    public init() {}

    func record(_ check: GlobalCheck, caseID: String, violation: String? = nil) {
        records.withLockedValue { records in
            records[check, default: Record()].seen += 1
            if let violation, records[check]?.violation == nil {
                records[check]?.violation = "in \(caseID): \(violation)"
            }
        }
    }

    /// The verdict of `check` over everything observed: passed, failed with the first
    /// violation, or skipped when the server never sent what it watches.
    public func verdict(of check: GlobalCheck) -> SpecVerdict {
        let record = records.withLockedValue { $0[check] } ?? Record()
        if let violation = record.violation {
            return .failed(expected: check.expectation, got: violation)
        }
        if record.seen == 0 {
            return .skipped("the server sent no \(check.watched) during the run")
        }
        return .passed
    }
}

/// The checks of one connection: frames are observed as they are decoded.
struct GlobalCheckState {
    let version: SPDYVersion
    let caseID: String
    let observations: SpecObservations?
    var goAwaySeen = false
    var lastPushedStreamID: UInt32 = 0

    mutating func observe(
        _ frame: SPDYFrame, header: SPDYControlFrameHeader, sentPingIDs: Set<UInt32>,
        openClientStreams: (SPDYStreamID) -> Bool
    ) {
        guard let observations else { return }
        func note(_ check: GlobalCheck, _ violation: String? = nil) {
            observations.record(check, caseID: caseID, violation: violation)
        }
        note(
            .controlFrameVersion,
            header.version == version.wireVersion
                ? nil : "a \(header.type) frame with version \(header.version)")
        switch frame {
        case .rstStream(let f):
            let valid: ClosedRange<UInt32> = version == .v2 ? 1...7 : version == .v3 ? 1...11 : 1...11
            var problem: String?
            if header.flags != 0 { problem = "flags \(header.flags)" }
            if header.length != 8 { problem = "length \(header.length)" }
            if !valid.contains(f.status.rawValue) || (version == .v3_1 && f.status.rawValue == 10) {
                problem = "status \(f.status.rawValue) on stream \(f.streamID)"
            }
            note(.rstStreamFields, problem)
        case .settings(let f):
            let maxID: UInt32 = version == .v2 ? 7 : 8
            var problem: String?
            if header.flags > 1 { problem = "frame flags \(header.flags)" }
            if header.length != 4 + 8 * f.entries.count {
                problem = "length \(header.length) for \(f.entries.count) entries"
            }
            var ids = Set<UInt32>()
            for entry in f.entries {
                if !(1...maxID).contains(entry.id.rawValue) {
                    problem =
                        "the undefined ID \(entry.id.rawValue)"
                        + (version == .v2 ? " (SPDY/2 IDs are little-endian)" : " (SPDY/3 IDs are big-endian)")
                }
                if entry.flags.rawValue > 2 { problem = "ID flags \(entry.flags.rawValue) for ID \(entry.id.rawValue)" }
                if !ids.insert(entry.id.rawValue).inserted { problem = "the ID \(entry.id.rawValue) twice" }
            }
            note(.settingsFields, problem)
        case .ping(let f):
            if f.id % 2 == 1 && !sentPingIDs.contains(f.id) {
                note(.serverPingParity, "PING \(f.id), odd, which the client never sent")
            } else if f.id % 2 == 0 {
                note(.serverPingParity)
            }
        case .goAway(let f):
            goAwaySeen = true
            var problem: String?
            if header.flags != 0 { problem = "flags \(header.flags)" }
            if header.length != (version == .v2 ? 4 : 8) { problem = "length \(header.length)" }
            if version != .v2 && f.status.rawValue > 2 { problem = "status \(f.status.rawValue)" }
            note(.goAwayFields, problem)
        case .windowUpdate(let f):
            var problem: String?
            if header.flags != 0 { problem = "flags \(header.flags)" }
            if header.length != 8 { problem = "length \(header.length)" }
            if f.deltaWindowSize == 0 || f.deltaWindowSize > 0x7fff_ffff { problem = "delta \(f.deltaWindowSize)" }
            if f.streamID == .zero && version != .v3_1 { problem = "stream 0, which SPDY/3 has no window for" }
            note(.windowUpdateFields, problem)
        case .synReply(let f):
            note(.headerBlockRules)
            let status = f.headers.contains(name: ":status") || f.headers.contains(name: "status")
            let httpVersion = f.headers.contains(name: ":version") || f.headers.contains(name: "version")
            note(
                .replyStatusAndVersion,
                status && httpVersion
                    ? nil : "the SYN_REPLY of stream \(f.streamID) has no \(status ? "version" : "status")")
            note(.noConnectionHeaders, Self.connectionHeader(in: f.headers, streamID: f.streamID))
        case .headers(let f):
            note(.headerBlockRules)
            note(.noConnectionHeaders, Self.connectionHeader(in: f.headers, streamID: f.streamID))
        case .synStream(let f):
            note(.headerBlockRules)
            var problem: String?
            let id = f.streamID.rawValue
            if id % 2 == 1 { problem = "the odd stream ID \(id)" }
            if id <= lastPushedStreamID { problem = "stream \(id) after \(lastPushedStreamID)" }
            if !f.flags.contains(.unidirectional) { problem = "stream \(id) without UNIDIRECTIONAL" }
            if f.associatedStreamID == .zero || !openClientStreams(f.associatedStreamID) {
                problem = "stream \(id) associated with \(f.associatedStreamID), not an open client stream"
            }
            let names = version == .v2 ? ["url"] : [":scheme", ":host", ":path"]
            if let missing = names.first(where: { !f.headers.contains(name: $0) }) {
                problem = "stream \(id) without \(missing)"
            }
            lastPushedStreamID = max(lastPushedStreamID, id)
            note(.pushedStreams, problem)
        default:
            break
        }
    }

    /// A frame the server sent that did not decode: a header block against the block rules
    /// (the decoder checks them) or a fixed-length frame of the wrong length.
    func observeUndecodable(_ error: SPDYFrameDecodingError) {
        guard let observations else { return }
        let why = error.message
        switch error.header.type {
        case .synReply, .headers, .synStream:
            // The decoder also refuses control bytes in values, which the drafts allow.
            if error.code == .invalidHeaderBlock && !why.contains("control byte") {
                observations.record(.headerBlockRules, caseID: caseID, violation: why)
            }
        case .rstStream: observations.record(.rstStreamFields, caseID: caseID, violation: why)
        case .settings: observations.record(.settingsFields, caseID: caseID, violation: why)
        case .goAway: observations.record(.goAwayFields, caseID: caseID, violation: why)
        case .windowUpdate: observations.record(.windowUpdateFields, caseID: caseID, violation: why)
        default: break
        }
    }

    /// The server closed the connection.
    func observeClose() {
        observations?.record(
            .goAwayBeforeClose, caseID: caseID,
            violation: goAwaySeen ? nil : "the server closed the connection without a GOAWAY")
    }

    static func connectionHeader(in headers: SPDYHeaders, streamID: SPDYStreamID) -> String? {
        for name in ["connection", "keep-alive", "proxy-connection", "transfer-encoding"]
        where headers.contains(name: name) {
            return "\(name) on stream \(streamID)"
        }
        return nil
    }
}
