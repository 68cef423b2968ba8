// kube-interop: our Kubernetes client (SPDYKubernetes: exec, attach, port-forward over
// SPDY/3.1) through a fixed set of cases against a server on loopback: the Go kubelet-peer
// (moby/spdystream, Interop/go/kubelet-peer) or kube-pod (our own server side).
//
//   kube-interop --port P [--peer kubelet|kube-pod] [--timeout S] [--case NAME ...] [--verbose]
//
// Prints "PASS case (t s)" or "FAIL case: reason" for each case, then
// "kube-interop: N passed, N failed (peer)"; exits non-zero when a case failed. Every case
// has its own deadline: one that hangs fails with the step it was at, and the rest go on.
// Interop/KubeClient/run.sh runs it against both servers.

import ArgumentParser
import Foundation
import NIOCore
import SPDYKubernetes

/// The server the cases run against: its built-in commands differ.
enum Peer: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// Interop/go/kubelet-peer: the kubelet's streaming code on moby/spdystream.
    case kubelet
    /// kube-pod: a fake API server on this library's server side.
    case kubePod = "kube-pod"
}

struct KubeInterop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kube-interop",
        abstract: "Runs our Kubernetes SPDY client (exec, attach, port-forward) through fixed cases against a server.",
        discussion: "Cases: \(InteropCases.all.map(\.name).joined(separator: ", ")).")

    @Option(help: "The server's port.")
    var port: Int

    @Option(help: "The server's address.")
    var host = "127.0.0.1"

    @Option(help: "The server: kubelet (the Go kubelet-peer) or kube-pod.")
    var peer: Peer = .kubelet

    @Option(help: "Seconds each case may take.")
    var timeout: Double = 20

    @Option(help: "The pod's namespace.")
    var namespace = "default"

    @Option(help: "The pod's name.")
    var pod = "demo"

    @Option(name: .customLong("case"), help: "Run only this case (repeatable).")
    var cases: [String] = []

    @Flag(name: .shortAndLong, help: "Print details of each case.")
    var verbose = false

    func validate() throws {
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number") }
        guard (1...65535).contains(port) else { throw ValidationError("--port must be 1-65535") }
    }

    /// Runs the cases; throws `ExitCode(1)` when one failed.
    func runCases() async throws {
        let known = Set(InteropCases.all.map(\.name))
        for name in cases where !known.contains(name) {
            throw ValidationError(
                "unknown case \(name) (known: \(InteropCases.all.map(\.name).joined(separator: ", ")))")
        }
        // The library's own deadlines (connect, upgrade, each stream's reply) come before the
        // case's, so that a silent server fails with the library's error.
        let endpoint = KubernetesEndpoint(
            host: host, port: port, userAgent: "kube-interop", timeout: .nanoseconds(Int64(timeout * 2 / 3 * 1e9)))
        var passed = 0
        var failed = 0
        for interopCase in InteropCases.all where cases.isEmpty || cases.contains(interopCase.name) {
            guard interopCase.peers.contains(peer) else {
                say("SKIP \(interopCase.name) (not for \(peer.rawValue))")
                continue
            }
            let context = CaseContext(
                endpoint: endpoint, peer: peer, namespace: namespace, pod: pod, verbose: verbose)
            let started = ContinuousClock.now
            let outcome = await runWithDeadline(interopCase, context: context, seconds: timeout)
            let seconds = (ContinuousClock.now - started) / .milliseconds(1) / 1000
            switch outcome {
            case .passed:
                passed += 1
                say("PASS \(interopCase.name) (\(String(format: "%.2f", seconds)) s)")
            case .failed(let reason):
                failed += 1
                say("FAIL \(interopCase.name): \(reason)")
            }
        }
        say("kube-interop: \(passed) passed, \(failed) failed (\(peer.rawValue))")
        if failed > 0 { throw ExitCode(1) }
    }
}

/// One line on stdout, at once (the runner reads it while we run).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

// main.swift cannot carry @main: parse the arguments, then run the cases.
do {
    let command = try KubeInterop.parse()
    try await command.runCases()
} catch {
    KubeInterop.exit(withError: error)
}
