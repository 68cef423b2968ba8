import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import SPDY

/// The callbacks of one client stream: the reference's `BaseSPDYStreamHandler`.
///
/// Subclass it and pass an instance to ``SPDYClientConnection/request(_:handler:)``.
/// Its methods run on the connection's event loop.
open class SPDYStreamHandler {
    /// The stream, once the request is submitted (`stream_id`).
    public internal(set) var streamID: SPDYStreamID?

    /// Creates a stream handler.
    public init() {}

    /// Header block of a SYN_REPLY or HEADERS frame (`on_header`).
    open func onHeader(_ headers: SPDYHeaders) {}
    /// A piece of the response body (`on_data`).
    open func onData(_ data: ByteBuffer) {}
    /// The stream closed with `status` (`on_close`); `SPDYStreamStatus.ok` when the response
    /// arrived completely.
    open func onClose(_ status: SPDYStreamStatus) {}
    /// The connection closed (or failed) before the stream did.
    open func onConnectionClosed(error: (any Error)?) {
        onClose(.cancel)
    }
    /// A ``SPDYRetryingConnection`` is about to send the request again after its connection
    /// was lost part-way through the response. Return `true` after forgetting what
    /// ``onHeader(_:)`` and ``onData(_:)`` delivered, to receive the response again from
    /// the start; `false` (the default) ends the stream with
    /// ``onConnectionClosed(error:)`` instead.
    open func onRetry() -> Bool { false }
}

/// A request to send on a ``SPDYClientConnection``.
public struct SPDYClientRequest: Sendable {
    /// The method, such as `GET`.
    public var method: String
    /// The path with its query.
    public var path: String
    /// `https` or `http`.
    public var scheme: String
    /// The host, with `:port` when it is not the default.
    public var authority: String
    /// More headers (names are lowercased on the wire).
    public var headers: [(name: String, value: String)]
    /// The body, sent as DATA frames.
    public var body: ByteBuffer?
    /// The priority, 0 (highest) to 7 (3 on SPDY/2).
    public var priority: UInt8

    /// Creates a request.
    public init(
        method: String = "GET",
        path: String = "/",
        scheme: String = "https",
        authority: String,
        headers: [(name: String, value: String)] = [],
        body: ByteBuffer? = nil,
        priority: UInt8 = 3
    ) {
        self.method = method
        self.path = path
        self.scheme = scheme
        self.authority = authority
        self.headers = headers
        self.body = body
        self.priority = priority
    }

    /// The SPDY header block of the request. HTTP/1.1 connection headers (`connection`,
    /// `host`, `keep-alive`, `proxy-connection`, `transfer-encoding`), which SPDY forbids, are
    /// left out.
    public var spdyHeaders: SPDYHeaders {
        var block: SPDYHeaders = [
            (":method", method), (":path", path), (":version", "HTTP/1.1"), (":scheme", scheme), (":host", authority),
        ]
        for (name, value) in headers where !ConnectionSpecificHeaders.forbiddenInRequest(name) {
            let lower = name.lowercased()
            if [":method", ":path", ":version", ":scheme", ":host"].contains(lower) {
                block.replaceOrAdd(name: lower, value: value)
            } else {
                block.add(name: name, value: value)
            }
        }
        return block
    }
}

/// A response from ``SPDYClientConnection/request(_:)``.
public struct SPDYClientResponse: Sendable {
    /// The `:status` value, such as `200 OK`.
    public var status: String
    /// The numeric status code, or 0 when `:status` does not start with one.
    public var statusCode: Int { Int(status.prefix { $0.isNumber }) ?? 0 }
    /// The response headers (pseudo-headers included).
    public var headers: SPDYHeaders
    /// The body, as it arrives (with backpressure: see ``Body``).
    public var body: Body

    /// Collects the whole body; throws when it exceeds `maxBytes`.
    public func collectBody(upTo maxBytes: Int = .max) async throws -> ByteBuffer {
        var all = ByteBuffer()
        for try await var chunk in body {
            guard all.readableBytes + chunk.readableBytes <= maxBytes else {
                throw SPDYClientError.bodyTooLarge(limit: maxBytes)
            }
            all.writeBuffer(&chunk)
        }
        return all
    }
}

/// Errors of the client.
public enum SPDYClientError: Error, Sendable, Hashable {
    /// The server did not negotiate a SPDY version by ALPN.
    case negotiationFailed(String?)
    /// The stream was reset with `status` before the response completed.
    case streamReset(SPDYStreamStatus)
    /// The stream ended without a reset and without a response: it was closed on this side
    /// (its channel closed) before the SYN_REPLY came.
    case closedWithoutResponse
    /// The connection closed before the response completed.
    case connectionClosed
    /// The response body exceeded the caller's limit.
    case bodyTooLarge(limit: Int)
    /// The request could not be submitted.
    case submitFailed(String)
    /// The URL cannot be fetched (bad syntax or an unsupported scheme).
    case badURL(String)
    /// A ``SPDYRetryPolicy`` with a negative retry count or wait, or a longest wait below the
    /// first.
    case invalidRetryPolicy
}

/// A SPDY client: connects over TLS (negotiating the version by ALPN) or plain TCP.
public final class SPDYClient: Sendable {
    /// Settings of a client.
    public struct Configuration: Sendable {
        /// Versions offered by ALPN, most preferred first.
        public var versions: [SPDYVersion]
        /// The version spoken over plain TCP (`http://` URLs).
        public var plainVersion: SPDYVersion
        /// Check the server's certificate (turn off for self-signed development servers).
        public var verifyCertificates: Bool
        /// Extra trusted root certificates.
        public var trustRoots: [NIOSSLCertificate]?
        /// Give up connecting (TCP and TLS) after this long.
        public var connectTimeout: TimeAmount
        /// Session options and limits.
        public var session: SPDYSession.Configuration
        /// Watermarks and caps of the stream channels: what a stream may buffer each way.
        public var streams: SPDYConnection.StreamConfiguration
        /// A frame the server has started must be complete within this time, else the
        /// connection gets GOAWAY PROTOCOL_ERROR and is closed. `nil` waits forever. Default
        /// 30 seconds. See ``SPDYConnection/frameCompletionTimeout``.
        public var frameCompletionTimeout: TimeAmount?
        /// A connection whose server does not read what we send for this long is closed.
        /// `nil` waits forever. Default 60 seconds. See ``SPDYConnection/writeTimeout``.
        public var writeTimeout: TimeAmount?
        /// Finds out that the server became unreachable while requests wait (a link that went
        /// down): a PING after ``SPDYKeepAlive/interval`` without a byte received, the
        /// connection closed if nothing arrives within ``SPDYKeepAlive/timeout`` after it.
        /// `nil` waits for TCP, which may take many minutes. Default 30 and 15 seconds. See
        /// ``SPDYConnection/keepAlive``.
        public var keepAlive: SPDYKeepAlive?
        /// MAX_CONCURRENT_STREAMS announced to the server. Default 100.
        public var maxConcurrentStreams: UInt32
        /// Where the connections' counters go (``SPDYMetrics`` with role `client`); `nil`
        /// (the default) counts nothing.
        public var metrics: SPDYMetrics?
        /// INITIAL_WINDOW_SIZE announced to the server in the first SETTINGS (spdycat's
        /// `-w`), for SPDY/3 and later; `nil` keeps the protocol's 64 KiB. On SPDY/3.1 the
        /// session window is raised to the same size with a WINDOW_UPDATE on stream 0.
        public var initialWindowSize: UInt32?
        /// The SPDY/3.1 session receive window, raised with a WINDOW_UPDATE on stream 0 right
        /// after the first SETTINGS. `nil` (the default) makes it as large as the stream
        /// windows of ``maxConcurrentStreams`` streams (64 KiB × 100, 6.25 MiB), so that it
        /// never binds before they do: the client gives session window back as DATA arrives,
        /// so it bounds nothing the client buffers (the stream windows and
        /// ``SPDYConnection/StreamConfiguration`` do), only how much may be in flight, and
        /// the protocol's 64 KiB holds a connection to 64 KiB per round trip (320 KB/s over
        /// 200 ms). 65 536 keeps the protocol's window, as spdylay's spdycat does without
        /// `-w`.
        public var sessionWindowSize: UInt32?
        /// Called with every frame event of every connection, numbered from 1 in the
        /// order they were made (spdycat's `-v`). It runs on the connection's event loop.
        public var frameObserver: (@Sendable (_ connection: Int, _ event: SPDYFrameEvent) -> Void)?
        /// A certificate chain and key presented to a server that asks for a client
        /// certificate (spdycat's `--cert` and `--key`); `nil` presents none.
        public var clientIdentity: SPDYTLS.Identity?
        /// Called once per connection when it is established — after the TLS handshake and
        /// ALPN, or once the TCP connection is up for plain TCP — with the connection's
        /// number (as in ``frameObserver``), the version it speaks and the protocol ALPN
        /// selected (`nil` over plain TCP). It runs on the connection's event loop before
        /// the session sends its first frame, so a log of it precedes the frame log
        /// (spdycat's "Handshake complete").
        public var establishedObserver:
            (@Sendable (_ connection: Int, _ version: SPDYVersion, _ alpnProtocol: String?) -> Void)?

        /// The lowest TLS version accepted. Default TLS 1.2, with the cipher suites described
        /// at ``SPDYTLS``; lower it only for servers that know nothing newer.
        public var minimumTLSVersion: TLSVersion
        /// The TLS implementation; `nil` (the default) is swift-nio-ssl with ALPN.
        /// `NIOSPDYOpenSSL`'s `.openSSL()` is the system OpenSSL offering ALPN and NPN, for
        /// servers of the SPDY era that speak NPN only.
        public var tlsProvider: (any SPDYTLS.ClientProvider)?

        /// Creates a configuration.
        public init(
            versions: [SPDYVersion] = SPDYVersion.negotiationPreference,
            plainVersion: SPDYVersion = .v3_1,
            verifyCertificates: Bool = true,
            trustRoots: [NIOSSLCertificate]? = nil,
            connectTimeout: TimeAmount = .seconds(10),
            session: SPDYSession.Configuration = .init(),
            streams: SPDYConnection.StreamConfiguration = .init(),
            maxConcurrentStreams: UInt32 = 100,
            initialWindowSize: UInt32? = nil,
            frameObserver: (@Sendable (_ connection: Int, _ event: SPDYFrameEvent) -> Void)? = nil,
            clientIdentity: SPDYTLS.Identity? = nil,
            establishedObserver: (
                @Sendable (_ connection: Int, _ version: SPDYVersion, _ alpnProtocol: String?) -> Void
            )? = nil,
            frameCompletionTimeout: TimeAmount? = .seconds(30),
            writeTimeout: TimeAmount? = .seconds(60),
            minimumTLSVersion: TLSVersion = .tlsv12,
            tlsProvider: (any SPDYTLS.ClientProvider)? = nil,
            keepAlive: SPDYKeepAlive? = SPDYKeepAlive()
        ) {
            self.keepAlive = keepAlive
            self.minimumTLSVersion = minimumTLSVersion
            self.tlsProvider = tlsProvider
            self.frameCompletionTimeout = frameCompletionTimeout
            self.writeTimeout = writeTimeout
            self.clientIdentity = clientIdentity
            self.establishedObserver = establishedObserver
            self.initialWindowSize = initialWindowSize
            self.frameObserver = frameObserver
            self.versions = versions
            self.plainVersion = plainVersion
            self.verifyCertificates = verifyCertificates
            self.trustRoots = trustRoots
            self.connectTimeout = connectTimeout
            self.session = session
            self.streams = streams
            self.maxConcurrentStreams = maxConcurrentStreams
        }
    }

    /// The configuration.
    public let configuration: Configuration
    /// The event loops of the connections.
    public let group: any EventLoopGroup
    private let ownsGroup: Bool
    private let sslContext: NIOSSLContext?
    private let customTLS: (any SPDYTLS.ClientContext)?
    private let connectionCounter = NIOLockedValueBox(0)

    /// Creates a client.
    public init(configuration: Configuration = .init(), group: (any EventLoopGroup)? = nil) throws {
        self.configuration = configuration
        if let group {
            self.group = group
            ownsGroup = false
        } else {
            self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            ownsGroup = true
        }
        if let provider = configuration.tlsProvider {
            sslContext = nil
            customTLS = try provider.makeClientContext(configuration: configuration)
        } else {
            sslContext = try NIOSSLContext(
                configuration: SPDYTLS.clientConfiguration(
                    versions: configuration.versions,
                    verifyCertificates: configuration.verifyCertificates,
                    trustRoots: configuration.trustRoots,
                    identity: configuration.clientIdentity,
                    minimumTLSVersion: configuration.minimumTLSVersion
                )
            )
            customTLS = nil
        }
    }

    /// Opens a connection; `tls` negotiates the version by ALPN, otherwise
    /// ``Configuration-swift.struct/plainVersion`` is spoken.
    ///
    /// With TLS, `serverName` (when given) is sent by SNI and checked against the
    /// certificate instead of `host` (spdycat's `-H ':host: name'`). A handshake that
    /// fails throws the TLS error (such as a certificate that does not verify); one that
    /// does not finish within ``Configuration-swift.struct/connectTimeout`` throws
    /// ``SPDYClientError/negotiationFailed(_:)`` with `"timed out"`. When a
    /// ``Configuration-swift.struct/tlsProvider`` reports ``SPDYTLS/NoProtocolAtTLS13`` (it
    /// offered NPN, which TLS 1.3 lacks), the connection is made once more, held to TLS 1.2.
    public func connect(
        host: String,
        port: Int,
        tls: Bool = true,
        serverName: String? = nil
    ) async throws -> SPDYClientConnection {
        try await connect(host: host, port: port, tls: tls, serverName: serverName, on: nil)
    }

    /// ``connect(host:port:tls:serverName:)`` on `eventLoop` (one of ``group``'s, or `nil`
    /// for the next one).
    func connect(
        host: String,
        port: Int,
        tls: Bool,
        serverName: String?,
        on eventLoop: (any EventLoop)?
    ) async throws -> SPDYClientConnection {
        let number = connectionCounter.withLockedValue { counter in
            counter += 1
            return counter
        }
        do {
            return try await connectOnce(
                host: host, port: port, tls: tls, serverName: serverName, number: number, eventLoop: eventLoop)
        } catch is SPDYTLS.NoProtocolAtTLS13 {
            return try await connectOnce(
                host: host, port: port, tls: tls, serverName: serverName, number: number, eventLoop: eventLoop,
                maximumTLSVersion: .tlsv12)
        }
    }

    /// One connection attempt of ``connect(host:port:tls:serverName:)``; a custom TLS
    /// context offers at most `maximumTLSVersion` (`nil`: its own choice).
    private func connectOnce(
        host: String,
        port: Int,
        tls: Bool,
        serverName: String?,
        number: Int,
        eventLoop: (any EventLoop)?,
        maximumTLSVersion: TLSVersion? = nil
    ) async throws -> SPDYClientConnection {
        let configuration = self.configuration
        let sslContext = self.sslContext
        let customTLS = self.customTLS
        let result = NIOLockedValueBox<EventLoopPromise<SPDYClientConnection>?>(nil)
        let channel = try await ClientBootstrap(group: eventLoop ?? group.next())
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                let promise = channel.eventLoop.makePromise(of: SPDYClientConnection.self)
                result.withLockedValue { $0 = promise }
                channel.closeFuture.whenComplete { _ in promise.fail(SPDYClientError.connectionClosed) }
                if !tls {
                    return channel.eventLoop.makeCompletedFuture {
                        let connection = try SPDYClientConnection.install(
                            on: channel,
                            version: configuration.plainVersion,
                            configuration: configuration,
                            number: number
                        )
                        promise.succeed(connection)
                    }
                }
                return channel.eventLoop.makeCompletedFuture {
                    let name = serverName ?? host
                    let isAddress = (try? SocketAddress(ipAddress: name, port: 0)) != nil
                    if let customTLS {
                        let attempt = SPDYTLS.ConnectionAttempt(
                            serverName: name, connectionNumber: number, maximumTLSVersion: maximumTLSVersion)
                        try customTLS.addHandlers(to: channel, for: attempt)
                    } else if let sslContext {
                        let ssl = try NIOSSLClientHandler(context: sslContext, serverHostname: isAddress ? nil : name)
                        try channel.pipeline.syncOperations.addHandler(ssl)
                    }
                    let alpn = ApplicationProtocolNegotiationHandler { negotiation, channel in
                        guard case .negotiated(let name) = negotiation, let version = SPDYVersion(protocolName: name)
                        else {
                            promise.fail(SPDYClientError.negotiationFailed(nil))
                            return channel.close()
                        }
                        return channel.eventLoop.makeCompletedFuture {
                            let connection = try SPDYClientConnection.install(
                                on: channel,
                                version: version,
                                configuration: configuration,
                                number: number,
                                alpnProtocol: name
                            )
                            promise.succeed(connection)
                        }
                    }
                    try channel.pipeline.syncOperations.addHandler(alpn)
                    try channel.pipeline.syncOperations.addHandler(HandshakeErrorHandler(promise: promise))
                }
            }
            .connect(host: host, port: port)
            .get()
        guard let promise = result.withLockedValue({ $0 }) else {
            channel.close(promise: nil)
            throw SPDYClientError.connectionClosed
        }
        let timeout = channel.eventLoop.scheduleTask(in: configuration.connectTimeout) {
            promise.fail(SPDYClientError.negotiationFailed("timed out"))
            channel.close(promise: nil)
        }
        defer { timeout.cancel() }
        return try await promise.futureResult.get()
    }

    /// Shuts down the client's own event loops (a group passed in is left running).
    public func shutdown() async throws {
        if ownsGroup {
            try await group.shutdownGracefully()
        }
    }
}

/// One client connection: submit requests with callbacks or `async`, or open stream
/// channels with ``openStream(_:)``.
public final class SPDYClientConnection: @unchecked Sendable {
    /// The negotiated version.
    public let version: SPDYVersion
    /// The connection's event loop; callbacks run there.
    public let eventLoop: any EventLoop
    /// The channel.
    public let channel: any Channel
    /// The handler that owns the session (for observers and stream channels).
    public let connection: SPDYConnection

    /// How often a request refused with REFUSED_STREAM (and not processed) is sent again.
    static let maxAttempts = 4

    private var streamCount = 0
    private var isClosed = false

    /// Called (on the event loop) for each stream the server pushes; return a handler to
    /// accept it, `nil` to refuse it (RST_STREAM CANCEL). Set it right after connecting;
    /// it may be set from any thread.
    public var onPush: ((SPDYStreamID, SPDYStreamID, SPDYHeaders) -> SPDYStreamHandler?)? {
        get { pushHandler.withLockedValue { $0 } }
        set { pushHandler.withLockedValue { $0 = newValue } }
    }
    private let pushHandler = NIOLockedValueBox<((SPDYStreamID, SPDYStreamID, SPDYHeaders) -> SPDYStreamHandler?)?>(
        nil)

    private init(version: SPDYVersion, channel: any Channel, connection: SPDYConnection) {
        self.version = version
        self.channel = channel
        self.eventLoop = channel.eventLoop
        self.connection = connection
    }

    static func install(
        on channel: any Channel,
        version: SPDYVersion,
        configuration: SPDYClient.Configuration,
        number: Int,
        alpnProtocol: String? = nil
    ) throws -> SPDYClientConnection {
        var sessionConfiguration = configuration.session
        sessionConfiguration.manualDataConsumption = true
        let session = try SPDYSession(
            role: .client, version: version, configuration: sessionConfiguration, clock: .eventLoop(channel.eventLoop))
        let clientBox = NIOLoopBoundBox<SPDYClientConnection?>(nil, eventLoop: channel.eventLoop)
        let connection = SPDYConnection(
            session: session,
            streamConfiguration: configuration.streams,
            pushStreamInitializer: { stream in
                stream.eventLoop.makeCompletedFuture {
                    guard let client = clientBox.value else { throw SPDYStreamError.connectionClosed }
                    try stream.pipeline.syncOperations.addHandler(PushAcceptor(client: client))
                }
            }
        )
        connection.frameCompletionTimeout = configuration.frameCompletionTimeout
        connection.writeTimeout = configuration.writeTimeout
        connection.keepAlive = configuration.keepAlive
        connection.metrics = configuration.metrics
        let client = SPDYClientConnection(version: version, channel: channel, connection: connection)
        clientBox.value = client
        let maxStreams = configuration.maxConcurrentStreams
        let window = version == .v2 ? nil : configuration.initialWindowSize
        let streamWindow = Int(window ?? UInt32(SPDYProtocol.defaultInitialWindowSize))
        let sessionWindow =
            configuration.sessionWindowSize.map { Int($0) }
            ?? min(Int(Int32.max), streamWindow * Int(max(configuration.maxConcurrentStreams, 1)))
        let established = configuration.establishedObserver
        let frameObserver = configuration.frameObserver
        connection.addObserver { [weak client] event in
            switch event {
            case .active:
                established?(number, version, alpnProtocol)
                var entries: [SPDYFrame.SettingsEntry] = [.init(id: .maxConcurrentStreams, value: maxStreams)]
                if let window { entries.append(.init(id: .initialWindowSize, value: window)) }
                try? session.submitSettings(entries: entries)
                if version == .v3_1, sessionWindow > SPDYProtocol.defaultInitialWindowSize {
                    try? session.submitWindowUpdate(
                        streamID: .zero, delta: sessionWindow - SPDYProtocol.defaultInitialWindowSize)
                }
            case .frame(let frame):
                frameObserver?(number, frame)
            case .closed:
                client?.isClosed = true
                clientBox.value = nil
            }
        }
        try channel.pipeline.syncOperations.addHandler(connection)
        return client
    }

    /// Submits a request; `handler` sees its headers, body and close (on the event loop).
    public func request(_ request: SPDYClientRequest, handler: SPDYStreamHandler) {
        self.request(
            headers: request.spdyHeaders,
            body: request.body,
            priority: request.priority,
            handler: handler
        )
    }

    /// Submits a request with a header block as it is (the caller provides `:method`,
    /// `:path`, `:version`, `:scheme` and `:host`).
    public func request(headers: SPDYHeaders, body: ByteBuffer?, priority: UInt8, handler: SPDYStreamHandler) {
        guard eventLoop.inEventLoop else {
            let bound = UncheckedSendable((headers, handler))
            eventLoop.execute {
                self.request(headers: bound.value.0, body: body, priority: priority, handler: bound.value.1)
            }
            return
        }
        guard !isClosed else {
            handler.onConnectionClosed(error: SPDYClientError.connectionClosed)
            return
        }
        submit(RequestStreamHandler.Request(headers: headers, body: body, priority: priority), handler, attempts: 1)
    }

    fileprivate func submit(_ request: RequestStreamHandler.Request, _ handler: SPDYStreamHandler, attempts: Int) {
        let streamHandler = RequestStreamHandler(client: self, request: request, handler: handler, attempts: attempts)
        streamStarted()
        let opened = connection.openLocalStream { try $0.pipeline.syncOperations.addHandler(streamHandler) }
        if opened == nil {
            streamEnded()
            handler.onConnectionClosed(error: connection.closeError)
        }
    }

    func streamStarted() {
        streamCount += 1
    }

    func streamEnded() {
        streamCount -= 1
    }

    /// Whether new streams may be opened (the connection is up).
    var mayOpenStreams: Bool { !isClosed }

    /// Whether a refused request may be sent again on this connection.
    var mayRetry: Bool {
        !isClosed && !connection.session.hasReceivedGoAway
    }

    /// Sends a request and returns the response head; the body streams in
    /// ``SPDYClientResponse/body``.
    public func request(_ request: SPDYClientRequest) async throws -> SPDYClientResponse {
        try await self.request(headers: request.spdyHeaders, body: request.body, priority: request.priority)
    }

    /// Pings the server; completes when the reply arrives, fails if the connection closes first.
    public func ping() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit { self.connection.ping() }
    }

    /// Sends GOAWAY; streams in flight finish, then the connection closes.
    public func close() {
        eventLoop.execute { self.connection.shutdownGracefully() }
    }

    /// The number of streams waiting for their response.
    public var openStreams: Int {
        eventLoop.preconditionInEventLoop()
        return streamCount
    }

    /// A stream the server pushed: ask ``onPush`` for a handler, refuse it without one.
    fileprivate func acceptPush(_ streamID: SPDYStreamID, _ associated: SPDYStreamID, _ headers: SPDYHeaders)
        -> SPDYStreamHandler?
    {
        guard let handler = onPush?(streamID, associated, headers) else { return nil }
        handler.streamID = streamID
        return handler
    }
}

/// Runs one request on its stream channel and reports to a ``SPDYStreamHandler``.
private final class RequestStreamHandler: ChannelInboundHandler {
    typealias InboundIn = SPDYStreamPayload
    typealias OutboundOut = SPDYStreamPayload

    struct Request {
        var headers: SPDYHeaders
        var body: ByteBuffer?
        var priority: UInt8
    }

    private let client: SPDYClientConnection
    private let request: Request
    private let handler: SPDYStreamHandler
    private let attempts: Int
    private var responded = false
    private var error: (any Error)?

    init(client: SPDYClientConnection, request: Request, handler: SPDYStreamHandler, attempts: Int) {
        self.client = client
        self.request = request
        self.handler = handler
        self.attempts = attempts
    }

    func channelActive(context: ChannelHandlerContext) {
        let hasBody = (request.body?.readableBytes ?? 0) > 0
        let priority = min(request.priority, client.version.lowestPriority)
        context.write(
            wrapOutboundOut(
                .headers(
                    .init(
                        kind: .synStream(priority: priority, associatedStreamID: .zero, unidirectional: false),
                        headers: request.headers, fin: !hasBody))),
            promise: nil)
        if hasBody, let body = request.body {
            context.write(wrapOutboundOut(.data(body, fin: true)), promise: nil)
        }
        context.flush()
        handler.streamID = (context.channel as? SPDYStreamChannel)?.streamID
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let payload):
            responded = true
            handler.onHeader(payload.headers)
        case .data(let bytes, _):
            responded = true
            if bytes.readableBytes > 0 { handler.onData(bytes) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.error == nil { self.error = error }
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.streamEnded()
        switch error {
        case nil:
            handler.onClose(.ok)
        case SPDYStreamError.resetByPeer(let status)?, SPDYStreamError.resetLocally(let status)?:
            // REFUSED_STREAM means the server did no work on it (typically more streams than
            // its MAX_CONCURRENT_STREAMS, sent before its SETTINGS arrived): send it again.
            if status == .refusedStream, !responded, attempts < SPDYClientConnection.maxAttempts, client.mayRetry {
                client.submit(request, handler, attempts: attempts + 1)
            } else {
                handler.onClose(status)
            }
        case SPDYStreamError.refusedByGoAway?:
            handler.onClose(.refusedStream)
        case SPDYStreamError.cannotOpen?:
            handler.onConnectionClosed(error: error)
        default:
            handler.onConnectionClosed(error: client.connection.closeError)
        }
        context.fireChannelInactive()
    }
}

/// The pipeline of a pushed stream: hands it to ``SPDYClientConnection/onPush``'s handler,
/// or refuses it.
private final class PushAcceptor: ChannelInboundHandler {
    typealias InboundIn = SPDYStreamPayload

    private let client: SPDYClientConnection
    private var handler: SPDYStreamHandler?
    private var error: (any Error)?

    init(client: SPDYClientConnection) {
        self.client = client
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let payload):
            if case .synStream(_, let associated, _) = payload.kind,
                let id = (context.channel as? SPDYStreamChannel)?.streamID
            {
                guard let accepted = client.acceptPush(id, associated, payload.headers) else {
                    context.close(promise: nil)
                    return
                }
                handler = accepted
            }
            handler?.onHeader(payload.headers)
        case .data(let bytes, _):
            if bytes.readableBytes > 0 { handler?.onData(bytes) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.error == nil { self.error = error }
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch error {
        case nil: handler?.onClose(.ok)
        case SPDYStreamError.resetByPeer(let status)?, SPDYStreamError.resetLocally(let status)?:
            handler?.onClose(status)
        default: handler?.onConnectionClosed(error: nil)
        }
        context.fireChannelInactive()
    }
}

/// Fails a connection attempt with the error that ended the TLS handshake (a certificate
/// that does not verify, a protocol alert) rather than a bare "connection closed".
private final class HandshakeErrorHandler: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let promise: EventLoopPromise<SPDYClientConnection>

    init(promise: EventLoopPromise<SPDYClientConnection>) {
        self.promise = promise
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Once the connection is established the promise has succeeded and this is a no-op.
        promise.fail(error)
        context.fireErrorCaught(error)
    }
}

/// Moves a non-Sendable value to the event loop it belongs to.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
