import ArgumentParser
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import SPDY
import SPDYProxy
import SPDYToolSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `spdyproxy`: a SPDY front end for HTTP/1.1 servers.
struct SPDYProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spdyproxy",
        abstract:
            "SPDY reverse proxy: serves SPDY/2, SPDY/3, SPDY/3.1 and HTTP/1.1 on one port and forwards every "
            + "request to HTTP/1.1 backends.",
        usage:
            "spdyproxy [-23v] [--spdy3-1] [--no-tls] [--npn] [--tls-min <VERSION>] [--no-http1] -b <HOST,PORT> "
            + "[-b <HOST,PORT> ...] <PORT> [<PRIVATE_KEY> <CERT>]",
        discussion: """
            Listens on <PORT> on every IPv6 and IPv4 address with one event loop per core, as \
            spdyd does: TLS by default (ALPN offering spdy/3.1, spdy/3, spdy/2 and http/1.1; \
            --npn adds NPN on the system OpenSSL for SPDY-era clients; an ephemeral \
            self-signed certificate without <PRIVATE_KEY> and <CERT>), or plain TCP with \
            --no-tls and one of -2, -3, --spdy3-1 (HTTP/1.1 clients told apart by their first \
            bytes). Every SPDY stream and every HTTP/1.1 request is forwarded to a backend \
            given with -b HOST,PORT (repeatable): backends are taken in turn, one that refuses \
            connections is skipped for 2 seconds, and keep-alive connections to them are \
            pooled and reused.

            Bodies stream both ways with backpressure, so an upload or download of any size \
            holds a few read buffers in the proxy. The backend request gets x-forwarded-for \
            (the client's address appended), x-forwarded-proto (https or http) and via; \
            hop-by-hop headers (connection and the names it lists, keep-alive, \
            proxy-connection, te, trailer, transfer-encoding, upgrade) are dropped both ways; \
            expect: 100-continue is answered by the proxy. A backend that refuses or fails \
            before answering gives 502, one that takes longer than --timeout to answer 504, \
            no free backend connection within --connect-timeout 503; one that fails \
            mid-response resets the stream (SPDY) or closes the connection (HTTP/1.1). A \
            client that resets its stream closes its backend request.

            One access-log line per request goes to standard output (or --access-log FILE): \
            client, "METHOD URI PROTOCOL", status, response bytes, backend, seconds, outcome \
            (complete, client-aborted, backend-failed, timed-out) and user agent. -v prints \
            every frame received and sent, per connection, as spdyd -v does. SIGINT or \
            SIGTERM stops the proxy gracefully: no new connections, GOAWAY on SPDY \
            connections, requests in flight finish for up to --shutdown-timeout seconds; exit \
            status 0.
            """
    )

    @OptionGroup var versionOptions: VersionOptions

    @Option(
        name: [.customShort("b"), .customLong("backend")],
        help: ArgumentHelp("A backend to forward to (repeatable).", valueName: "HOST,PORT"))
    var backends: [String] = []

    @Flag(name: .shortAndLong, help: "Print every frame received and sent, per connection.")
    var verbose = false

    @Flag(help: "Color the -v output.")
    var color = false

    @Flag(name: .customLong("no-tls"), help: "Plain TCP instead of TLS (needs -2, -3 or --spdy3-1).")
    var noTLS = false

    @Flag(help: "TLS on the system OpenSSL, offering NPN next to ALPN (for SPDY-era clients).")
    var npn = false

    @Option(
        name: .customLong("tls-min"),
        help: ArgumentHelp("The lowest TLS version accepted: 1.0, 1.1, 1.2 (default) or 1.3.", valueName: "VERSION"))
    var tlsMinimum: TLSMinimum?

    @Flag(name: .customLong("no-http1"), help: "Serve SPDY only: no HTTP/1.1 on the port.")
    var noHTTP1 = false

    @Option(help: ArgumentHelp("Client connections served at once.", valueName: "N"))
    var maxConnections = 10_000

    @Option(help: ArgumentHelp("MAX_CONCURRENT_STREAMS announced to SPDY clients.", valueName: "N"))
    var maxConcurrentStreams: UInt32 = 100

    @Option(
        help: ArgumentHelp(
            "The largest request header block (SPDY, inflated) or head (HTTP/1.1), in bytes.", valueName: "BYTES"))
    var maxHeaderSize = 64 << 10

    @Option(help: ArgumentHelp("Seconds a connection to a backend may take.", valueName: "SECONDS"))
    var connectTimeout = 5.0

    @Option(
        help: ArgumentHelp(
            "Seconds an exchange may go without a byte moving either way (504 before the response).",
            valueName: "SECONDS"))
    var timeout = 60.0

    @Option(help: ArgumentHelp("Seconds a client connection may stay silent.", valueName: "SECONDS"))
    var idleTimeout = 300.0

    @Option(help: ArgumentHelp("Connections to the backends per event loop, busy and idle.", valueName: "N"))
    var backendConnections = 1024

    @Option(help: ArgumentHelp("Idle keep-alive connections kept per backend and event loop.", valueName: "N"))
    var backendIdleConnections = 1024

    @Option(help: ArgumentHelp("Event loop threads (default: one per core).", valueName: "N"))
    var threads = System.coreCount

    @Option(help: ArgumentHelp("Seconds requests in flight get to finish on SIGTERM.", valueName: "SECONDS"))
    var shutdownTimeout = 10.0

    @Option(help: ArgumentHelp("Append the access log to FILE instead of standard output.", valueName: "FILE"))
    var accessLog: String?

    @Flag(help: "Write no access log.")
    var noAccessLog = false

    @Argument(help: ArgumentHelp("The port to listen on (0: any free port).", valueName: "PORT"))
    var port: Int

    @Argument(help: ArgumentHelp("A PEM private key file.", valueName: "PRIVATE_KEY"))
    var privateKey: String?

    @Argument(help: ArgumentHelp("A PEM certificate (chain) file.", valueName: "CERT"))
    var certificate: String?

    func validate() throws {
        guard (0...65535).contains(port) else {
            throw ValidationError("the port must be in the range [0, 65535], not \(port)")
        }
        guard !backends.isEmpty else {
            throw ValidationError("give at least one backend with -b HOST,PORT")
        }
        for backend in backends where SPDYProxyConfiguration.Backend(argument: backend) == nil {
            throw ValidationError("-b takes HOST,PORT with a port in [1, 65535], not \(backend)")
        }
        try ServerTransportOptions.validate(
            noTLS: noTLS, versionOptions: versionOptions, npn: npn, tlsMinimum: tlsMinimum, privateKey: privateKey,
            certificate: certificate)
        for (value, name) in [
            (connectTimeout, "--connect-timeout"), (timeout, "--timeout"), (idleTimeout, "--idle-timeout"),
            (shutdownTimeout, "--shutdown-timeout"),
        ] where !(value > 0 && value < 1e6) {
            throw ValidationError("\(name) takes a number of seconds above 0, not \(value)")
        }
        for (value, name) in [
            (maxConnections, "--max-connections"), (backendConnections, "--backend-connections"),
            (threads, "--threads"), (maxHeaderSize, "--max-header-size"),
        ] where value < 1 {
            throw ValidationError("\(name) must be at least 1, not \(value)")
        }
        if backendIdleConnections < 0 {
            throw ValidationError("--backend-idle-connections must be at least 0")
        }
        if maxConcurrentStreams < 1 {
            throw ValidationError("--max-concurrent-streams must be at least 1")
        }
        if noAccessLog && accessLog != nil {
            throw ValidationError("give --access-log or --no-access-log, not both")
        }
    }

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        let transport = try ServerTransportOptions.transport(
            tool: "spdyproxy", noTLS: noTLS, versionOptions: versionOptions, npn: npn, tlsMinimum: tlsMinimum,
            privateKey: privateKey, certificate: certificate)
        let log = verbose ? FrameLog(serverStyle: true, color: color) : nil
        let accessOutput = try accessLogOutput()
        var session = SPDYSession.Configuration()
        session.maxHeaderBlockSize = maxHeaderSize
        let server = SPDYServer.Configuration(
            port: port,
            transport: transport,
            maxConcurrentStreams: maxConcurrentStreams,
            maxConnections: maxConnections,
            idleTimeout: .nanoseconds(Int64(idleTimeout * 1e9)),
            session: session,
            threads: threads,
            frameObserver: log?.observer,
            servesHTTP1: !noHTTP1,
            http1: .init(maxHeaderSize: maxHeaderSize)
        )
        var writeAccessLog: (@Sendable (SPDYProxyAccessLogEntry) -> Void)?
        if let accessOutput {
            writeAccessLog = { entry in accessOutput.write(entry.line + "\n") }
        }
        let proxy = SPDYProxyConfiguration(
            backends: backends.compactMap(SPDYProxyConfiguration.Backend.init(argument:)),
            connectTimeout: .nanoseconds(Int64(connectTimeout * 1e9)),
            timeout: .nanoseconds(Int64(timeout * 1e9)),
            maxIdleConnectionsPerBackend: backendIdleConnections,
            maxConnectionsPerEventLoop: backendConnections,
            accessLog: writeAccessLog
        )
        let reverseProxy = try SPDYReverseProxy(server: server, proxy: proxy)
        // The listening lines replace the library's log line; warnings still show.
        reverseProxy.server.logger.logLevel = .warning
        let signals = SignalWaiter(signals: [SIGINT, SIGTERM])
        do {
            try reverseProxy.start()
        } catch {
            throw ToolError("cannot listen on port \(port): \(error)")
        }
        let actualPort = reverseProxy.port ?? port
        for line in listeningLines(reverseProxy.localAddresses, port: actualPort) {
            Output.standardOutput.write(line + "\n")
        }
        await signals.next()
        try? await reverseProxy.shutdownGracefully(timeout: .nanoseconds(Int64(shutdownTimeout * 1e9)))
    }

    /// Where access-log lines go: standard output, a file (appended), or nowhere.
    private func accessLogOutput() throws -> Output? {
        if noAccessLog { return nil }
        guard let accessLog, accessLog != "-" else { return .standardOutput }
        do {
            return try Output(appendingTo: accessLog)
        } catch {
            throw ToolError("cannot open the access log \(accessLog): \(error)")
        }
    }
}
