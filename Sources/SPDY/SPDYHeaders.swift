/// An ordered list of SPDY name/value pairs: the contents of a header block.
///
/// Names and values are kept as the bytes they are, so a value holding bytes
/// 0x80–0xff that are not UTF-8 survives a round trip unchanged; the
/// `String` accessors decode them as UTF-8 (replacing invalid sequences).
/// All pairs share one byte buffer, so a decoded header block costs two
/// allocations however many pairs it has.
///
/// When a block is sent, names are lowercased, pairs are sorted by name and
/// pairs with equal names are merged into one value joined by NUL, as the
/// protocol requires. A received block is split back into one pair per value.
public struct SPDYHeaders: Sendable {
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

    @usableFromInline var storage: [UInt8]
    @usableFromInline var fields: [Field]

    /// Creates an empty header list.
    public init() {
        self.storage = []
        self.fields = []
    }

    /// Creates a header list from name/value pairs, in order.
    public init(_ pairs: [(name: String, value: String)]) {
        self.init()
        self.reserveCapacity(pairs.count)
        for (name, value) in pairs {
            self.add(name: name, value: value)
        }
    }

    init(storage: [UInt8], fields: [Field]) {
        self.storage = storage
        self.fields = fields
    }

    /// Reserves room for `count` pairs.
    public mutating func reserveCapacity(_ count: Int) {
        fields.reserveCapacity(count)
        storage.reserveCapacity(count * 24)
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
        let nameStart = storage.count
        storage.append(contentsOf: nameBytes)
        let valueStart = storage.count
        storage.append(contentsOf: valueBytes)
        fields.append(
            Field(
                nameStart: UInt32(nameStart),
                nameLength: UInt32(valueStart - nameStart),
                valueStart: UInt32(valueStart),
                valueLength: UInt32(storage.count - valueStart)
            )
        )
    }

    mutating func appendField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let nameStart = storage.count
        storage.append(contentsOf: name)
        let valueStart = storage.count
        storage.append(contentsOf: value)
        fields.append(
            Field(
                nameStart: UInt32(nameStart),
                nameLength: UInt32(name.count),
                valueStart: UInt32(valueStart),
                valueLength: UInt32(value.count)
            )
        )
    }

    /// The bytes of the name of the pair at `index`.
    public func nameBytes(at index: Int) -> ArraySlice<UInt8> {
        storage[fields[index].nameRange]
    }

    /// The bytes of the value of the pair at `index`.
    public func valueBytes(at index: Int) -> ArraySlice<UInt8> {
        storage[fields[index].valueRange]
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
        let range = fields[index].nameRange
        var name = name
        return name.withUTF8 { wanted in
            guard wanted.count == range.count else { return false }
            var i = range.lowerBound
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
        for i in fields.indices where nameMatches(i, name) {
            return value(at: i)
        }
        return nil
    }

    /// Every value of the pairs named `name` (ASCII case-insensitive), in order.
    public func values(name: String) -> [String] {
        fields.indices.filter { nameMatches($0, name) }.map { value(at: $0) }
    }

    /// Whether a pair named `name` (ASCII case-insensitive) is present.
    public func contains(name: String) -> Bool {
        fields.indices.contains { nameMatches($0, name) }
    }

    /// Removes every pair named `name` (ASCII case-insensitive).
    public mutating func remove(name: String) {
        let keep = fields.indices.filter { !nameMatches($0, name) }
        guard keep.count != fields.count else { return }
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
    public var endIndex: Int { fields.count }

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
        guard lhs.fields.count == rhs.fields.count else { return false }
        for i in lhs.fields.indices {
            guard lhs.nameBytes(at: i).elementsEqual(rhs.nameBytes(at: i)),
                lhs.valueBytes(at: i).elementsEqual(rhs.valueBytes(at: i))
            else { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(fields.count)
        for i in fields.indices {
            hasher.combine(fields[i].nameLength)
            for b in nameBytes(at: i) { hasher.combine(b) }
            hasher.combine(fields[i].valueLength)
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
