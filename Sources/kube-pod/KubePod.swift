import ArgumentParser
import Foundation
import KubePod
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSPDY
import NIOSSL
import SPDYKubernetes
import SPDYUpgrade

/// A fake Kubernetes API server for one running pod, serving kubectl's exec, attach, cp and
/// port-forward over SPDY/3.1.
@main
struct KubePodCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kube-pod",
        abstract:
            "A fake Kubernetes API server for one running pod: kubectl exec, attach, cp and port-forward over SPDY.",
        discussion: """
            Try it:
              kube-pod --port 8001 &
              kubectl --server=http://127.0.0.1:8001 exec demo -- echo hello

            The pod's commands are built in (echo, cat, sh -c, test, tar, ls, mkdir, rm, …) and \
            work on the scratch folder --root, which stands for the pod's "/". Port-forward to the \
            pod's port N connects to 127.0.0.1:N.
            """
    )

    @Option(help: "The port to listen on, on 127.0.0.1 (0: any free port).")
    var port = 8001

    @Option(help: "The pod's name.")
    var pod = "demo"

    @Option(help: "The pod's namespace.")
    var namespace = "default"

    @Option(help: "The folder that stands for the pod's file system (default: a new temporary folder).")
    var root: String?

    @Flag(help: "Run commands that are not built in as host processes (off: they fail with exit status 127).")
    var allowHostCommands = false

    @Flag(help: "Serve HTTPS with a self-signed certificate (or --cert and --key).")
    var tls = false

    @Option(help: "PEM certificate chain for --tls.")
    var cert: String?

    @Option(help: "PEM private key for --tls.")
    var key: String?

    @Flag(name: .shortAndLong, help: "Log each request and stream problem to stderr.")
    var verbose = false

    mutating func run() async throws {
        let rootPath: String
        if let root {
            rootPath = URL(fileURLWithPath: root).standardizedFileURL.path
            try FileManager.default.createDirectory(atPath: rootPath, withIntermediateDirectories: true)
        } else {
            rootPath = NSTemporaryDirectory() + "kube-pod-" + UUID().uuidString.prefix(8)
            try FileManager.default.createDirectory(atPath: rootPath, withIntermediateDirectories: true)
        }
        // What every container has, and kubectl cp's usual destination.
        for folder in ["tmp", "root"] {
            try FileManager.default.createDirectory(
                atPath: rootPath + "/" + folder, withIntermediateDirectories: true)
        }
        var logger = Logger(label: "kube-pod")
        logger.logLevel = verbose ? .debug : .warning
        var sslContext: NIOSSLContext?
        if tls {
            let identity: SPDYTLS.Identity =
                if let cert, let key { try .pem(certificatePath: cert, keyPath: key) } else { try .selfSigned() }
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: identity.certificateChain.map { .certificate($0) },
                privateKey: .privateKey(identity.privateKey))
            configuration.applicationProtocols = [SPDYTLS.http1ProtocolName]
            sslContext = try NIOSSLContext(configuration: configuration)
        }
        let server = KubePodServer(
            pod: PodIdentity(name: pod, namespace: namespace),
            commands: PodCommands(root: rootPath, allowHostCommands: allowHostCommands),
            sslContext: sslContext,
            logger: logger)
        let channel = try await server.bind(host: "127.0.0.1", port: port)
        let address = channel.localAddress?.port ?? port
        let scheme = tls ? "https" : "http"
        // Without credentials kubectl asks for a user name over HTTPS; kube-pod takes any token.
        let insecure = tls ? " --insecure-skip-tls-verify --token=any" : ""
        // One write, so that a test reading the first line sees the port at once.
        FileHandle.standardOutput.write(
            Data(
                ("kube-pod: pod \(namespace)/\(pod) on \(scheme)://127.0.0.1:\(address), root \(rootPath)\n"
                    + "  kubectl --server=\(scheme)://127.0.0.1:\(address)\(insecure) exec \(pod) -- echo hello\n").utf8
            ))
        try await channel.closeFuture.get()
    }
}
