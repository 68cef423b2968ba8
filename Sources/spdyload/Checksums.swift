import Foundation
import SPDYToolSupport

/// `--checksums FILE`: the SHA-256 each request path's body must have, read from lines in
/// sha256sum's format ("<64 hex digits>  /path", or with " *" before a binary file's name).
struct Checksums: Sendable {
    private var digests: [String: String] = [:]

    init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ToolError("--checksums: cannot read \(path)")
        }
        for (number, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let digest = trimmed.prefix { !$0.isWhitespace }.lowercased()
            var name = trimmed.dropFirst(digest.count).drop { $0 == " " }
            if name.first == "*" { name = name.dropFirst() }
            guard digest.count == 64, digest.allSatisfy(\.isHexDigit), !name.isEmpty else {
                throw ToolError("--checksums: \(path):\(number + 1): not \"<sha256 hex>  <path>\"")
            }
            digests[name.hasPrefix("/") ? String(name) : "/" + name] = digest
        }
    }

    /// The digest listed for a request path (its query ignored).
    func digest(for requestPath: String) -> String? {
        digests[String(requestPath.prefix { $0 != "?" })]
    }
}
