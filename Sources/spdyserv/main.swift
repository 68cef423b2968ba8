// spdyserv: the counterpart of the reference's spdyserv.py. Serves an HTML page on
// every path except /notfound, which answers 404.
//
// Usage: spdyserv [--no-tls -2|-3|--spdy3-1] [--npn] PORT [KEY CERT]

import NIOCore
import NIOSPDY
import NIOSPDYOpenSSL
import SPDY

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

final class PageHandler: SPDYRequestHandler {
    static let page = """
        <html><head><title>SPDY FTW</title></head><body><h1>SPDY FTW</h1>\
        <p>The age of HTTP/1.1 is over. The time of SPDY has come.</p></body></html>
        """

    override func doGET() {
        if path == "/notfound" {
            sendError(404)
            return
        }
        sendResponse(200)
        sendHeader("content-type", "text/html; charset=UTF-8")
        wfile.write(Self.page)
    }

    override func doPOST() {
        sendResponse(200)
        sendHeader("content-type", "text/plain; charset=UTF-8")
        wfile.write("received \(rfile.readableBytes) bytes\n")
    }
}

func printError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}

func usage() -> Never {
    let text = """
        Usage: spdyserv [--no-tls -2|-3|--spdy3-1] [--npn] PORT [KEY CERT]

        Serves an HTML page over SPDY; /notfound answers 404.
        With TLS (the default) the version is negotiated by ALPN; without KEY and
        CERT an ephemeral self-signed certificate for localhost is used.

          --no-tls    plain TCP; needs one of -2, -3, --spdy3-1
          --npn       TLS on the system OpenSSL, offering NPN next to ALPN (for
                      SPDY-era clients; their connections use TLS 1.2)
          -2          SPDY/2
          -3          SPDY/3
          --spdy3-1   SPDY/3.1

        """
    printError(text)
    exit(1)
}

func fail(_ message: String) -> Never {
    printError("spdyserv: \(message)\n")
    exit(1)
}

var arguments = Array(CommandLine.arguments.dropFirst())
var noTLS = false
var npn = false
var version: SPDYVersion?
var positional: [String] = []
while let argument = arguments.first {
    arguments.removeFirst()
    switch argument {
    case "--no-tls": noTLS = true
    case "--npn": npn = true
    case "-2": version = .v2
    case "-3": version = .v3
    case "--spdy3-1": version = .v3_1
    case "-h", "--help": usage()
    default:
        if argument.hasPrefix("-") { fail("unknown option \(argument)") }
        positional.append(argument)
    }
}
guard positional.count == 1 || positional.count == 3, let port = Int(positional[0]), (0...65535).contains(port) else {
    usage()
}

let transport: SPDYServer.Transport
if noTLS {
    guard let version else { fail("--no-tls needs a version: -2, -3 or --spdy3-1") }
    transport = .plain(version)
} else {
    let identity: SPDYTLS.Identity
    do {
        identity =
            positional.count == 3
            ? try .pem(certificatePath: positional[2], keyPath: positional[1]) : try .selfSigned()
    } catch {
        fail("\(error)")
    }
    let versions = version.map { [$0] } ?? SPDYVersion.negotiationPreference
    transport = npn ? .openSSL(identity, versions: versions) : .tls(identity, versions: versions)
}

do {
    let server = try SPDYServer(configuration: .init(port: port, transport: transport), handler: PageHandler.self)
    try server.start()
    let mode = noTLS ? "plain TCP, \(version!)" : npn ? "TLS, ALPN and NPN" : "TLS"
    let banner = "spdyserv: serving on port \(server.port ?? port) (\(mode))\n"
    banner.utf8CString.withUnsafeBufferPointer { _ = write(1, $0.baseAddress, $0.count - 1) }
    try server.wait()
} catch {
    fail("\(error)")
}
