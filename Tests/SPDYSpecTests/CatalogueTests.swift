import NIOCore
import SPDY
import SPDYSpec
import Testing

@Suite("spdyspec: the catalogue against an in-memory server session")
struct CatalogueTests {
    func runner(_ version: SPDYVersion) -> SpecRunner {
        SpecRunner(version: version, authority: "spdyspec.test", caseTimeout: .seconds(10)) { version in
            try InMemoryServer(version: version)
        }
    }

    @Test("Every counted case passes against this library's server session", arguments: SPDYVersion.allCases)
    func catalogue(version: SPDYVersion) async {
        let runner = runner(version)
        let cases = runner.selected(SpecCatalogue.all)
        #expect(cases.count >= 40, "at least 40 cases for \(version)")
        let results = await runner.run(cases)
        for result in results {
            if case .failed(let expected, let got) = result.verdict {
                Issue.record("\(result.id) \(result.title): expected \(expected); got \(got)")
            }
        }
    }

    @Test("A case fails when the server does not do what it expects, with what came instead")
    func failureIsReported() async {
        // A server that never answers anything: every case that expects a frame fails.
        final class Silent: SpecTransport, @unchecked Sendable {
            func write(_ bytes: ByteBuffer) async throws {}
            func take() -> (bytes: ByteBuffer, closed: Bool) { (ByteBuffer(), false) }
            func close() async {}
        }
        let runner = SpecRunner(version: .v3, authority: "x", caseTimeout: .seconds(10)) { _ in Silent() }
        let dataForUnknownStream = SpecCase("2.2.2", 1, [.v3], "DATA for a stream never opened") { c in
            try await c.sendRaw(c.dataFrame(5, Array("abcd".utf8)))
            try await c.expectStreamError(5, .invalidStream)
        }
        let results = await runner.run(runner.selected([dataForUnknownStream]))
        #expect(results.map(\.id) == ["3/2.2.2/1"])
        #expect(results.first?.verdict == .failed(expected: "RST_STREAM INVALID_STREAM for stream 5", got: "nothing"))
        #expect(SpecRunner.summary(results).contains("1 failed"))
    }

    @Test("Global checks: a violation in any case fails the check's case; a frame never sent skips it")
    func globalChecks() async throws {
        // A server that answers anything with RST_STREAM status 0 (flags 1) and closes
        // without GOAWAY.
        final class Rude: SpecTransport, @unchecked Sendable {
            var answered = false
            func write(_ bytes: ByteBuffer) async throws { answered = true }
            func take() -> (bytes: ByteBuffer, closed: Bool) {
                guard answered else { return (ByteBuffer(), false) }
                answered = false
                return (ByteBuffer(bytes: [0x80, 3, 0, 3, 1, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0]), true)
            }
            func close() async {}
        }
        let runner = SpecRunner(version: .v3, authority: "x", caseTimeout: .seconds(10)) { _ in Rude() }
        let results = await runner.run(runner.selected(SpecCatalogue.all, sections: ["2.1", "2.6.3", "2.6.6"]))
        func verdict(_ id: String) -> SpecVerdict? { results.first { $0.id == id }?.verdict }
        #expect(
            verdict("3/2.6.3/6")
                == .failed(
                    expected: "RST_STREAM with flags 0, length 8 and a status the version defines",
                    got: "in 3/2.1/1: status 0 on stream 1"))
        // A case with a part of its own keeps its own failure (no reply came).
        #expect(verdict("3/2.1/1") == .failed(expected: "SYN_REPLY for stream 1", got: "RST_STREAM OK (stream 1)"))
        #expect(verdict("3/2.6.6/1") == .skipped("the server sent no GOAWAY during the run"))
    }

    @Test("IDs, sections, the text report and JUnit")
    func reports() {
        let runner = runner(.v3_1)
        let ids = runner.selected(SpecCatalogue.all, sections: ["2.6.8"]).map(\.id)
        #expect(ids.first == "31/2.6.8/1")
        #expect(ids.allSatisfy { $0.hasPrefix("31/2.6.8/") })
        let results = [
            SpecResult(id: "31/2.6.5/2", section: "2.6.5", title: "t", verdict: .passed, duration: .milliseconds(3)),
            SpecResult(
                id: "31/2.6.5/3", section: "2.6.5", title: "u", verdict: .failed(expected: "a & b", got: "<c>"),
                duration: .zero),
        ]
        let text = SpecRunner.text(results)
        #expect(text.contains("2.6.5 PING"))
        #expect(text.contains("✘ 31/2.6.5/3 u\n      expected: a & b\n      got: <c>"))
        #expect(text.hasSuffix("2 cases: 1 passed, 1 failed, 0 skipped, 0 informational notes\n"))
        let xml = SpecRunner.junit(results, name: "spdyspec")
        #expect(xml.contains("<failure message=\"expected: a &amp; b; got: &lt;c&gt;\"/>"))
        #expect(xml.contains("tests=\"2\" failures=\"1\""))
    }
}
