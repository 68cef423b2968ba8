import NIOConcurrencyHelpers
import NIOCore
import SPDYKubernetes
import SPDYUpgrade

/// The cases, in the order they run.
enum InteropCases {
    static let all: [InteropCase] = [
        InteropCase("exec-output", execOutput),
        InteropCase("exec-exit-code", execExitCode),
        InteropCase("exec-stdin-3mb", execStdin),
        InteropCase("exec-large-output", peers: [.kubelet], execLargeOutput),
        InteropCase("exec-tty-resize", execTTYResize),
        InteropCase("attach", attach),
        InteropCase("portforward", portForward),
        InteropCase("portforward-refused", portForwardRefused),
        InteropCase("upgrade-refused", upgradeRefused),
    ]

    // MARK: - exec and attach

    /// stdout and stderr, each on its own stream, and the v4 Success status.
    static func execOutput(_ context: CaseContext) async throws {
        context.step("exec echo hello")
        let hello = try await context.run(["echo", "hello"])
        try checkText(hello.stdout, "hello\n", "stdout of echo hello")
        try checkText(hello.stderr, "", "stderr of echo hello")
        try check(hello.exit == .success, "echo hello ended with \(quoted(hello.exit.description)), expected success")

        switch context.peer {
        case .kubelet:
            context.step("exec echo-stderr oops")
            let oops = try await context.run(["echo-stderr", "oops"])
            try checkText(oops.stdout, "", "stdout of echo-stderr oops")
            try checkText(oops.stderr, "oops\n", "stderr of echo-stderr oops")
            try check(
                oops.exit == .success, "echo-stderr oops ended with \(quoted(oops.exit.description)), expected success")
        case .kubePod:
            let script = "echo out; ls /nonexistent"
            context.step("exec sh -c '\(script)'")
            let both = try await context.run(["sh", "-c", script])
            context.note("stderr: \(quoted(both.stderr)), exit: \(both.exit)")
            try checkText(both.stdout, "out\n", "stdout of sh -c '\(script)'")
            let stderr = String(buffer: both.stderr)
            try check(
                stderr.contains("/nonexistent") && stderr.hasSuffix("\n"),
                "stderr of sh -c '\(script)': got \(quoted(both.stderr)), expected ls's error about /nonexistent")
            guard case .exitCode(let code) = both.exit, code != 0 else {
                throw CaseFailure(
                    "sh -c '\(script)' ended with \(quoted(both.exit.description)), expected ls's non-zero exit code")
            }
        }
    }

    /// An exit code: v4 carries it in the Status; v3 has only a failure text.
    static func execExitCode(_ context: CaseContext) async throws {
        let command = ["sh", "-c", "exit 3"]
        context.step("exec sh -c 'exit 3' offering v4..v1")
        let session = try await context.start(command)
        try check(
            session.streamProtocol == .v4,
            "the server chose \(session.streamProtocol.rawValue), expected v4.channel.k8s.io")
        let v4 = try await context.finish(session)
        try checkText(v4.stdout, "", "stdout of sh -c 'exit 3'")
        try check(v4.exit == .exitCode(3), "v4: got \(quoted(v4.exit.description)), expected exit code 3")
        try check(v4.exit.status == 3, "v4: status \(v4.exit.status), expected 3")

        context.step("exec sh -c 'exit 3' offering v3 only")
        let v3 = try await context.run(command, protocols: [.v3])
        context.note("v3: \(v3.exit)")
        guard case .failure(let message) = v3.exit else {
            throw CaseFailure(
                "v3: got \(quoted(v3.exit.description)), expected a failure text (no exit code before v4)")
        }
        try check(
            message.contains("non-zero exit code") && message.contains("3"),
            "v3: the failure text \(quoted(message)) does not name the non-zero exit code 3")
    }

    /// 3 MiB of random bytes through `cat`: stdin to stdout byte for byte (spdystream has no
    /// flow control: no WINDOW_UPDATE either way).
    static func execStdin(_ context: CaseContext) async throws {
        let input = randomBytes(3 << 20, seed: 3)
        context.step("exec cat with 3 MiB on stdin")
        let result = try await context.run(["cat"], stdin: ByteBuffer(bytes: input))
        try checkBytes(result.stdout, input, "stdout of cat")
        try checkText(result.stderr, "", "stderr of cat")
        try check(result.exit == .success, "cat ended with \(quoted(result.exit.description)), expected success")
    }

    /// 3,000,000 bytes of the peer's splitmix64 stream on stdout, in 32 KiB DATA frames.
    static func execLargeOutput(_ context: CaseContext) async throws {
        let count = 3_000_000
        let expected = splitmix64Bytes(count)
        try check(
            expected.prefix(8) == [0xaf, 0xcd, 0x1d, 0x7b, 0x39, 0xa8, 0x20, 0xe2],
            "our splitmix64 does not start with af cd 1d 7b 39 a8 20 e2")
        context.step("exec bytes \(count)")
        let result = try await context.run(["bytes", String(count)])
        try checkBytes(result.stdout, expected, "stdout of bytes \(count)")
        try checkText(result.stderr, "", "stderr of bytes \(count)")
        try check(result.exit == .success, "bytes ended with \(quoted(result.exit.description)), expected success")
    }

    /// A TTY with stdin: no stderr stream, a resize stream; the command sees 100x40.
    static func execTTYResize(_ context: CaseContext) async throws {
        let (command, expected) =
            context.peer == .kubelet ? (["size"], "100x40\n") : (["stty", "size"], "40 100\n")
        context.step("exec \(command.joined(separator: " ")) with tty and stdin")
        let session = try await context.start(command, stdin: true, tty: true)
        try check(session.stderr == nil, "a stderr stream was opened with a TTY")
        try check(session.stdout != nil, "no stdout stream")
        try check(
            session.streamProtocol.hasResize, "the server chose \(session.streamProtocol.rawValue), which has no resize"
        )
        context.step("resize to 100x40")
        try await session.resize(TerminalSize(width: 100, height: 40))
        context.step("read stdout and the status of \(command.joined(separator: " "))")
        let result = try await context.finish(session)
        try checkText(result.stdout, expected, "stdout of \(command.joined(separator: " "))")
        try check(
            result.exit == .success,
            "\(command.joined(separator: " ")) ended with \(quoted(result.exit.description)), expected success")
    }

    /// attach to the container's process (cat): "hi\n" on stdin, stdin closed, "hi\n" back.
    static func attach(_ context: CaseContext) async throws {
        context.step("attach with stdin")
        let session = try await context.start([], subresource: .attach, stdin: true)
        let result = try await context.finish(session, stdin: ByteBuffer(string: "hi\n"))
        try checkText(result.stdout, "hi\n", "stdout of attach")
        try checkText(result.stderr, "", "stderr of attach")
        try check(result.exit == .success, "attach ended with \(quoted(result.exit.description)), expected success")
    }

    // MARK: - port-forward

    /// Sends `bytes` on a forwarded connection, half-closes, and reads the echo to its end.
    static func echo(_ bytes: [UInt8], over stream: PortForwardStream) async throws -> ByteBuffer {
        async let received = stream.data.inbound.collect(upTo: 16 << 20)
        var rest = ByteBuffer(bytes: bytes)
        while rest.readableBytes > 0 {
            try await stream.data.write(rest.readSlice(length: min(rest.readableBytes, 32 * 1024))!)
        }
        try await stream.data.finish()
        return try await received
    }

    /// One SPDY connection: two sequential forwarded connections, two concurrent ones, and
    /// one through a local listener with a real TCP client; each echoed byte for byte.
    static func portForward(_ context: CaseContext) async throws {
        context.step("start the echo server")
        let echoServer = try await EchoServer.start()
        context.onEnd { echoServer.close() }
        let port = UInt16(echoServer.port)
        context.step("connect for port-forward")
        let client = try await context.portForwardClient()

        for round in 0..<2 {
            let bytes = randomBytes(200_000, seed: UInt64(10 + round))
            context.step("sequential connection \(round + 1): 200,000 bytes to port \(port)")
            let stream = try await client.openConnection(port: port)
            try check(stream.requestID == round, "request ID \(stream.requestID), expected \(round)")
            let echoed = try await echo(bytes, over: stream)
            try checkBytes(echoed, bytes, "echo on sequential connection \(round + 1)")
            context.step("sequential connection \(round + 1): the error stream")
            let error = try await stream.error()
            try check(error == nil, "sequential connection \(round + 1): error stream said \(quoted(error ?? ""))")
        }

        context.step("two concurrent connections, 1,000,000 bytes each")
        let first = randomBytes(1_000_000, seed: 20)
        let second = randomBytes(1_000_000, seed: 21)
        async let echoedFirst = echo(first, over: client.openConnection(port: port))
        async let echoedSecond = echo(second, over: client.openConnection(port: port))
        let (a, b) = try await (echoedFirst, echoedSecond)
        try checkBytes(a, first, "echo on concurrent connection 1")
        try checkBytes(b, second, "echo on concurrent connection 2")

        context.step("forward(remotePort:) on a local listener")
        let errors = NIOLockedValueBox<[String]>([])
        let forwarder = try await client.forward(remotePort: port) { message in
            errors.withLockedValue { $0.append(message) }
        }
        context.onEnd { Task { await forwarder.close() } }
        guard let address = forwarder.localAddress else { throw CaseFailure("the forwarder has no local address") }
        context.note("listening on \(address)")
        let bytes = randomBytes(300_000, seed: 30)
        context.step("a TCP client through \(address): 300,000 bytes")
        let echoed = try await tcpEcho(bytes, to: address)
        try checkBytes(echoed, bytes, "echo through the local listener")
        await forwarder.close()
        let reported = errors.withLockedValue { $0 }
        try check(reported.isEmpty, "the forwarder reported \(reported.map { quoted($0) }.joined(separator: ", "))")

        let connections = echoServer.connections.withLockedValue { $0 }
        try check(connections == 5, "the echo server saw \(connections) connections, expected 5")
        client.close()
    }

    /// A port nothing listens on: the server's message on the error stream, and the data
    /// stream ends.
    static func portForwardRefused(_ context: CaseContext) async throws {
        let port = try await closedPort()
        context.step("connect for port-forward")
        let client = try await context.portForwardClient()
        context.step("open a connection to closed port \(port)")
        let stream = try await client.openConnection(port: UInt16(port))
        context.step("read the error stream")
        let message = try await stream.error()
        context.note("error stream: \(quoted(message ?? "(nothing)", limit: 1000))")
        guard let message else { throw CaseFailure("the error stream ended empty") }
        try check(
            message.contains("error forwarding port \(port)"),
            "the error stream said \(quoted(message)), expected \"error forwarding port \(port) …\"")
        context.step("read the data stream to its end")
        var extra = 0
        do {
            for try await chunk in stream.data.inbound { extra += chunk.readableBytes }
        } catch {
            context.note("the data stream ended with \(describe(error))")
        }
        try check(extra == 0, "the data stream carried \(extra) bytes")
        client.close()
    }

    // MARK: - the upgrade

    /// Only `v9.channel.k8s.io` offered: 403, naming the protocols the server accepts.
    static func upgradeRefused(_ context: CaseContext) async throws {
        let path = "/api/v1/namespaces/\(context.namespace)/pods/\(context.pod)/exec?command=echo&stdout=true"
        context.step("upgrade offering only v9.channel.k8s.io")
        do {
            let connection = try await KubernetesConnection.connect(
                to: context.endpoint, path: path, streamProtocols: ["v9.channel.k8s.io"])
            connection.close()
            throw CaseFailure("the upgrade succeeded (\(connection.streamProtocol ?? "no protocol"))")
        } catch SPDYUpgradeError.refused(let status, let accepted, let body) {
            context.note("refused: \(status.code), accepted \(accepted), body \(quoted(body))")
            let expected = RemoteCommandProtocol.serverPreference.map(\.rawValue)
            try check(status.code == 403, "status \(status.code) \(status.reasonPhrase), expected 403")
            try check(accepted == expected, "accepted protocols \(accepted), expected \(expected)")
        }
    }
}

// MARK: - Helpers

/// What a session produced, read to its end.
struct SessionResult {
    var stdout: ByteBuffer
    var stderr: ByteBuffer
    var exit: RemoteCommandExit
}

extension CaseContext {
    /// `RemoteCommandClient.run` for a command in the pod.
    func run(
        _ command: [String],
        stdin: ByteBuffer? = nil,
        protocols: [RemoteCommandProtocol] = RemoteCommandProtocol.clientOffer
    ) async throws -> RemoteCommandResult {
        try await RemoteCommandClient.run(
            endpoint, namespace: namespace, pod: pod, options: RemoteCommandOptions(command: command), stdin: stdin,
            protocols: protocols)
    }

    /// `RemoteCommandClient.start`, the session closed when the case ends.
    func start(
        _ command: [String],
        subresource: RemoteCommandSubresource = .exec,
        stdin: Bool = false,
        tty: Bool = false,
        protocols: [RemoteCommandProtocol] = RemoteCommandProtocol.clientOffer
    ) async throws -> RemoteCommandSession {
        let session = try await RemoteCommandClient.start(
            endpoint, namespace: namespace, pod: pod, subresource: subresource,
            options: RemoteCommandOptions(command: command, stdin: stdin, tty: tty), protocols: protocols)
        onEnd { session.close() }
        return session
    }

    /// Reads a session's stdout, stderr and status concurrently, after sending `stdin` (then
    /// closing it), and closes the session.
    func finish(_ session: RemoteCommandSession, stdin: ByteBuffer? = nil) async throws -> SessionResult {
        async let stdout = session.stdout?.collect(upTo: 16 << 20) ?? ByteBuffer()
        async let stderr = session.stderr?.collect(upTo: 16 << 20) ?? ByteBuffer()
        async let exit = session.exitStatus()
        if let stdin {
            step("write \(stdin.readableBytes) bytes to stdin, then close it")
            try await session.writeStdin(stdin)
            try await session.closeStdin()
        }
        step("read stdout, stderr and the status")
        let result = try await SessionResult(stdout: stdout, stderr: stderr, exit: exit)
        session.close()
        return result
    }

    /// `PortForwardClient.connect`, the connection closed when the case ends.
    func portForwardClient() async throws -> PortForwardClient {
        let client = try await PortForwardClient.connect(endpoint, namespace: namespace, pod: pod)
        onEnd { client.connection.close() }
        return client
    }
}
