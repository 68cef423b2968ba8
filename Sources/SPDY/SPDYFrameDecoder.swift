import NIOCore

/// A piece of a DATA frame's payload, delivered as soon as it arrives.
///
/// A DATA frame is never buffered whole: each call to
/// ``SPDYFrameDecoder/nextFrame()`` hands out whatever part of the payload
/// has arrived, as a slice of the input (no copy). The last chunk of a frame
/// has ``isEndOfFrame`` set; a frame with an empty payload yields one empty
/// chunk.
public struct SPDYDataChunk: Hashable, Sendable {
    /// The header of the DATA frame this chunk belongs to.
    public var header: SPDYDataFrameHeader
    /// The bytes of this chunk.
    public var payload: ByteBuffer
    /// Whether this chunk completes its frame.
    public var isEndOfFrame: Bool

    /// Creates a data chunk.
    public init(header: SPDYDataFrameHeader, payload: ByteBuffer, isEndOfFrame: Bool) {
        self.header = header
        self.payload = payload
        self.isEndOfFrame = isEndOfFrame
    }
}

/// Reads SPDY frames from a byte stream, incrementally, for one session.
///
/// Give it bytes as they arrive with ``append(bytes:)-(ByteBuffer)`` (in pieces of any
/// size: one byte at a time gives the same frames as everything at once) and
/// take frames with ``nextFrame()`` until it returns `nil`.
///
/// Header blocks go through one zlib inflate stream that lives as long as the
/// decoder; the version's dictionary is supplied when the stream asks for it
/// by its Adler-32. Compressed header blocks are inflated as their bytes
/// arrive, never buffered whole, and the inflated size is bounded by
/// ``Configuration-swift.struct/maxHeaderBlockSize``: a zlib bomb stops there.
///
/// A SYN_STREAM, SYN_REPLY or HEADERS whose version field is not the decoder's has its
/// block inflated, so the compression context stays in step, but not parsed: it comes
/// with no headers.
///
/// Every rule of the wire format is checked. A frame that breaks one makes
/// ``nextFrame()`` throw a ``SPDYFrameDecodingError`` once the whole frame is
/// consumed; decoding continues with the next frame.
public final class SPDYFrameDecoder {
    /// Limits and options of a decoder.
    public struct Configuration: Sendable, Hashable {
        /// The largest control-frame payload accepted, in bytes (the reference's
        /// `MAX_RECV_CTRL_FRAME_BUFFER`). A larger frame fails with
        /// ``SPDYFrameDecodingError/Code-swift.enum/frameTooLarge`` and is skipped
        /// without being buffered (a header block in it is still inflated, within
        /// the discard limit, to keep the compression context in step). Default 128 KiB.
        public var maxControlFramePayloadSize: Int
        /// The largest inflated header block accepted, in bytes. A block that
        /// inflates past it fails with ``SPDYFrameDecodingError/Code-swift.enum/frameTooLarge``
        /// (a stream error). Its remaining bytes are inflated and thrown away, to keep
        /// the compression context in step, but only up to four times this limit in
        /// all: past that the block is treated as a zlib bomb, the compression context
        /// is abandoned and the frame fails with
        /// ``SPDYFrameDecodingError/Code-swift.enum/compressionError`` (as does every
        /// later header block). Default 64 KiB.
        public var maxHeaderBlockSize: Int
        /// On a SPDY/2 session, report the SPDY/2 names `method`, `url`, … as the
        /// SPDY/3 names `:method`, `:path`, … the API uses. Default `true`.
        public var translatesSPDY2HeaderNames: Bool

        /// Creates a configuration.
        public init(
            maxControlFramePayloadSize: Int = 1 << 17,
            maxHeaderBlockSize: Int = 1 << 16,
            translatesSPDY2HeaderNames: Bool = true
        ) {
            self.maxControlFramePayloadSize = maxControlFramePayloadSize
            self.maxHeaderBlockSize = maxHeaderBlockSize
            self.translatesSPDY2HeaderNames = translatesSPDY2HeaderNames
        }
    }

    /// What ``nextFrame()`` yields.
    public enum Event: Hashable, Sendable {
        /// A complete control frame, with the header it arrived with.
        case frame(SPDYFrame, header: SPDYControlFrameHeader)
        /// A piece of a DATA frame.
        case dataChunk(SPDYDataChunk)
    }

    /// The session's version: it picks the compression dictionary, and the
    /// layout of frames whose own version field is neither 2 nor 3.
    public let version: SPDYVersion
    /// The decoder's limits and options.
    public let configuration: Configuration

    /// Everything that changes as bytes are decoded, in one place the decoder
    /// owns. It is reached through a constant pointer, so the decoder's methods
    /// make no dynamic exclusivity checks (a stored `var` of a class costs one
    /// per access, about 85 instructions each); inside ``Core``'s mutating
    /// methods accesses are checked statically. The decoder is not `Sendable`
    /// and never calls out while it works, so calls cannot overlap.
    private let core: UnsafeMutablePointer<Core>

    /// Creates a decoder.
    ///
    /// - Throws: ``SPDYDecoderSetupError`` when a limit is negative or zlib cannot start.
    public init(
        version: SPDYVersion,
        configuration: Configuration = Configuration(),
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws(SPDYDecoderSetupError) {
        guard configuration.maxControlFramePayloadSize >= 0, configuration.maxHeaderBlockSize >= 0 else {
            throw SPDYDecoderSetupError(message: "decoder limits must not be negative")
        }
        self.version = version
        self.configuration = configuration
        let inflater: HeaderInflater
        do {
            inflater = try HeaderInflater(version: version)
        } catch {
            throw SPDYDecoderSetupError(message: error.message)
        }
        self.core = .allocate(capacity: 1)
        self.core.initialize(
            to: Core(version: version, configuration: configuration, allocator: allocator, inflater: inflater)
        )
    }

    deinit {
        core.deinitialize(count: 1)
        core.deallocate()
    }

    /// The number of received bytes not yet turned into frames or chunks.
    public var bufferedBytes: Int { core.pointee.buffer.readableBytes }

    /// The number, counted from 1, of the frame that has partly arrived and is not yet
    /// complete, or `nil` when decoding stands at a frame boundary. A peer that starts a
    /// frame and never finishes it keeps the same number; one that sends whole frames
    /// gets a new number for every frame (the network layer's frame-completion timeout).
    public var frameInProgress: Int? {
        let core = core.pointee
        if case .frameHeader = core.state {
            return core.buffer.readableBytes > 0 ? core.framesStarted + 1 : nil
        }
        return core.framesStarted
    }

    /// Adds received bytes. They are not copied when nothing is pending.
    public func append(bytes: ByteBuffer) {
        core.pointee.append(bytes)
    }

    /// Adds received bytes.
    public func append<Bytes: Sequence<UInt8>>(bytes: Bytes) {
        var incoming = core.pointee.allocator.buffer(capacity: 0)
        incoming.writeBytes(bytes)
        core.pointee.append(incoming)
    }

    /// The next control frame or DATA chunk, or `nil` when more bytes are needed.
    ///
    /// - Throws: ``SPDYFrameDecodingError`` for a control frame that breaks the
    ///   protocol; the frame has been consumed and the next call goes on with
    ///   the following one.
    public func nextFrame() throws(SPDYFrameDecodingError) -> Event? {
        guard let event = try core.pointee.nextFrame() else {
            core.pointee.releaseConsumedInput()
            return nil
        }
        return event
    }
}

extension SPDYFrameDecoder {
    /// A header-block frame being inflated: its header and fixed fields (kept
    /// as plain integers, so that the progress is copied as plain bytes) and how
    /// far the inflation has got. The ``SPDYFrame`` is built once the block is done.
    private struct HeaderBlockProgress {
        var header: SPDYControlFrameHeader
        /// The first word of the fixed fields: the stream ID.
        var streamWord: UInt32
        /// SYN_STREAM only: the associated stream ID, the priority byte and the slot.
        var associatedWord: UInt32 = 0
        var priorityByte: UInt8 = 0
        var slot: UInt8 = 0
        var remaining: Int
        var compressedTooLarge: Bool
        var inflatedTotal = 0
        var overflowed = false
    }

    private enum State {
        case frameHeader
        case dataPayload(SPDYDataFrameHeader, remaining: Int)
        case controlPayload(SPDYControlFrameHeader)
        case skipping(remaining: Int)
        case headerBlockFixedFields(SPDYControlFrameHeader, fixedLength: Int)
        case headerBlock(HeaderBlockProgress)
    }

    /// The decoder's state. Its methods are `mutating`: inside them every
    /// property is reached through `self` without dynamic exclusivity checks.
    private struct Core {
        let version: SPDYVersion
        let configuration: Configuration
        let allocator: ByteBufferAllocator
        let inflater: HeaderInflater
        var buffer: ByteBuffer
        var state: State = .frameHeader
        /// Frame headers read so far.
        var framesStarted = 0
        var inflated: ByteBuffer
        var inflaterBroken = false
        /// An empty buffer to hold instead of a consumed input buffer.
        let empty: ByteBuffer

        init(
            version: SPDYVersion, configuration: Configuration, allocator: ByteBufferAllocator, inflater: HeaderInflater
        ) {
            self.version = version
            self.configuration = configuration
            self.allocator = allocator
            self.inflater = inflater
            self.empty = allocator.buffer(capacity: 0)
            self.buffer = empty
            self.inflated = allocator.buffer(capacity: 0)
        }

        /// Lets go of an input buffer whose bytes are all consumed, so that an idle
        /// connection does not keep its last read buffer (often 64 KiB) alive.
        mutating func releaseConsumedInput() {
            if buffer.readableBytes == 0 && buffer.capacity > 0 {
                buffer = empty
            }
        }

        mutating func append(_ bytes: ByteBuffer) {
            if buffer.readableBytes == 0 {
                buffer = bytes
            } else {
                if buffer.readerIndex > 0 {
                    buffer.discardReadBytes()
                }
                buffer.writeImmutableBuffer(bytes)
            }
        }

        mutating func nextFrame() throws(SPDYFrameDecodingError) -> Event? {
            while true {
                switch state {
                case .frameHeader:
                    guard buffer.readableBytes >= SPDYProtocol.frameHeaderSize,
                        let (word0, word1) = buffer.readTwoWords()
                    else { return nil }
                    framesStarted &+= 1
                    let length = Int(word1 & 0xff_ffff)
                    let flags = UInt8(truncatingIfNeeded: word1 >> 24)
                    if word0 & 0x8000_0000 == 0 {
                        let header = SPDYDataFrameHeader(
                            streamID: SPDYStreamID(masking: word0),
                            flags: SPDYDataFlags(rawValue: flags),
                            length: length
                        )
                        if length == 0 {
                            return .dataChunk(
                                SPDYDataChunk(
                                    header: header,
                                    payload: allocator.buffer(capacity: 0),
                                    isEndOfFrame: true
                                )
                            )
                        }
                        state = .dataPayload(header, remaining: length)
                        continue
                    }
                    let header = SPDYControlFrameHeader(
                        version: UInt16(truncatingIfNeeded: word0 >> 16) & 0x7fff,
                        type: SPDYFrameType(rawValue: UInt16(truncatingIfNeeded: word0)),
                        flags: flags,
                        length: length
                    )
                    if header.type.carriesHeaderBlock {
                        let fixedLength = fixedFieldsLength(of: header)
                        if length <= fixedLength {
                            // No header block at all: structurally invalid; keep the bytes for the error.
                            state = .controlPayload(header)
                        } else if inflaterBroken {
                            skip(length)
                            throw SPDYFrameDecodingError(
                                code: .compressionError,
                                header: header,
                                message: "the header compression context was lost earlier in the session"
                            )
                        } else if buffer.readableBytes >= fixedLength {
                            // The common case: go on with the fixed fields without a state change.
                            return try startHeaderBlock(header, fixedLength: fixedLength)
                        } else {
                            state = .headerBlockFixedFields(header, fixedLength: fixedLength)
                            return nil
                        }
                    } else if length > configuration.maxControlFramePayloadSize {
                        skip(length)
                        throw SPDYFrameDecodingError(
                            code: .frameTooLarge,
                            header: header,
                            message: "the payload of \(length) bytes exceeds the limit of "
                                + "\(configuration.maxControlFramePayloadSize)"
                        )
                    } else {
                        state = .controlPayload(header)
                    }

                case .dataPayload(let header, let remaining):
                    let available = min(remaining, buffer.readableBytes)
                    guard available > 0, let payload = buffer.readSlice(length: available) else { return nil }
                    let left = remaining - available
                    state = left == 0 ? .frameHeader : .dataPayload(header, remaining: left)
                    return .dataChunk(SPDYDataChunk(header: header, payload: payload, isEndOfFrame: left == 0))

                case .controlPayload(let header):
                    guard let payload = buffer.readSlice(length: header.length) else { return nil }
                    state = .frameHeader
                    return .frame(
                        try ControlFramePayloadParser.parse(
                            header, payload: payload, layoutVersion: layoutVersion(of: header)),
                        header: header)

                case .skipping(let remaining):
                    let available = min(remaining, buffer.readableBytes)
                    buffer.moveReaderIndex(forwardBy: available)
                    guard available == remaining else {
                        state = .skipping(remaining: remaining - available)
                        return nil
                    }
                    state = .frameHeader

                case .headerBlockFixedFields(let header, let fixedLength):
                    guard buffer.readableBytes >= fixedLength else { return nil }
                    return try startHeaderBlock(header, fixedLength: fixedLength)

                case .headerBlock(var progress):
                    return try continueHeaderBlock(&progress)
                }
            }
        }

        /// Drops `count` bytes of payload: what has arrived now, the rest as it arrives.
        private mutating func skip(_ count: Int) {
            let available = min(count, buffer.readableBytes)
            buffer.moveReaderIndex(forwardBy: available)
            state = available == count ? .frameHeader : .skipping(remaining: count - available)
        }

        // MARK: - Layout

        private func layoutVersion(of header: SPDYControlFrameHeader) -> UInt16 {
            header.version == 2 || header.version == 3 ? header.version : version.wireVersion
        }

        private func fixedFieldsLength(of header: SPDYControlFrameHeader) -> Int {
            if header.type == .synStream { return 10 }
            return layoutVersion(of: header) == 2 ? 6 : 4
        }

        /// The frame of a header block with its fixed fields and the given headers.
        private func frame(of progress: HeaderBlockProgress, headers: SPDYHeaders) -> SPDYFrame {
            let header = progress.header
            let streamID = SPDYStreamID(masking: progress.streamWord)
            let flags = SPDYControlFlags(rawValue: header.flags)
            switch header.type {
            case .synStream:
                let isV2 = layoutVersion(of: header) == 2
                return .synStream(
                    SPDYFrame.SynStream(
                        streamID: streamID,
                        associatedStreamID: SPDYStreamID(masking: progress.associatedWord),
                        priority: isV2 ? progress.priorityByte >> 6 : progress.priorityByte >> 5,
                        slot: isV2 ? 0 : progress.slot,
                        flags: flags,
                        headers: headers
                    )
                )
            case .synReply:
                return .synReply(SPDYFrame.SynReply(streamID: streamID, flags: flags, headers: headers))
            default:
                return .headers(SPDYFrame.Headers(streamID: streamID, flags: flags, headers: headers))
            }
        }

        // MARK: - Header blocks

        private var discardLimit: Int {
            let (product, overflow) = configuration.maxHeaderBlockSize.multipliedReportingOverflow(by: 4)
            return overflow ? Int.max : max(product, 1 << 16)
        }

        /// Reads the fixed fields of a header-block frame (at least `fixedLength`
        /// bytes are buffered) and inflates as much of its block as has arrived.
        private mutating func startHeaderBlock(
            _ header: SPDYControlFrameHeader,
            fixedLength: Int
        ) throws(SPDYFrameDecodingError) -> Event? {
            var progress = HeaderBlockProgress(
                header: header,
                streamWord: 0,
                remaining: header.length - fixedLength,
                compressedTooLarge: header.length > configuration.maxControlFramePayloadSize
            )
            // `inflated` is empty here: it is emptied when a block ends, however it ends.
            try inflate(&progress, fixedLength: fixedLength)
            return try continueHeaderBlock(&progress, inflating: false)
        }

        /// Inflates what has arrived of the block (unless that was just done);
        /// returns the frame once the block is complete.
        private mutating func continueHeaderBlock(
            _ progress: inout HeaderBlockProgress,
            inflating: Bool = true
        ) throws(SPDYFrameDecodingError) -> Event? {
            if inflating {
                try inflate(&progress, fixedLength: 0)
            }
            guard progress.remaining == 0 else {
                state = .headerBlock(progress)
                return nil
            }
            state = .frameHeader
            return .frame(try finishHeaderBlock(progress), header: progress.header)
        }

        /// Reads the `fixedLength` bytes of fixed fields (buffered: the caller
        /// checked) into `progress`, then inflates as much of the block as has
        /// arrived after them, all in one look at the buffer.
        private mutating func inflate(
            _ progress: inout HeaderBlockProgress,
            fixedLength: Int
        ) throws(SPDYFrameDecodingError) {
            let count = min(progress.remaining, buffer.readableBytes - fixedLength)
            guard count > 0 || fixedLength > 0 else { return }
            var failure: ZlibFailure? = nil
            let limit = configuration.maxHeaderBlockSize
            let discardLimit = self.discardLimit
            // `inflater` is a constant of this struct, which keeps it alive: no retain needed around the loop.
            let inflater = Unmanaged.passUnretained(self.inflater)
            buffer.withUnsafeReadableBytes { readable in
                if fixedLength > 0 {
                    progress.streamWord = UInt32(bigEndian: readable.loadUnaligned(as: UInt32.self))
                    if fixedLength == 10 {
                        progress.associatedWord = UInt32(
                            bigEndian: readable.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
                        )
                        progress.priorityByte = readable[8]
                        progress.slot = readable[9]
                    }
                    // Otherwise SPDY/2 SYN_REPLY or HEADERS: two unused bytes follow the stream ID.
                }
                guard count > 0 else { return }
                let input = UnsafeRawBufferPointer(rebasing: readable[fixedLength..<(fixedLength + count)])
                var consumed = 0
                while true {
                    if progress.overflowed {
                        inflated.clear()
                    }
                    var step: (consumed: Int, produced: Int) = (0, 0)
                    var capacity = 0
                    inflated.writeWithUnsafeMutableBytes(minimumWritableBytes: 4096) { output in
                        capacity = output.count
                        inflater._withUnsafeGuaranteedRef { inflater in
                            do throws(ZlibFailure) {
                                step = try inflater.inflate(
                                    UnsafeRawBufferPointer(rebasing: input[consumed...]),
                                    into: output
                                )
                            } catch {
                                failure = error
                            }
                        }
                        return step.produced
                    }
                    if failure != nil { return }
                    consumed += step.consumed
                    progress.inflatedTotal += step.produced
                    if !progress.overflowed && inflated.readableBytes > limit {
                        progress.overflowed = true
                        inflated.clear()
                    }
                    if progress.inflatedTotal > discardLimit {
                        failure = ZlibFailure(
                            code: 0,
                            message: "the header block inflates past \(discardLimit) bytes; "
                                + "the compression context is abandoned"
                        )
                        return
                    }
                    if consumed == count && step.produced < capacity { return }
                }
            }
            buffer.moveReaderIndex(forwardBy: fixedLength + count)
            progress.remaining -= count
            if let failure {
                inflaterBroken = true
                inflated = allocator.buffer(capacity: 0)
                state = .skipping(remaining: progress.remaining)
                throw SPDYFrameDecodingError(
                    code: .compressionError,
                    header: progress.header,
                    frame: frame(of: progress, headers: SPDYHeaders()),
                    message: failure.message
                )
            }
        }

        /// Empties `inflated` at the end of a block. It is only ever written to
        /// and viewed, never read from or sliced, so its reader index is 0 and it
        /// spans its whole storage: moving the writer index back to 0 is what
        /// `clear()` would do, without `clear()`'s (exclusivity-checked) look at
        /// the storage. A buffer grown past 16 KiB is dropped instead; it can only
        /// have grown so far if the block inflated to more than 12 KiB (it grows
        /// to the next power of two of its contents plus 4 KiB).
        private mutating func resetInflated(after progress: HeaderBlockProgress) {
            if progress.inflatedTotal > 12288 && inflated.capacity > 16384 {
                inflated = allocator.buffer(capacity: 0)
            } else {
                inflated.moveWriterIndex(to: 0)
            }
        }

        private mutating func finishHeaderBlock(
            _ progress: HeaderBlockProgress
        ) throws(SPDYFrameDecodingError) -> SPDYFrame {
            // Do not keep a large inflate buffer alive between frames.
            defer { resetInflated(after: progress) }
            if progress.compressedTooLarge || progress.overflowed {
                throw SPDYFrameDecodingError(
                    code: .frameTooLarge,
                    header: progress.header,
                    frame: frame(of: progress, headers: SPDYHeaders()),
                    message: progress.compressedTooLarge
                        ? "the payload of \(progress.header.length) bytes exceeds the limit of "
                            + "\(configuration.maxControlFramePayloadSize)"
                        : "the header block inflates to \(progress.inflatedTotal) bytes, past the limit of "
                            + "\(configuration.maxHeaderBlockSize)"
                )
            }
            if progress.header.version != version.wireVersion {
                // A block of another version was inflated (the context stays in step)
                // but is not read: its layout is the peer's guess at a version we do
                // not speak. The session refuses such a SYN_STREAM with
                // UNSUPPORTED_VERSION and ignores the other frames (draft 2,
                // "Protocol versioning").
                return frame(of: progress, headers: SPDYHeaders())
            }
            let lengthSize = layoutVersion(of: progress.header) == 2 ? 2 : 4
            let translate = version == .v2 && configuration.translatesSPDY2HeaderNames
            var problem: HeaderBlockProblem? = nil
            let headers = inflated.withUnsafeReadableBytes { block -> SPDYHeaders in
                do throws(HeaderBlockProblem) {
                    return try HeaderBlockParser.parse(block, lengthSize: lengthSize, translateSPDY2Names: translate)
                } catch {
                    problem = error
                    return SPDYHeaders()
                }
            }
            switch problem {
            case nil:
                return frame(of: progress, headers: headers)
            case .malformed(let message):
                throw SPDYFrameDecodingError(
                    code: .invalidFrame,
                    header: progress.header,
                    frame: frame(of: progress, headers: SPDYHeaders()),
                    message: message
                )
            case .invalid(let message):
                throw SPDYFrameDecodingError(
                    code: .invalidHeaderBlock,
                    header: progress.header,
                    frame: frame(of: progress, headers: SPDYHeaders()),
                    message: message
                )
            }
        }
    }
}

/// A decoder could not be created (zlib failed to start, or a limit is negative).
public struct SPDYDecoderSetupError: Error, Hashable, Sendable {
    /// What went wrong.
    public var message: String
}

extension ByteBuffer {
    /// Reads two big-endian 32-bit words with one 64-bit read (NIO's multi-integer reads
    /// cost several times more, and this runs for every frame header).
    @inline(__always)
    mutating func readTwoWords() -> (UInt32, UInt32)? {
        guard let both = readInteger(as: UInt64.self) else { return nil }
        return (UInt32(truncatingIfNeeded: both >> 32), UInt32(truncatingIfNeeded: both))
    }
}
