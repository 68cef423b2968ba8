import NIOCore
import SPDY

/// Runs cases of the catalogue against a server, each on a fresh connection with its own
/// time limit, and reports them.
public struct SpecRunner: Sendable {
    /// Opens a fresh connection to the server under test.
    public typealias Connect = @Sendable (SPDYVersion) async throws -> any SpecTransport

    /// The version under test.
    public var version: SPDYVersion
    /// The `:host` of requests.
    public var authority: String
    /// A path whose response is larger than 140 000 bytes (the flow-control cases).
    public var largePath = "/big"
    /// A path whose response comes with pushed streams (the push cases skip without one).
    public var pushPath: String?
    /// The `:scheme` of requests: `https` over TLS, `http` over plain TCP.
    public var scheme = "https"
    /// How each case's fresh connection is made.
    public var connect: Connect
    /// The most one case may take, connecting included.
    public var caseTimeout: Duration

    /// A runner for `version` whose requests name `authority`, each case on a connection
    /// `connect` makes, and stopped after `caseTimeout`.
    public init(
        version: SPDYVersion, authority: String, caseTimeout: Duration = .seconds(10),
        connect: @escaping Connect
    ) {
        self.version = version
        self.authority = authority
        self.caseTimeout = caseTimeout
        self.connect = connect
    }

    /// The tag of a version in case IDs: `2`, `3`, `3.1`.
    public static func tag(_ version: SPDYVersion) -> String {
        switch version {
        case .v2: return "2"
        case .v3: return "3"
        case .v3_1: return "31"
        }
    }

    /// The cases of `catalogue` for this version, with their IDs (`3.1/2.6.1/2`), in
    /// section order; `sections` keeps those whose section is one of them or below one.
    public func selected(_ catalogue: [SpecCase], sections: [String] = []) -> [(id: String, specCase: SpecCase)] {
        var result: [(String, SpecCase)] = []
        for specCase in catalogue where specCase.versions.contains(version) {
            let id = "\(Self.tag(version))/\(specCase.section)/\(specCase.number)"
            let chosen =
                sections.isEmpty
                || sections.contains { specCase.section == $0 || specCase.section.hasPrefix($0 + ".") }
            if chosen { result.append((id, specCase)) }
        }
        return result.sorted {
            $0.1.section == $1.1.section
                ? $0.1.number < $1.1.number : Self.sectionPrecedes($0.1.section, $1.1.section)
        }
    }

    /// Section numbers in numeric order (2.6.10 after 2.6.9); the robustness cases, which
    /// rest on no section, last.
    static func sectionPrecedes(_ a: String, _ b: String) -> Bool {
        let x = a == "R" ? [Int.max] : a.split(separator: ".").map { Int($0) ?? 0 }
        let y = b == "R" ? [Int.max] : b.split(separator: ".").map { Int($0) ?? 0 }
        return x.lexicographicallyPrecedes(y)
    }

    /// Runs the selected cases one after the other, calling `report` after each. The cases
    /// that stand for global checks are decided once every case has run, since any of them
    /// may show a violation.
    public func run(
        _ cases: [(id: String, specCase: SpecCase)],
        report: (SpecResult) -> Void = { _ in }
    ) async -> [SpecResult] {
        let observations = SpecObservations()
        var results: [SpecResult] = []
        var deferred: [Int] = []
        for (id, specCase) in cases {
            let clock = ContinuousClock()
            let start = clock.now
            let verdict = specCase.observesOnly ? .passed : await runOne(specCase, id: id, observations: observations)
            let result = SpecResult(
                id: id, section: specCase.section, title: specCase.title, verdict: verdict,
                duration: clock.now - start)
            if specCase.global != nil {
                deferred.append(results.count)
            } else {
                report(settled(result, specCase))
            }
            results.append(result)
        }
        for index in deferred {
            let specCase = cases[index].specCase
            guard let check = specCase.global else { continue }
            let observed = observations.verdict(of: check)
            if specCase.observesOnly {
                results[index].verdict = observed
            } else if case .failed = observed {
                // A case with a part of its own keeps its own failure; a pass or a skip
                // gives way to a violation seen anywhere in the run.
                switch results[index].verdict {
                case .passed, .skipped: results[index].verdict = observed
                default: break
                }
            }
            report(settled(results[index], specCase))
        }
        return zip(results, cases).map { settled($0, $1.specCase) }
    }

    /// A failure of an informational case becomes a note.
    private func settled(_ result: SpecResult, _ specCase: SpecCase) -> SpecResult {
        var result = result
        if specCase.informational.contains(version), case .failed(let expected, let got) = result.verdict {
            result.verdict = .noted(expected: expected, got: got)
        }
        return result
    }

    private func runOne(_ specCase: SpecCase, id: String, observations: SpecObservations) async -> SpecVerdict {
        let version = self.version
        let connect = self.connect
        let timeout = caseTimeout
        let authority = self.authority
        let largePath = self.largePath
        let pushPath = self.pushPath
        let scheme = self.scheme
        return await withTaskGroup(of: SpecVerdict?.self) { group in
            group.addTask {
                let transport: any SpecTransport
                do {
                    transport = try await connect(version)
                } catch {
                    return .failed(expected: "a connection", got: "\(error)")
                }
                defer { Task { await transport.close() } }
                do {
                    let connection = try SpecConnection(
                        version: version, authority: authority, transport: transport, caseID: id,
                        observations: observations)
                    connection.largePath = largePath
                    connection.pushPath = pushPath
                    connection.scheme = scheme
                    try await specCase.run(connection)
                    return .passed
                } catch let failure as SpecFailure {
                    return .failed(expected: failure.expected, got: failure.got)
                } catch let skip as SpecSkip {
                    return .skipped(skip.reason)
                } catch {
                    return .failed(expected: "the case to run", got: "\(error)")
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next()!
            group.cancelAll()
            return first ?? .failed(expected: "an answer within \(timeout)", got: "the case's time limit passed")
        }
    }

    /// The text report: one line per case grouped by section, then the summary line.
    public static func text(_ results: [SpecResult], sectionTitles: [String: String] = SpecCatalogue.sectionTitles)
        -> String
    {
        var out = ""
        var section: String?
        for result in results {
            if result.section != section {
                section = result.section
                out += "\n\(result.section) \(sectionTitles[result.section] ?? "")\n"
            }
            switch result.verdict {
            case .passed:
                out += "  ✔ \(result.id) \(result.title)\n"
            case .failed(let expected, let got):
                out += "  ✘ \(result.id) \(result.title)\n      expected: \(expected)\n      got: \(got)\n"
            case .noted(let expected, let got):
                out +=
                    "  ~ \(result.id) \(result.title) (informational)\n      expected: \(expected)\n      got: \(got)\n"
            case .skipped(let why):
                out += "  - \(result.id) \(result.title)\n      skipped: \(why)\n"
            }
        }
        out += "\n" + summary(results) + "\n"
        return out
    }

    /// `N cases: P passed, F failed, S skipped, I informational notes`.
    public static func summary(_ results: [SpecResult]) -> String {
        let passed = results.filter { $0.verdict == .passed }.count
        let skipped = results.filter { if case .skipped = $0.verdict { true } else { false } }.count
        let noted = results.filter { if case .noted = $0.verdict { true } else { false } }.count
        let failed = results.count - passed - skipped - noted
        return
            "\(results.count) cases: \(passed) passed, \(failed) failed, \(skipped) skipped, \(noted) informational notes"
    }

    /// Whether every counted case passed (skips and informational notes do not count).
    public static func allPassed(_ results: [SpecResult]) -> Bool {
        !results.contains { if case .failed = $0.verdict { true } else { false } }
    }

    /// A JUnit XML report (one test suite per section).
    public static func junit(_ results: [SpecResult], name: String) -> String {
        func escape(_ s: String) -> String {
            s.replacingAll("&", "&amp;").replacingAll("<", "&lt;").replacingAll(">", "&gt;")
                .replacingAll("\"", "&quot;")
        }
        func seconds(_ d: Duration) -> String {
            let (s, attos) = d.components
            let millis = Int(attos / 1_000_000_000_000_000)
            return "\(s)." + String(String(1000 + millis).dropFirst())
        }
        var sections: [String] = []
        for result in results where !sections.contains(result.section) { sections.append(result.section) }
        let failures = results.filter { if case .failed = $0.verdict { true } else { false } }.count
        let skips = results.filter { if case .skipped = $0.verdict { true } else { false } }.count
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out +=
            "<testsuites name=\"\(escape(name))\" tests=\"\(results.count)\" failures=\"\(failures)\" skipped=\"\(skips)\">\n"
        for section in sections {
            let inSection = results.filter { $0.section == section }
            let f = inSection.filter { if case .failed = $0.verdict { true } else { false } }.count
            let s = inSection.filter { if case .skipped = $0.verdict { true } else { false } }.count
            out +=
                "  <testsuite name=\"\(escape(section))\" tests=\"\(inSection.count)\" failures=\"\(f)\" skipped=\"\(s)\">\n"
            for result in inSection {
                out +=
                    "    <testcase classname=\"\(escape(section))\" name=\"\(escape(result.id + " " + result.title))\" time=\"\(seconds(result.duration))\""
                switch result.verdict {
                case .passed:
                    out += "/>\n"
                case .failed(let expected, let got):
                    out += ">\n      <failure message=\"\(escape("expected: " + expected + "; got: " + got))\"/>\n"
                    out += "    </testcase>\n"
                case .skipped(let why):
                    out += ">\n      <skipped message=\"\(escape(why))\"/>\n    </testcase>\n"
                case .noted(let expected, let got):
                    out +=
                        ">\n      <system-out>\(escape("informational: expected " + expected + "; got " + got))</system-out>\n"
                    out += "    </testcase>\n"
                }
            }
            out += "  </testsuite>\n"
        }
        out += "</testsuites>\n"
        return out
    }
}

extension String {
    fileprivate func replacingAll(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
