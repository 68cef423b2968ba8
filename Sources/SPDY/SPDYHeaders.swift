/// An ordered list of SPDY name/value pairs: the contents of a header block.
///
/// Names and values are kept as the bytes they are, so a value holding bytes
/// 0x80–0xff that are not UTF-8 survives a round trip unchanged; the
/// `String` accessors decode them as UTF-8 (replacing invalid sequences).
/// The pairs' positions and bytes share one buffer, so a decoded header block
/// costs one allocation however many pairs it has.
///
/// When a block is sent, names are lowercased, pairs are sorted by name and
/// pairs with equal names are merged into one value joined by NUL, as the
/// protocol requires. A received block is split back into one pair per value.
public struct SPDYHeaders: Sendable {
    /// Where a pair's name and value are, as offsets into the byte region.
    @usableFromInline
    struct Field: Sendable {
        @usableFromInline var nameStart: UInt32
        @usableFromInline var nameLength: UInt32
        @usableFromInline var valueStart: UInt32
        @usableFromInline var valueLength: UInt32

        @inlinable
        var nameRange: Range<Int> { Int(nameStart)..<Int(nameStart + nameLength) }
        @inlinable
        var valueRange: Range<Int> { Int(valueStart)..<Int(valueStart + valueLength) }
    }

    /// The number of fields (`UInt32`), the number of field slots (`UInt32`), the
    /// slots (a ``Field`` each, unaligned), then the byte region the fields point
    /// into. Empty for an empty list. One array keeps copy-on-write and `Sendable`
    /// for free and makes a decoded block a single allocation.
    @usableFromInline var storage: [UInt8]

    @usableFromInline static let headerSize = 8
    @usableFromInline static let slotSize = MemoryLayout<Field>.size

    /// Creates an empty header list.
    public init() {
        self.storage = []
    }

    /// Creates a header list from name/value pairs, in order.
    public init(_ pairs: [(name: String, value: String)]) {
        self.init()
        self.reserveCapacity(pairs.count)
        for (name, value) in pairs {
            self.add(name: name, value: value)
        }
    }

    /// A list of `fields` that point into a copy of `bytes`, in one allocation.
    init(bytes: UnsafeRawBufferPointer, fields: UnsafeBufferPointer<Field>) {
        // The storage is laid out in a scratch area first and then copied into the array
        // with `Array(UnsafeRawBufferPointer)`, the one way of making an array of known
        // size that is specialized for `UInt8` here: `init(unsafeUninitializedCapacity:)`
        // and `init(repeating:count:)` allocate through the standard library's
        // unspecialized code (a run-time metadata lookup, about 350 instructions), and
        // appending to a reserved array costs about as much in capacity checks.
        let tableEnd = Self.headerSize + fields.count * Self.slotSize
        let total = tableEnd + bytes.count
        storage = withUnsafeTemporaryAllocation(byteCount: total, alignment: 8) { scratch in
            let base = scratch.baseAddress!
            base.storeBytes(of: UInt32(fields.count), as: UInt32.self)
            base.storeBytes(of: UInt32(fields.count), toByteOffset: 4, as: UInt32.self)
            if let fieldBase = fields.baseAddress {
                (base + Self.headerSize).copyMemory(from: fieldBase, byteCount: fields.count * Self.slotSize)
            }
            if let bytesBase = bytes.baseAddress {
                (base + tableEnd).copyMemory(from: bytesBase, byteCount: bytes.count)
            }
            return Array(UnsafeRawBufferPointer(scratch))
        }
    }

    /// The number of pairs.
    @inlinable
    var fieldCount: Int {
        storage.isEmpty ? 0 : storage.withUnsafeBytes { Int($0.loadUnaligned(as: UInt32.self)) }
    }

    @inlinable
    var slotCount: Int {
        storage.isEmpty ? 0 : storage.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) }
    }

    /// Where the byte region starts in ``storage``.
    @inlinable
    var bytesStart: Int { Self.headerSize + slotCount * Self.slotSize }

    /// The field of the pair at `index`.
    @inlinable
    func field(_ index: Int) -> Field {
        precondition(index >= 0 && index < fieldCount, "header index out of range")
        return storage.withUnsafeBytes {
            $0.loadUnaligned(fromByteOffset: Self.headerSize + index * Self.slotSize, as: Field.self)
        }
    }

    /// Makes room for at least `count` fields in the table.
    private mutating func reserveSlots(_ count: Int) {
        let slots = slotCount
        guard count > slots else { return }
        if storage.isEmpty {
            storage = [UInt8](repeating: 0, count: Self.headerSize)
        }
        storage.insert(
            contentsOf: repeatElement(0, count: (count - slots) * Self.slotSize),
            at: Self.headerSize + slots * Self.slotSize
        )
        storage.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(count), toByteOffset: 4, as: UInt32.self) }
    }

    /// Reserves room for `count` pairs.
    public mutating func reserveCapacity(_ count: Int) {
        reserveSlots(count)
        storage.reserveCapacity(bytesStart + count * 24)
    }

    /// Appends a pair.
    public mutating func add(name: String, value: String) {
        var name = name
        var value = value
        name.withUTF8 { n in
            value.withUTF8 { v in
                appendField(name: UnsafeRawBufferPointer(n), value: UnsafeRawBufferPointer(v))
            }
        }
    }

    /// Appends a pair given as raw bytes (for values that are not UTF-8).
    public mutating func add<Name: Collection<UInt8>, Value: Collection<UInt8>>(nameBytes: Name, valueBytes: Value) {
        let index = prepareSlot()
        let nameStart = storage.count - bytesStart
        storage.append(contentsOf: nameBytes)
        let valueStart = storage.count - bytesStart
        storage.append(contentsOf: valueBytes)
        setField(
            index,
            Field(
                nameStart: UInt32(nameStart),
                nameLength: UInt32(valueStart - nameStart),
                valueStart: UInt32(valueStart),
                valueLength: UInt32(storage.count - bytesStart - valueStart)
            )
        )
    }

    mutating func appendField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let index = prepareSlot()
        let nameStart = storage.count - bytesStart
        storage.append(contentsOf: name)
        let valueStart = storage.count - bytesStart
        storage.append(contentsOf: value)
        setField(
            index,
            Field(
                nameStart: UInt32(nameStart),
                nameLength: UInt32(name.count),
                valueStart: UInt32(valueStart),
                valueLength: UInt32(value.count)
            )
        )
    }

    /// The index of a new field, with a slot for it (the table doubles when full).
    private mutating func prepareSlot() -> Int {
        let count = fieldCount
        if count == slotCount {
            reserveSlots(Swift.max(4, count * 2))
        }
        return count
    }

    private mutating func setField(_ index: Int, _ field: Field) {
        storage.withUnsafeMutableBytes {
            $0.storeBytes(of: field, toByteOffset: Self.headerSize + index * Self.slotSize, as: Field.self)
            $0.storeBytes(of: UInt32(index + 1), as: UInt32.self)
        }
    }

    /// The bytes of the name of the pair at `index`.
    public func nameBytes(at index: Int) -> ArraySlice<UInt8> {
        let range = field(index).nameRange
        let start = bytesStart
        return storage[(start + range.lowerBound)..<(start + range.upperBound)]
    }

    /// The bytes of the value of the pair at `index`.
    public func valueBytes(at index: Int) -> ArraySlice<UInt8> {
        let range = field(index).valueRange
        let start = bytesStart
        return storage[(start + range.lowerBound)..<(start + range.upperBound)]
    }

    /// The name of the pair at `index`.
    public func name(at index: Int) -> String {
        String(decoding: nameBytes(at: index), as: UTF8.self)
    }

    /// The value of the pair at `index`, decoded as UTF-8.
    public func value(at index: Int) -> String {
        String(decoding: valueBytes(at: index), as: UTF8.self)
    }

    private func nameMatches(_ index: Int, _ name: String) -> Bool {
        let range = field(index).nameRange
        let start = bytesStart
        var name = name
        return name.withUTF8 { wanted in
            guard wanted.count == range.count else { return false }
            var i = start + range.lowerBound
            for byte in wanted {
                if asciiLowercased(storage[i]) != asciiLowercased(byte) { return false }
                i += 1
            }
            return true
        }
    }

    /// The first value of the pair named `name` (ASCII case-insensitive), or `nil`.
    public subscript(name: String) -> String? {
        first(name: name)
    }

    /// The first value of the pair named `name` (ASCII case-insensitive), or `nil`.
    public func first(name: String) -> String? {
        for i in 0..<fieldCount where nameMatches(i, name) {
            return value(at: i)
        }
        return nil
    }

    /// Every value of the pairs named `name` (ASCII case-insensitive), in order.
    public func values(name: String) -> [String] {
        (0..<fieldCount).filter { nameMatches($0, name) }.map { value(at: $0) }
    }

    /// Whether a pair named `name` (ASCII case-insensitive) is present.
    public func contains(name: String) -> Bool {
        (0..<fieldCount).contains { nameMatches($0, name) }
    }

    /// Removes every pair named `name` (ASCII case-insensitive).
    public mutating func remove(name: String) {
        let keep = (0..<fieldCount).filter { !nameMatches($0, name) }
        guard keep.count != fieldCount else { return }
        var rebuilt = SPDYHeaders()
        for i in keep {
            rebuilt.add(nameBytes: nameBytes(at: i), valueBytes: valueBytes(at: i))
        }
        self = rebuilt
    }

    /// Replaces every pair named `name` by one pair `name: value`, or appends it.
    public mutating func replaceOrAdd(name: String, value: String) {
        remove(name: name)
        add(name: name, value: value)
    }
}

@inline(__always)
func asciiLowercased(_ byte: UInt8) -> UInt8 {
    (byte >= 0x41 && byte <= 0x5a) ? byte | 0x20 : byte
}

extension SPDYHeaders: RandomAccessCollection {
    /// A pair of the list.
    public typealias Element = (name: String, value: String)
    /// Positions are offsets from 0.
    public typealias Index = Int

    /// Always 0.
    public var startIndex: Int { 0 }
    /// The number of pairs.
    public var endIndex: Int { fieldCount }

    /// The pair at `position`.
    public subscript(position: Int) -> (name: String, value: String) {
        (name(at: position), value(at: position))
    }
}

extension SPDYHeaders: ExpressibleByArrayLiteral {
    /// Creates a header list from a literal of `(name, value)` pairs.
    public init(arrayLiteral elements: (String, String)...) {
        self.init()
        for (name, value) in elements {
            add(name: name, value: value)
        }
    }
}

extension SPDYHeaders: Hashable {
    /// Two lists are equal when they hold the same pairs, byte for byte, in the same order.
    public static func == (lhs: SPDYHeaders, rhs: SPDYHeaders) -> Bool {
        guard lhs.fieldCount == rhs.fieldCount else { return false }
        for i in 0..<lhs.fieldCount {
            guard lhs.nameBytes(at: i).elementsEqual(rhs.nameBytes(at: i)),
                lhs.valueBytes(at: i).elementsEqual(rhs.valueBytes(at: i))
            else { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(fieldCount)
        for i in 0..<fieldCount {
            let field = field(i)
            hasher.combine(field.nameLength)
            for b in nameBytes(at: i) { hasher.combine(b) }
            hasher.combine(field.valueLength)
            for b in valueBytes(at: i) { hasher.combine(b) }
        }
    }
}

extension SPDYHeaders: CustomStringConvertible {
    /// The pairs as `[name: value, …]`.
    public var description: String {
        "[" + self.map { "\($0.name): \($0.value)" }.joined(separator: ", ") + "]"
    }
}
