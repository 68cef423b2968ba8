import Foundation
import NIOCore
import NIOSPDY
import SPDY
import SPDYTestSupport
import SPDYToolSupport
import Testing

@Suite("spdyd (the file server binary)", .serialized)
struct SpdydTests {
    /// The error page of a status, as spdyd sends it before compression.
    static func errorPage(_ status: String, port: Int) -> String {
        "<html><head><title>\(status)</title></head><body><h1>\(status)</h1><hr>"
            + "<address>spdyd swift-spdy/0.1 at port \(port)</address></body></html>"
    }

    static func gunzip(_ bytes: [UInt8]) throws -> String {
        let decoder = try #require(ContentCoding.decoder(for: "gzip"))
        return String(decoding: try decoder.decode(bytes), as: UTF8.self)
    }

    /// Parses an IMF-fixdate with Foundation (independently of spdyd's formatter).
    static func parseHTTPDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.date(from: text)
    }

    static func formatHTTPDate(_ seconds: Int, format: String = "EEE, dd MMM yyyy HH:mm:ss 'GMT'") -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = format
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    @Test(
        "200: the file with :status, :version, server, date, content-length, content-type, last-modified, cache-control",
        arguments: SPDYVersion.allCases)
    func servesFiles(version: SPDYVersion) async throws {
        let folder = try ServedFolder()
        let flag = [SPDYVersion.v2: "-2", .v3: "-3", .v3_1: "--spdy3-1"][version]!
        let server = try await RunningSpdyd.start(
            root: folder.root, extra: ["--no-tls", flag], client: .init(plainVersion: version))
        #expect(server.connection.version == version)
        let (status, headers, body) = try await server.get("/hello.txt")
        #expect(status == "200 OK")
        #expect(String(decoding: body, as: UTF8.self) == ServedFolder.hello)
        #expect(headers[":version"] == "HTTP/1.1")
        #expect(headers["server"] == "spdyd swift-spdy/0.1")
        #expect(headers["content-length"] == String(ServedFolder.hello.utf8.count))
        #expect(headers["content-type"] == "text/plain; charset=UTF-8")
        #expect(headers["cache-control"] == "max-age=3600")
        let date = try #require(headers["date"].flatMap(Self.parseHTTPDate))
        #expect(abs(date.timeIntervalSinceNow) < 60)
        let modified = try #require(headers["last-modified"].flatMap(Self.parseHTTPDate))
        #expect(Int(modified.timeIntervalSince1970) == (try folder.mtime("hello.txt")))

        for (path, type) in [
            ("/sub/style.css", "text/css; charset=UTF-8"), ("/data.json", "application/json"),
            ("/blob.unknownext", "application/octet-stream"), ("/index.html", "text/html; charset=UTF-8"),
        ] {
            let (status, headers, _) = try await server.get(path)
            #expect(status == "200 OK", "\(path)")
            #expect(headers["content-type"] == type, "\(path)")
        }
        // The query is ignored; any method is served; HEAD gets the headers without the body.
        #expect(try await server.get("/hello.txt?x=1&y=2").status == "200 OK")
        let post = try await server.get("/hello.txt", method: "POST")
        #expect(post.status == "200 OK")
        #expect(post.body.count == ServedFolder.hello.utf8.count)
        let head = try await server.get("/hello.txt", method: "HEAD")
        #expect(head.status == "200 OK")
        #expect(head.headers["content-length"] == String(ServedFolder.hello.utf8.count))
        #expect(head.body.isEmpty)
        #expect(try await server.stop() == 0)
    }

    @Test("A directory path ending in '/' is served its index.html; without the '/' it is redirected")
    func directoryIndex() async throws {
        let folder = try ServedFolder()
        let server = try await RunningSpdyd.start(root: folder.root)
        let root = try await server.get("/")
        #expect(root.status == "200 OK")
        #expect(String(decoding: root.body, as: UTF8.self) == "<html>root index</html>")
        #expect(root.headers["content-type"] == "text/html; charset=UTF-8")
        let sub = try await server.get("/sub/")
        #expect(String(decoding: sub.body, as: UTF8.self) == "<html>sub index</html>")
        let redirect = try await server.get("/sub")
        #expect(redirect.status == "301 Moved Permanently")
        #expect(redirect.headers["location"] == "/sub/")
        // A directory without an index.html is not listed.
        #expect(try await server.get("/a/").status == "404 Not Found")
        try await server.stop()
    }

    @Test("404 and 400 answer with the original's gzip-compressed HTML page")
    func errorPages() async throws {
        let folder = try ServedFolder()
        let server = try await RunningSpdyd.start(root: folder.root)
        let (status, headers, body) = try await server.get("/no/such/file.html")
        #expect(status == "404 Not Found")
        #expect(headers["content-encoding"] == "gzip")
        #expect(headers["content-type"] == "text/html; charset=UTF-8")
        #expect(headers["server"] == "spdyd swift-spdy/0.1")
        #expect(Array(body.prefix(2)) == [0x1F, 0x8B])
        #expect(try Self.gunzip(body) == Self.errorPage("404 Not Found", port: server.port))

        // No :host.
        var block: SPDYHeaders = [(":method", "GET"), (":path", "/hello.txt"), (":version", "HTTP/1.1")]
        block.add(name: ":scheme", value: "http")
        let response = try await server.connection.request(headers: block)
        #expect(response.status == "400 Bad Request")
        #expect(response.headers["content-encoding"] == "gzip")
        let page = Array(try await response.collectBody().readableBytesView)
        #expect(try Self.gunzip(page) == Self.errorPage("400 Bad Request", port: server.port))
        // No :path, no :method, no :version, no :scheme: 400 each.
        let full = [
            (":method", "GET"), (":path", "/hello.txt"), (":version", "HTTP/1.1"), (":scheme", "http"),
            (":host", "127.0.0.1"),
        ]
        for missing in full.map(\.0) {
            var headers = SPDYHeaders()
            for (name, value) in full where name != missing { headers.add(name: name, value: value) }
            let response = try await server.connection.request(headers: headers)
            #expect(response.statusCode == 400, "without \(missing)")
            _ = try await response.collectBody()
        }
        try await server.stop()
    }

    @Test("304 when If-Modified-Since is at or after the modification time, 200 before it")
    func notModified() async throws {
        let folder = try ServedFolder()
        let mtime = 1_700_000_000  // Tue, 14 Nov 2023 22:13:20 GMT
        folder.setMtime("hello.txt", mtime)
        let server = try await RunningSpdyd.start(root: folder.root)
        let first = try await server.get("/hello.txt")
        #expect(first.headers["last-modified"] == "Tue, 14 Nov 2023 22:13:20 GMT")
        for seconds in [mtime, mtime + 1, mtime + 86400 * 400] {
            for format in [
                "EEE, dd MMM yyyy HH:mm:ss 'GMT'", "EEEE, dd-MMM-yy HH:mm:ss 'GMT'", "EEE MMM d HH:mm:ss yyyy",
            ] {
                let date = Self.formatHTTPDate(seconds, format: format)
                let (status, headers, body) = try await server.get(
                    "/hello.txt", headers: [("if-modified-since", date)])
                #expect(status == "304 Not Modified", "\(date)")
                #expect(body.isEmpty)
                #expect(headers["content-length"] == nil)
            }
        }
        for value in [Self.formatHTTPDate(mtime - 1), Self.formatHTTPDate(0), "yesterday", ""] {
            let (status, _, body) = try await server.get("/hello.txt", headers: [("if-modified-since", value)])
            #expect(status == "200 OK", "\(value)")
            #expect(String(decoding: body, as: UTF8.self) == ServedFolder.hello)
        }
        try await server.stop()
    }

    /// Paths that must never reach a file outside the root (or break the path rules).
    static let refusedPaths = [
        "/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/.%2e/secret.txt",
        "/..%2fsecret.txt", "/..%2Fsecret.txt", "/%2F..%2Fsecret.txt", "%2F..%2Fsecret.txt",
        "/sub/../../secret.txt", "/sub/%2e%2e/%2e%2e/secret.txt", "/sub/..%2F..%2Fsecret.txt",
        "/a/..", "/a/%2e%2e", "/sub/.", "/./x", "/%2e/x", "/a\\b", "/a%5cb", "/a%5Cb", "/..\\secret.txt",
        "/%2e%2e%5csecret.txt", "secret.txt", "../secret.txt", "/hello.txt%00.png", "/%00",
        "/link-out", "/link-abs", "/link-out-dir/secret.txt", "/link-out-dir/", "/link-out-dir",
    ]

    @Test("A cached small file changed on disk, or a link pointed out of the root, is seen after the cache validity")
    func fileCacheRevalidates() async throws {
        let folder = try ServedFolder()
        let server = try await RunningSpdyd.start(
            root: folder.root, extra: ["--no-tls", "-3", "--file-cache-validity", "0.3"])
        #expect(String(decoding: try await server.get("/hello.txt").body, as: UTF8.self) == ServedFolder.hello)
        #expect(try await server.get("/link-in").status == "200 OK")
        // The same size and (most likely) the same modification second: the inode and the
        // nanoseconds of the modification time tell the versions apart.
        let replacement = folder.root.appendingPathComponent("hello.new")
        try folder.write(String(ServedFolder.hello.reversed()), to: replacement)
        #expect(rename(replacement.path, folder.root.appendingPathComponent("hello.txt").path) == 0)
        let link = folder.root.appendingPathComponent("link-in")
        try FileManager.default.removeItem(at: link)
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "../secret.txt")
        try await Task.sleep(for: .milliseconds(400))
        let body = String(decoding: try await server.get("/hello.txt").body, as: UTF8.self)
        #expect(body == String(ServedFolder.hello.reversed()))
        let (status, _, page) = try await server.get("/link-in")
        #expect(status == "404 Not Found")
        #expect(!((try? Self.gunzip(page)) ?? "").contains("SECRET"))
        try await server.stop()
    }

    @Test("Every traversal attempt is refused with 404; symbolic links within the root work")
    func traversal() async throws {
        let folder = try ServedFolder()
        let server = try await RunningSpdyd.start(root: folder.root)
        for path in Self.refusedPaths {
            let (status, _, body) = try await server.get(path)
            #expect(status == "404 Not Found", "\(path)")
            let page = (try? Self.gunzip(body)) ?? String(decoding: body, as: UTF8.self)
            #expect(!page.contains("SECRET"), "\(path)")
        }
        for path in ["/link-in", "/sub/link-up", "/hello.txt"] {
            let (status, _, body) = try await server.get(path)
            #expect(status == "200 OK", "\(path)")
            #expect(String(decoding: body, as: UTF8.self) == ServedFolder.hello, "\(path)")
        }
        // Percent-encoding of ordinary characters is decoded.
        #expect(try await server.get("/hell%6F.txt").status == "200 OK")
        #expect(try await server.get("/sub%2Fstyle.css").status == "200 OK")
        try await server.stop()
    }

    @Test("The root given through a symbolic link is served; links inside it are checked against the real root")
    func rootThroughSymlink() async throws {
        let folder = try ServedFolder()
        let alias = folder.base.appendingPathComponent("alias")
        try FileManager.default.createSymbolicLink(atPath: alias.path, withDestinationPath: "htdocs")
        let server = try await RunningSpdyd.start(root: alias)
        #expect(try await server.get("/hello.txt").status == "200 OK")
        #expect(try await server.get("/link-in").status == "200 OK")
        #expect(try await server.get("/link-out").status == "404 Not Found")
        try await server.stop()
    }

    @Test("A 200 MiB file is streamed from disk: correct bytes, server RSS stays small")
    func largeFile() async throws {
        let folder = try ServedFolder()
        let size = 200 << 20
        let path = folder.root.appendingPathComponent("big.bin").path
        // Sparse, with a distinct 4 KiB marker every 7 MiB so misplaced or missing chunks show.
        let fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0o644)
        #expect(fd >= 0)
        #expect(ftruncate(fd, off_t(size)) == 0)
        var offset = 0
        while offset + 4096 <= size {
            let marker = [UInt8](repeating: UInt8(truncatingIfNeeded: offset >> 20 | 1), count: 4096)
            #expect(pwrite(fd, marker, marker.count, off_t(offset)) == 4096)
            offset += 7 << 20
        }
        close(fd)
        let server = try await RunningSpdyd.start(root: folder.root)
        let pid = server.tool.process.processIdentifier
        let baseline = try #require(processStatusKiB(pid, "VmRSS"))
        _ = resetPeakResident(pid)
        let watch = MemoryWatch(pid: pid)
        let response = try await server.connection.request(
            SPDYClientRequest(path: "/big.bin", authority: "127.0.0.1:\(server.port)"))
        #expect(response.statusCode == 200)
        #expect(response.headers["content-length"] == String(size))
        // Every received chunk is compared with the file's bytes at its offset.
        let file = open(path, O_RDONLY)
        var expected = [UInt8](repeating: 0, count: 1 << 20)
        var received = 0
        var mismatches = 0
        for try await chunk in response.body {
            let count = chunk.readableBytes
            if expected.count < count { expected = [UInt8](repeating: 0, count: count) }
            let same = expected.withUnsafeMutableBytes { want in
                chunk.withUnsafeReadableBytes { got in
                    pread(file, want.baseAddress, count, off_t(received)) == count
                        && memcmp(want.baseAddress!, got.baseAddress!, count) == 0
                }
            }
            if !same { mismatches += 1 }
            received += count
        }
        close(file)
        let peak = max(await watch.stop(), baseline)
        #expect(received == size)
        #expect(mismatches == 0)
        let grown = peak - baseline
        print("spdyd RSS: baseline \(baseline) KiB, peak \(peak) KiB (+\(grown) KiB) for a \(size >> 20) MiB file")
        // Loading the file would add 200 MiB; streaming holds a few chunks per stream.
        #expect(grown < 48 * 1024)
        try await server.stop()
    }

    @Test("spdyd_do_not_respond_to_req=yes leaves the stream unanswered; other streams go on")
    func doNotRespondHook() async throws {
        let folder = try ServedFolder()
        let server = try await RunningSpdyd.start(root: folder.root)
        let answered = Locked(false)
        let connection = server.connection
        let port = server.port
        let waiting = Task {
            _ = try await connection.request(
                SPDYClientRequest(path: "/hello.txt?spdyd_do_not_respond_to_req=yes", authority: "127.0.0.1:\(port)"))
            answered.set(true)
        }
        #expect(try await server.get("/hello.txt").status == "200 OK")
        try await Task.sleep(for: .milliseconds(500))
        #expect(!answered.get())
        #expect(try await connection.eventLoop.submit { connection.openStreams }.get() == 1)
        waiting.cancel()
        try await server.stop()
        _ = try? await waiting.value
    }

    @Test("TLS with the ephemeral certificate (said on stderr), with PEM files, and -3 restricting ALPN")
    func tls() async throws {
        let folder = try ServedFolder()
        let server = try await RunningSpdyd.start(
            root: folder.root, extra: [], client: .init(verifyCertificates: false), tls: true)
        #expect(server.connection.version == .v3_1)
        #expect(server.tool.stderr.contains("ephemeral self-signed certificate"))
        let (status, _, body) = try await server.get("/hello.txt")
        #expect(status == "200 OK")
        #expect(String(decoding: body, as: UTF8.self) == ServedFolder.hello)
        try await server.stop()

        // PEM files made by openssl; -3: only spdy/3 is offered.
        let key = folder.base.appendingPathComponent("key.pem").path
        let cert = folder.base.appendingPathComponent("cert.pem").path
        let openssl = try ToolRunner.runSystem(
            "/usr/bin/env",
            [
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", key, "-out", cert, "-subj", "/CN=localhost", "-days", "2",
            ])
        try #require(openssl == 0)
        let pem = try await RunningSpdyd.start(
            root: folder.root, extra: ["-3"], tail: [key, cert],
            client: .init(versions: [.v3, .v3_1], verifyCertificates: false), tls: true)
        #expect(pem.connection.version == .v3)
        #expect(!pem.tool.stderr.contains("ephemeral"))
        #expect(try await pem.get("/hello.txt").status == "200 OK")
        let only31 = try SPDYClient(configuration: .init(versions: [.v3_1], verifyCertificates: false))
        await #expect(throws: (any Error).self) {
            _ = try await only31.connect(host: "127.0.0.1", port: pem.port)
        }
        try await only31.shutdown()
        try await pem.stop()
    }

    @Test(
        "HTTP/1.1 on the same port: curl gets the bytes spdycat gets (TLS and plain TCP); --no-http1 refuses curl",
        arguments: [true, false])
    func curlAndSpdycat(tls: Bool) async throws {
        let curl = "/usr/bin/curl"
        try #require(FileManager.default.isExecutableFile(atPath: curl), "curl is missing: run scripts/install-deps.sh")
        let folder = try ServedFolder()
        // Larger than the inline-read limit: read from disk in chunks as the client takes them.
        var large = [UInt8]()
        for index in 0..<(300 << 10) { large.append(UInt8(truncatingIfNeeded: index &* 31 ^ index >> 9)) }
        try Data(large).write(to: folder.root.appendingPathComponent("large.bin"))
        let extra = tls ? [] : ["--no-tls", "-3"]
        let server = try await RunningSpdyd.start(
            root: folder.root, extra: extra, client: .init(plainVersion: .v3, verifyCertificates: false), tls: tls)
        let base = "\(tls ? "https" : "http")://localhost:\(server.port)"
        for (path, expected) in [("/hello.txt", Array(ServedFolder.hello.utf8)), ("/large.bin", large)] {
            let fetched = try await ToolRunner.run(curl, ["-sS", "-k", "--http1.1", "-o", "-", base + path])
            #expect(fetched.status == 0, "\(fetched.stderr)")
            let spdycat = try await ToolRunner.run("spdycat", (tls ? ["-k"] : ["--no-tls", "-3"]) + [base + path])
            #expect(spdycat.status == 0, "\(spdycat.stderr)")
            #expect(fetched.stdoutBytes == spdycat.stdoutBytes, "\(path): curl and spdycat differ")
            #expect(Array(fetched.stdoutBytes) == expected, "\(path): not the file's bytes")
        }
        // The same answers, as HTTP/1.1 says them: status line, spdyd's headers, keep-alive
        // (two URLs on one connection), 404's gzip page with its length.
        let verbose = try await ToolRunner.run(
            curl,
            [
                "-sS", "-k", "--http1.1", "-v", "-o", "/dev/null", "-o", "/dev/null", base + "/hello.txt",
                base + "/missing",
            ])
        #expect(verbose.stderr.contains("< HTTP/1.1 200 OK"), "\(verbose.stderr)")
        #expect(verbose.stderr.contains("< server: spdyd swift-spdy/0.1"), "\(verbose.stderr)")
        #expect(verbose.stderr.contains("< HTTP/1.1 404 Not Found"), "\(verbose.stderr)")
        #expect(verbose.stderr.contains("< content-encoding: gzip"), "\(verbose.stderr)")
        #expect(verbose.stderr.contains("Re-using existing connection"), "\(verbose.stderr)")
        if tls {
            #expect(verbose.stderr.contains("ALPN: server accepted http/1.1"), "\(verbose.stderr)")
        }
        try await server.stop()

        let spdyOnly = try await RunningSpdyd.start(
            root: folder.root, extra: extra + ["--no-http1"],
            client: .init(plainVersion: .v3, verifyCertificates: false),
            tls: tls)
        let refused = try await ToolRunner.run(
            curl, ["-sS", "-k", "--http1.1", "-m", "3", "http\(tls ? "s" : "")://localhost:\(spdyOnly.port)/hello.txt"])
        #expect(refused.status != 0)
        #expect(refused.stdout.isEmpty)
        #expect(try await spdyOnly.get("/hello.txt").status == "200 OK")
        try await spdyOnly.stop()
    }

    @Test("TLS 1.0 (openssl s_client -tls1) is refused by default; --tls-min 1.0 lets it in (ALPN and --npn)")
    func tlsMinimum() async throws {
        let folder = try ServedFolder()
        for npn in [[], ["--npn"]] {
            let strict = try await RunningSpdyd.start(
                root: folder.root, extra: npn, client: .init(verifyCertificates: false), tls: true)
            let refused = try Self.sClientTLS1(port: strict.port)
            #expect(refused.contains("New, (NONE), Cipher is (NONE)"), "\(npn) \(refused)")
            try await strict.stop()
            let lenient = try await RunningSpdyd.start(
                root: folder.root, extra: npn + ["--tls-min", "1.0"], client: .init(verifyCertificates: false),
                tls: true)
            let accepted = try Self.sClientTLS1(port: lenient.port)
            #expect(accepted.contains("New, TLSv1.0, Cipher is ECDHE-"), "\(npn) \(accepted)")
            #expect(accepted.contains("ALPN protocol: spdy/3.1"), "\(npn) \(accepted)")
            #expect(try await lenient.get("/hello.txt").status == "200 OK")
            try await lenient.stop()
        }
        let plain = try await ToolRunner.run("spdyd", ["--no-tls", "-3", "--tls-min", "1.0", "0"])
        #expect(plain.status != 0)
        #expect(plain.stderr.contains("--tls-min is for TLS"), "\(plain.stderr)")
        let unknown = try await ToolRunner.run("spdyd", ["--tls-min", "0.9", "0"])
        #expect(unknown.status != 0)
    }

    /// What `openssl s_client -tls1 -alpn spdy/3.1` prints against `port` (security level 0,
    /// which OpenSSL 3 needs for TLS 1.0).
    static func sClientTLS1(port: Int) throws -> String {
        let result = try ToolRunner.run(
            "/usr/bin/openssl",
            [
                "s_client", "-connect", "127.0.0.1:\(port)", "-tls1", "-cipher", "DEFAULT@SECLEVEL=0", "-alpn",
                "spdy/3.1",
            ],
            timeout: 20)
        return result.stdout + result.stderr
    }

    @Test("-v logs every frame per connection; the listening lines name IPv4 and IPv6")
    func verbose() async throws {
        let folder = try ServedFolder()
        let server = try await RunningSpdyd.start(root: folder.root, extra: ["--no-tls", "-3", "-v"])
        #expect(server.tool.stdout.contains("IPv4: listen on port \(server.port)"))
        #expect(server.tool.stdout.contains("IPv6: listen on port \(server.port)"))
        _ = try await server.get("/hello.txt")
        #expect(server.tool.waitForOutput("stream_id=1 closed"))
        let log = server.tool.stdout
        #expect(log.contains("[id=1] "))
        #expect(log.contains("recv SYN_STREAM frame <version=3"))
        #expect(log.contains("send SYN_REPLY frame"))
        #expect(log.contains(":path: /hello.txt"))
        #expect(log.contains("send DATA frame"))
        // The file's last chunk carries FIN: no empty DATA frame just for it.
        #expect(log.contains("send DATA frame (stream_id=1, flags=1, length="))
        #expect(!log.contains("send DATA frame (stream_id=1, flags=1, length=0)"))
        try await server.stop()
    }

    @Test("SIGTERM and SIGINT stop the server gracefully with exit status 0", arguments: [SIGTERM, SIGINT])
    func gracefulStop(signal: Int32) async throws {
        let folder = try ServedFolder()
        let server = try await RunningSpdyd.start(root: folder.root)
        #expect(try await server.get("/hello.txt").status == "200 OK")
        let status = await server.tool.stop(signal: signal, timeout: 20)
        #expect(status == 0)
        #expect(server.tool.process.terminationReason == .exit)
        #expect(server.tool.stderr.isEmpty)
        try await server.client.shutdown()
    }

    @Test("-D runs in the background: the first process exits 0 once the server listens")
    func daemon() async throws {
        let folder = try ServedFolder()
        let port = freeLocalPort()
        let result = try await ToolRunner.run(
            "spdyd", ["-D", "--no-tls", "-3", "-d", folder.root.path, String(port)], timeout: 30)
        #expect(result.status == 0)
        #expect(result.stdout.contains("listen on port \(port)"))
        let marker = "running in the background as process "
        let line = try #require(result.stdout.split(separator: "\n").first { $0.contains(marker) })
        let pid = try #require(Int32(line.split(separator: " ").last ?? ""))
        defer { kill(pid, SIGKILL) }
        let client = try SPDYClient(configuration: .init(plainVersion: .v3))
        let connection = try await client.connect(host: "127.0.0.1", port: port, tls: false)
        let response = try await connection.request(
            SPDYClientRequest(path: "/hello.txt", authority: "127.0.0.1:\(port)"))
        #expect(response.statusCode == 200)
        _ = try await response.collectBody()
        connection.close()
        try await client.shutdown()
        #expect(kill(pid, SIGTERM) == 0)
        let deadline = Date().addingTimeInterval(20)
        while Self.isRunning(pid) && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!Self.isRunning(pid))

        // A background start that fails reports it and exits non-zero.
        let failed = try await ToolRunner.run("spdyd", ["-D", "--no-tls", "-3", "-d", "/nonexistent/dir", "8080"])
        #expect(failed.status != 0)
        #expect(failed.stderr.split(separator: "\n").count == 1)
    }

    /// Whether a process exists and is not a zombie (the background copy's parent has exited,
    /// and the container's init may not reap it).
    static func isRunning(_ pid: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
        return !status.contains("State:\tZ")
    }

    @Test(
        "Bad arguments and unreadable files: exactly one line on stderr, non-zero exit",
        arguments: [
            [], ["notaport"], ["--no-tls", "8080"], ["70000"], ["-2", "-3", "--no-tls", "8080"],
            ["8080", "/nonexistent/key.pem", "/nonexistent/cert.pem"], ["8080", "/etc/hostname"],
            ["-d", "/nonexistent/dir", "--no-tls", "-3", "8080"], ["-V", "8080"], ["--bogus", "8080"],
            ["--no-tls", "-3", "8080", "/etc/hostname", "/etc/hostname"],
        ])
    func badArguments(arguments: [String]) throws {
        let result = try ToolRunner.run("spdyd", arguments)
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(lines.first?.hasPrefix("spdyd: ") == true)
        #expect(result.stdout.isEmpty)
    }

    @Test("A KEY or CERT file that is not PEM: one line on stderr, exit 1")
    func garbageCertificate() throws {
        let folder = try ServedFolder()
        let garbage = folder.base.appendingPathComponent("garbage.pem")
        try folder.write("not a certificate\n", to: garbage)
        for tail in [[garbage.path, garbage.path], ["/etc/hostname", garbage.path]] {
            let result = try ToolRunner.run("spdyd", ["-d", folder.root.path, "8080"] + tail)
            #expect(result.status == 1)
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            #expect(result.stderr.hasPrefix("spdyd: "))
        }
    }

    @Test("A port already in use: one line on stderr, exit 1")
    func portInUse() async throws {
        let folder = try ServedFolder()
        let server = try await RunningSpdyd.start(root: folder.root)
        let result = try await ToolRunner.run("spdyd", ["--no-tls", "-3", "-d", folder.root.path, String(server.port)])
        #expect(result.status == 1)
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains("cannot listen on port \(server.port)"))
        try await server.stop()
    }

    @Test("--help starts with the usage line and exits 0")
    func help() throws {
        for flag in ["--help", "-h"] {
            let result = try ToolRunner.run("spdyd", [flag])
            #expect(result.status == 0)
            #expect(
                result.stdout.hasPrefix(
                    "Usage: spdyd [-23DVhv] [-d <PATH>] [--no-tls] [--npn] [--tls-min <VERSION>] [--no-http1] [--color] "
                        + "[--file-cache <MIB>] [--file-cache-validity <SECONDS>] <PORT> [<PRIVATE_KEY> <CERT>]"))
            #expect(result.stdout.contains("--htdocs"))
            #expect(result.stdout.contains("-V"))
            #expect(result.stderr.isEmpty)
        }
    }
}

extension ToolRunner {
    /// Runs a system program (not one of ours) to completion; returns its exit status.
    static func runSystem(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
