import Foundation
import NIOConcurrencyHelpers
import NIOCore
import SPDYToolSupport
import Testing

/// The small-file cache spdyd serves from: freshness by an injected clock, revalidation by
/// file identity, and the memory bound.
@Suite("spdyd's small-file cache")
struct SmallFileCacheTests {
    /// A clock the test moves by hand.
    final class ManualClock: Sendable {
        private let time = NIOLockedValueBox(NIODeadline.uptimeNanoseconds(1_000_000_000))
        var now: NIODeadline { time.withLockedValue { $0 } }
        func advance(_ amount: TimeAmount) { time.withLockedValue { $0 = $0 + amount } }
    }

    static func file(_ text: String, inode: UInt64 = 1, modified: Int64 = 0) -> SmallFileCache.File {
        SmallFileCache.File(
            identity: .init(device: 1, inode: inode, size: text.utf8.count, modified: modified),
            contents: ByteBuffer(string: text),
            contentType: "text/plain",
            lastModified: "Thu, 01 Jan 1970 00:00:00 GMT"
        )
    }

    @Test("A stored file is fresh for the validity only; revalidating with the same identity makes it fresh again")
    func freshness() {
        let clock = ManualClock()
        let cache = SmallFileCache(configuration: .init(validity: .seconds(1)), now: { clock.now })
        let key = Array("/a.txt".utf8)
        #expect(cache.fresh(key) == nil)
        cache.store(key, Self.file("one"))
        #expect(cache.fresh(key)?.contents == ByteBuffer(string: "one"))
        clock.advance(.milliseconds(999))
        #expect(cache.fresh(key) != nil)
        clock.advance(.milliseconds(1))
        #expect(cache.fresh(key) == nil, "stale at the validity")
        let same = Self.file("one").identity
        #expect(cache.revalidate(key, identity: same)?.contents == ByteBuffer(string: "one"))
        #expect(cache.fresh(key) != nil, "checked again now")
    }

    @Test("A changed identity (size, modification time, inode) drops the copy")
    func changedIdentity() {
        let clock = ManualClock()
        let cache = SmallFileCache(now: { clock.now })
        let key = Array("/a.txt".utf8)
        for changed in [
            Self.file("two!").identity, Self.file("one", modified: 5).identity, Self.file("one", inode: 9).identity,
        ] {
            cache.store(key, Self.file("one"))
            #expect(cache.revalidate(key, identity: changed) == nil)
            #expect(cache.fresh(key) == nil)
            #expect(cache.count == 0 && cache.totalBytes == 0)
        }
    }

    @Test("Memory stays under the limit: the oldest files go first, large files are never kept, 0 keeps nothing")
    func bounded() {
        let cache = SmallFileCache(configuration: .init(maxTotalBytes: 1000, maxFileSize: 300))
        let text = String(repeating: "x", count: 250)
        for i in 0..<40 {
            cache.store(Array("/f\(i)".utf8), Self.file(text))
            #expect(cache.totalBytes <= 1000)
        }
        #expect(cache.count == 4)
        #expect(cache.fresh(Array("/f39".utf8)) != nil && cache.fresh(Array("/f36".utf8)) != nil)
        #expect(cache.fresh(Array("/f35".utf8)) == nil)
        // Replacing a key many times keeps one copy and a bounded history.
        for _ in 0..<10_000 {
            cache.store(Array("/f39".utf8), Self.file(text))
        }
        #expect(cache.count == 4 && cache.totalBytes == 1000)
        cache.store(Array("/big".utf8), Self.file(String(repeating: "y", count: 301)))
        #expect(cache.fresh(Array("/big".utf8)) == nil)

        let off = SmallFileCache(configuration: .init(maxTotalBytes: 0))
        off.store(Array("/a".utf8), Self.file("a"))
        #expect(off.fresh(Array("/a".utf8)) == nil && off.count == 0)
    }
}
