import SPDY

/// Every case of spdyspec, by section of the drafts (docs/SPDYSPEC-CATALOGUE.md says what
/// each rests on). Adding a case: one ``SpecCase`` in its section's list, with the section,
/// its number in the catalogue, the versions (and those where it is informational), a title
/// with the draft's words, and a function that sends and expects.
public enum SpecCatalogue {
    /// Every case, in the order the report groups them.
    public static let all: [SpecCase] =
        framing + streams + errors + settings + ping + goAway + flowControl + headerBlocks + more
        + globals + requests + compression + limits + flowControlLimits + robustness

    /// The titles of the sections, as the drafts name them.
    public static let sectionTitles: [String: String] = [
        "2.1": "Session (connections)",
        "2.2.1": "Control frames",
        "2.2.2": "Data frames",
        "2.3.2": "Stream creation",
        "2.3.2.1": "Unidirectional streams",
        "2.3.6": "Stream half-close",
        "2.3.7": "Stream close",
        "2.4.1": "Session error handling",
        "2.4.2": "Stream error handling",
        "2.6.1": "SYN_STREAM",
        "2.6.2": "SYN_REPLY",
        "2.6.3": "RST_STREAM",
        "2.6.4": "SETTINGS",
        "2.6.5": "PING",
        "2.6.6": "GOAWAY",
        "2.6.7": "HEADERS",
        "2.6.8": "WINDOW_UPDATE and flow control",
        "2.6.9": "CREDENTIAL",
        "NOOP": "NOOP (SPDY/2; removed in SPDY/3)",
        "2.6.10": "Name/Value header block",
        "2.6.10.1": "Compression",
        "3.2.1": "Request",
        "3.2.2": "Response",
        "3.3.1": "Server push: server implementation",
        "3.3.2": "Server push: client implementation",
        "R": "Robustness (no draft sentence requires these)",
    ]

    static let v3Up: Set<SPDYVersion> = [.v3, .v3_1]
    static let v2: Set<SPDYVersion> = [.v2]
    static let all3: Set<SPDYVersion> = Set(SPDYVersion.allCases)
}
