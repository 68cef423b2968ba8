import NIOConcurrencyHelpers
import NIOCore
import SPDYKubernetes
import SPDYUpgrade

/// A case: its name, the peers it runs against, and its body (which throws on failure).
struct InteropCase: Sendable {
    let name: String
    let peers: Set<Peer>
    let body: @Sendable (CaseContext) async throws -> Void

    init(
        _ name: String, peers: Set<Peer> = Set(Peer.allCases),
        _ body: @escaping @Sendable (CaseContext) async throws -> Void
    ) {
        self.name = name
        self.peers = peers
        self.body = body
    }
}

/// A check that did not hold, as the reason a case failed.
struct CaseFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Fails the case with `message` unless `condition` holds.
func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw CaseFailure(message()) }
}

/// What a case works with: the server, and where it registers what must be closed when it
/// ends or runs out of time.
struct CaseContext: Sendable {
    let endpoint: KubernetesEndpoint
    let peer: Peer
    let namespace: String
    let pod: String
    let verbose: Bool
    private let state = NIOLockedValueBox(State())

    private struct State {
        var step = "starting"
        var closers: [@Sendable () -> Void] = []
    }

    init(endpoint: KubernetesEndpoint, peer: Peer, namespace: String, pod: String, verbose: Bool) {
        self.endpoint = endpoint
        self.peer = peer
        self.namespace = namespace
        self.pod = pod
        self.verbose = verbose
    }

    /// Names what the case is doing now (a case that times out fails with it).
    func step(_ name: String) {
        state.withLockedValue { $0.step = name }
        if verbose { say("  - \(name)") }
    }

    var currentStep: String { state.withLockedValue { $0.step } }

    /// Prints a detail with --verbose.
    func note(_ text: @autoclosure () -> String) {
        if verbose { say("    \(text())") }
    }

    /// Registers something to close when the case ends (also when it times out, to make
    /// what it waits on return).
    func onEnd(_ closer: @escaping @Sendable () -> Void) {
        state.withLockedValue { $0.closers.append(closer) }
    }

    /// Runs and forgets the registered closers, latest first.
    func closeAll() {
        let closers = state.withLockedValue { state in
            defer { state.closers = [] }
            return state.closers
        }
        for closer in closers.reversed() { closer() }
    }
}

enum CaseOutcome: Sendable {
    case passed
    case failed(String)
}

/// Runs a case in a task of its own against a timer, whichever ends first: a case that hangs
/// (even in a wait that ignores cancellation) is cancelled, its connections are closed, and
/// the runner goes on without it.
func runWithDeadline(_ interopCase: InteropCase, context: CaseContext, seconds: Double) async -> CaseOutcome {
    let (outcomes, continuation) = AsyncStream<CaseOutcome?>.makeStream()
    let work = Task {
        do {
            try await interopCase.body(context)
            continuation.yield(.passed)
        } catch {
            continuation.yield(.failed("\(describe(error)) (at: \(context.currentStep))"))
        }
    }
    let timer = Task {
        try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
        continuation.yield(nil)
    }
    var iterator = outcomes.makeAsyncIterator()
    let first = await iterator.next() ?? nil
    timer.cancel()
    continuation.finish()
    context.closeAll()
    guard let outcome = first else {
        work.cancel()
        return .failed("timed out after \(seconds) s (at: \(context.currentStep))")
    }
    return outcome
}

/// An error as one line, with its type when its text does not name it.
func describe(_ error: any Error) -> String {
    switch error {
    case let failure as CaseFailure: return failure.description
    case let upgrade as SPDYUpgradeError: return "SPDYUpgradeError: \(upgrade)"
    default:
        let text = String(describing: error)
        let type = String(describing: Swift.type(of: error))
        return text.hasPrefix(type) ? text : "\(type): \(text)"
    }
}

/// Text for a failure message: escaped, and cut after `limit` characters.
func quoted(_ bytes: ByteBuffer, limit: Int = 200) -> String {
    quoted(String(decoding: bytes.readableBytesView.prefix(limit * 4), as: UTF8.self), limit: limit)
}

func quoted(_ text: String, limit: Int = 200) -> String {
    let cut = text.count > limit ? String(text.prefix(limit)) + "…" : text
    return "\"" + cut.unicodeScalars.map { $0.escaped(asASCII: false) }.joined() + "\""
}

/// Fails unless `bytes` is exactly the UTF-8 of `expected`.
func checkText(_ bytes: ByteBuffer, _ expected: String, _ what: String) throws {
    try check(
        bytes.readableBytesView.elementsEqual(expected.utf8),
        "\(what): got \(quoted(bytes)) (\(bytes.readableBytes) bytes), expected \(quoted(expected))")
}

/// Fails unless `bytes` is exactly `expected`, saying where they first differ.
func checkBytes(_ bytes: ByteBuffer, _ expected: [UInt8], _ what: String) throws {
    let got = bytes.readableBytesView
    if got.count == expected.count && got.elementsEqual(expected) { return }
    var offset = 0
    for (a, b) in zip(got, expected) {
        if a != b { break }
        offset += 1
    }
    var detail = "\(what): got \(got.count) bytes, expected \(expected.count)"
    if offset < min(got.count, expected.count) {
        let gotByte = got[got.startIndex + offset]
        detail +=
            "; first difference at offset \(offset) (got 0x\(String(gotByte, radix: 16)), "
            + "expected 0x\(String(expected[offset], radix: 16)))"
    } else {
        detail += "; the shorter is a prefix of the other"
    }
    throw CaseFailure(detail)
}
