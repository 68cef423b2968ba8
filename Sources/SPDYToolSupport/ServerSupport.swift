import ArgumentParser
import Dispatch
import NIOCore
import NIOSPDY
import NIOSPDYOpenSSL
import NIOSSL

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How spdyd and spdyproxy secure their port, from their shared flags.
public enum ServerTransportOptions {
    /// The transport for `--no-tls`, `-2`/`-3`/`--spdy3-1`, `--npn`, `--tls-min` and the
    /// optional PEM files; without the files an ephemeral self-signed certificate is made and
    /// a line on standard error says so.
    public static func transport(
        tool: String,
        noTLS: Bool,
        versionOptions: VersionOptions,
        npn: Bool,
        tlsMinimum: TLSMinimum?,
        privateKey: String?,
        certificate: String?
    ) throws -> SPDYServer.Transport {
        if noTLS, let version = versionOptions.version {
            return .plain(version)
        }
        let identity: SPDYTLS.Identity
        if let privateKey, let certificate {
            for (path, what) in [(privateKey, "private key"), (certificate, "certificate")]
            where access(path, R_OK) != 0 {
                throw ToolError("cannot read the \(what) file \(path): \(String(cString: strerror(errno)))")
            }
            do {
                identity = try .pem(certificatePath: certificate, keyPath: privateKey)
            } catch {
                throw ToolError("\(error)")
            }
        } else {
            identity = try .selfSigned()
            Output.standardError.write(
                "\(tool): no <PRIVATE_KEY> and <CERT> given: using an ephemeral self-signed certificate "
                    + "for localhost (clients must not verify it, e.g. spdycat -k)\n")
        }
        let versions = versionOptions.versions
        let minimum = (tlsMinimum ?? .v1_2).version
        return npn
            ? .openSSL(identity, versions: versions, minimumTLSVersion: minimum)
            : .tls(identity, versions: versions, minimumTLSVersion: minimum)
    }

    /// The checks both servers make of those flags.
    public static func validate(
        noTLS: Bool, versionOptions: VersionOptions, npn: Bool, tlsMinimum: TLSMinimum?, privateKey: String?,
        certificate: String?
    ) throws {
        if noTLS && versionOptions.version == nil {
            throw ValidationError("Specify SPDY protocol version using either -2, -3 or --spdy3-1.")
        }
        if privateKey != nil && certificate == nil {
            throw ValidationError("give both <PRIVATE_KEY> and <CERT>, or neither")
        }
        if noTLS && npn {
            throw ValidationError("--npn is for TLS; leave it out with --no-tls")
        }
        if noTLS && tlsMinimum != nil {
            throw ValidationError("--tls-min is for TLS; leave it out with --no-tls")
        }
        if noTLS && privateKey != nil {
            throw ValidationError("<PRIVATE_KEY> and <CERT> are for TLS; leave them out with --no-tls")
        }
    }
}

/// "IPv4: listen on port N" and "IPv6: listen on port N", as the original spdyd prints them;
/// an IPv6 socket that also takes IPv4 connections (dual stack) counts for both.
public func listeningLines(_ addresses: [SocketAddress], port: Int) -> [String] {
    var ipv4 = false
    var ipv6 = false
    for address in addresses {
        switch address {
        case .v4: ipv4 = true
        case .v6: ipv6 = true
        default: break
        }
    }
    if ipv6 && !ipv4 {
        // Linux binds "::" dual-stack unless net.ipv6.bindv6only is set.
        let only = try? String(contentsOfProcFile: "/proc/sys/net/ipv6/bindv6only")
        ipv4 = only?.hasPrefix("0") ?? false
    }
    var lines: [String] = []
    if ipv4 { lines.append("IPv4: listen on port \(port)") }
    if ipv6 { lines.append("IPv6: listen on port \(port)") }
    return lines
}

extension String {
    /// The contents of a small text file such as one under /proc.
    public init(contentsOfProcFile path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ToolError("cannot open \(path)") }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 256)
        let count = read(fd, &bytes, bytes.count)
        guard count >= 0 else { throw ToolError("cannot read \(path)") }
        self = String(decoding: bytes.prefix(count), as: UTF8.self)
    }
}

/// Waits for the first of some signals (which are then no longer fatal).
public final class SignalWaiter {
    private let sources: [any DispatchSourceSignal]
    private let stream: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation

    /// Starts catching `signals`.
    public init(signals: [Int32]) {
        (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        var sources: [any DispatchSourceSignal] = []
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [continuation] in continuation.yield(number) }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    /// Returns when one of the signals arrives.
    public func next() async {
        for await _ in stream { return }
    }

    deinit {
        for source in sources { source.cancel() }
    }
}

/// A TLS version as `--tls-min` takes it.
public enum TLSMinimum: String, ExpressibleByArgument, CaseIterable {
    case v1_0 = "1.0"
    case v1_1 = "1.1"
    case v1_2 = "1.2"
    case v1_3 = "1.3"

    /// The version for the server's transport.
    public var version: TLSVersion {
        switch self {
        case .v1_0: .tlsv1
        case .v1_1: .tlsv11
        case .v1_2: .tlsv12
        case .v1_3: .tlsv13
        }
    }
}
