// The tar format: 512-byte ustar headers, PAX extended headers and GNU long names, and the
// streaming reader and writer the tar command uses.
//
// Reading accepts POSIX ustar (with its name prefix), GNU tar's format (././@LongLink 'L' and
// 'K' entries), PAX 'x' headers (path, linkpath, size, mtime; 'g' headers are checked and
// ignored) and old v7 headers. Writing produces POSIX ustar with PAX 'x' headers for what does
// not fit (names or link names over 100 bytes, sizes of 8 GiB and more), which GNU tar, Go's
// archive/tar (kubectl) and libarchive all read.
//
// Every number in a header is checked: a bad checksum, a field that is not octal, a base-256
// size, a malformed or oversized extended header is an error, never a crash, and nothing is
// allocated from a size the archive claims except extended headers and long names, which are
// capped.

import NIOCore

/// What went wrong with an archive; the tar command prints it after "tar: ".
struct TarError: Error, Equatable {
    var message: String

    init(_ message: String) {
        self.message = message
    }
}

enum TarFormat {
    static let blockSize = 512
    /// GNU tar's default record (blocking factor 20): written archives are padded to it.
    static let recordSize = 10240
    /// The largest PAX extended header read.
    static let maximumExtendedHeaderSize = 1 << 20
    /// The largest GNU long name or long link name read.
    static let maximumLongNameSize = 64 * 1024
    /// The largest member size accepted (PAX can say more; nobody sends 4 EiB).
    static let maximumMemberSize: Int64 = 1 << 62
    /// The largest value an 11-digit octal field holds.
    static let maximumOctal11: Int64 = 0o77_777_777_777

    // Type flags.
    static let regular = UInt8(ascii: "0")
    static let regularOld: UInt8 = 0
    static let hardLink = UInt8(ascii: "1")
    static let symbolicLink = UInt8(ascii: "2")
    static let characterDevice = UInt8(ascii: "3")
    static let blockDevice = UInt8(ascii: "4")
    static let directory = UInt8(ascii: "5")
    static let fifo = UInt8(ascii: "6")
    static let contiguous = UInt8(ascii: "7")
    static let paxExtended = UInt8(ascii: "x")
    static let paxGlobal = UInt8(ascii: "g")
    static let gnuLongName = UInt8(ascii: "L")
    static let gnuLongLink = UInt8(ascii: "K")
    static let gnuVolumeHeader = UInt8(ascii: "V")

    /// The size rounded up to whole blocks.
    static func padded(_ size: Int64) -> Int64 {
        (size + Int64(blockSize - 1)) / Int64(blockSize) * Int64(blockSize)
    }
}

/// One decoded header block.
struct TarHeader: Equatable {
    var name: String
    var mode: UInt32
    var size: Int64
    /// nil when the field could not be read (base-256, garbage): the time is then not restored.
    var modificationTime: Int64?
    var typeFlag: UInt8
    var linkName: String

    /// Decodes a header block (512 bytes, not all zeros).
    static func decode(_ block: [UInt8]) throws(TarError) -> TarHeader {
        precondition(block.count == TarFormat.blockSize)
        let stored = try parseOctal(block[148..<156], field: "checksum")
        var unsignedSum: Int64 = 0
        var signedSum: Int64 = 0
        for (index, byte) in block.enumerated() {
            let value = (148..<156).contains(index) ? UInt8(ascii: " ") : byte
            unsignedSum += Int64(value)
            signedSum += Int64(Int8(bitPattern: value))
        }
        guard stored == unsignedSum || stored == signedSum else {
            throw TarError("bad header checksum")
        }
        let magic = Array(block[257..<263])
        let isPOSIX = magic == Array("ustar".utf8) + [0]
        var name = string(block[0..<100])
        if isPOSIX {
            let prefix = string(block[345..<500])
            if !prefix.isEmpty {
                name = prefix + "/" + name
            }
        }
        let size = try parseOctal(block[124..<136], field: "size")
        guard size <= TarFormat.maximumMemberSize else {
            throw TarError("Archive member size \(size) is too large")
        }
        let mode = try parseOctal(block[100..<108], field: "mode")
        var typeFlag = block[156]
        if (typeFlag == TarFormat.regular || typeFlag == TarFormat.regularOld) && name.hasSuffix("/") {
            typeFlag = TarFormat.directory  // old archives mark directories by the slash
        }
        return TarHeader(
            name: name,
            mode: UInt32(truncatingIfNeeded: mode & 0o7777),
            size: size,
            modificationTime: try? parseOctal(block[136..<148], field: "mtime"),
            typeFlag: typeFlag,
            linkName: string(block[157..<257])
        )
    }

    /// A NUL-terminated field as a string.
    static func string(_ field: ArraySlice<UInt8>) -> String {
        String(decoding: field.prefix(while: { $0 != 0 }), as: UTF8.self)
    }

    /// An octal number field: surrounding spaces and NULs are allowed, anything else is an
    /// error, and so is base-256 (the high bit of the first byte set), which GNU tar uses for
    /// sizes of 8 GiB and more and for negative numbers.
    static func parseOctal(_ field: ArraySlice<UInt8>, field name: String) throws(TarError) -> Int64 {
        if let first = field.first, first & 0x80 != 0 {
            throw TarError("Archive \(name) field uses base-256 encoding, which is not supported")
        }
        let isPadding: (UInt8) -> Bool = { $0 == 0 || $0 == UInt8(ascii: " ") }
        var digits = field.drop(while: isPadding)
        while let last = digits.last, isPadding(last) {
            digits.removeLast()
        }
        var value: Int64 = 0
        for byte in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(byte), value <= Int64.max >> 3 else {
                throw TarError("Archive \(name) field is not a valid octal number")
            }
            value = value << 3 + Int64(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// Encodes a ustar header block. Names and link names are cut at 100 bytes (a PAX header
    /// before it carries the whole one), numbers are clamped to their fields.
    static func encode(
        name: [UInt8],
        mode: UInt32,
        size: Int64,
        modificationTime: Int64,
        typeFlag: UInt8,
        linkName: [UInt8] = []
    ) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: TarFormat.blockSize)
        block.replaceSubrange(0..<min(name.count, 100), with: name.prefix(100))
        putOctal(Int64(mode & 0o7777), into: &block, at: 100, width: 8)
        putOctal(0, into: &block, at: 108, width: 8)
        putOctal(0, into: &block, at: 116, width: 8)
        putOctal(min(max(size, 0), TarFormat.maximumOctal11), into: &block, at: 124, width: 12)
        putOctal(min(max(modificationTime, 0), TarFormat.maximumOctal11), into: &block, at: 136, width: 12)
        block[156] = typeFlag
        block.replaceSubrange(157..<(157 + min(linkName.count, 100)), with: linkName.prefix(100))
        block.replaceSubrange(257..<265, with: Array("ustar".utf8) + [0] + Array("00".utf8))
        block.replaceSubrange(265..<269, with: Array("root".utf8))
        block.replaceSubrange(297..<301, with: Array("root".utf8))
        putOctal(0, into: &block, at: 329, width: 8)
        putOctal(0, into: &block, at: 337, width: 8)
        for index in 148..<156 {
            block[index] = UInt8(ascii: " ")
        }
        let checksum = block.reduce(0) { $0 + Int64($1) }
        putOctal(checksum, into: &block, at: 148, width: 7)
        return block
    }

    /// `width - 1` zero-padded octal digits and a NUL.
    private static func putOctal(_ value: Int64, into block: inout [UInt8], at offset: Int, width: Int) {
        var digits = Array(String(value, radix: 8).utf8)
        if digits.count < width - 1 {
            digits = [UInt8](repeating: UInt8(ascii: "0"), count: width - 1 - digits.count) + digits
        }
        block.replaceSubrange(offset..<(offset + width - 1), with: digits.suffix(width - 1))
        block[offset + width - 1] = 0
    }
}

/// PAX extended header records ("LENGTH KEY=VALUE\n").
enum PaxRecords {
    static func encode(_ records: [(key: String, value: String)]) -> [UInt8] {
        var data: [UInt8] = []
        for (key, value) in records {
            let bodyLength = 1 + key.utf8.count + 1 + value.utf8.count + 1  // " key=value\n"
            var length = bodyLength + 1
            while bodyLength + String(length).utf8.count != length {
                length = bodyLength + String(length).utf8.count
            }
            data += Array("\(length) \(key)=\(value)\n".utf8)
        }
        return data
    }

    static func decode(_ data: [UInt8]) throws(TarError) -> [String: String] {
        var records: [String: String] = [:]
        var index = 0
        while index < data.count {
            if data[index] == 0 {
                break  // padding after the last record
            }
            var length = 0
            var cursor = index
            while cursor < data.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(data[cursor]) {
                guard length < data.count else {
                    throw TarError("Malformed extended header: record length too large")
                }
                length = length * 10 + Int(data[cursor] - UInt8(ascii: "0"))
                cursor += 1
            }
            guard cursor > index, cursor < data.count, data[cursor] == UInt8(ascii: " "),
                length > cursor - index + 1, length <= data.count - index,
                data[index + length - 1] == UInt8(ascii: "\n")
            else {
                throw TarError("Malformed extended header")
            }
            let record = data[(cursor + 1)..<(index + length - 1)]
            guard let equals = record.firstIndex(of: UInt8(ascii: "=")), equals > record.startIndex else {
                throw TarError("Malformed extended header: missing '='")
            }
            let key = String(decoding: record[record.startIndex..<equals], as: UTF8.self)
            records[key] = String(decoding: record[(equals + 1)...], as: UTF8.self)
            index += length
        }
        return records
    }
}

/// The archive being read, a chunk of stdin (or of a file) at a time.
struct ArchiveInput {
    private let source: () async throws -> ByteBuffer?
    private var pending = ByteBuffer()
    private var sourceEnded = false
    /// Bytes consumed so far.
    private(set) var offset: Int64 = 0

    init(source: @escaping () async throws -> ByteBuffer?) {
        self.source = source
    }

    /// Makes `count` bytes readable; false when the input ends first.
    private mutating func fill(_ count: Int) async throws -> Bool {
        while pending.readableBytes < count {
            try Task.checkCancellation()
            guard !sourceEnded, let chunk = try await source() else {
                sourceEnded = true
                return false
            }
            if pending.readableBytes == 0 {
                pending = chunk
            } else {
                pending.discardReadBytes()
                pending.writeImmutableBuffer(chunk)
            }
        }
        return true
    }

    /// The next block; nil when the input ends exactly before it, an error when it ends inside.
    mutating func readBlock() async throws -> [UInt8]? {
        guard try await fill(TarFormat.blockSize) else {
            if pending.readableBytes == 0 {
                return nil
            }
            throw TarError("Unexpected EOF in archive")
        }
        offset += Int64(TarFormat.blockSize)
        return pending.readBytes(length: TarFormat.blockSize)!
    }

    /// Between 1 and `maximum` bytes of member data; an error when the input ends.
    mutating func readData(maximum: Int) async throws -> ByteBuffer {
        guard try await fill(1) else {
            throw TarError("Unexpected EOF in archive")
        }
        let count = min(maximum, pending.readableBytes)
        offset += Int64(count)
        return pending.readSlice(length: count)!
    }

    /// Exactly `count` bytes (capped by the caller).
    mutating func readBytes(_ count: Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count {
            var chunk = try await readData(maximum: count - bytes.count)
            bytes += chunk.readBytes(length: chunk.readableBytes)!
        }
        return bytes
    }

    /// Skips `count` bytes.
    mutating func skip(_ count: Int64) async throws {
        var remaining = count
        while remaining > 0 {
            let chunk = try await readData(maximum: Int(min(remaining, 1 << 20)))
            remaining -= Int64(chunk.readableBytes)
        }
    }
}

/// The archive being written, sent on in chunks of about 64 KiB.
struct ArchiveOutput {
    static let chunkSize = 64 * 1024

    private let sink: (ByteBuffer) async throws -> Void
    private var buffer = ByteBuffer()
    /// Bytes written so far.
    private(set) var offset: Int64 = 0

    init(sink: @escaping (ByteBuffer) async throws -> Void) {
        self.sink = sink
        self.buffer = ByteBufferAllocator().buffer(capacity: Self.chunkSize + TarFormat.blockSize)
    }

    mutating func write(_ bytes: [UInt8]) async throws {
        if buffer.readableBytes + bytes.count > Self.chunkSize {
            try await flush(ifAtLeast: 1)
        }
        buffer.writeBytes(bytes)
        offset += Int64(bytes.count)
        try await flush(ifAtLeast: Self.chunkSize)
    }

    /// Reads up to `maximum` bytes of a file straight into the archive; 0 at end of file.
    mutating func write(from file: FileDescriptor, maximum: Int) async throws -> Int {
        let room = Self.chunkSize - buffer.readableBytes
        let count = try file.read(into: &buffer, maximum: min(maximum, room))
        offset += Int64(count)
        try await flush(ifAtLeast: Self.chunkSize)
        return count
    }

    /// Zeros up to the next block boundary.
    mutating func padToBlock() async throws {
        let remainder = Int(offset % Int64(TarFormat.blockSize))
        if remainder != 0 {
            try await write([UInt8](repeating: 0, count: TarFormat.blockSize - remainder))
        }
    }

    /// The end of the archive: two zero blocks, padded to a whole record as GNU tar does.
    mutating func finish() async throws {
        try await padToBlock()
        try await write([UInt8](repeating: 0, count: 2 * TarFormat.blockSize))
        let remainder = Int(offset % Int64(TarFormat.recordSize))
        if remainder != 0 {
            try await write([UInt8](repeating: 0, count: TarFormat.recordSize - remainder))
        }
        try await flush(ifAtLeast: 1)
    }

    private mutating func flush(ifAtLeast threshold: Int) async throws {
        guard buffer.readableBytes >= threshold else {
            return
        }
        let chunk = buffer
        buffer = ByteBufferAllocator().buffer(capacity: Self.chunkSize + TarFormat.blockSize)
        try Task.checkCancellation()
        try await sink(chunk)
    }
}
