/// A few objects of one class kept after use so the next use does not allocate.
///
/// The session makes three objects per request (a stream, the queued SYN_STREAM or
/// SYN_REPLY, the queued DATA) whose lives end at known points. `retire` keeps the
/// object there; `take` hands it out again only once nothing else refers to it
/// (`isKnownUniquelyReferenced`): a caller up the stack may still hold a stream it
/// just closed, and such an object is let go to ARC instead.
///
/// At most `limit` objects wait: enough for a burst of streams that all close
/// before the next burst opens (a client with 100 requests in flight), and a bounded
/// few KiB per session. When the session has no stream open, `trim` lets most of
/// them go, so an idle connection keeps only a handful.
struct ObjectRecycler<Object: AnyObject> {
    private var retired: [Object] = []
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Keeps an object whose use has ended (the caller has already released what it
    /// referred to that the application owns).
    @inline(__always)
    mutating func retire(_ object: Object) {
        if retired.count < limit {
            retired.append(object)
        }
    }

    /// Lets go of all but `count` retired objects.
    mutating func trim(to count: Int) {
        if retired.count > count {
            retired.removeLast(retired.count - count)
        }
    }

    /// A retired object nothing else refers to, or `nil`.
    @inline(__always)
    mutating func take() -> Object? {
        while var candidate = retired.popLast() {
            if isKnownUniquelyReferenced(&candidate) { return candidate }
        }
        return nil
    }
}
