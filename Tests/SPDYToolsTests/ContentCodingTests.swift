import Foundation
import Testing

@testable import SPDYToolSupport

@Suite("gzip and deflate bodies")
struct ContentCodingTests {
    let text = Array(String(repeating: "SPDY bodies may be gzip or deflate encoded. ", count: 200).utf8)

    @Test("gzip output decodes with an independent gzip (python3) and with our decoder in pieces")
    func gzipRoundTrip() throws {
        let compressed = try ContentCoding.gzip(text)
        #expect(compressed.prefix(2) == [0x1F, 0x8B])
        #expect(compressed.count < text.count / 10)
        let decoder = try #require(ContentCoding.decoder(for: "gzip"))
        var decoded: [UInt8] = []
        for start in stride(from: 0, to: compressed.count, by: 7) {
            decoded += try decoder.decode(Array(compressed[start..<min(start + 7, compressed.count)]))
        }
        #expect(decoded == text)

        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = [
            "python3", "-c", "import gzip,sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))",
        ]
        let input = Pipe()
        let output = Pipe()
        python.standardInput = input
        python.standardOutput = output
        try python.run()
        input.fileHandleForWriting.write(Data(compressed))
        try input.fileHandleForWriting.close()
        let fromPython = output.fileHandleForReading.readDataToEndOfFile()
        python.waitUntilExit()
        #expect(Array(fromPython) == text)
    }

    @Test("deflate bodies decode whether zlib-wrapped (RFC 1950) or raw (RFC 1951)")
    func deflateBothForms() throws {
        let zlibWrapped: [UInt8] = [0x78, 0x9C, 0xCB, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x06, 0x2C, 0x02, 0x15]
        let raw: [UInt8] = [0xCB, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]
        #expect(try ContentCoding.decoder(for: "deflate")!.decodeAllowingRaw(zlibWrapped) == Array("hello".utf8))
        #expect(try ContentCoding.decoder(for: "deflate")!.decodeAllowingRaw(raw) == Array("hello".utf8))
        #expect(ContentCoding.decoder(for: "br") == nil)
        #expect(ContentCoding.decoder(for: nil) == nil)
        #expect(throws: ToolError.self) { try ContentCoding.decoder(for: "gzip")!.decode([1, 2, 3, 4, 5, 6, 7, 8]) }
    }
}
