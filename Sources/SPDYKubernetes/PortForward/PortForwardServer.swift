import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSPDY
import SPDY

/// One forwarded connection, as a port-forward server application gets it: the pod's port,
/// and the data stream to connect to it.
public struct PortForwardRequest: Sendable {
    /// The request head of the upgrade (its path names the namespace and pod).
    public let request: HTTPRequestHead
    /// The pod's port the client wants.
    public let port: UInt16
    /// The number that paired the client's two streams.
    public let requestID: String
    /// The connection's bytes, both ways.
    public let data: KubernetesStream
    let errorStream: KubernetesStream
}

/// The server side of Kubernetes' port-forward protocol (`portforward.k8s.io`), as the
/// kubelet serves it over SPDY: one SPDY session carries every forwarded connection, each as
/// a pair of streams (error and data) with the same `requestid` and `port`.
///
/// For each complete pair the application connects the data stream to something (see
/// ``loopback(host:podName:podUID:group:connectTimeout:)``). When it returns, both streams end with FIN; when it
/// throws, the error's description goes on the error stream first, which makes kubectl
/// report it and give up.
public enum PortForwardServer {
    /// Serves one forwarded connection.
    public typealias Handler = @Sendable (PortForwardRequest) async throws -> Void

    /// The stream protocol.
    public static let streamProtocol = "portforward.k8s.io"

    /// Limits and timeouts.
    public struct Configuration: Sendable {
        /// How long a pair may stay incomplete (the kubelet's `streamCreationTimeout`):
        /// then "timed out waiting for streams" goes on its error stream. Default 30 seconds.
        public var streamTimeout: TimeAmount
        /// The most forwarded connections served at once on one SPDY connection; pairs
        /// beyond it are refused on their error stream. Default 256.
        public var maxConcurrentConnections: Int
        /// The stream channels' limits.
        public var streamConfiguration: SPDYConnection.StreamConfiguration
        /// Where the server says what went wrong with a client.
        public var logger: Logger

        /// Creates a configuration.
        public init(
            streamTimeout: TimeAmount = .seconds(30),
            maxConcurrentConnections: Int = 256,
            streamConfiguration: SPDYConnection.StreamConfiguration = .init(),
            logger: Logger = Logger(label: "swift-spdy.kubernetes", factory: { _ in SwiftLogNoOpLogHandler() })
        ) {
            self.streamTimeout = streamTimeout
            self.maxConcurrentConnections = maxConcurrentConnections
            self.streamConfiguration = streamConfiguration
            self.logger = logger
        }
    }

    /// Refuses a stream as the kubelet does: a `port` header that is not 1–65535, or a
    /// `streamtype` other than error and data.
    static let check: KubernetesConnection.StreamCheck = { headers in
        guard let portString = headers[KubernetesSPDY.Header.port], !portString.isEmpty else {
            return "\"port\" header is required"
        }
        guard let port = UInt16(portString) else { return "unable to parse \"\(portString)\" as a port" }
        guard port >= 1 else { return "port \"\(portString)\" must be > 0" }
        guard let type = headers[KubernetesSPDY.Header.streamType], !type.isEmpty else {
            return "\"streamtype\" header is required"
        }
        guard type == KubernetesSPDY.StreamType.error.rawValue || type == KubernetesSPDY.StreamType.data.rawValue
        else {
            return "invalid stream type \"\(type)\""
        }
        return nil
    }

    /// Starts serving port-forward on `channel`, whose upgrade chose `streamProtocol`: the
    /// `upgrade` closure of `configureSPDYUpgradeServer` calls it (on the event loop).
    public static func start(
        on channel: any Channel,
        request: HTTPRequestHead,
        configuration: Configuration = .init(),
        handler: @escaping Handler
    ) throws {
        let logger = configuration.logger
        let connection = try KubernetesConnection.configure(
            on: channel, role: .server, streamProtocol: streamProtocol,
            streamConfiguration: configuration.streamConfiguration
        ) { headers in
            let reason = check(headers)
            if let reason { logger.notice("portforward: stream rejected: \(reason)") }
            return reason
        }
        Task { await serve(connection: connection, request: request, configuration: configuration, handler: handler) }
    }

    /// Serves port-forward on an upgraded connection until it closes.
    public static func serve(
        connection: KubernetesConnection,
        request: HTTPRequestHead,
        configuration: Configuration = .init(),
        handler: @escaping Handler
    ) async {
        let pairs = StreamPairs(configuration: configuration, eventLoop: connection.channel.eventLoop)
        await withTaskGroup(of: Void.self) { group in
            do {
                for try await stream in connection.inboundStreams {
                    guard let (errorStream, data) = pairs.add(stream) else { continue }
                    group.addTask {
                        await forward(
                            request: request, errorStream: errorStream, data: data, logger: configuration.logger,
                            handler: handler)
                        pairs.finished()
                    }
                }
            } catch {
                configuration.logger.debug("portforward: connection ended: \(error)")
            }
            pairs.connectionEnded()
            group.cancelAll()
        }
    }

    private static func forward(
        request: HTTPRequestHead,
        errorStream: KubernetesStream,
        data: KubernetesStream,
        logger: Logger,
        handler: Handler
    ) async {
        let port = UInt16(data.headers[KubernetesSPDY.Header.port] ?? "") ?? 0
        let requestID = data.headers[KubernetesSPDY.Header.requestID] ?? ""
        do {
            try await handler(
                PortForwardRequest(
                    request: request, port: port, requestID: requestID, data: data, errorStream: errorStream))
        } catch {
            logger.notice("portforward: \(error)")
            try? await errorStream.write("\(error)")
        }
        try? await data.finish()
        try? await errorStream.finish()
    }

    /// A handler that connects each forwarded connection to `host`:port (the pod's port on
    /// loopback) and copies bytes both ways until the pod's side ends. A failed connection
    /// is reported as the kubelet reports it: "error forwarding port N to pod POD, uid : …".
    public static func loopback(
        host: String = "127.0.0.1",
        podName: String = "",
        podUID: String = "",
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        connectTimeout: TimeAmount = .seconds(10)
    ) -> Handler {
        { request in
            let tcp: TCPConnection
            do {
                tcp = try await TCPConnection.connect(
                    host: host, port: Int(request.port), group: group, timeout: connectTimeout)
            } catch {
                throw PortForwardError(
                    "error forwarding port \(request.port) to pod \(podName), uid \(podUID): "
                        + "dial tcp \(host):\(request.port): \(Self.describeConnectFailure(error))")
            }
            try await splice(request.data, with: tcp, endingWith: .tcp)
        }
    }
}

extension PortForwardServer {
    /// A failed connection in the words of Go's `net.Dial` ("connect: connection refused"),
    /// which is what kubectl users see from a real kubelet.
    static func describeConnectFailure(_ error: any Error) -> String {
        var errnoCode: CInt?
        if let connectionError = error as? NIOConnectionError {
            errnoCode = connectionError.connectionErrors.lazy.compactMap { ($0.error as? IOError)?.errnoCode }.first
        } else if let ioError = error as? IOError {
            errnoCode = ioError.errnoCode
        }
        guard let errnoCode else { return "\(error)" }
        switch errnoCode {
        case ECONNREFUSED: return "connect: connection refused"
        case ETIMEDOUT: return "connect: connection timed out"
        case EHOSTUNREACH: return "connect: no route to host"
        case ENETUNREACH: return "connect: network is unreachable"
        default: return "connect: errno \(errnoCode)"
        }
    }
}

/// A port-forward failure, as text for the error stream.
public struct PortForwardError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The message.
    public let description: String

    /// Creates an error with `description` as its message.
    public init(_ description: String) {
        self.description = description
    }
}

/// Pairs port-forward streams by `requestid` (or, for clients without one, by stream ID as
/// the kubelet does), each pair with a deadline.
final class StreamPairs: Sendable {
    private struct Pair {
        var error: KubernetesStream?
        var data: KubernetesStream?
        var timer: Scheduled<Void>?
    }

    private struct State {
        var pairs: [String: Pair] = [:]
        var active = 0
        var ended = false
    }

    private let configuration: PortForwardServer.Configuration
    private let eventLoop: any EventLoop
    private let state = NIOLockedValueBox(State())

    init(configuration: PortForwardServer.Configuration, eventLoop: any EventLoop) {
        self.configuration = configuration
        self.eventLoop = eventLoop
    }

    /// Adds a stream; returns the pair it completed (error, data), if it did.
    func add(_ stream: KubernetesStream) -> (KubernetesStream, KubernetesStream)? {
        let isError = stream.streamType == KubernetesSPDY.StreamType.error.rawValue
        let id = Self.requestID(stream, isError: isError)
        enum Outcome {
            case waiting
            case complete(KubernetesStream, KubernetesStream)
            case duplicate
            case overLimit(KubernetesStream, KubernetesStream)
        }
        let outcome: Outcome = state.withLockedValue { state in
            var pair = state.pairs[id] ?? Pair()
            if isError ? pair.error != nil : pair.data != nil { return .duplicate }
            if isError { pair.error = stream } else { pair.data = stream }
            if let error = pair.error, let data = pair.data {
                pair.timer?.cancel()
                state.pairs[id] = nil
                guard state.active < configuration.maxConcurrentConnections else { return .overLimit(error, data) }
                state.active += 1
                return .complete(error, data)
            }
            if pair.timer == nil {
                pair.timer = eventLoop.scheduleTask(in: configuration.streamTimeout) { [self] in timedOut(id) }
            }
            state.pairs[id] = pair
            return .waiting
        }
        switch outcome {
        case .waiting:
            return nil
        case .complete(let error, let data):
            return (error, data)
        case .duplicate:
            let message =
                "error processing stream for request \(id): \(isError ? "error" : "data") stream already assigned"
            configuration.logger.notice("portforward: \(message)")
            let existing = state.withLockedValue { $0.pairs[id]?.error }
            if let existing { Task { try? await existing.write(message) } }
            stream.reset()
            return nil
        case .overLimit(let error, let data):
            configuration.logger.notice("portforward: too many forwarded connections")
            Task {
                try? await error.write("too many forwarded connections on one connection")
                try? await error.finish()
                data.reset()
            }
            return nil
        }
    }

    func finished() {
        state.withLockedValue { $0.active -= 1 }
    }

    func connectionEnded() {
        let pending = state.withLockedValue { state in
            state.ended = true
            defer { state.pairs = [:] }
            return Array(state.pairs.values)
        }
        for pair in pending { pair.timer?.cancel() }
    }

    private func timedOut(_ id: String) {
        guard let pair = state.withLockedValue({ $0.pairs.removeValue(forKey: id) }) else { return }
        let message = "(conn=\(id), request=\(id)) timed out waiting for streams"
        configuration.logger.notice("portforward: \(message)")
        Task {
            if let error = pair.error {
                try? await error.write(message)
                try? await error.finish()
            }
            pair.data?.reset()
        }
    }

    /// The pair's key: the `requestid` header, or for older clients without it, the error
    /// stream's ID and the data stream's ID minus 2 (kubectl opened them one after the other).
    static func requestID(_ stream: KubernetesStream, isError: Bool) -> String {
        if let id = stream.headers[KubernetesSPDY.Header.requestID], !id.isEmpty { return id }
        let streamID = Int(stream.streamID?.rawValue ?? 0)
        return String(isError ? streamID : streamID - 2)
    }
}
