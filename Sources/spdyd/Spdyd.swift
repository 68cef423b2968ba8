import ArgumentParser
import Dispatch
import NIOCore
import NIOPosix
import NIOSPDY
import NIOSPDYOpenSSL
import NIOSSL
import SPDY
import SPDYToolSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The software name in the `server` header and on error pages.
let serverSoftware = "spdyd swift-spdy/0.1"

/// `spdyd`: serves the files under a folder over SPDY.
struct Spdyd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spdyd",
        abstract:
            "SPDY server: serves the files under a folder over SPDY/2, SPDY/3 and SPDY/3.1, and HTTP/1.1 "
            + "on the same port.",
        usage:
            "spdyd [-23DVhv] [-d <PATH>] [--no-tls] [--npn] [--tls-min <VERSION>] [--no-http1] [--color] "
            + "[--file-cache <MIB>] [--file-cache-validity <SECONDS>] <PORT> "
            + "[<PRIVATE_KEY> <CERT>]",
        discussion: """
            Listens on <PORT> on every IPv6 and IPv4 address, runs one event loop per core and \
            announces MAX_CONCURRENT_STREAMS=100. With TLS (the default) the version is \
            negotiated by ALPN; without <PRIVATE_KEY> and <CERT> an ephemeral self-signed \
            certificate for localhost, 127.0.0.1 and ::1 is made at start (clients must skip \
            verification, e.g. `spdycat -k`). --no-tls speaks one version over plain TCP and \
            needs -2, -3 or --spdy3-1. --npn uses the system OpenSSL and offers NPN next to \
            ALPN on the same port, for SPDY-era clients that know only NPN (such as the \
            original spdycat); their connections are held to TLS 1.2, ALPN clients keep TLS 1.3. \
            Both backends accept TLS 1.2 and 1.3 with ECDHE and AEAD cipher suites only; \
            --tls-min 1.0 (or 1.1) also lets in clients that know nothing newer, such as \
            browsers and Android versions of the SPDY era, with ECDHE-AES-CBC-SHA suites.

            HTTP/1.1 is served on the same port, with the same answers: over TLS to clients \
            that negotiate http/1.1 (offered after the SPDY versions) or nothing, over plain \
            TCP to clients whose first bytes are not a SPDY frame, so `curl -k \
            https://localhost:PORT/FILE` (or `curl http://localhost:PORT/FILE` with --no-tls) \
            gets what spdycat gets. --no-http1 serves SPDY only.

            Any method is answered once the request is complete; request bodies are ignored. \
            A missing :method, :path, :version, :scheme or :host gives 400. The query is \
            ignored (a query containing spdyd_do_not_respond_to_req=yes gets no response: the \
            original's test hook). The path is percent-decoded; one that does not start with \
            '/', contains '\\', "/../" or "/./", ends with "/.." or "/.", or leads out of the \
            folder through a symbolic link gives 404, as does a file that cannot be opened or \
            is not a regular file. A path ending in '/' is served its index.html; a directory \
            asked for without the '/' is redirected (301) to it. If-Modified-Since at or after \
            the file's modification time gives 304. Files are sent with content-length, \
            content-type (from the extension), last-modified and cache-control: max-age=3600, \
            read from disk in chunks as the client takes them. Files up to 64 KiB are kept in \
            memory (--file-cache MiB in all, 32 by default, 0 for none) and served from there \
            for --file-cache-validity seconds (1 by default) after the file system was last \
            consulted; then the path is resolved and checked again and the copy kept only if \
            the file's device, inode, size and modification time are unchanged, so a changed \
            file or link is seen within that time. Error pages are gzip-compressed \
            HTML. SIGINT or SIGTERM stops the server gracefully (GOAWAY, requests in flight \
            finish for up to 10 seconds) with exit status 0.

            -D runs in the background: spdyd starts itself again in a new session with its \
            output sent to /dev/null, prints the listening lines and the process ID, and \
            exits once the server listens. Unlike the original it does not need -d, because \
            the folder is resolved to an absolute path first. -V (ask clients for a \
            certificate without verifying it) is not supported and is refused with an error: \
            spdyd does nothing with client certificates, and asking for one needs a TLS hook \
            the server does not have.
            """
    )

    @OptionGroup var versionOptions: VersionOptions

    @Flag(name: .customShort("D"), help: "Run in the background (as a daemon).")
    var daemon = false

    @Flag(name: .customShort("V"), help: "Request a client certificate (not supported: refused).")
    var requestClientCertificate = false

    @Option(
        name: [.customShort("d"), .customLong("htdocs")],
        help: ArgumentHelp("The folder to serve.", valueName: "PATH"))
    var htdocs = "./"

    @Flag(name: .shortAndLong, help: "Print every frame received and sent, per connection.")
    var verbose = false

    @Flag(name: .customLong("no-tls"), help: "Plain TCP instead of TLS (needs -2, -3 or --spdy3-1).")
    var noTLS = false

    @Flag(help: "TLS on the system OpenSSL, offering NPN next to ALPN (for SPDY-era clients).")
    var npn = false

    @Option(
        name: .customLong("tls-min"),
        help: ArgumentHelp("The lowest TLS version accepted: 1.0, 1.1, 1.2 (default) or 1.3.", valueName: "VERSION"))
    var tlsMinimum: TLSMinimum?

    @Flag(
        name: .customLong("no-http1"),
        help: ArgumentHelp(
            "Serve SPDY only: no HTTP/1.1 on the port (by default TLS offers http/1.1 by ALPN and plain TCP "
                + "tells HTTP/1.1 by its first bytes)."))
    var noHTTP1 = false

    @Flag(help: "Color the -v output.")
    var color = false

    @Option(
        name: .customLong("file-cache"),
        help: ArgumentHelp("MiB of small files (up to 64 KiB each) kept in memory; 0: none.", valueName: "MIB"))
    var fileCacheMiB = 32

    @Option(
        name: .customLong("file-cache-validity"),
        help: ArgumentHelp(
            "Seconds a cached file is served before the file system is consulted again.", valueName: "SECONDS"))
    var fileCacheValidity = 1.0

    @Option(
        name: .customLong("metrics-port"),
        help: ArgumentHelp(
            "Serve the server's counters (connections, streams, resets, frames, bytes, flow-control stalls, "
                + "abuse limits, TLS handshake failures) in the Prometheus text format at "
                + "http://127.0.0.1:PORT/metrics (0: any free port).",
            valueName: "PORT"))
    var metricsPort: Int?

    @Option(
        name: .customLong("max-connections"),
        help: ArgumentHelp(
            "Connections served at once (SPDY, HTTP/1.1 and TLS handshakes together); more are closed on arrival.",
            valueName: "N"))
    var maxConnections = 10_000

    @Option(
        name: .customLong("ping-interval"),
        help: ArgumentHelp(
            "PING a client whose streams are open after this many seconds without a byte from it, and close the "
                + "connection if nothing arrives within as many more (finds clients whose link went down); "
                + "default: off (the 5-minute idle and 60-second write timeouts apply).",
            valueName: "SECONDS"))
    var pingInterval: Double?

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
        if let pingInterval, !(pingInterval > 0 && pingInterval <= 86_400) {
            throw ValidationError("--ping-interval must be in the range (0, 86400] seconds")
        }
        guard (1...10_000_000).contains(maxConnections) else {
            throw ValidationError("--max-connections must be in the range [1, 10000000], not \(maxConnections)")
        }
        if let metricsPort, !(0...65535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be in the range [0, 65535], not \(metricsPort)")
        }
        guard (0...(1 << 20)).contains(fileCacheMiB) else {
            throw ValidationError("--file-cache must be in the range [0, 1048576] MiB, not \(fileCacheMiB)")
        }
        guard fileCacheValidity >= 0, fileCacheValidity <= 86_400 else {
            throw ValidationError("--file-cache-validity must be in the range [0, 86400] seconds")
        }
        if requestClientCertificate {
            throw ValidationError("-V (request a client certificate) is not supported; see spdyd --help")
        }
        try ServerTransportOptions.validate(
            noTLS: noTLS, versionOptions: versionOptions, npn: npn, tlsMinimum: tlsMinimum, privateKey: privateKey,
            certificate: certificate)
    }

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        let daemonChild = getenv(Daemon.childMarker) != nil
        if daemon && !daemonChild {
            try Daemon.startInBackground()
        }
        let root = try resolveRoot()
        let transport = try makeTransport()
        let log = verbose ? FrameLog(serverStyle: true, color: color) : nil
        let threadPool = NIOThreadPool(numberOfThreads: max(2, System.coreCount))
        threadPool.start()
        let fileCache = SmallFileCache(
            configuration: .init(
                maxTotalBytes: fileCacheMiB << 20,
                maxFileSize: FileHandler.inlineReadLimit,
                validity: .nanoseconds(Int64(fileCacheValidity * 1e9))
            )
        )
        FileHandler.context.withLockedValue {
            $0 = FileServerContext(root: root, port: port, threadPool: threadPool, fileCache: fileCache)
        }
        var metricsEndpoint: MetricsEndpoint?
        if let metricsPort {
            do {
                metricsEndpoint = try await MetricsEndpoint(port: metricsPort)
            } catch {
                throw ToolError("cannot serve metrics on port \(metricsPort): \(error)")
            }
        }
        var configuration = SPDYServer.Configuration(
            port: port,
            transport: transport,
            maxConnections: maxConnections,
            // A file server reads no request body: a large one is refused (413 and
            // RST_STREAM) rather than collected.
            maxRequestBodySize: 1 << 20,
            frameObserver: log?.observer,
            servesHTTP1: !noHTTP1
        )
        configuration.metrics = metricsEndpoint?.serverMetrics
        configuration.keepAlive = pingInterval.map { seconds in
            let time = TimeAmount.nanoseconds(Int64(seconds * 1e9))
            return SPDYKeepAlive(interval: time, timeout: time)
        }
        let server = try SPDYServer(configuration: configuration, handler: FileHandler.self)
        // The listening lines below replace the library's log line; warnings still show.
        server.logger.logLevel = .warning
        let signals = SignalWaiter(signals: [SIGINT, SIGTERM])
        do {
            try server.start()
        } catch {
            throw ToolError("cannot listen on port \(port): \(error)")
        }
        let actualPort = server.port ?? port
        if actualPort != port {
            FileHandler.context.withLockedValue {
                $0 = FileServerContext(root: root, port: actualPort, threadPool: threadPool, fileCache: fileCache)
            }
        }
        for line in listeningLines(server.localAddresses, port: actualPort) {
            Output.standardOutput.write(line + "\n")
        }
        if let metricsEndpoint {
            Output.standardOutput.write("metrics on http://127.0.0.1:\(metricsEndpoint.port)/metrics\n")
        }
        if daemonChild {
            Daemon.detach()
        }
        await signals.next()
        try? await server.shutdownGracefully(timeout: .seconds(10))
        await metricsEndpoint?.close()
        try? await threadPool.shutdownGracefully()
    }

    /// The folder to serve, with symbolic links resolved.
    private func resolveRoot() throws -> String {
        guard let resolved = realpath(htdocs, nil) else {
            throw ToolError("cannot serve \(htdocs): \(String(cString: strerror(errno)))")
        }
        defer { free(resolved) }
        var info = stat()
        guard stat(resolved, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw ToolError("cannot serve \(htdocs): not a directory")
        }
        return String(cString: resolved)
    }

    private func makeTransport() throws -> SPDYServer.Transport {
        try ServerTransportOptions.transport(
            tool: "spdyd", noTLS: noTLS, versionOptions: versionOptions, npn: npn, tlsMinimum: tlsMinimum,
            privateKey: privateKey, certificate: certificate)
    }
}
