import Foundation

/// A terminal's size, as the resize stream carries it: `{"Width":100,"Height":40}` and a
/// newline.
public struct TerminalSize: Sendable, Hashable, Codable {
    /// Columns.
    public var width: UInt16
    /// Rows.
    public var height: UInt16

    /// Creates a size.
    public init(width: UInt16, height: UInt16) {
        self.width = width
        self.height = height
    }

    enum CodingKeys: String, CodingKey {
        case width = "Width"
        case height = "Height"
    }

    /// The message for the resize stream.
    public var message: String { "{\"Width\":\(width),\"Height\":\(height)}\n" }
}

/// Splits the resize stream into sizes: one JSON object per line, each at most
/// ``maxLineLength`` bytes (a peer that sends an endless line is refused, not buffered).
struct TerminalSizeDecoder {
    static let maxLineLength = 4096
    private var line: [UInt8] = []

    /// Takes bytes; returns the sizes of the lines they completed.
    mutating func feed(_ bytes: some Sequence<UInt8>) throws -> [TerminalSize] {
        var sizes: [TerminalSize] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if let size = try Self.decode(line) { sizes.append(size) }
                line.removeAll(keepingCapacity: true)
            } else {
                guard line.count < Self.maxLineLength else {
                    throw RemoteCommandProtocolError("a resize message longer than \(Self.maxLineLength) bytes")
                }
                line.append(byte)
            }
        }
        return sizes
    }

    /// The last line, if the stream ended without a newline.
    mutating func finish() throws -> TerminalSize? {
        defer { line.removeAll() }
        return try Self.decode(line)
    }

    private static func decode(_ line: [UInt8]) throws -> TerminalSize? {
        guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }) else { return nil }
        do {
            return try JSONDecoder().decode(TerminalSize.self, from: Data(line))
        } catch {
            throw RemoteCommandProtocolError("a bad resize message: \(String(decoding: line, as: UTF8.self))")
        }
    }
}
