// A folder for spdyd to serve and a running spdyd: what SpdydTests, HostileRSSTests and
// SpdyproxyTests share.

import Foundation
import NIOSPDY
import SPDY
import SPDYTestSupport
import SPDYToolSupport

/// A folder for spdyd to serve, with a secret next to it that no request may reach.
final class ServedFolder {
    /// The parent of everything (removed at the end).
    let base: URL
    /// The folder given to `spdyd -d`.
    let root: URL
    /// Outside the root: `base/secret.txt` and `base/outside/secret.txt`.
    static let secret = "TOP SECRET: outside the root"
    static let hello = "hello from spdyd\n"

    init() throws {
        let manager = FileManager.default
        base = manager.temporaryDirectory.appendingPathComponent("spdyd-test-\(UUID().uuidString)")
        root = base.appendingPathComponent("htdocs")
        try manager.createDirectory(at: root.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try manager.createDirectory(at: root.appendingPathComponent("a"), withIntermediateDirectories: true)
        try manager.createDirectory(at: base.appendingPathComponent("outside"), withIntermediateDirectories: true)
        try write(Self.secret, to: base.appendingPathComponent("secret.txt"))
        try write(Self.secret, to: base.appendingPathComponent("outside/secret.txt"))
        try write(Self.hello, to: root.appendingPathComponent("hello.txt"))
        try write("<html>root index</html>", to: root.appendingPathComponent("index.html"))
        try write("<html>sub index</html>", to: root.appendingPathComponent("sub/index.html"))
        try write("body { color: red }", to: root.appendingPathComponent("sub/style.css"))
        try write("{\"spdy\": 3}", to: root.appendingPathComponent("data.json"))
        try write("binary?", to: root.appendingPathComponent("blob.unknownext"))
        // Files that exist, so that only the path rules can refuse "/./x" and "/a\\b".
        try write("x", to: root.appendingPathComponent("x"))
        try write("backslash", to: root.appendingPathComponent("a\\b"))
        try manager.createSymbolicLink(
            atPath: root.appendingPathComponent("link-out").path, withDestinationPath: "../secret.txt")
        try manager.createSymbolicLink(
            atPath: root.appendingPathComponent("link-out-dir").path, withDestinationPath: "../outside")
        try manager.createSymbolicLink(
            atPath: root.appendingPathComponent("link-abs").path,
            withDestinationPath: base.appendingPathComponent("secret.txt").path)
        try manager.createSymbolicLink(
            atPath: root.appendingPathComponent("link-in").path, withDestinationPath: "hello.txt")
        try manager.createSymbolicLink(
            atPath: root.appendingPathComponent("sub/link-up").path, withDestinationPath: "../hello.txt")
    }

    func write(_ text: String, to url: URL) throws {
        try Data(text.utf8).write(to: url)
    }

    /// The file's modification time in whole seconds.
    func mtime(_ name: String) throws -> Int {
        var info = stat()
        guard stat(root.appendingPathComponent(name).path, &info) == 0 else { throw ToolError("stat \(name)") }
        return Int(info.st_mtim.tv_sec)
    }

    /// Sets a file's modification time.
    func setMtime(_ name: String, _ seconds: Int) {
        var times = [timeval(tv_sec: seconds, tv_usec: 0), timeval(tv_sec: seconds, tv_usec: 0)]
        utimes(root.appendingPathComponent(name).path, &times)
    }

    deinit {
        try? FileManager.default.removeItem(at: base)
    }
}

/// A running spdyd and a client connected to it.
struct RunningSpdyd {
    let tool: BackgroundTool
    let port: Int
    let client: SPDYClient
    let connection: SPDYClientConnection

    /// Starts `spdyd [extra] -d root PORT [tail]` and connects (plain TCP when `plain` is given).
    static func start(
        root: URL,
        extra: [String] = ["--no-tls", "-3"],
        tail: [String] = [],
        client configuration: SPDYClient.Configuration = .init(plainVersion: .v3),
        tls: Bool = false
    ) async throws -> RunningSpdyd {
        let port = freeLocalPort()
        let tool = try ToolRunner.start("spdyd", extra + ["-d", root.path, String(port)] + tail)
        guard await tool.waitForOutput("listen on port \(port)") else {
            let status = await tool.stop(signal: SIGKILL)
            throw ToolError("spdyd did not start (status \(status)): \(tool.stderr)")
        }
        let client = try SPDYClient(configuration: configuration)
        let connection = try await client.connect(host: "127.0.0.1", port: port, tls: tls)
        return RunningSpdyd(tool: tool, port: port, client: client, connection: connection)
    }

    /// GETs (or `method`s) a path; returns the response with its whole body.
    func get(
        _ path: String, method: String = "GET", headers: [(name: String, value: String)] = []
    ) async throws -> (status: String, headers: SPDYHeaders, body: [UInt8]) {
        let response = try await connection.request(
            SPDYClientRequest(method: method, path: path, authority: "127.0.0.1:\(port)", headers: headers))
        let body = try await response.collectBody(upTo: 16 << 20)
        return (response.status, response.headers, Array(body.readableBytesView))
    }

    /// Stops the client and spdyd (SIGTERM); returns spdyd's exit status.
    @discardableResult
    func stop() async throws -> Int32 {
        connection.close()
        try await client.shutdown()
        return await tool.stop()
    }
}
