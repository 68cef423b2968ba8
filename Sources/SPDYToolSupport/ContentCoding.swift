import CZlib

/// gzip and deflate for HTTP bodies: spdyd's gzip-compressed error pages, and spdycat's
/// decoding of `content-encoding: gzip` or `deflate` responses as they arrive.
public enum ContentCoding {
    /// `bytes` compressed as one gzip member.
    public static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
        guard czlib_deflate_init(&stream, Z_DEFAULT_COMPRESSION, 15 + 16, 8) == Z_OK else {
            throw ToolError("zlib: cannot start gzip compression")
        }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 32)
        var input = bytes
        let status = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = UInt32(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = UInt32(outBuffer.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw ToolError("zlib: gzip compression failed (\(status))") }
        return Array(output.prefix(Int(stream.total_out)))
    }

    /// A streaming decoder of a gzip or deflate body; `nil` for other codings (identity).
    public static func decoder(for contentEncoding: String?) -> Decoder? {
        switch contentEncoding?.lowercased().trimmingSpaces {
        case "gzip", "x-gzip": return Decoder(raw: false)
        case "deflate": return Decoder(raw: false)
        default: return nil
        }
    }

    /// Inflates a body piece by piece. HTTP's "deflate" is meant to be zlib-wrapped but
    /// some servers send raw deflate: a stream that is not gzip or zlib is retried as raw.
    public final class Decoder {
        private var stream = z_stream()
        private var raw: Bool
        private var started = false
        private var finished = false
        private var seenInput: [UInt8] = []

        init(raw: Bool) {
            self.raw = raw
        }

        deinit {
            if started { inflateEnd(&stream) }
        }

        /// Inflates the next piece of the body; returns the bytes it decodes to.
        public func decode(_ bytes: [UInt8]) throws -> [UInt8] {
            if !started {
                // 15 + 32: zlib or gzip, detected from the header; -15: raw deflate.
                guard czlib_inflate_init(&stream, raw ? -15 : 15 + 32) == Z_OK else {
                    throw ToolError("zlib: cannot start decompression")
                }
                started = true
            }
            if finished || bytes.isEmpty { return [] }
            if !raw && stream.total_out == 0 { seenInput += bytes }
            var input = bytes
            var result: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            var status: Int32 = Z_OK
            try input.withUnsafeMutableBufferPointer { inBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = UInt32(inBuffer.count)
                repeat {
                    let produced = chunk.withUnsafeMutableBufferPointer { outBuffer -> Int in
                        stream.next_out = outBuffer.baseAddress
                        stream.avail_out = UInt32(outBuffer.count)
                        status = inflate(&stream, Z_NO_FLUSH)
                        return outBuffer.count - Int(stream.avail_out)
                    }
                    result += chunk.prefix(produced)
                    if status == Z_STREAM_END {
                        finished = true
                        return
                    }
                    guard status == Z_OK || status == Z_BUF_ERROR else {
                        throw ToolError("zlib: the body is not valid gzip or deflate data (\(status))")
                    }
                } while stream.avail_in > 0 || stream.avail_out == 0
            }
            return result
        }

        /// Decodes `bytes`, retrying as raw deflate when they are not gzip or zlib data.
        public func decodeAllowingRaw(_ bytes: [UInt8]) throws -> [UInt8] {
            do {
                return try decode(bytes)
            } catch {
                guard !raw, stream.total_out == 0 else { throw error }
                inflateEnd(&stream)
                stream = z_stream()
                started = false
                raw = true
                let replay = seenInput
                seenInput = []
                return try decode(replay)
            }
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
