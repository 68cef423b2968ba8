import Foundation
import NIOSPDY
import Testing

/// The suites of this target, one at a time: the leak test counts OpenSSL objects
/// process-wide.
@Suite("NIOSPDYOpenSSL", .serialized)
struct OpenSSLBackendTests {}

/// The `openssl` command of the system, as a client and a server to test against.
enum OpenSSLCommand {
    /// Runs `openssl s_client` with `arguments` against 127.0.0.1:`port`, stdin closed;
    /// what it printed (standard output and error). The wait happens on a Dispatch thread:
    /// blocking one of the cooperative pool's few threads stalls every other async test.
    static func sClient(port: Int, _ arguments: [String]) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try sClientBlocking(port: port, arguments) })
            }
        }
    }

    private static func sClientBlocking(port: Int, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["s_client", "-connect", "127.0.0.1:\(port)"] + arguments
        let output = Pipe()
        let input = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = input
        try process.run()
        try input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        if process.isRunning { process.terminate() }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        return String(decoding: data, as: UTF8.self)
    }

    /// The TLS version and cipher of a completed handshake in s_client's output; `nil`
    /// when the handshake failed (`New, (NONE), Cipher is (NONE)`). The version is the
    /// session's (`Protocol  : TLSv1.1`); s_client prints no session for TLS 1.3, whose
    /// ciphers all name it (`New, TLSv1.3, Cipher is …`).
    static func negotiated(_ output: String) -> (version: String, cipher: String)? {
        let lines = output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let new = lines.first(where: { $0.hasPrefix("New, ") }) else { return nil }
        let parts = new.dropFirst("New, ".count).components(separatedBy: ", Cipher is ")
        guard parts.count == 2, parts[1] != "(NONE)" else { return nil }
        let session = lines.first { $0.hasPrefix("Protocol  : ") }
        return (session.map { String($0.dropFirst("Protocol  : ".count)) } ?? parts[0], parts[1])
    }

    /// `openssl s_server -www` on a free port with `identity`, plus `arguments`; stop it
    /// with ``Server/stop()``.
    final class Server {
        let port: Int
        private let process: Process
        private let directory: URL

        init(identity: SPDYTLS.Identity, _ arguments: [String]) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("s_server-\(UUID())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let certificate = directory.appendingPathComponent("cert.der")
            let key = directory.appendingPathComponent("key.der")
            try Data(try identity.certificateChain[0].toDERBytes()).write(to: certificate)
            try Data(try identity.privateKey.derBytes).write(to: key)
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            process.arguments =
                [
                    "s_server", "-4", "-accept", "127.0.0.1:0", "-www", "-certform", "DER", "-cert", certificate.path,
                    "-keyform", "DER", "-key", key.path,
                ] + arguments
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            process.standardInput = Pipe()
            try process.run()
            // "ACCEPT 127.0.0.1:PORT" once it listens.
            var printed = ""
            var port: Int?
            let deadline = Date().addingTimeInterval(20)
            while port == nil, Date() < deadline, process.isRunning {
                printed += String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
                if let line = printed.split(separator: "\n").first(where: { $0.hasPrefix("ACCEPT ") }),
                    let colon = line.lastIndex(of: ":")
                {
                    port = Int(line[line.index(after: colon)...])
                }
            }
            guard let port else {
                kill(process.processIdentifier, SIGKILL)
                throw StartError(output: printed)
            }
            self.port = port
            // Keep reading so a chatty server never blocks on a full pipe.
            let reader = output.fileHandleForReading
            Thread.detachNewThread {
                while !reader.availableData.isEmpty {}
            }
        }

        /// s_server did not print that it listens.
        struct StartError: Error {
            var output: String
        }

        /// Stops the server and removes its files.
        func stop() {
            // SIGKILL: a child of the test process may start with SIGTERM blocked.
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            try? FileManager.default.removeItem(at: directory)
        }
    }
}
