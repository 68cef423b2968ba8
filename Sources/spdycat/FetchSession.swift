import Foundation
import NIOCore
import NIOPosix
import NIOSPDY
import NIOSPDYOpenSSL
import SPDY
import SPDYToolSupport

/// What every session of one spdycat run shares: the options, resolved.
struct FetchSettings: Sendable {
    var versions: [SPDYVersion]
    var plainVersion: SPDYVersion
    var tls: Bool
    /// Negotiate by NPN on the system OpenSSL (`--npn`) instead of ALPN on swift-nio-ssl.
    var npn: Bool
    var verifyCertificates: Bool
    var identity: SPDYTLS.Identity?
    var timeout: Double?
    var initialWindowSize: UInt32?
    var extraHeaders: [(name: String, value: String)]
    var body: [UInt8]?
    var nullOut: Bool
    var remoteName: Bool
    var statistics: Bool
    var log: FrameLog?

    /// The `user-agent` spdycat sends.
    static let userAgent = "spdycat " + SPDYRequestHandler.serverVersion

    /// A `:host` (or `host`) given with `-H`, which replaces the URI's authority.
    var hostOverride: String? {
        extraHeaders.last { [":host", "host"].contains($0.name.lowercased()) }?.value
    }
}

/// One request of a session and what the statistics report about it.
final class RequestRecord {
    let uri: String
    let url: SPDYURL
    var status = ""
    var handler: ResponseHandler?
    var synStreamTime: ContinuousClock.Instant?
    var synReplyTime: ContinuousClock.Instant?
    var completeTime: ContinuousClock.Instant?

    init(uri: String, url: SPDYURL) {
        self.uri = uri
        self.url = url
    }
}

/// One session: a connection to one scheme, host and port, with every request to it.
///
/// Everything but ``run()`` runs on the connection's event loop (the stream handlers, the
/// frame observer, the timeout); ``run()`` reads the state only after the connection has
/// closed, so the state needs no lock.
final class FetchSession: @unchecked Sendable {
    let settings: FetchSettings
    let records: [RequestRecord]
    let group: any EventLoopGroup
    /// The `host[:port]` of the messages, as the original's `hostport`.
    let hostport: String

    private var connection: SPDYClientConnection?
    private var handshakeTime: ContinuousClock.Instant?
    private var completed = 0
    private var timedOut = false
    private var connectionError: (any Error)?
    private var connectionLost = false
    private var npnSelected = false

    init(settings: FetchSettings, requests: [(uri: String, url: SPDYURL)], group: any EventLoopGroup) {
        self.settings = settings
        self.records = requests.map { RequestRecord(uri: $0.uri, url: $0.url) }
        self.group = group
        self.hostport = records[0].url.authority
    }

    /// Connects, sends every request, waits for the responses (or the timeout) and says
    /// goodbye with GOAWAY. Returns whether the session succeeded.
    func run() async -> Bool {
        let start = ContinuousClock.now
        let deadline = settings.timeout.map { start + .nanoseconds(Int64($0 * 1e9)) }
        let first = records[0].url
        var configuration = SPDYClient.Configuration(
            versions: settings.versions,
            plainVersion: settings.plainVersion,
            verifyCertificates: settings.verifyCertificates,
            connectTimeout: settings.timeout.map { .nanoseconds(Int64($0 * 1e9)) } ?? .seconds(60),
            initialWindowSize: settings.initialWindowSize,
            clientIdentity: settings.identity
        )
        // spdylay's spdycat raises the session window only with -w, to the stream window.
        configuration.sessionWindowSize = settings.initialWindowSize ?? UInt32(SPDYProtocol.defaultInitialWindowSize)
        let logObserver = settings.log?.observer
        configuration.frameObserver = { [self] number, event in
            logObserver?(number, event)
            observe(event)
        }
        configuration.establishedObserver = { [self] _, _, alpn in established(alpn: alpn) }
        if settings.npn {
            configuration.tlsProvider = .openSSL(.npnOnly) { [self] _, offered, selected in
                npnSelect(offered: offered, selected: selected)
            }
        }
        let connection: SPDYClientConnection
        do {
            let client = try SPDYClient(configuration: configuration, group: group)
            connection = try await client.connect(
                host: first.host,
                port: first.port,
                tls: settings.tls,
                serverName: serverName
            )
        } catch {
            Output.standardError.write(describeConnectFailure(error) + "\n")
            return false
        }
        let eventLoop = connection.eventLoop
        var timeoutTask: Scheduled<Void>?
        if let deadline {
            let remaining = ContinuousClock.now.duration(to: deadline)
            let nanoseconds =
                remaining.components.seconds * 1_000_000_000 + remaining.components.attoseconds / 1_000_000_000
            timeoutTask = eventLoop.scheduleTask(in: .nanoseconds(max(0, nanoseconds))) { [self] in timeOut() }
        }
        eventLoop.execute { [self] in submitAll(on: connection) }
        try? await connection.channel.closeFuture.get()
        timeoutTask?.cancel()
        // The close future completes on the event loop after every stream callback ran.
        return (try? await eventLoop.submit { [self] in finish() }.get()) ?? false
    }

    /// The SNI name: the host of a `:host` given with `-H` (without its port), else the URI's.
    private var serverName: String? {
        guard var host = settings.hostOverride else { return nil }
        if host.hasPrefix("[") { return nil }  // an IPv6 address: no SNI
        if let colon = host.lastIndex(of: ":"), host[host.index(after: colon)...].allSatisfy(\.isNumber) {
            host = String(host[..<colon])
        }
        return host
    }

    // MARK: On the event loop

    /// The original's NPN log: the server's offer and our choice.
    private func npnSelect(offered: [String], selected: String?) {
        npnSelected = selected != nil
        guard let log = settings.log else { return }
        log.line("NPN select next protocol: the remote server offers:")
        var lines = offered.map { "          * \($0)\n" }.joined()
        if let selected { lines += "          NPN selected the protocol: \(selected)\n" }
        Output.standardOutput.write(lines)
    }

    private func established(alpn: String?) {
        handshakeTime = .now
        guard let log = settings.log else { return }
        if let alpn, !npnSelected { log.line("ALPN selected the protocol: \(alpn)") }
        log.line("Handshake complete")
    }

    private func observe(_ event: SPDYFrameEvent) {
        guard case .controlSent(.synStream(let frame), _) = event else { return }
        records.first { $0.handler?.streamID == frame.streamID }?.synStreamTime = .now
    }

    private func submitAll(on connection: SPDYClientConnection) {
        self.connection = connection
        for record in records {
            let handler = ResponseHandler(session: self, record: record)
            record.handler = handler
            connection.request(
                headers: requestHeaders(for: record.url),
                body: settings.body.map { ByteBuffer(bytes: $0) },
                priority: 3,
                handler: handler
            )
        }
    }

    /// The original's request headers, with `-H` overriding or adding.
    private func requestHeaders(for url: SPDYURL) -> SPDYHeaders {
        var pairs: [(name: String, value: String)] = [
            (":method", settings.body == nil ? "GET" : "POST"),
            (":path", url.path),
            (":version", "HTTP/1.1"),
            (":scheme", url.scheme),
            (":host", url.authority),
            ("accept", "*/*"),
            ("accept-encoding", "gzip, deflate"),
            ("user-agent", FetchSettings.userAgent),
        ]
        if let body = settings.body { pairs.append(("content-length", String(body.count))) }
        let builtIn = pairs.count
        for (name, value) in settings.extraHeaders {
            var lower = name.lowercased()
            if lower == "host" { lower = ":host" }
            if let index = pairs[..<builtIn].firstIndex(where: { $0.name == lower }) {
                pairs[index].value = value
            } else {
                pairs.append((lower, value))
            }
        }
        return SPDYHeaders(pairs)
    }

    func streamClosed(_ record: RequestRecord) {
        record.completeTime = .now
        completed += 1
        if completed == records.count {
            // Every stream has closed: GOAWAY, then the connection closes.
            connection?.close()
        }
    }

    func connectionClosed(error: (any Error)?) {
        connectionLost = true
        if connectionError == nil { connectionError = error }
    }

    private func timeOut() {
        guard completed < records.count else { return }
        timedOut = true
        Output.standardError.write("Requests to \(hostport) timed out.\n")
        connection?.channel.close(promise: nil)
    }

    private func finish() -> Bool {
        var failed = timedOut
        if !timedOut && completed < records.count {
            failed = true
            let reason = connectionError.map { "\($0)" } ?? "EOF (the connection closed)"
            Output.standardError.write("Fatal: \(reason)\nreqnum=\(records.count), completed=\(completed)\n")
        }
        if completed < records.count {
            Output.standardError.write(
                "Some requests were not processed. total=\(records.count), processed=\(completed)\n")
        }
        if settings.statistics { printStatistics() }
        return !failed
    }

    private func printStatistics() {
        var out = "***** Statistics *****\n"
        for (index, record) in records.enumerated() {
            out += "#\(index + 1): \(record.uri)\n"
            out += "    Status: \(record.status)\n"
            out += "    Delta (ms) from SSL/TLS handshake(SYN_STREAM):\n"
            if let reply = record.synReplyTime {
                out +=
                    "        SYN_REPLY: \(milliseconds(handshakeTime, reply))(\(milliseconds(record.synStreamTime, reply)))\n"
            }
            if let complete = record.completeTime {
                out +=
                    "        Completed: \(milliseconds(handshakeTime, complete))(\(milliseconds(record.synStreamTime, complete)))\n"
            }
            out += "\n"
        }
        Output.standardOutput.write(out)
    }

    private func milliseconds(_ from: ContinuousClock.Instant?, _ to: ContinuousClock.Instant) -> Int64 {
        guard let from else { return 0 }
        let delta = from.duration(to: to)
        return delta.components.seconds * 1000 + delta.components.attoseconds / 1_000_000_000_000_000
    }

    // MARK: Messages

    /// The one line for a session that could not be established, in the original's words.
    private func describeConnectFailure(_ error: any Error) -> String {
        let target = records[0].url.host.contains(":") ? "[\(records[0].url.host)]" : records[0].url.host
        let address = "\(target):\(records[0].url.port)"
        if let channelError = error as? ChannelError, case .connectTimeout = channelError {
            return "Request to \(hostport) timed out during establishing connection."
        }
        if let clientError = error as? SPDYClientError {
            switch clientError {
            case .negotiationFailed("timed out"):
                return "Request to \(hostport) timed out in SSL/TLS handshake."
            case .negotiationFailed:
                let mechanism = settings.npn ? "NPN" : "ALPN"
                return "No supported SPDY version was negotiated (the server offered no SPDY protocol by \(mechanism))."
            case .connectionClosed:
                return "Fatal: \(address) closed the connection during the SSL/TLS handshake."
            default:
                return "Fatal: \(clientError)"
            }
        }
        if let connectError = error as? NIOConnectionError {
            if connectError.connectionErrors.isEmpty {
                return "Could not connect to the host: \(address): the host name could not be resolved"
            }
            let reasons = connectError.connectionErrors.map { failure -> String in
                if let io = failure.error as? IOError { return String(cString: strerror(io.errnoCode)) }
                return "\(failure.error)"
            }
            return "Could not connect to the host: \(address): \(reasons.first ?? "failed")"
        }
        if let io = error as? IOError {
            return "Could not connect to the host: \(address): \(String(cString: strerror(io.errnoCode)))"
        }
        let text = "\(error)"
        if text.contains("handshakeFailed") || text.contains("sslError") {
            return "Fatal: SSL/TLS handshake with \(address) failed: \(Self.tlsReason(text))"
        }
        return "Fatal: \(text)"
    }

    /// The reason of a TLS error, such as `certificate verify failed` out of BoringSSL's
    /// `error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED`.
    static func tlsReason(_ text: String) -> String {
        guard let range = text.range(of: "OPENSSL_internal:") else { return text }
        let code = text[range.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" }
        var reason = code.lowercased().replacingOccurrences(of: "_", with: " ")
        if code == "CERTIFICATE_VERIFY_FAILED" {
            reason += " (use -k to accept a certificate that cannot be verified)"
        }
        return reason
    }
}

/// The callbacks of one request's stream: the body goes to standard output (decoded when
/// gzip or deflate), to a file with `-O`, or nowhere with `-n`.
final class ResponseHandler: SPDYStreamHandler {
    private unowned let session: FetchSession
    private let record: RequestRecord
    private var replied = false
    private var decoder: ContentCoding.Decoder?
    private var rawDeflateAllowed = false
    private var decodeFailed = false
    private var file: OutputFile?
    private var progress: ProgressBar?
    private var done = false

    init(session: FetchSession, record: RequestRecord) {
        self.session = session
        self.record = record
    }

    override func onHeader(_ headers: SPDYHeaders) {
        if !replied {
            replied = true
            record.synReplyTime = .now
            let length = headers["content-length"].flatMap { Int($0) }
            progress = ProgressBar(label: OutputFile.fileName(for: record.url.path), total: length)
            if session.settings.remoteName && !session.settings.nullOut {
                do {
                    file = try OutputFile.create(for: record.url)
                } catch {
                    decodeFailed = true
                    Output.standardError.write("spdycat: \(error)\n")
                }
            }
        }
        if let status = headers[":status"] { record.status = status }
        if decoder == nil, let coding = headers["content-encoding"] {
            decoder = ContentCoding.decoder(for: coding)
            rawDeflateAllowed = coding.lowercased().contains("deflate")
        }
    }

    override func onData(_ data: ByteBuffer) {
        progress?.advance(by: data.readableBytes)
        guard !decodeFailed, !session.settings.nullOut else { return }
        if let decoder {
            let bytes = Array(data.readableBytesView)
            do {
                let decoded = rawDeflateAllowed ? try decoder.decodeAllowingRaw(bytes) : try decoder.decode(bytes)
                decoded.withUnsafeBytes { write($0) }
            } catch {
                decodeFailed = true
                Output.standardError.write("spdycat: \(record.uri): \(error)\n")
            }
        } else {
            data.withUnsafeReadableBytes { write($0) }
        }
    }

    private func write(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        if let file {
            file.write(bytes)
        } else if !session.settings.remoteName {
            Output.standardOutput.write(bytes: bytes)
        }
    }

    override func onClose(_ status: SPDYStreamStatus) {
        guard !done else { return }
        done = true
        end()
        session.streamClosed(record)
    }

    override func onConnectionClosed(error: (any Error)?) {
        guard !done else { return }
        done = true
        end()
        session.connectionClosed(error: error)
    }

    private func end() {
        progress?.finish()
        file?.close()
    }
}
