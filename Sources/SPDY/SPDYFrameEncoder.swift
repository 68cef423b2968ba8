import NIOCore

/// Settings of the header compression an encoder uses.
///
/// The defaults are the reference implementation's: windowBits 11 and
/// memLevel 1 (about 9 KiB of zlib state per session), compression level 9
/// on a server and level 0 on a client. A client sends headers the user
/// controls next to secrets such as cookies; with compression off, the
/// length of its frames reveals nothing about those secrets (the CRIME
/// attack), while the blocks stay zlib streams with the dictionary, as the
/// protocol requires. With these defaults the encoder writes, for a given
/// header list, the same bytes as the reference implementation.
public struct SPDYHeaderCompression: Sendable, Hashable {
    /// zlib compression level, 0 (stored) to 9 (best).
    public var level: Int
    /// Base-two logarithm of the compression window, 9 to 15.
    public var windowBits: Int
    /// zlib memory level, 1 (least memory) to 9.
    public var memoryLevel: Int

    /// Creates a header compression setting.
    public init(level: Int, windowBits: Int = 11, memoryLevel: Int = 1) {
        self.level = level
        self.windowBits = windowBits
        self.memoryLevel = memoryLevel
    }

    /// The reference's default for `role`: level 0 for a client, 9 for a server.
    public static func `default`(for role: SPDYRole) -> SPDYHeaderCompression {
        SPDYHeaderCompression(level: role == .client ? 0 : 9)
    }
}

/// Writes SPDY frames, byte for byte as the drafts lay them out, for one
/// session (one direction of one connection).
///
/// Header blocks go through one zlib stream that lives as long as the
/// encoder, so frames must be written to the peer in the order they are
/// encoded. SPDY/3.1 frames carry version 3.
public final class SPDYFrameEncoder {
    /// The session's version.
    public let version: SPDYVersion
    /// The header compression in use.
    public let compression: SPDYHeaderCompression
    /// Whether `:method`, `:path`, … are written under their SPDY/2 names on a SPDY/2 session.
    public let translatesSPDY2HeaderNames: Bool

    private let deflater: HeaderDeflater
    private var serializer = HeaderBlockSerializer()

    /// Creates an encoder.
    ///
    /// - Parameters:
    ///   - version: the session's SPDY version.
    ///   - compression: zlib settings of the header blocks.
    ///   - translatesSPDY2HeaderNames: on a SPDY/2 session, write the SPDY/3 pseudo-header
    ///     names the API uses (`:method`, `:path`, …) as their SPDY/2 names (`method`, `url`, …).
    /// - Throws: ``SPDYFrameEncodingError/invalidField(_:)`` for settings zlib does not
    ///   accept, ``SPDYFrameEncodingError/compressionFailed(_:)`` if zlib cannot start.
    public init(
        version: SPDYVersion,
        compression: SPDYHeaderCompression = .default(for: .server),
        translatesSPDY2HeaderNames: Bool = true
    ) throws(SPDYFrameEncodingError) {
        guard (0...9).contains(compression.level) else {
            throw .invalidField("compression level \(compression.level) is outside 0...9")
        }
        guard (9...15).contains(compression.windowBits) else {
            throw .invalidField("windowBits \(compression.windowBits) is outside 9...15")
        }
        guard (1...9).contains(compression.memoryLevel) else {
            throw .invalidField("memory level \(compression.memoryLevel) is outside 1...9")
        }
        self.version = version
        self.compression = compression
        self.translatesSPDY2HeaderNames = translatesSPDY2HeaderNames
        do {
            self.deflater = try HeaderDeflater(
                version: version,
                level: Int32(compression.level),
                windowBits: Int32(compression.windowBits),
                memoryLevel: Int32(compression.memoryLevel)
            )
        } catch {
            throw .compressionFailed(error.message)
        }
    }

    /// Appends `frame`, encoded, to `buffer`.
    ///
    /// On error nothing is appended and the header compression is untouched.
    public func encode(_ frame: SPDYFrame, into buffer: inout ByteBuffer) throws(SPDYFrameEncodingError) {
        let start = buffer.writerIndex
        do {
            try encodeFrame(frame, into: &buffer)
        } catch {
            buffer.moveWriterIndex(to: start)
            throw error
        }
    }

    /// Appends the 8-byte header of a DATA frame whose payload the caller writes itself.
    ///
    /// This lets a payload go to the network as its own buffer, never copied.
    public func encodeDataFrameHeader(
        streamID: SPDYStreamID,
        flags: SPDYDataFlags,
        length: Int,
        into buffer: inout ByteBuffer
    ) throws(SPDYFrameEncodingError) {
        guard length >= 0, length <= SPDYProtocol.maxFramePayloadSize else {
            throw .frameTooLarge(payloadSize: length)
        }
        // One 64-bit write: NIO's multi-integer writes cost several times more per frame.
        buffer.writeInteger(UInt64(streamID.rawValue) << 32 | UInt64(flags.rawValue) << 24 | UInt64(length))
    }

    private func writeControlHeader(
        _ type: SPDYFrameType,
        flags: UInt8,
        length: Int,
        into buffer: inout ByteBuffer
    ) {
        buffer.writeInteger(
            UInt64(0x8000 | version.wireVersion) << 48 | UInt64(type.rawValue) << 32 | UInt64(flags) << 24
                | UInt64(length)
        )
    }

    private func encodeFrame(_ frame: SPDYFrame, into buffer: inout ByteBuffer) throws(SPDYFrameEncodingError) {
        switch frame {
        case .synStream(let f):
            guard f.priority <= version.lowestPriority else {
                throw .invalidField("priority \(f.priority) is below \(version)'s lowest, \(version.lowestPriority)")
            }
            if version == .v2 && f.slot != 0 {
                throw .invalidField("SPDY/2 has no credential slot")
            }
            let priorityByte = version == .v2 ? f.priority << 6 : f.priority << 5
            try encodeHeaderBlockFrame(.synStream, flags: f.flags.rawValue, headers: f.headers, into: &buffer) {
                $0.writeMultipleIntegers(
                    f.streamID.rawValue,
                    f.associatedStreamID.rawValue,
                    priorityByte,
                    version == .v2 ? 0 : f.slot
                )
            }
        case .synReply(let f):
            try encodeHeaderBlockFrame(.synReply, flags: f.flags.rawValue, headers: f.headers, into: &buffer) {
                self.writeStreamIDOfReply(f.streamID, into: &$0)
            }
        case .headers(let f):
            try encodeHeaderBlockFrame(.headers, flags: f.flags.rawValue, headers: f.headers, into: &buffer) {
                self.writeStreamIDOfReply(f.streamID, into: &$0)
            }
        case .rstStream(let f):
            writeControlHeader(.rstStream, flags: 0, length: 8, into: &buffer)
            buffer.writeInteger(UInt64(f.streamID.rawValue) << 32 | UInt64(f.status.rawValue))
        case .settings(let f):
            let length = 4 + 8 * f.entries.count
            guard length <= SPDYProtocol.maxFramePayloadSize else { throw .frameTooLarge(payloadSize: length) }
            for entry in f.entries where entry.id.rawValue > 0xff_ffff {
                throw .invalidField("settings ID \(entry.id.rawValue) does not fit in 24 bits")
            }
            writeControlHeader(.settings, flags: f.flags.rawValue, length: length, into: &buffer)
            buffer.writeInteger(UInt32(f.entries.count))
            for entry in f.entries {
                let id = entry.id.rawValue
                if version == .v2 {
                    // SPDY/2 as deployed: the ID in 24-bit little-endian order, then the flags.
                    buffer.writeMultipleIntegers(
                        UInt8(truncatingIfNeeded: id),
                        UInt8(truncatingIfNeeded: id >> 8),
                        UInt8(truncatingIfNeeded: id >> 16),
                        entry.flags.rawValue,
                        entry.value
                    )
                } else {
                    buffer.writeMultipleIntegers(UInt32(entry.flags.rawValue) << 24 | id, entry.value)
                }
            }
        case .noop:
            guard version == .v2 else { throw .frameTypeNotInVersion(.noop, version) }
            writeControlHeader(.noop, flags: 0, length: 0, into: &buffer)
        case .ping(let f):
            writeControlHeader(.ping, flags: 0, length: 4, into: &buffer)
            buffer.writeInteger(f.id)
        case .goAway(let f):
            if version == .v2 {
                writeControlHeader(.goAway, flags: 0, length: 4, into: &buffer)
                buffer.writeInteger(f.lastGoodStreamID.rawValue)
            } else {
                writeControlHeader(.goAway, flags: 0, length: 8, into: &buffer)
                buffer.writeMultipleIntegers(f.lastGoodStreamID.rawValue, f.status.rawValue)
            }
        case .windowUpdate(let f):
            guard version != .v2 else { throw .frameTypeNotInVersion(.windowUpdate, version) }
            guard f.deltaWindowSize >= 1, f.deltaWindowSize <= 0x7fff_ffff else {
                throw .invalidField("window delta \(f.deltaWindowSize) is outside 1...2^31-1")
            }
            writeControlHeader(.windowUpdate, flags: 0, length: 8, into: &buffer)
            buffer.writeInteger(UInt64(f.streamID.rawValue) << 32 | UInt64(f.deltaWindowSize))
        case .credential(let f):
            guard version != .v2 else { throw .frameTypeNotInVersion(.credential, version) }
            guard !f.certificates.isEmpty else { throw .invalidField("a CREDENTIAL frame needs a certificate") }
            let length =
                2 + 4 + f.proof.readableBytes + f.certificates.reduce(0) { $0 + 4 + $1.readableBytes }
            guard length <= SPDYProtocol.maxFramePayloadSize else { throw .frameTooLarge(payloadSize: length) }
            writeControlHeader(.credential, flags: 0, length: length, into: &buffer)
            buffer.writeInteger(f.slot)
            buffer.writeInteger(UInt32(f.proof.readableBytes))
            buffer.writeImmutableBuffer(f.proof)
            for certificate in f.certificates {
                buffer.writeInteger(UInt32(certificate.readableBytes))
                buffer.writeImmutableBuffer(certificate)
            }
        case .data(let f):
            try encodeDataFrameHeader(
                streamID: f.streamID,
                flags: f.flags,
                length: f.payload.readableBytes,
                into: &buffer
            )
            buffer.writeImmutableBuffer(f.payload)
        case .unknown(let f):
            let length = f.payload.readableBytes
            guard length <= SPDYProtocol.maxFramePayloadSize else { throw .frameTooLarge(payloadSize: length) }
            buffer.writeMultipleIntegers(
                0x8000 | (f.header.version & 0x7fff),
                f.header.type.rawValue,
                UInt32(f.header.flags) << 24 | UInt32(length)
            )
            buffer.writeImmutableBuffer(f.payload)
        }
    }

    private func writeStreamIDOfReply(_ streamID: SPDYStreamID, into buffer: inout ByteBuffer) {
        buffer.writeInteger(streamID.rawValue)
        if version == .v2 {
            // SPDY/2's SYN_REPLY and HEADERS have 16 unused bits after the stream ID.
            buffer.writeInteger(UInt16(0))
        }
    }

    private func encodeHeaderBlockFrame(
        _ type: SPDYFrameType,
        flags: UInt8,
        headers: SPDYHeaders,
        into buffer: inout ByteBuffer,
        writeFixedFields: (inout ByteBuffer) -> Void
    ) throws(SPDYFrameEncodingError) {
        try serializer.serialize(headers, version: version, translateNames: translatesSPDY2HeaderNames)
        let headerStart = buffer.writerIndex
        writeControlHeader(type, flags: flags, length: 0, into: &buffer)
        writeFixedFields(&buffer)
        let fixedLength = buffer.writerIndex - headerStart - SPDYProtocol.frameHeaderSize
        // Refuse before compressing, so a refused frame never advances the zlib stream.
        let bound = deflater.bound(serializer.block.count)
        guard fixedLength + bound <= SPDYProtocol.maxFramePayloadSize else {
            throw .frameTooLarge(payloadSize: fixedLength + serializer.block.count)
        }
        var failure: ZlibFailure? = nil
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { output in
            serializer.block.withUnsafeBytes { input in
                do throws(ZlibFailure) {
                    return try deflater.compress(input, into: UnsafeMutableRawBufferPointer(rebasing: output[..<bound]))
                } catch {
                    failure = error
                    return 0
                }
            }
        }
        if let failure { throw .compressionFailed(failure.message) }
        let length = buffer.writerIndex - headerStart - SPDYProtocol.frameHeaderSize
        buffer.setInteger(UInt32(flags) << 24 | UInt32(length), at: headerStart + 4)
    }
}
