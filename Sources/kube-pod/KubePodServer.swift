import KubePod
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SPDYKubernetes
import SPDYUpgrade

/// kube-pod's listener: HTTP/1.1 (or HTTPS) with the pod's API, and the upgrades of
/// `…/pods/POD/exec`, `attach` and `portforward` to SPDY/3.1.
struct KubePodServer: Sendable {
    let pod: PodIdentity
    let commands: PodCommands
    let sslContext: NIOSSLContext?
    let logger: Logger

    func bind(host: String, port: Int) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try configure(channel) }
            }
            .bind(host: host, port: port).get()
    }

    private func configure(_ channel: any Channel) throws {
        let pipeline = channel.pipeline.syncOperations
        if let sslContext { try pipeline.addHandler(NIOSSLServerHandler(context: sslContext)) }
        let api = KubeAPIHandler(pod: pod)
        try pipeline.configureSPDYUpgradeServer(route: route) { channel, head, chosen in
            channel.pipeline.syncOperations.removeHandler(api, promise: nil)
            try upgrade(channel, head, chosen)
        }
        try pipeline.addHandler(api)
    }

    /// The upgrade endpoints of the pod and their stream protocols; everything else is API.
    private func route(_ head: HTTPRequestHead) -> [String]? {
        let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "")
        guard head.method == .POST || head.method == .GET, let target = PodTarget(path: path),
            target.namespace == pod.namespace, target.name == pod.name
        else { return nil }
        switch target.subresource {
        case "exec", "attach": return RemoteCommandServer.supportedProtocols
        case "portforward": return [PortForwardServer.streamProtocol]
        default: return nil
        }
    }

    private func upgrade(_ channel: any Channel, _ head: HTTPRequestHead, _ chosen: String?) throws {
        let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "")
        logger.debug("upgrade \(head.method) \(head.uri) to \(chosen ?? "(none)")")
        switch PodTarget(path: path)?.subresource {
        case "portforward":
            try PortForwardServer.start(
                on: channel, request: head, configuration: .init(logger: logger),
                handler: PortForwardServer.loopback(podName: pod.name, podUID: pod.uid))
        case "attach":
            let commands = self.commands
            try RemoteCommandServer.start(
                on: channel, request: head, streamProtocol: chosen, configuration: .init(logger: logger)
            ) { context in
                try await commands.attach(context)
            }
        default:
            let commands = self.commands
            try RemoteCommandServer.start(
                on: channel, request: head, streamProtocol: chosen, configuration: .init(logger: logger)
            ) { context in
                try await commands.exec(context)
            }
        }
    }
}
