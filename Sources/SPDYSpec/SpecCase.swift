import NIOCore
import SPDY

/// One check of the catalogue: a rule of a SPDY draft that a client can observe from
/// outside, what to send and what counts as the server following it.
///
/// A case is data plus one small function: `run` gets a fresh connection to the server and
/// returns when the server behaved; it throws ``SpecFailure`` (what was expected, what came)
/// when it did not, and ``SpecSkip`` when the case cannot apply to this server.
public struct SpecCase: Sendable {
    /// The section of the draft the rule is in, as `2.6.1`.
    public var section: String
    /// The case's number within its section (docs/SPDYSPEC-CATALOGUE.md).
    public var number: Int
    /// The versions the case applies to.
    public var versions: Set<SPDYVersion>
    /// The versions for which the draft's word is a SHOULD, a MAY or unclear: what the server
    /// did is reported, a difference is not counted as a failure.
    public var informational: Set<SPDYVersion>
    /// The rule, in one line, with the draft's key words.
    public var title: String
    /// Runs the case on a fresh connection.
    public var run: @Sendable (SpecConnection) async throws -> Void
    /// The rule about every frame of a kind that the case also stands for: its verdict
    /// includes what that check saw on every connection of the run.
    public var global: GlobalCheck?
    /// Whether the case is only its global check (no connection of its own).
    public var observesOnly = false

    /// A case of `section` numbered `number` in the catalogue, counted for `versions`,
    /// informational for `informational`, whose `run` gets a fresh connection per run.
    public init(
        _ section: String,
        _ number: Int,
        _ versions: Set<SPDYVersion> = Set(SPDYVersion.allCases),
        informational: Set<SPDYVersion> = [],
        _ title: String,
        run: @escaping @Sendable (SpecConnection) async throws -> Void
    ) {
        self.section = section
        self.number = number
        self.versions = versions.union(informational)
        self.informational = informational
        self.title = title
        self.run = run
    }

    /// A case that is a global check only: its verdict is what `check` saw during the run.
    public init(
        _ section: String,
        _ number: Int,
        _ versions: Set<SPDYVersion> = Set(SPDYVersion.allCases),
        informational: Set<SPDYVersion> = [],
        _ title: String,
        global check: GlobalCheck
    ) {
        self.init(section, number, versions, informational: informational, title) { _ in }
        self.global = check
        self.observesOnly = true
    }
}

/// The outcome of one case.
public enum SpecVerdict: Sendable, Equatable {
    /// The server did what the draft requires.
    case passed
    /// The server broke a rule of a counted case: what was expected, and what came.
    case failed(expected: String, got: String)
    /// An informational case where the server did something else than expected.
    case noted(expected: String, got: String)
    /// The case could not be run against this server, with why.
    case skipped(String)
}

/// The outcome of one case, with what identifies it.
public struct SpecResult: Sendable {
    /// The case's ID: version tag, section, number (`3/2.6.1/2`).
    public var id: String
    /// The draft section the case checks (`2.6.1`).
    public var section: String
    /// What the case checks, with the draft's words.
    public var title: String
    /// How it went.
    public var verdict: SpecVerdict
    /// How long it took, connecting included.
    public var duration: Duration

    /// A result with every field given.
    public init(id: String, section: String, title: String, verdict: SpecVerdict, duration: Duration) {
        self.id = id
        self.section = section
        self.title = title
        self.verdict = verdict
        self.duration = duration
    }
}

extension SpecConnection {
    /// Waits for a RST_STREAM for `streamID` with one of `statuses`.
    public func expectStreamError(
        _ streamID: SPDYStreamID,
        _ statuses: SPDYStreamStatus...,
        within timeout: Duration = .seconds(3)
    ) async throws {
        let names = statuses.map { "\($0)" }.joined(separator: " or ")
        try await expect(
            "RST_STREAM \(names) for stream \(streamID)", within: timeout, lookingBack: true, reject: isFatal
        ) { event in
            if case .frame(.rstStream(let f)) = event { return f.streamID == streamID && statuses.contains(f.status) }
            return false
        }
    }

    /// Waits for a GOAWAY (with `status` on SPDY/3 and later, whose GOAWAY carries one).
    public func expectSessionError(_ status: SPDYGoAwayStatus = .protocolError, within timeout: Duration = .seconds(3))
        async throws
    {
        let what = version == .v2 ? "GOAWAY" : "GOAWAY \(status)"
        try await expect(what, within: timeout) { event in
            if case .frame(.goAway(let f)) = event { return version == .v2 || f.status == status }
            return false
        }
    }

    /// Waits for a stream error with one of `statuses` for `streamID`, or a session error
    /// PROTOCOL_ERROR: for the rules where the draft allows either answer.
    public func expectStreamOrSessionError(
        _ streamID: SPDYStreamID,
        _ statuses: SPDYStreamStatus...,
        within timeout: Duration = .seconds(3)
    ) async throws {
        let names = statuses.map { "\($0)" }.joined(separator: " or ")
        try await expect("RST_STREAM \(names) for stream \(streamID), or GOAWAY PROTOCOL_ERROR", within: timeout) {
            event in
            switch event {
            case .frame(.rstStream(let f)): return f.streamID == streamID && statuses.contains(f.status)
            case .frame(.goAway(let f)): return version == .v2 || f.status == .protocolError
            default: return false
            }
        }
    }

    /// Waits for the SYN_REPLY of `streamID` (the answer to a request).
    @discardableResult
    public func expectReply(_ streamID: SPDYStreamID, within timeout: Duration = .seconds(3)) async throws
        -> SPDYFrame.SynReply
    {
        let event = try await expect(
            "SYN_REPLY for stream \(streamID)", within: timeout, lookingBack: true, reject: isFatal
        ) { event in
            if case .frame(.synReply(let f)) = event { return f.streamID == streamID }
            return false
        }
        guard case .frame(.synReply(let reply)) = event else { fatalError("accepted only SYN_REPLY") }
        return reply
    }

    /// Waits until `streamID`'s response is complete (FIN on its SYN_REPLY, HEADERS or DATA).
    public func expectResponseEnd(_ streamID: SPDYStreamID, within timeout: Duration = .seconds(5)) async throws {
        try await expect(
            "the end (FIN) of stream \(streamID)'s response", within: timeout, lookingBack: true, reject: isFatal
        ) { event in
            switch event {
            case .frame(.synReply(let f)): return f.streamID == streamID && f.flags.contains(.fin)
            case .frame(.headers(let f)): return f.streamID == streamID && f.flags.contains(.fin)
            case .data(let id, let flags, _): return id == streamID && flags.contains(.fin)
            default: return false
            }
        }
    }

    /// Whether an event is an error that ends what a case waits for.
    public func isFatal(_ event: SpecEvent) -> Bool {
        switch event {
        case .frame(.goAway), .closed, .undecodable: return true
        default: return false
        }
    }
}
