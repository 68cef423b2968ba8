/// A header-block deflater for tools that must send blocks the encoder refuses to make
/// (spdyspec's broken blocks): it compresses any bytes, in one zlib stream with the
/// version's dictionary, as a peer's context does.
@_spi(Testing)
public final class SPDYRawHeaderDeflater {
    private let deflater: HeaderDeflater

    /// A deflater for `version`'s dictionary (or none, `dictionary` false: a stream no SPDY
    /// peer makes) at compression `level` (0–9).
    public init(version: SPDYVersion, level: Int32 = 9, dictionary: Bool = true) throws {
        do {
            deflater = try HeaderDeflater(
                version: version, level: level, windowBits: 15, memoryLevel: 8, usesDictionary: dictionary)
        } catch {
            throw SPDYError(.zlib, error.message)
        }
    }

    /// Compresses `block` (an uncompressed name/value block, well formed or not) as the next
    /// block of the stream, ending with a sync flush.
    public func compress(_ block: [UInt8]) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: deflater.bound(block.count))
        do {
            let count = try block.withUnsafeBytes { input in
                try output.withUnsafeMutableBytes { out in try deflater.compress(input, into: out) }
            }
            return Array(output.prefix(count))
        } catch let failure as ZlibFailure {
            throw SPDYError(.zlib, failure.message)
        }
    }
}
