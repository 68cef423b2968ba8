import Foundation
import KubePod
import NIOConcurrencyHelpers
import NIOCore
import SPDYKubernetes

/// What runs in the pod: the built-in commands over the scratch folder, and host processes
/// only when they were allowed.
struct PodCommands: Sendable {
    let root: String
    let allowHostCommands: Bool
    private let builtins: BuiltinCommands

    init(root: String, allowHostCommands: Bool) {
        self.root = root
        self.allowHostCommands = allowHostCommands
        self.builtins = BuiltinCommands(root: root)
    }

    /// `kubectl exec`: runs the command.
    func exec(_ context: RemoteCommandServerContext) async throws -> RemoteCommandExit {
        let argv = context.options.command
        guard let name = argv.first else {
            return .failure("you must specify at least one command for the container")
        }
        let io = Self.io(context)
        let program = String(name.split(separator: "/").last ?? "")
        let status: Int32
        if allowHostCommands && !BuiltinCommands.names.contains(program) {
            status = await HostProcess.run(argv, directory: root, io: io)
        } else {
            status = await builtins.run(argv, io: io)
        }
        return status == 0 ? .success : .exitCode(Int(status))
    }

    /// `kubectl attach`: the pod's main process echoes what it reads on stdin; without
    /// stdin it says who it is and ends.
    func attach(_ context: RemoteCommandServerContext) async throws -> RemoteCommandExit {
        let io = Self.io(context)
        guard context.stdin != nil else {
            try await io.writeStdout(ByteBuffer(string: "kube-pod: the main process echoes stdin; attach with -i\n"))
            return .success
        }
        let status = await builtins.run(["cat"], io: io)
        return status == 0 ? .success : .exitCode(Int(status))
    }

    private static func io(_ context: RemoteCommandServerContext) -> CommandIO {
        var readStdin: (@Sendable () async throws -> ByteBuffer?)?
        if let inbound = context.stdin {
            let reader = StdinReader(inbound)
            readStdin = { try await reader.next() }
        }
        let stdout = context.stdout
        let stderr = context.stderr
        let writeStdout: @Sendable (ByteBuffer) async throws -> Void = { bytes in try await stdout?.write(bytes) }
        let writeStderr: @Sendable (ByteBuffer) async throws -> Void = { bytes in try await stderr?.write(bytes) }
        let terminalSize: @Sendable () -> (width: Int, height: Int)? = {
            guard let size = context.terminalSize else { return nil }
            return (Int(size.width), Int(size.height))
        }
        return CommandIO(
            readStdin: readStdin, writeStdout: writeStdout, writeStderr: writeStderr, terminalSize: terminalSize)
    }
}

/// Reads stdin for one command: its calls come one after the other.
private final class StdinReader: @unchecked Sendable {
    private var iterator: KubernetesStream.Inbound.AsyncIterator
    private let lock = NIOLock()

    init(_ inbound: KubernetesStream.Inbound) {
        iterator = inbound.makeAsyncIterator()
    }

    func next() async throws -> ByteBuffer? {
        var iterator = lock.withLock { self.iterator }
        defer { lock.withLock { self.iterator = iterator } }
        return try await iterator.next()
    }
}
