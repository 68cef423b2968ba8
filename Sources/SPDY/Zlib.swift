import CZlib

/// A zlib failure in header compression.
struct ZlibFailure: Error {
    var code: Int32
    var message: String
}

/// The deflate side of a session's header compression: one zlib stream for
/// every header block a session sends, primed with the version's dictionary
/// and flushed with `Z_SYNC_FLUSH` after each block.
final class HeaderDeflater {
    private let stream: UnsafeMutablePointer<z_stream>

    init(
        version: SPDYVersion, level: Int32, windowBits: Int32, memoryLevel: Int32, usesDictionary: Bool = true
    ) throws(ZlibFailure) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        var rc = czlib_deflate_init(stream, level, windowBits, memoryLevel)
        guard rc == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw ZlibFailure(code: rc, message: "deflateInit2 failed (\(rc))")
        }
        guard usesDictionary else { return }
        let dictionary = version.headerDictionary
        rc = dictionary.withUnsafeBufferPointer { dict in
            deflateSetDictionary(stream, dict.baseAddress, uInt(dict.count))
        }
        guard rc == Z_OK else {
            deflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw ZlibFailure(code: rc, message: "deflateSetDictionary failed (\(rc))")
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// An upper bound of the compressed size of `length` input bytes, sync flush included.
    func bound(_ length: Int) -> Int {
        Int(deflateBound(stream, uLong(length))) + 16
    }

    /// Compresses `input` as one header block, writing the compressed bytes
    /// through `write`, which is handed a buffer of at least `minimumCapacity`
    /// bytes and returns how many it filled. Returns the compressed size.
    func compress(
        _ input: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws(ZlibFailure) -> Int {
        stream.pointee.next_in = UnsafeMutablePointer(
            mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self)
        )
        stream.pointee.avail_in = uInt(input.count)
        stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(output.count)
        let rc = deflate(stream, Z_SYNC_FLUSH)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
        }
        guard rc == Z_OK, stream.pointee.avail_in == 0, stream.pointee.avail_out > 0 else {
            throw ZlibFailure(code: rc, message: "deflate failed (\(rc))")
        }
        return output.count - Int(stream.pointee.avail_out)
    }
}

/// The inflate side of a session's header compression: one zlib stream for
/// every header block a session receives. The version's dictionary is given
/// when zlib asks for it (`Z_NEED_DICT`), after checking that the stream asks
/// for that dictionary by its Adler-32.
final class HeaderInflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private let version: SPDYVersion

    init(version: SPDYVersion) throws(ZlibFailure) {
        self.version = version
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // windowBits 15: peers may compress with any window up to 32 KiB.
        var rc = czlib_inflate_init(stream, 15)
        guard rc == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw ZlibFailure(code: rc, message: "inflateInit failed (\(rc))")
        }
        // No Adler-32 of the inflated bytes (zlib >= 1.2.9): a SPDY header stream never
        // ends, so the checksum in its trailer is never checked, and computing it was
        // 40-85 % of zlib's work on a header block. The dictionary's ID is still
        // read from the stream header and checked (`Z_NEED_DICT` below, and zlib itself
        // in `inflateSetDictionary`). A stream that does end (a compression error either
        // way) is reported as ended rather than as "incorrect data check".
        rc = inflateValidate(stream, 0)
        guard rc == Z_OK else {
            inflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw ZlibFailure(code: rc, message: "inflateValidate failed (\(rc))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Inflates as much of `input` as fits in `output`.
    ///
    /// Returns how many input bytes were consumed and how many output bytes
    /// were produced. All of `input` has been used, and all its output
    /// produced, once `consumed == input.count` and `produced < output.count`.
    func inflate(
        _ input: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws(ZlibFailure) -> (consumed: Int, produced: Int) {
        stream.pointee.next_in = UnsafeMutablePointer(
            mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self)
        )
        stream.pointee.avail_in = uInt(input.count)
        stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(output.count)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
        }
        while true {
            let rc = CZlib.inflate(stream, Z_SYNC_FLUSH)
            switch rc {
            case Z_OK, Z_BUF_ERROR:
                return (input.count - Int(stream.pointee.avail_in), output.count - Int(stream.pointee.avail_out))
            case Z_NEED_DICT:
                let wanted = UInt32(truncatingIfNeeded: stream.pointee.adler)
                guard wanted == version.headerDictionaryID else {
                    throw ZlibFailure(
                        code: rc,
                        message: "header block asks for dictionary 0x\(String(wanted, radix: 16)), "
                            + "not the \(version) dictionary 0x\(String(version.headerDictionaryID, radix: 16))"
                    )
                }
                let setRC = version.headerDictionary.withUnsafeBufferPointer { dict in
                    inflateSetDictionary(stream, dict.baseAddress, uInt(dict.count))
                }
                guard setRC == Z_OK else {
                    throw ZlibFailure(code: setRC, message: "inflateSetDictionary failed (\(setRC))")
                }
            case Z_STREAM_END:
                throw ZlibFailure(code: rc, message: "the header compression stream ended")
            default:
                let detail = stream.pointee.msg.map { String(cString: $0) } ?? "error \(rc)"
                throw ZlibFailure(code: rc, message: "inflate failed: \(detail)")
            }
        }
    }
}
