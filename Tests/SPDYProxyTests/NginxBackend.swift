import Foundation
import NIOConcurrencyHelpers
import NIOCore
import SPDYTestSupport

/// Debian's real nginx (`/usr/sbin/nginx`, package nginx-light) as an HTTP/1.1 backend: a
/// child process in the foreground (`daemon off; master_process off`, so ``pid`` is the one
/// process that serves) on 127.0.0.1 and a free port, with everything it writes (config, pid
/// file, error log, temp files) in a temporary prefix directory: nothing under /var, no system
/// nginx, no port 80.
///
/// It serves ``htdocs``:
/// - `/index.html`: ``indexHTML`` (`text/html`);
/// - `/1k.bin`, `/100k.bin`, `/big.bin`: the first 1024, 102 400 and ``bigFileSize`` bytes of
///   `Pattern` (SPDYTestSupport), so a client checks them with `PatternVerifier` or compares
///   with `Pattern.body(count:)`;
/// - `/upload` (POST or PUT, body up to 2 GiB): with `uploadBackendPort`, proxied unbuffered
///   (`proxy_request_buffering off`) to `/sink` of that backend (an ``EchoBackend``), which
///   reads it all and answers `bytes=N mismatch=none` when it was the pattern; without it,
///   nginx reads the whole body (echo module, spooled to a temp file in the prefix and
///   removed) and answers 200 `upload ok <content-length>`; if the echo module is missing, it
///   answers 200 `upload ok` at once and discards the body. (Not to `/echo`: nginx stops
///   reading the request body once the backend's response has begun, so a big echo through
///   nginx stalls.)
/// - `extraServerConfig`: whatever else a test adds to the `server` block.
///
/// Connections stay open: `keepalive_timeout 75s; keepalive_requests 10000; sendfile on`.
/// ``stop()`` (also in `deinit`) terminates nginx and removes the prefix.
final class NginxBackend: Sendable {
    /// Why nginx could not be started.
    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    static let executable = "/usr/sbin/nginx"
    static let echoModule = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
    /// The body of `/index.html`.
    static let indexHTML = "<!DOCTYPE html>\n<html><head><title>nginx backend</title></head><body>hello</body></html>\n"
    /// The files under ``htdocs`` that hold the pattern, and their sizes (`big.bin` is ``bigFileSize``).
    static let smallPatternFiles = ["1k.bin": 1024, "100k.bin": 102_400]

    /// Whether nginx is installed (tests that need it can be skipped otherwise).
    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: executable) }

    /// The port nginx listens on (127.0.0.1).
    let port: Int
    /// The temporary prefix: `nginx.conf`, `nginx.pid`, `error.log`, `stderr.log`, `tmp/`, `htdocs/`.
    let prefix: URL
    /// The served directory.
    let htdocs: URL
    /// The size of `/big.bin`.
    let bigFileSize: Int
    /// Where `/upload` goes (an ``EchoBackend``'s port, route `/sink`), if anywhere.
    let uploadBackendPort: Int?

    private let process: Process
    private let stopped = NIOLockedValueBox(false)

    /// nginx's process id.
    var pid: Int32 { process.processIdentifier }
    /// Whether nginx is still running.
    var isRunning: Bool { process.isRunning }
    /// `http://127.0.0.1:<port>`.
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// The content of nginx's error log so far (startup notices, errors).
    var errorLog: String { Self.readLog(prefix) }

    /// Writes the prefix and htdocs, starts nginx and waits until it accepts connections
    /// (another port is tried if the chosen one was taken meanwhile).
    ///
    /// - Parameters:
    ///   - bigFileSize: the size of `/big.bin` (64 MiB by default).
    ///   - uploadBackendPort: an ``EchoBackend``'s port for `/upload` to proxy to (`/sink`).
    ///   - extraServerConfig: more directives for the `server` block (locations).
    init(bigFileSize: Int = 64 << 20, uploadBackendPort: Int? = nil, extraServerConfig: String = "") throws {
        guard Self.isAvailable else { throw StartError(description: "\(Self.executable) is not installed") }
        let manager = FileManager.default
        let prefix = manager.temporaryDirectory.appendingPathComponent("nginx-backend-\(UUID().uuidString)")
        let htdocs = prefix.appendingPathComponent("htdocs")
        try manager.createDirectory(at: htdocs, withIntermediateDirectories: true)
        try manager.createDirectory(at: prefix.appendingPathComponent("tmp"), withIntermediateDirectories: true)
        do {
            try Data(Self.indexHTML.utf8).write(to: htdocs.appendingPathComponent("index.html"))
            for (name, size) in Self.smallPatternFiles {
                try Self.writePattern(count: size, to: htdocs.appendingPathComponent(name))
            }
            try Self.writePattern(count: bigFileSize, to: htdocs.appendingPathComponent("big.bin"))
        } catch {
            try? manager.removeItem(at: prefix)
            throw error
        }

        var attempt = 0
        while true {
            attempt += 1
            let port = freeLocalPort()
            let configuration = Self.configuration(
                prefix: prefix, htdocs: htdocs, port: port, uploadBackendPort: uploadBackendPort,
                extraServerConfig: extraServerConfig)
            let process: Process
            do {
                try Data(configuration.utf8).write(to: prefix.appendingPathComponent("nginx.conf"))
                process = try Self.launch(prefix: prefix)
            } catch {
                try? manager.removeItem(at: prefix)
                throw error
            }
            do {
                try Self.waitUntilAccepting(port: port, process: process, prefix: prefix, timeout: 15)
                self.port = port
                self.prefix = prefix
                self.htdocs = htdocs
                self.bigFileSize = bigFileSize
                self.uploadBackendPort = uploadBackendPort
                self.process = process
                return
            } catch {
                if process.isRunning { _ = signalProcess(process.processIdentifier, SIGKILL) }
                process.waitUntilExit()
                let log = Self.readLog(prefix)
                if attempt < 5 && log.contains("Address already in use") {
                    try? manager.removeItem(at: prefix.appendingPathComponent("error.log"))
                    continue
                }
                try? manager.removeItem(at: prefix)
                throw error
            }
        }
    }

    deinit {
        stop()
    }

    /// The URL of `path` (which starts with `/`) on this backend.
    func url(_ path: String) -> String { baseURL + path }

    /// Waits until nginx accepts a TCP connection (it does once `init` returns; this is for
    /// after a `SIGSTOP`/`SIGCONT` or similar); throws if nginx exited or `timeout` passed.
    func waitUntilReady(timeout: TimeInterval = 15) throws {
        try Self.waitUntilAccepting(port: port, process: process, prefix: prefix, timeout: timeout)
    }

    /// Sends `signal` to nginx (SIGKILL: the backend dies; SIGSTOP/SIGCONT: it hangs; SIGHUP:
    /// it reloads; SIGQUIT: graceful shutdown).
    func kill(signal: Int32) {
        if process.isRunning { _ = signalProcess(process.processIdentifier, signal) }
    }

    /// Waits until nginx has exited (after ``kill(signal:)``); returns whether it did in time.
    @discardableResult
    func waitForExit(timeout: TimeInterval = 15) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        return !process.isRunning
    }

    /// Stops nginx (`signal`, SIGTERM by default: fast shutdown; then SIGKILL after `timeout`),
    /// waits for it and removes the prefix. Idempotent.
    func stop(signal: Int32 = SIGTERM, timeout: TimeInterval = 10) {
        let first = stopped.withLockedValue { stopped in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        if process.isRunning {
            // A stopped process must run again to act on the signal.
            _ = signalProcess(process.processIdentifier, SIGCONT)
            _ = signalProcess(process.processIdentifier, signal)
        }
        if !waitForExit(timeout: timeout) {
            _ = signalProcess(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: prefix)
    }

    // MARK: - Helpers

    /// The pattern's first `count` bytes (what `/1k.bin`, `/100k.bin` and `/big.bin` hold).
    static func expectedBytes(count: Int) -> ByteBuffer { Pattern.body(count: count) }

    /// Writes the first `count` bytes of the pattern to `url`, about 1 MiB at a time.
    static func writePattern(count: Int, to url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw StartError(description: "cannot create \(url.path)")
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        // Whole periods, so that consecutive blocks continue the pattern.
        let block = Pattern.body(count: Pattern.period * 16)
        let blockData = Data(block.readableBytesView)
        var written = 0
        while written + blockData.count <= count {
            try handle.write(contentsOf: blockData)
            written += blockData.count
        }
        if written < count {
            try handle.write(contentsOf: blockData.prefix(count - written))
        }
    }

    /// Whether something accepts a TCP connection on 127.0.0.1:`port`.
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return result == 0
    }

    private static func waitUntilAccepting(port: Int, process: Process, prefix: URL, timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            guard process.isRunning else {
                throw StartError(
                    description: "nginx exited (status \(process.terminationStatus)): \(readLog(prefix))")
            }
            if accepts(port: port) { return }
            guard Date() < deadline else {
                throw StartError(
                    description: "nginx does not accept on port \(port) after \(timeout) s: \(readLog(prefix))")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    private static func readLog(_ prefix: URL) -> String {
        ["error.log", "stderr.log"].map {
            (try? String(contentsOf: prefix.appendingPathComponent($0), encoding: .utf8)) ?? ""
        }.joined()
    }

    private static func launch(prefix: URL) throws -> Process {
        let stderrURL = prefix.appendingPathComponent("stderr.log")
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        let stderr = try FileHandle(forWritingTo: stderrURL)
        defer { try? stderr.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        // -e: the error log from the start, before the configuration is read (the default,
        // /var/log/nginx/error.log, is not ours to write).
        process.arguments = [
            "-p", prefix.path + "/", "-c", prefix.appendingPathComponent("nginx.conf").path,
            "-e", prefix.appendingPathComponent("error.log").path,
        ]
        process.currentDirectoryURL = prefix
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderr
        // The child inherits the signal mask of the spawning thread, and Dispatch's and Swift
        // Concurrency's threads block SIGTERM, SIGQUIT, SIGHUP and more: nginx without a master
        // process never unblocks them and would ignore ``stop()``. Spawn with none blocked (a
        // signal arriving meanwhile is handled as on the main thread, which blocks none).
        var unblocked = sigset_t()
        var previous = sigset_t()
        sigemptyset(&unblocked)
        pthread_sigmask(SIG_SETMASK, &unblocked, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
        return process
    }

    private static func configuration(
        prefix: URL,
        htdocs: URL,
        port: Int,
        uploadBackendPort: Int?,
        extraServerConfig: String
    ) -> String {
        let root = prefix.path
        let hasEcho = FileManager.default.fileExists(atPath: echoModule)
        let upload: String
        if let uploadBackendPort {
            upload = """
                        location = /upload {
                            client_max_body_size 2g;
                            proxy_pass http://127.0.0.1:\(uploadBackendPort)/sink;
                            proxy_http_version 1.1;
                            proxy_set_header Connection "";
                            proxy_request_buffering off;
                            proxy_buffering off;
                            proxy_read_timeout 120s;
                            proxy_send_timeout 120s;
                        }
                """
        } else if hasEcho {
            upload = """
                        location = /upload {
                            client_max_body_size 2g;
                            client_body_buffer_size 1m;
                            client_body_timeout 300s;
                            echo_read_request_body;
                            echo "upload ok $content_length";
                        }
                """
        } else {
            upload = """
                        location = /upload {
                            client_max_body_size 2g;
                            return 200 "upload ok\\n";
                        }
                """
        }
        return """
            daemon off;
            master_process off;
            worker_processes 1;
            pid \(root)/nginx.pid;
            error_log \(root)/error.log notice;
            \(hasEcho ? "load_module \(echoModule);" : "")

            events {
                worker_connections 1024;
            }

            http {
                access_log off;
                client_body_temp_path \(root)/tmp/client_body;
                proxy_temp_path \(root)/tmp/proxy;
                fastcgi_temp_path \(root)/tmp/fastcgi;
                uwsgi_temp_path \(root)/tmp/uwsgi;
                scgi_temp_path \(root)/tmp/scgi;
                types {
                    text/html html;
                    text/plain txt;
                    application/octet-stream bin;
                }
                default_type application/octet-stream;
                sendfile on;
                keepalive_timeout 75s;
                keepalive_requests 10000;

                server {
                    listen 127.0.0.1:\(port);
                    server_name localhost;
                    root \(htdocs.path);

                    location / {
                    }
            \(upload)
            \(extraServerConfig)
                }
            }

            """
    }
}

/// `kill(2)`, out of the way of ``NginxBackend/kill(signal:)``.
private func signalProcess(_ pid: Int32, _ signal: Int32) -> Int32 {
    kill(pid, signal)
}
