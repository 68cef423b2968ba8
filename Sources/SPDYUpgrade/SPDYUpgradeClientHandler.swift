import NIOCore
import NIOHTTP1

/// What the server answered to an accepted upgrade.
public struct SPDYUpgradeResponse: Sendable {
    /// The 101 response head.
    public let head: HTTPResponseHead
    /// The stream protocol the server chose (`X-Stream-Protocol-Version`), if it named one.
    public let streamProtocol: String?
}

/// Why an HTTP/1.1 upgrade to SPDY/3.1 did not happen.
public enum SPDYUpgradeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The server answered with another status than 101: its status, the stream protocols
    /// it accepts (`X-Accepted-Stream-Protocol-Versions`, from a 403) and the start of its
    /// body (a Kubernetes `Status` in JSON, or text).
    case refused(status: HTTPResponseStatus, acceptedProtocols: [String], body: String)
    /// A 101 without `Connection: Upgrade` and `Upgrade: SPDY/3.1`.
    case notAnUpgrade(String)
    /// A 101 naming a stream protocol the client did not offer, or naming none where one
    /// is required.
    case unexpectedStreamProtocol(String?)
    /// The connection closed before the answer was complete.
    case connectionClosed
    /// No complete answer came within the time allowed.
    case timedOut

    public var description: String {
        switch self {
        case .refused(let status, let accepted, let body):
            var text = "the server refused the upgrade: \(status.code) \(status.reasonPhrase)"
            if !accepted.isEmpty { text += " (it accepts \(accepted.joined(separator: ", ")))" }
            if !body.isEmpty { text += ": \(body)" }
            return text
        case .notAnUpgrade(let reason): return "not an upgrade to SPDY/3.1: \(reason)"
        case .unexpectedStreamProtocol(let chosen):
            return "the server chose the stream protocol \(chosen ?? "(none)"), which was not offered"
        case .connectionClosed: return "the connection closed before the upgrade was answered"
        case .timedOut: return "no answer to the upgrade request in time"
        }
    }
}

/// The client side of an HTTP/1.1 connection upgraded to SPDY/3.1, as `kubectl` does it: it
/// sends the upgrade request when the connection is active, checks the answer (101,
/// `Connection: Upgrade`, `Upgrade: SPDY/3.1`, the stream protocol among those offered),
/// then the HTTP/1.1 handlers leave the pipeline and `upgrade` installs the SPDY handlers,
/// which receive every byte that followed the 101.
///
/// Any other answer fails the upgrade with ``SPDYUpgradeError`` and closes the connection.
public final class SPDYUpgradeClientHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPClientResponsePart
    public typealias OutboundOut = HTTPClientRequestPart

    /// Installs the SPDY handlers once the 101 has been read, on the event loop.
    public typealias Upgrade = (_ channel: any Channel, _ response: SPDYUpgradeResponse) throws -> Void

    /// The most of a refusal's body kept for ``SPDYUpgradeError/refused(status:acceptedProtocols:body:)``.
    static let maxErrorBody = 64 * 1024

    private var request: HTTPRequestHead
    private let streamProtocols: [String]
    private let requiresStreamProtocol: Bool
    private let timeout: TimeAmount
    private let upgrade: Upgrade
    private let completion: EventLoopPromise<SPDYUpgradeResponse>
    private var sent = false
    private var response: HTTPResponseHead?
    private var body = ""
    private var timer: Scheduled<Void>?
    private var done = false

    /// Creates the handler.
    ///
    /// - Parameters:
    ///   - request: the request head (method, URI, `Host` and any credentials); the upgrade
    ///     headers, `X-Stream-Protocol-Version` lines and `Content-Length: 0` are added.
    ///   - streamProtocols: the stream protocols offered, most preferred first (may be empty).
    ///   - requiresStreamProtocol: whether a 101 must name one of them.
    ///   - timeout: how long the server may take to answer.
    ///   - completion: succeeds after `upgrade` ran, fails with ``SPDYUpgradeError`` (or what
    ///     `upgrade` threw).
    ///   - upgrade: installs the SPDY handlers.
    public init(
        request: HTTPRequestHead,
        streamProtocols: [String],
        requiresStreamProtocol: Bool = true,
        timeout: TimeAmount = .seconds(30),
        completion: EventLoopPromise<SPDYUpgradeResponse>,
        upgrade: @escaping Upgrade
    ) {
        self.request = request
        self.streamProtocols = streamProtocols
        self.requiresStreamProtocol = requiresStreamProtocol && !streamProtocols.isEmpty
        self.timeout = timeout
        self.completion = completion
        self.upgrade = upgrade
        self.request.headers.replaceOrAdd(name: "Connection", value: "Upgrade")
        self.request.headers.replaceOrAdd(name: "Upgrade", value: "SPDY/3.1")
        self.request.headers.remove(name: "X-Stream-Protocol-Version")
        for streamProtocol in streamProtocols {
            self.request.headers.add(name: "X-Stream-Protocol-Version", value: streamProtocol)
        }
        self.request.headers.replaceOrAdd(name: "Content-Length", value: "0")
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { sendRequest(context: context) }
    }

    /// A handler that leaves the pipeline before the upgrade ended (the channel torn down
    /// without `channelInactive` reaching it) fails the upgrade rather than leave it pending.
    public func handlerRemoved(context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        timer?.cancel()
        completion.fail(SPDYUpgradeError.connectionClosed)
    }

    public func channelActive(context: ChannelHandlerContext) {
        sendRequest(context: context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if let response, response.status != .switchingProtocols {
            // A refusal whose body ends with the connection.
            fail(refusal(response), context: context)
        } else {
            fail(SPDYUpgradeError.connectionClosed, context: context)
        }
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error, context: context)
    }

    private func sendRequest(context: ChannelHandlerContext) {
        guard !sent else { return }
        sent = true
        context.write(wrapOutboundOut(.head(request)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: timeout) {
            let (handler, context) = bound.value
            handler.fail(SPDYUpgradeError.timedOut, context: context)
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            // 1xx answers other than 101 come before the real one.
            if head.status.code >= 100 && head.status.code < 200 && head.status != .switchingProtocols { return }
            response = head
        case .body(var chunk):
            let room = Self.maxErrorBody - body.utf8.count
            if room > 0, let text = chunk.readString(length: min(room, chunk.readableBytes)) { body += text }
        case .end:
            guard let response else { return }
            if response.status == .switchingProtocols {
                accept(response, context: context)
            } else {
                fail(refusal(response), context: context)
            }
        }
    }

    private func refusal(_ head: HTTPResponseHead) -> SPDYUpgradeError {
        let accepted = SPDYUpgradeDecision.tokens(head.headers["X-Accepted-Stream-Protocol-Versions"])
        return .refused(status: head.status, acceptedProtocols: accepted, body: body)
    }

    private func accept(_ head: HTTPResponseHead, context: ChannelHandlerContext) {
        let connection = SPDYUpgradeDecision.tokens(head.headers["Connection"])
        let upgrade = SPDYUpgradeDecision.tokens(head.headers["Upgrade"])
        guard connection.contains(where: { $0.lowercased().contains("upgrade") }) else {
            return fail(SPDYUpgradeError.notAnUpgrade("no Connection: Upgrade"), context: context)
        }
        guard upgrade.contains(where: { $0.lowercased().contains("spdy/3.1") }) else {
            return fail(SPDYUpgradeError.notAnUpgrade("no Upgrade: SPDY/3.1"), context: context)
        }
        let chosen = head.headers.first(name: "X-Stream-Protocol-Version")
        if let chosen, !streamProtocols.contains(chosen) {
            return fail(SPDYUpgradeError.unexpectedStreamProtocol(chosen), context: context)
        }
        if chosen == nil && requiresStreamProtocol {
            return fail(SPDYUpgradeError.unexpectedStreamProtocol(nil), context: context)
        }
        done = true
        timer?.cancel()
        let result = SPDYUpgradeResponse(head: head, streamProtocol: chosen)
        // As on the server: the switch waits for the decoder to return from the read that
        // carried the 101, so that it hands over the bytes behind it.
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, context) = bound.value
            handler.switchToSPDY(result, context: context)
        }
    }

    private func switchToSPDY(_ result: SPDYUpgradeResponse, context: ChannelHandlerContext) {
        do {
            let pipeline = context.pipeline.syncOperations
            let encoder = try pipeline.handler(type: HTTPRequestEncoder.self)
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self)
            try upgrade(context.channel, result)
            let channel = context.channel
            pipeline.removeHandler(context: context, promise: nil)
            pipeline.removeHandler(encoder, promise: nil)
            let removed = channel.eventLoop.makePromise(of: Void.self)
            pipeline.removeHandler(decoder, promise: removed)
            removed.futureResult.whenSuccess { channel.pipeline.fireChannelReadComplete() }
            completion.succeed(result)
        } catch {
            completion.fail(error)
            context.close(promise: nil)
        }
    }

    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        timer?.cancel()
        completion.fail(error)
        context.close(promise: nil)
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Sets a fresh client connection (plain TCP, or after TLS) up for an HTTP/1.1 upgrade to
    /// SPDY/3.1 (see ``SPDYUpgradeClientHandler``) and returns the upgrade's outcome.
    public func configureSPDYUpgradeClient(
        request: HTTPRequestHead,
        streamProtocols: [String],
        requiresStreamProtocol: Bool = true,
        timeout: TimeAmount = .seconds(30),
        upgrade: @escaping SPDYUpgradeClientHandler.Upgrade
    ) throws -> EventLoopFuture<SPDYUpgradeResponse> {
        let completion = eventLoop.makePromise(of: SPDYUpgradeResponse.self)
        do {
            try addHandler(HTTPRequestEncoder())
            try addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)))
            try addHandler(
                SPDYUpgradeClientHandler(
                    request: request,
                    streamProtocols: streamProtocols,
                    requiresStreamProtocol: requiresStreamProtocol,
                    timeout: timeout,
                    completion: completion,
                    upgrade: upgrade
                ))
        } catch {
            // A channel that closed before set-up: the promise must not be left pending.
            completion.fail(error)
            throw error
        }
        return completion.futureResult
    }
}
