import NIOConcurrencyHelpers
import NIOCore
import SPDY
import SPDYUpgrade
import Testing

@testable import SPDYKubernetes

@Suite("remotecommand (exec, attach): our client against our server")
struct RemoteCommandTests {
    @Test("stdout and stderr come back; success is a v4 Success status", arguments: RemoteCommandProtocol.allCases)
    func output(version: RemoteCommandProtocol) async throws {
        let server = try await KubernetesTestServer.start { context in
            #expect(context.options.command == ["greet", "a b"])
            #expect(context.streamProtocol == version)
            try await context.stdout!.write("hello \(context.options.command[1])\n")
            try await context.stderr!.write("a warning\n")
            return .success
        }
        let result = try await RemoteCommandClient.run(
            server.endpoint, namespace: "default", pod: "demo", options: .init(command: ["greet", "a b"]),
            protocols: [version])
        #expect(String(buffer: result.stdout) == "hello a b\n")
        #expect(String(buffer: result.stderr) == "a warning\n")
        #expect(result.exit == .success)
        await server.stop()
    }

    @Test("An exit code crosses as v4 NonZeroExitCode; before v4 only a failure text")
    func exitCode() async throws {
        let server = try await KubernetesTestServer.start { _ in .exitCode(3) }
        let v4 = try await RemoteCommandClient.run(
            server.endpoint, namespace: "default", pod: "demo", options: .init(command: ["false"]))
        #expect(v4.exit == .exitCode(3))
        #expect(v4.exit.status == 3)
        let v2 = try await RemoteCommandClient.run(
            server.endpoint, namespace: "default", pod: "demo", options: .init(command: ["false"]), protocols: [.v2])
        guard case .failure(let message) = v2.exit else {
            Issue.record("v2 gave \(v2.exit)")
            return
        }
        #expect(message.contains("non-zero exit code"))
        await server.stop()
    }

    @Test("The v4 Status JSON is the kubelet's, and decodes as client-go decodes it")
    func statusJSON() throws {
        #expect(RemoteCommandExit.success.errorStreamMessage(for: .v4) == #"{"metadata":{},"status":"Success"}"#)
        #expect(RemoteCommandExit.success.errorStreamMessage(for: .v3) == nil)
        let three = RemoteCommandExit.exitCode(3).errorStreamMessage(for: .v4)!
        #expect(
            three.contains(#""reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}"#))
        #expect(try RemoteCommandExit(errorStream: Array(three.utf8), streamProtocol: .v4) == .exitCode(3))
        let failure = RemoteCommandExit.failure("no such \"thing\"").errorStreamMessage(for: .v4)!
        #expect(
            try RemoteCommandExit(errorStream: Array(failure.utf8), streamProtocol: .v4)
                == .failure(#"Internal error occurred: error executing command in container: no such "thing""#))
        // What client-go refuses.
        #expect(throws: RemoteCommandProtocolError.self) {
            try RemoteCommandExit(errorStream: Array("not json".utf8), streamProtocol: .v4)
        }
        #expect(throws: RemoteCommandProtocolError.self) {
            try RemoteCommandExit(
                errorStream: Array(
                    #"{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"300"}]}}"#
                        .utf8), streamProtocol: .v4)
        }
    }

    @Test("stdin: 3 MB of random bytes echoed byte for byte (no flow control, no window updates)")
    func stdinEcho() async throws {
        let server = try await KubernetesTestServer.start { context in
            for try await chunk in context.stdin! {
                try await context.stdout!.write(chunk)
            }
            return .success
        }
        let input = randomBytes(3_000_000)
        let result = try await RemoteCommandClient.run(
            server.endpoint, namespace: "default", pod: "demo", options: .init(command: ["cat"]),
            stdin: ByteBuffer(bytes: input))
        #expect(result.exit == .success)
        #expect(result.stdout.readableBytes == input.count)
        #expect(Array(result.stdout.readableBytesView) == input)
        await server.stop()
    }

    @Test("TTY: the resize stream carries the first size and each change; no stderr stream")
    func resize() async throws {
        let server = try await KubernetesTestServer.start { context in
            #expect(context.stderr == nil)
            var seen = 0
            for await size in context.resizes {
                try await context.stdout!.write("\(size.width)x\(size.height)\n")
                seen += 1
                if seen == 2 { break }
            }
            return .exitCode(7)
        }
        let session = try await RemoteCommandClient.start(
            server.endpoint, namespace: "default", pod: "demo", options: .init(command: ["sh"], stdin: true, tty: true))
        #expect(session.stderr == nil)
        try await session.resize(TerminalSize(width: 100, height: 40))
        try await session.resize(TerminalSize(width: 120, height: 50))
        let stdout = try await session.stdout!.collect(upTo: 1024)
        #expect(String(buffer: stdout) == "100x40\n120x50\n")
        #expect(try await session.exitStatus() == .exitCode(7))
        session.close()
        await server.stop()
    }

    @Test("A thrown error becomes a failure status with its text")
    func handlerThrows() async throws {
        struct Broken: Error, CustomStringConvertible { var description: String { "the pod is broken" } }
        let server = try await KubernetesTestServer.start { _ in throw Broken() }
        let result = try await RemoteCommandClient.run(
            server.endpoint, namespace: "default", pod: "demo", options: .init(command: ["x"]))
        guard case .failure(let message) = result.exit else {
            Issue.record("got \(result.exit)")
            return
        }
        #expect(message.contains("the pod is broken"))
        await server.stop()
    }

    @Test("No protocol in common: 403 naming the server's versions, as an upgrade error")
    func forbidden() async throws {
        let server = try await KubernetesTestServer.start()
        do {
            _ = try await KubernetesConnection.connect(
                to: server.endpoint, path: "/api/v1/namespaces/default/pods/demo/exec?command=ls&stdout=true",
                streamProtocols: ["v9.channel.k8s.io"])
            Issue.record("the upgrade succeeded")
        } catch SPDYUpgradeError.refused(let status, let accepted, _) {
            #expect(status == .forbidden)
            #expect(accepted == RemoteCommandServer.supportedProtocols)
        }
        await server.stop()
    }

    @Test("A stream of an unknown type is reset; streams never completed time out with a message on the error stream")
    func unknownStreamAndTimeout() async throws {
        let ran = NIOLockedValueBox(false)
        let server = try await KubernetesTestServer.start(remoteCommand: .init(streamTimeout: .seconds(3))) {
            _ in
            ran.withLockedValue { $0 = true }
            return .success
        }
        let connection = try await KubernetesConnection.connect(
            to: server.endpoint, path: "/api/v1/namespaces/default/pods/demo/exec?command=ls&stdout=true",
            streamProtocols: ["v4.channel.k8s.io"])
        let errorStream = try await connection.openStream(headers: [("streamtype", "error")])
        // An unknown type instead of stdout: answered, then reset.
        let bogus = try await connection.openStream(headers: [("streamtype", "bogus")])
        for try await _ in bogus.inbound {}
        let message = try await errorStream.inbound.collect(upTo: 4096)
        #expect(String(buffer: message).contains("timed out waiting for client to create streams"))
        await connection.closed()
        #expect(!ran.withLockedValue { $0 })
        await server.stop()
    }

    @Test("A client that never reads its output: the server's writes wait, memory stays bounded, and closing ends it")
    func clientNeverReads() async throws {
        let written = NIOLockedValueBox(0)
        let finished = NIOLockedValueBox(false)
        let server = try await KubernetesTestServer.start { context in
            let chunk = ByteBuffer(repeating: 0x61, count: 64 * 1024)
            do {
                while true {
                    try await context.stdout!.write(chunk)
                    written.withLockedValue { $0 += chunk.readableBytes }
                }
            } catch {
                finished.withLockedValue { $0 = true }
                throw error
            }
        }
        let session = try await RemoteCommandClient.start(
            server.endpoint, namespace: "default", pod: "demo", options: .init(command: ["yes"], stderr: false))
        // The writer stops once the buffers on the way are full; on a loaded machine it may
        // take a while to get there, so wait for a quiet half second (30 s at most).
        var last = -1
        var now = written.withLockedValue { $0 }
        let deadline = ContinuousClock.now + .seconds(30)
        while now != last && ContinuousClock.now < deadline {
            last = now
            try await Task.sleep(nanoseconds: 500_000_000)
            now = written.withLockedValue { $0 }
        }
        #expect(now == last, "the writer kept going: \(last) then \(now)")
        // Stopped by socket buffers, the client's stream buffer and the server's write buffer.
        #expect(now < 64 << 20)
        session.connection.close()
        try await eventually(timeout: 10) { finished.withLockedValue { $0 } }
        await server.stop()
    }
}

/// Waits until `condition` holds, up to `timeout` seconds.
func eventually(timeout: Double, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(timeout)
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("the condition did not hold within \(timeout) s")
            return
        }
        try await Task.sleep(nanoseconds: 20_000_000)
    }
}
