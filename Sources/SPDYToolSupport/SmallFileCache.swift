import NIOConcurrencyHelpers
import NIOCore

/// Small files a file server keeps in memory, so that a request for one costs no
/// system call while the copy is fresh.
///
/// Resolving a request path (`realpath`, which reads every symbolic link on the way),
/// opening, `fstat`-ing, reading and closing a 1 KiB file cost spdyd about 12–16 µs of
/// its 40 µs per request. A cached file is served as it was when it was last checked,
/// for at most ``Configuration-swift.struct/validity`` (1 s by default, like nginx's
/// `open_file_cache_valid`, whose default is 60 s): after that the next request resolves
/// the path again, checks it lies under the root, and compares the file's identity
/// (device, inode, size, modification time) with the cached one; the copy is reused when
/// they agree and replaced when they do not. A change to a file, or a symbolic link
/// pointed elsewhere, is therefore seen within the validity.
///
/// Memory is bounded by ``Configuration-swift.struct/maxTotalBytes`` (files larger than
/// ``Configuration-swift.struct/maxFileSize`` are never kept); when a new file does not
/// fit, the oldest entries go first. The cache is shared by the event loops behind one
/// lock, held for a dictionary lookup at a time.
public final class SmallFileCache: Sendable {
    /// The limits of a cache.
    public struct Configuration: Sendable, Hashable {
        /// The most bytes of file contents kept (32 MiB by default); 0 turns the cache off.
        public var maxTotalBytes: Int
        /// The largest file kept (64 KiB by default).
        public var maxFileSize: Int
        /// How long a cached file is served without looking at the file system again.
        public var validity: TimeAmount

        /// Creates limits.
        public init(maxTotalBytes: Int = 32 << 20, maxFileSize: Int = 64 << 10, validity: TimeAmount = .seconds(1)) {
            self.maxTotalBytes = maxTotalBytes
            self.maxFileSize = maxFileSize
            self.validity = validity
        }
    }

    /// What tells one version of a file from another.
    public struct Identity: Sendable, Hashable {
        public var device: UInt64
        public var inode: UInt64
        public var size: Int
        /// The modification time, in nanoseconds since the epoch.
        public var modified: Int64

        /// Creates an identity from `stat` fields.
        public init(device: UInt64, inode: UInt64, size: Int, modified: Int64) {
            self.device = device
            self.inode = inode
            self.size = size
            self.modified = modified
        }
    }

    /// A cached file.
    public struct File: Sendable {
        /// Which version of the file the contents are.
        public var identity: Identity
        /// The whole contents.
        public var contents: ByteBuffer
        /// The content type the server derived from the path.
        public var contentType: String
        /// The modification time as the server formats it (an HTTP date).
        public var lastModified: String

        /// Creates a cache entry.
        public init(identity: Identity, contents: ByteBuffer, contentType: String, lastModified: String) {
            self.identity = identity
            self.contents = contents
            self.contentType = contentType
            self.lastModified = lastModified
        }
    }

    private struct Entry {
        var file: File
        var checkedAt: NIODeadline
        /// Where the entry's key is in `order`, counted from the start of `order`'s life.
        var sequence: Int
    }

    private struct State {
        var entries: [[UInt8]: Entry] = [:]
        /// Keys oldest first (a key may appear again later when replaced; stale positions
        /// are skipped by their sequence number).
        var order: [(key: [UInt8], sequence: Int)] = []
        var orderStart = 0
        var nextSequence = 0
        var totalBytes = 0
    }

    /// The limits.
    public let configuration: Configuration
    private let now: @Sendable () -> NIODeadline
    private let state = NIOLockedValueBox(State())

    /// Creates a cache; `now` is the clock the validity is measured with.
    public init(configuration: Configuration = Configuration(), now: @escaping @Sendable () -> NIODeadline = { .now() })
    {
        self.configuration = configuration
        self.now = now
    }

    /// The file cached under `key` if it was checked within the validity.
    public func fresh(_ key: [UInt8]) -> File? {
        guard configuration.maxTotalBytes > 0 else { return nil }
        let time = now()
        return state.withLockedValue { state in
            guard let entry = state.entries[key], time - entry.checkedAt < configuration.validity else { return nil }
            return entry.file
        }
    }

    /// The file cached under `key` if it is still the version `identity` names: it then
    /// counts as checked now. A different version is dropped.
    public func revalidate(_ key: [UInt8], identity: Identity) -> File? {
        guard configuration.maxTotalBytes > 0 else { return nil }
        let time = now()
        return state.withLockedValue { state in
            guard let entry = state.entries[key] else { return nil }
            guard entry.file.identity == identity else {
                state.entries[key] = nil
                state.totalBytes -= entry.file.contents.readableBytes
                return nil
            }
            state.entries[key]!.checkedAt = time
            return entry.file
        }
    }

    /// Keeps `file` under `key` (when it is small enough), making room by dropping the
    /// oldest entries.
    public func store(_ key: [UInt8], _ file: File) {
        let size = file.contents.readableBytes
        guard size <= configuration.maxFileSize, size <= configuration.maxTotalBytes else { return }
        let time = now()
        state.withLockedValue { state in
            if let old = state.entries.removeValue(forKey: key) {
                state.totalBytes -= old.file.contents.readableBytes
            }
            while state.totalBytes + size > configuration.maxTotalBytes, state.orderStart < state.order.count {
                let (oldest, sequence) = state.order[state.orderStart]
                state.orderStart += 1
                if let entry = state.entries[oldest], entry.sequence == sequence {
                    state.entries[oldest] = nil
                    state.totalBytes -= entry.file.contents.readableBytes
                }
            }
            // Keep the order list proportional to the entries: once most of it is evicted
            // (before `orderStart`) or stale (replaced or dropped keys), keep only the live
            // positions.
            if state.order.count > 2 * state.entries.count + 64 {
                state.order = state.order[state.orderStart...].filter { state.entries[$0.key]?.sequence == $0.sequence }
                state.orderStart = 0
            }
            let sequence = state.nextSequence
            state.nextSequence += 1
            state.entries[key] = Entry(file: file, checkedAt: time, sequence: sequence)
            state.order.append((key, sequence))
            state.totalBytes += size
        }
    }

    /// The bytes of file contents kept.
    public var totalBytes: Int { state.withLockedValue { $0.totalBytes } }

    /// The number of files kept.
    public var count: Int { state.withLockedValue { $0.entries.count } }
}
