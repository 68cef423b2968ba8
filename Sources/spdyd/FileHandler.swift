import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSPDY
import SPDY
import SPDYToolSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// What every request handler needs: the folder, the port (for error pages) and the threads
/// that read files.
struct FileServerContext: Sendable {
    /// The folder served, absolute, with symbolic links resolved and no trailing '/'
    /// (except for "/" itself).
    let root: String
    /// The port named on error pages.
    let port: Int
    /// Reads file chunks off the event loops.
    let threadPool: NIOThreadPool
    /// The gzip-compressed error pages, by status code.
    let errorPages: [Int: ByteBuffer]
    /// Files up to ``FileHandler/inlineReadLimit`` served from memory while fresh.
    let fileCache: SmallFileCache

    init(root: String, port: Int, threadPool: NIOThreadPool, fileCache: SmallFileCache) {
        self.root = root
        self.port = port
        self.threadPool = threadPool
        self.fileCache = fileCache
        var pages: [Int: ByteBuffer] = [:]
        for code in [301, 400, 404, 500] {
            let status = "\(code) \(SPDYRequestHandler.reasonPhrase(for: code))"
            let html =
                "<html><head><title>\(status)</title></head><body><h1>\(status)</h1><hr>"
                + "<address>\(serverSoftware) at port \(port)</address></body></html>"
            if let compressed = try? ContentCoding.gzip(Array(html.utf8)) {
                pages[code] = ByteBuffer(bytes: compressed)
            }
        }
        self.errorPages = pages
    }
}

/// Answers one request with a file under the root (spdyd's `htdocs`).
final class FileHandler: SPDYRequestHandler {
    /// Set once at start (and again when port 0 was given, with the real port).
    static let context = NIOLockedValueBox<FileServerContext?>(nil)

    override class var serverVersion: String { serverSoftware }
    override class var sysVersion: String { "" }
    // Missing pseudo-headers get spdyd's own 400 page rather than the library's.
    override class var handlesIncompleteRequests: Bool { true }

    /// The size of the chunks read from disk.
    static let chunkSize = 128 * 1024
    /// Files up to this size are read on the event loop in one go; larger ones in chunks on
    /// the thread pool, with backpressure.
    static let inlineReadLimit = 64 * 1024

    /// Reads `size` bytes of `fd` from its start; `nil` when the file cannot be read whole.
    private func readWhole(fd: Int32, size: Int) -> ByteBuffer? {
        var buffer = ByteBufferAllocator().buffer(capacity: size)
        while buffer.readableBytes < size {
            let done = buffer.readableBytes
            var result = 0
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size - done) { bytes in
                result = pread(fd, bytes.baseAddress, size - done, off_t(done))
                return max(0, result)
            }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { return nil }
        }
        return buffer
    }

    override func handle() {
        guard let context = Self.context.withLockedValue({ $0 }) else {
            sendStatusPage(500, context: nil)
            return
        }
        for name in [":path", ":method", ":scheme", ":version", ":host"] where requestHeaders[name] == nil {
            sendStatusPage(400, context: context)
            return
        }
        let (rawPath, query) = splitQuery(path)
        if let query, query.contains("spdyd_do_not_respond_to_req=yes") {
            // The original's test hook: the stream stays open, unanswered.
            startStreaming()
            return
        }
        guard var decoded = percentDecode(rawPath), isSafe(decoded) else {
            sendStatusPage(404, context: context)
            return
        }
        if decoded.last == UInt8(ascii: "/") {
            decoded += Array("index.html".utf8)
        }
        serveFile(requestPath: decoded, rawPath: rawPath, context: context)
    }

    private func serveFile(requestPath: [UInt8], rawPath: Substring, context: FileServerContext) {
        // A small file checked within the cache's validity is served without a system call.
        if let file = context.fileCache.fresh(requestPath) {
            send(file)
            return
        }
        let candidate = context.root == "/" ? requestPath : Array(context.root.utf8) + requestPath
        // Resolve symbolic links, then require the result inside the (resolved) root.
        guard let resolved = realPath(candidate), isInside(resolved, root: context.root) else {
            sendStatusPage(404, context: context)
            return
        }
        let fd = resolved.withCString { open($0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) }
        guard fd >= 0 else {
            sendStatusPage(404, context: context)
            return
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            sendStatusPage(404, context: context)
            return
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            break
        case S_IFDIR:
            close(fd)
            sendStatusPage(301, context: context, extraHeaders: [("location", rawPath + "/")])
            return
        default:
            close(fd)
            sendStatusPage(404, context: context)
            return
        }
        let size = Int(info.st_size)
        let identity = SmallFileCache.Identity(
            device: UInt64(info.st_dev),
            inode: UInt64(info.st_ino),
            size: size,
            modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        )
        if size <= Self.inlineReadLimit {
            // A small regular file comes from the page cache in microseconds: reading it here
            // saves the two thread switches of the thread pool, and the whole response (headers
            // and body with FIN) leaves in one write. spdylay reads every file this way.
            if let file = context.fileCache.revalidate(requestPath, identity: identity) {
                close(fd)
                send(file)
                return
            }
            let body = size == 0 ? ByteBuffer() : readWhole(fd: fd, size: size)
            close(fd)
            guard let body else {
                sendError(500, message: "The file cannot be read")
                return
            }
            let file = SmallFileCache.File(
                identity: identity,
                contents: body,
                contentType: ContentTypes.type(forPath: requestPath),
                lastModified: Self.dateTimeString(Int(info.st_mtim.tv_sec))
            )
            context.fileCache.store(requestPath, file)
            send(file)
            return
        }
        let modified = Int(info.st_mtim.tv_sec)
        if let since = requestHeaders["if-modified-since"].flatMap(HTTPDate.parse), since >= modified {
            close(fd)
            sendResponse(304)
            return
        }
        sendResponse(200)
        sendHeader("content-length", String(size))
        sendHeader("cache-control", "max-age=3600")
        sendHeader("last-modified", Self.dateTimeString(modified))
        sendHeader("content-type", ContentTypes.type(forPath: requestPath))
        guard command != "HEAD" else {
            close(fd)
            return
        }
        let writer = startStreaming()
        let reader = FileStreamer(
            fd: fd, size: size, pool: context.threadPool, eventLoop: eventLoop, writer: writer,
            handler: UncheckedHandler(self))
        reader.readNext(offset: 0)
    }

    /// Answers with a small file read whole: 304 when If-Modified-Since is at or after its
    /// modification time, else 200 with the body (none for HEAD).
    private func send(_ file: SmallFileCache.File) {
        let modified = Int(file.identity.modified / 1_000_000_000)
        if let since = requestHeaders["if-modified-since"].flatMap(HTTPDate.parse), since >= modified {
            sendResponse(304)
            return
        }
        sendResponse(200)
        sendHeader("content-length", String(file.identity.size))
        sendHeader("cache-control", "max-age=3600")
        sendHeader("last-modified", file.lastModified)
        sendHeader("content-type", file.contentType)
        guard file.identity.size > 0, command != "HEAD" else { return }
        wfile.finish(with: file.contents)
    }

    /// The original's status page: a gzip-compressed HTML page naming the server and port
    /// (none for 304).
    private func sendStatusPage(
        _ code: Int, context: FileServerContext?, extraHeaders: [(String, String)] = []
    ) {
        sendResponse(code, message: Self.reasonPhrase(for: code))
        for (name, value) in extraHeaders { sendHeader(name, value) }
        guard let page = context?.errorPages[code] else { return }
        sendHeader("content-encoding", "gzip")
        sendHeader("content-type", "text/html; charset=UTF-8")
        sendHeader("content-length", String(page.readableBytes))
        if command != "HEAD" {
            wfile.write(page)
        }
    }
}

/// A request handler carried to the event loop it belongs to.
struct UncheckedHandler: @unchecked Sendable {
    let value: SPDYRequestHandler

    init(_ value: SPDYRequestHandler) {
        self.value = value
    }
}

/// Sends a file: reads a chunk on the thread pool, writes it to the response, and reads the
/// next one when the writer's queue is below its low watermark again — so a slow client
/// holds at most a few chunks in memory, never the whole file.
struct FileStreamer: Sendable {
    let fd: Int32
    let size: Int
    let pool: NIOThreadPool
    let eventLoop: any EventLoop
    let writer: SPDYResponseWriter
    let handler: UncheckedHandler

    func readNext(offset: Int) {
        let length = min(FileHandler.chunkSize, size - offset)
        let fd = self.fd
        pool.runIfActive(eventLoop: eventLoop) { () throws -> ByteBuffer in
            var buffer = ByteBufferAllocator().buffer(capacity: length)
            var done = 0
            while done < length {
                var result = 0
                buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length - done) { bytes in
                    result = pread(fd, bytes.baseAddress, length - done, off_t(offset + done))
                    return max(0, result)
                }
                if result < 0 && errno == EINTR { continue }
                guard result > 0 else {
                    // The file shrank or cannot be read: the promised length cannot be met.
                    throw ToolError("short read")
                }
                done += result
            }
            return buffer
        }
        // The last chunk ends the body with it: FIN rides on its DATA frame.
        .flatMap { chunk in offset + length < size ? writer.write(chunk) : writer.finish(with: chunk) }
        .whenComplete { result in
            switch result {
            case .success where offset + length < size:
                readNext(offset: offset + length)
            case .success:
                close(fd)
            case .failure:
                close(fd)
                // A stream that is gone is already closed; otherwise end it with an error.
                handler.value.resetStream()
            }
        }
    }
}

/// Splits `path?query`.
func splitQuery(_ path: String) -> (Substring, Substring?) {
    guard let mark = path.firstIndex(of: "?") else { return (path[...], nil) }
    return (path[..<mark], path[path.index(after: mark)...])
}

/// Percent-decodes a path into bytes; `nil` when it holds a NUL (encoded or not), which
/// no file name can contain. A '%' not followed by two hex digits stays as it is.
func percentDecode(_ path: Substring) -> [UInt8]? {
    let bytes = Array(path.utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var index = 0
    while index < bytes.count {
        let byte = bytes[index]
        if byte == UInt8(ascii: "%"), index + 2 < bytes.count,
            let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
        {
            out.append(high << 4 | low)
            index += 3
        } else {
            out.append(byte)
            index += 1
        }
    }
    return out.contains(0) ? nil : out
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}

/// The original's `check_path`: starts with '/', no '\\', no "/../" or "/./", and does not
/// end with "/.." or "/.".
func isSafe(_ path: [UInt8]) -> Bool {
    guard path.first == UInt8(ascii: "/"), !path.contains(UInt8(ascii: "\\")) else { return false }
    let dotDot = Array("/../".utf8)
    let dot = Array("/./".utf8)
    for start in path.indices {
        if path[start...].starts(with: dotDot) || path[start...].starts(with: dot) { return false }
    }
    return !path.ends(with: Array("/..".utf8)) && !path.ends(with: Array("/.".utf8))
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && self[(count - suffix.count)...].elementsEqual(suffix)
    }
}

/// `realpath(3)` of a byte path: `nil` when it does not exist or cannot be resolved.
func realPath(_ path: [UInt8]) -> String? {
    let resolved = (path + [0]).withUnsafeBufferPointer { bytes in
        bytes.withMemoryRebound(to: CChar.self) { realpath($0.baseAddress!, nil) }
    }
    guard let resolved else { return nil }
    defer { free(resolved) }
    return String(validatingCString: resolved)
}

/// Whether a resolved path is the root or under it.
func isInside(_ resolved: String, root: String) -> Bool {
    if resolved.utf8.elementsEqual(root.utf8) { return true }
    // Bytes, not Characters: String comparison would equate canonically equivalent names.
    let prefix = root.hasSuffix("/") ? root : root + "/"
    return resolved.utf8.starts(with: prefix.utf8)
}
