/// The open streams of a session, by ID.
///
/// Stream IDs are not random keys: each side numbers its streams with consecutive odd
/// (client) or even (server) IDs, and the streams open at one time are mostly a short
/// run of recent IDs. So the table is open addressing with linear probing on the ID
/// itself (`id & mask`), not a hash: a run of live IDs shorter than the capacity lands
/// in distinct slots, and a lookup is an index, a load and a compare. This replaced a
/// `[SPDYStreamID: SPDYStream]`, whose SipHash and growth cost a SPDY/3 client about
/// 650 instructions per response (see docs/PERFORMANCE.md).
///
/// The load factor stays at most 1/2 (it grows by doubling); it shrinks by half
/// when it falls under 1/8, so the memory follows the streams that are open, not the
/// most that ever were. Removal shifts the following entries back (no tombstones).
///
/// The slots are memory of our own rather than an array: a `ContiguousArray` of
/// optionals is created and destroyed through the standard library's unspecialized
/// code, an element at a time, which made every resize cost about 50 instructions
/// per slot. The session owns its table alone and uses it from one thread at a time.
final class SPDYStreamTable {
    private static let minimumCapacity = 16

    @exclusivity(unchecked) private var slots: UnsafeMutablePointer<SPDYStream?>
    @exclusivity(unchecked) private var capacity: Int
    @exclusivity(unchecked) private var mask: Int
    /// The number of streams in the table.
    @exclusivity(unchecked) private(set) var count = 0

    init() {
        capacity = Self.minimumCapacity
        mask = capacity - 1
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: nil, count: capacity)
    }

    deinit {
        slots.deinitialize(count: capacity)
        slots.deallocate()
    }

    /// Whether the table holds no stream.
    var isEmpty: Bool { count == 0 }

    @inline(__always)
    private func home(of id: SPDYStreamID) -> Int {
        Int(id.rawValue) & mask
    }

    /// The stream with this ID, or `nil`.
    @inline(__always)
    subscript(id: SPDYStreamID) -> SPDYStream? {
        var index = home(of: id)
        while let stream = slots[index] {
            if stream.id == id { return stream }
            index = (index &+ 1) & mask
        }
        return nil
    }

    /// Adds a stream whose ID is not in the table.
    func insert(_ stream: SPDYStream) {
        if (count + 1) * 2 > capacity {
            resize(to: capacity * 2)
        }
        var index = home(of: stream.id)
        while let occupant = slots[index] {
            precondition(occupant.id != stream.id, "stream \(stream.id) is already open")
            index = (index &+ 1) & mask
        }
        slots[index] = stream
        count += 1
    }

    /// Removes and returns the stream with this ID, or returns `nil`.
    @discardableResult
    func remove(_ id: SPDYStreamID) -> SPDYStream? {
        var index = home(of: id)
        while true {
            guard let stream = slots[index] else { return nil }
            if stream.id == id { break }
            index = (index &+ 1) & mask
        }
        let removed = slots[index]
        slots[index] = nil
        count -= 1
        // Shift back the entries of the run that follows, so every entry stays
        // reachable from its home slot without crossing an empty one.
        var hole = index
        var next = index
        while true {
            next = (next &+ 1) & mask
            guard let stream = slots[next] else { break }
            let start = home(of: stream.id)
            // The entry may stay where it is when its home lies cyclically in (hole, next].
            let stays = hole <= next ? (hole < start && start <= next) : (hole < start || start <= next)
            if stays { continue }
            slots[hole] = stream
            slots[next] = nil
            hole = next
        }
        if count * 8 < capacity && capacity > Self.minimumCapacity {
            resize(to: capacity / 2)
        }
        return removed
    }

    private func resize(to newCapacity: Int) {
        let old = slots
        let oldCapacity = capacity
        slots = .allocate(capacity: newCapacity)
        slots.initialize(repeating: nil, count: newCapacity)
        capacity = newCapacity
        mask = newCapacity - 1
        for position in 0..<oldCapacity {
            guard let stream = (old + position).move() else { continue }
            var index = home(of: stream.id)
            while slots[index] != nil {
                index = (index &+ 1) & mask
            }
            (slots + index).initialize(to: stream)
        }
        old.deallocate()
    }

    /// The open streams, in no particular order. The sequence is a snapshot: streams
    /// opened or closed while it is iterated do not change it.
    var values: [SPDYStream] {
        var result: [SPDYStream] = []
        result.reserveCapacity(count)
        for position in 0..<capacity {
            if let stream = slots[position] { result.append(stream) }
        }
        return result
    }

    /// The IDs of the open streams, in increasing order.
    var sortedIDs: [SPDYStreamID] {
        values.map(\.id).sorted()
    }
}
