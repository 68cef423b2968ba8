import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import NIOSPDY
import SPDY
import SPDYToolSupport

/// spdycat: fetches URIs over SPDY/2, SPDY/3 or SPDY/3.1 and prints (or saves) their bodies,
/// with the options and output of spdylay's spdycat.
struct Spdycat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spdycat",
        // The help is the original's, printed by `-h`/`--help` below.
        helpNames: []
    )

    @Flag(name: [.customShort("v"), .customLong("verbose")])
    var verbose = false
    @Flag(name: [.customShort("n"), .customLong("null-out")])
    var nullOut = false
    @Flag(name: [.customShort("O"), .customLong("remote-name")])
    var remoteName = false
    @Flag(name: [.customShort("a"), .customLong("get-assets")])
    var getAssets = false
    @Flag(name: [.customShort("s"), .customLong("stat")])
    var stat = false
    @Flag(name: [.customShort("k"), .customLong("insecure")])
    var insecure = false
    @Flag(name: .customLong("spdy2"))
    var longSPDY2 = false
    @Flag(name: .customLong("spdy3"))
    var longSPDY3 = false
    @OptionGroup
    var versionOptions: VersionOptions
    @Option(name: [.customShort("t"), .customLong("timeout")])
    var timeout: String?
    @Option(name: [.customShort("w"), .customLong("window-bits")])
    var windowBits: String?
    @Option(name: [.customShort("H"), .customLong("header")])
    var headers: [String] = []
    @Option(name: [.customShort("d"), .customLong("data")])
    var data: String?
    @Option(name: [.customShort("m"), .customLong("multiply")])
    var multiply: String?
    @Option(name: .customLong("cert"))
    var cert: String?
    @Option(name: .customLong("key"))
    var key: String?
    @Flag(name: .customLong("no-tls"))
    var noTLS = false
    @Flag(name: .customLong("npn"))
    var npn = false
    @Flag(name: .customLong("color"))
    var color = false
    @Flag(name: [.customShort("h"), .customLong("help")])
    var help = false
    @Argument
    var uris: [String] = []

    static let usage = """
        Usage: spdycat [-Oaknsv23] [-t <SECONDS>] [-w <WINDOW_BITS>] [--cert=<CERT>]
                       [--key=<KEY>] [--no-tls] [-d <FILE>] [-m <N>] [-H <HEADER>]
                       <URI>...
        """

    static let helpText =
        usage + """


            OPTIONS:
                -v, --verbose      Print debug information such as reception/
                                   transmission of frames and name/value pairs.
                -n, --null-out     Discard downloaded data.
                -O, --remote-name  Save download data in the current directory.
                                   The filename is derived from URI. If URI
                                   ends with '/', 'index.html' is used as a
                                   filename. An existing file is never
                                   overwritten: '.1', '.2', ... is appended to
                                   the new file's name.
                -2, --spdy2        Only use SPDY/2.
                -3, --spdy3        Only use SPDY/3.
                --spdy3-1          Only use SPDY/3.1.
                -t, --timeout=<N>  Timeout each request after <N> seconds. The
                                   timeout covers connecting, the SSL/TLS
                                   handshake and the requests of a session.
                -w, --window-bits=<N>
                                   Sets the initial window size to 2**<N>
                                   (SPDY/3 and later).
                -a, --get-assets   Not supported (see below); accepted with a
                                   warning, like an original built without
                                   libxml2.
                -s, --stat         Print statistics.
                -H, --header=<HEADER>
                                   Add a header to the requests. Use this
                                   option repeatedly to add multiple headers.
                                   The hard coded headers (e.g., :method) can
                                   be overridden by specifying same header
                                   field name and its replacement value.
                                   Example: -H':method: HEAD'
                -k, --insecure     Accept a server certificate that cannot be
                                   verified (self-signed development servers).
                --cert=<CERT>      Use the specified client certificate file.
                                   The file must be in PEM format.
                --key=<KEY>        Use the client private key file. The file
                                   must be in PEM format.
                --no-tls           Disable SSL/TLS. Use -2, -3 or --spdy3-1 to
                                   specify SPDY protocol version to use.
                --npn              Use the system OpenSSL and negotiate by NPN
                                   (no ALPN offer, TLS 1.2), as the original
                                   did: for servers of the SPDY era that know
                                   only NPN.
                -d, --data=<FILE>  Post FILE to server. If - is given, data
                                   will be read from stdin.
                -m, --multiply=<N> Request each URI <N> times. By default, same
                                   URI is not requested twice. This option
                                   disables it too.
                --color            Force colored log output.
                -h, --help         Print this help.

            The exit status is the number of sessions that failed (could not
            connect, timed out, or ended with requests incomplete). The SPDY
            version is negotiated by TLS ALPN, or by NPN with --npn (as the
            original did). With --no-tls every URI is fetched over plain TCP,
            whatever its scheme.

            NOT SUPPORTED:
                -a, --get-assets   Finding the assets of a page needs an HTML
                                   parser (the original uses libxml2); none is
                                   available to this package, so only the given
                                   URIs are fetched.
                -p, --proxy, -P, --proxy-port
                                   The original's proxy options are left out:
                                   the client library has no proxy transport
                                   and there is no proxy here to test one
                                   against.
            """

    mutating func validate() throws {
        if help { throw CleanExit.message(Self.helpText) }
        if noTLS && requestedVersion == nil {
            throw ValidationError("Specify SPDY protocol version using either -2, -3 or --spdy3-1.")
        }
        if [longSPDY2 || versionOptions.spdy2, longSPDY3 || versionOptions.spdy3, versionOptions.spdy31]
            .filter({ $0 }).count > 1
        {
            throw ValidationError("give only one of -2, -3 and --spdy3-1")
        }
        _ = try windowSize()
        _ = try timeoutSeconds()
        _ = try repeatCount()
        for header in headers { _ = try Self.parseHeader(header) }
        if (cert == nil) != (key == nil) {
            throw ValidationError("--cert and --key must be given together")
        }
        if uris.isEmpty { throw ValidationError("no URI given (see --help)") }
    }

    /// The version forced by `-2`, `-3` or `--spdy3-1` (or their long names).
    var requestedVersion: SPDYVersion? {
        if versionOptions.spdy31 { return .v3_1 }
        if versionOptions.spdy3 || longSPDY3 { return .v3 }
        if versionOptions.spdy2 || longSPDY2 { return .v2 }
        return nil
    }

    /// `-w`: 2^N, or `nil` when not given.
    func windowSize() throws -> UInt32? {
        guard let windowBits else { return nil }
        guard let bits = Int(windowBits), (0...30).contains(bits) else {
            throw ValidationError("-w: specify the integer in the range [0, 30], inclusive")
        }
        return UInt32(1) << UInt32(bits)
    }

    /// `-t`: seconds, or `nil` when not given.
    func timeoutSeconds() throws -> Double? {
        guard let timeout else { return nil }
        guard let seconds = Double(timeout), seconds > 0, seconds < 1e9 else {
            throw ValidationError("-t: specify a positive number of seconds, not '\(timeout)'")
        }
        return seconds
    }

    /// `-m`: how often each URI is requested (1 by default).
    func repeatCount() throws -> Int {
        guard let multiply else { return 1 }
        guard let count = Int(multiply), count >= 1 else {
            throw ValidationError("-m: specify a positive integer, not '\(multiply)'")
        }
        return count
    }

    /// Splits `-H 'name: value'`: the separator is the first ':' after the first character
    /// (so `:method: HEAD` works) and the value's leading spaces are skipped.
    static func parseHeader(_ header: String) throws -> (name: String, value: String) {
        let characters = Array(header)
        guard characters.count > 1, let colon = characters[1...].firstIndex(of: ":") else {
            throw ValidationError("-H: invalid header: \(header)")
        }
        let name = String(characters[..<colon])
        if name == ":" { throw ValidationError("-H: invalid header: \(header)") }
        let value = String(characters[(colon + 1)...].drop { $0 == " " || $0 == "\t" })
        if value.isEmpty { throw ValidationError("-H: invalid header - value missing: \(header)") }
        return (name, value)
    }

    func run() async throws {
        if getAssets {
            Output.standardError.write(
                "Warning: -a, --get-assets option cannot be used because\n"
                    + "this build has no HTML parser (the original needs libxml2).\n")
        }
        let urls = try uris.map { raw -> (String, SPDYURL) in
            let stripped = String(raw.prefix { $0 != "#" })
            do {
                return (stripped, try SPDYURL(stripped))
            } catch {
                throw ToolError("invalid URI: \(raw)")
            }
        }
        let body = try loadBody()
        let identity = try loadIdentity()
        let settings = FetchSettings(
            versions: requestedVersion.map { [$0] } ?? SPDYVersion.negotiationPreference,
            plainVersion: requestedVersion ?? .v3_1,
            tls: !noTLS,
            npn: npn,
            verifyCertificates: !insecure,
            identity: identity,
            timeout: try timeoutSeconds(),
            initialWindowSize: try windowSize(),
            extraHeaders: try headers.map(Self.parseHeader),
            body: body,
            nullOut: nullOut,
            remoteName: remoteName,
            statistics: stat,
            log: verbose ? FrameLog(serverStyle: false, color: color) : nil
        )
        let repeats = try repeatCount()

        // Consecutive URIs with the same scheme, host and port share a session.
        var batches: [[(uri: String, url: SPDYURL)]] = []
        for (raw, url) in urls {
            if let last = batches.last?.first?.url, last.scheme == url.scheme, last.host == url.host,
                last.port == url.port
            {
                batches[batches.count - 1].append((raw, url))
            } else {
                batches.append([(raw, url)])
            }
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var failures: Int32 = 0
        for batch in batches {
            var requests: [(uri: String, url: SPDYURL)] = []
            var seen: Set<String> = []
            for item in batch {
                // By default the same URI is requested once per session; -m repeats it.
                if repeats == 1 {
                    guard seen.insert(item.uri).inserted else { continue }
                }
                requests += Array(repeating: item, count: repeats)
            }
            let session = FetchSession(settings: settings, requests: requests, group: group)
            if await !session.run() { failures += 1 }
        }
        try? await group.shutdownGracefully()
        if failures > 0 { throw ExitCode(failures) }
    }

    /// `-d FILE|-`: the body to POST.
    private func loadBody() throws -> [UInt8]? {
        guard let data else { return nil }
        if data == "-" {
            return Array(FileHandle.standardInput.readDataToEndOfFile())
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: data, isDirectory: &isDirectory), !isDirectory.boolValue,
            let contents = FileManager.default.contents(atPath: data)
        else {
            throw ToolError("Could not open file \(data)")
        }
        return Array(contents)
    }

    /// `--cert` and `--key`: the client certificate.
    private func loadIdentity() throws -> SPDYTLS.Identity? {
        guard let cert, let key else { return nil }
        do {
            return try SPDYTLS.Identity.pem(certificatePath: cert, keyPath: key)
        } catch {
            throw ToolError("\(error)")
        }
    }
}
