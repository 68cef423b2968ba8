import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import SPDY
import SPDYSpec

/// spdyspec: a conformance tester for SPDY servers.
@main
struct Spdyspec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spdyspec",
        abstract: "Checks a SPDY server against the SPDY drafts, case by case.",
        discussion: """
            Each case is tied to a section of draft 2, 3 or 3.1 (docs/SPDYSPEC-CATALOGUE.md).
            Informational cases (the draft says SHOULD or MAY) are reported, never counted.
            Exit status: 0 when every counted case passed, 1 when one failed, 2 when the server
            could not be reached or did not speak the version.
            """)

    @Flag(name: .customShort("2"), help: "SPDY/2.") var spdy2 = false
    @Flag(name: .customShort("3"), help: "SPDY/3.") var spdy3 = false
    @Flag(name: .customLong("spdy3-1"), help: "SPDY/3.1 (the default).") var spdy31 = false
    @Flag(help: "TLS, negotiating the version by ALPN (by NPN with --npn).") var tls = false
    @Flag(help: "Negotiate by NPN (the system OpenSSL) instead of ALPN.") var npn = false
    @Flag(name: .customLong("no-tls"), help: "Plain TCP (the default).") var noTLS = false
    @Flag(name: [.customShort("k"), .customLong("insecure")], help: "Accept any certificate.") var insecure = false
    @Option(name: .customShort("s"), help: "Run only this section (and its subsections); may repeat.")
    var sections: [String] = []
    @Option(help: "Write a JUnit XML report to this file.") var junit: String?
    @Option(help: "The most one case may take, in seconds.") var caseTimeout: Double = 10
    @Option(help: "A path whose response is over 140 000 bytes (the flow-control cases).")
    var largePath = "/big"
    @Option(help: "A path whose response comes with pushed streams (the push cases skip without one).")
    var pushPath: String?
    @Flag(help: "List the cases of the version (ID, counted or informational, title) and exit.")
    var list = false
    @Argument(help: "The server's host.") var host: String?
    @Argument(help: "The server's port.") var port: Int?

    func validate() throws {
        guard [spdy2, spdy3, spdy31].filter({ $0 }).count <= 1 else {
            throw ValidationError("give at most one of -2, -3 and --spdy3-1")
        }
        guard !(tls && noTLS) else { throw ValidationError("--tls and --no-tls exclude each other") }
        guard !npn || tls else { throw ValidationError("--npn needs --tls") }
        guard list || (host != nil && port != nil) else { throw ValidationError("give HOST and PORT") }
        guard list || (1...65535).contains(port ?? 0) else {
            throw ValidationError("the port must be in 1...65535")
        }
    }

    func run() async throws {
        let version: SPDYVersion = spdy2 ? .v2 : spdy3 ? .v3 : .v3_1
        if list {
            let runner = SpecRunner(version: version, authority: "") { _ in throw ExitCode(2) }
            let cases = runner.selected(SpecCatalogue.all, sections: sections)
            for (id, specCase) in cases {
                let kind = specCase.informational.contains(version) ? "informational" : "counted"
                print("\(id)\t\(kind)\t\(specCase.title)")
            }
            let counted = cases.filter { !$0.specCase.informational.contains(version) }.count
            print("\(cases.count) cases: \(counted) counted, \(cases.count - counted) informational")
            return
        }
        guard let host, let port else { throw ExitCode(2) }
        let target = SpecTarget(
            host: host, port: port, security: tls ? (npn ? .npn : .alpn) : .none, insecure: insecure)
        let connect: SpecRunner.Connect = { version in
            try await SpecTarget.connect(to: target, version: version)
        }
        // One connection first: a server that cannot be reached is a setup error, not 100 failures.
        do {
            await (try connect(version)).close()
        } catch {
            FileHandle.standardError.write(Data("spdyspec: \(host):\(port): \(error)\n".utf8))
            throw ExitCode(2)
        }
        var runner = SpecRunner(
            version: version, authority: "\(host):\(port)", caseTimeout: .milliseconds(Int64(caseTimeout * 1000)),
            connect: connect)
        runner.largePath = largePath
        runner.scheme = tls ? "https" : "http"
        runner.pushPath = pushPath
        let selected = runner.selected(SpecCatalogue.all, sections: sections)
        guard !selected.isEmpty else {
            FileHandle.standardError.write(Data("spdyspec: no case in the sections \(sections)\n".utf8))
            throw ExitCode(2)
        }
        print("spdyspec: \(version) at \(host):\(port) (\(tls ? (npn ? "TLS, NPN" : "TLS, ALPN") : "plain TCP"))")
        let results = await runner.run(selected)
        print(SpecRunner.text(results), terminator: "")
        if let junit {
            try SpecRunner.junit(results, name: "spdyspec \(version)").write(
                toFile: junit, atomically: true, encoding: .utf8)
        }
        if !SpecRunner.allPassed(results) { throw ExitCode(1) }
    }
}
