// The few POSIX calls the pod's commands make, with errno turned into a Swift error.
//
// Everything here works on host paths; PodFileSystem decides which host paths a pod path may
// reach. Nothing here follows a symbolic link unless the call says so.

import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failed system call: errno and, for messages, what the call was about.
struct PosixError: Error, Equatable {
    var code: Int32

    init(_ code: Int32) {
        self.code = code
    }

    /// strerror(code), as GNU tools print it ("No such file or directory").
    var message: String {
        guard let text = strerror(code) else {
            return "error \(code)"
        }
        return String(cString: text)
    }

    static var current: PosixError {
        PosixError(errno)
    }
}

enum FileKind: Equatable {
    case regular
    case directory
    case symlink
    case other
}

/// What lstat(2) says about a file, reduced to what the commands use.
struct FileInfo: Equatable {
    var kind: FileKind
    /// The permission bits (mode & 0o7777).
    var permissions: UInt32
    var size: Int64
    /// Seconds since the epoch.
    var modificationTime: Int64
    var device: UInt64
    var inode: UInt64

    init(_ status: stat) {
        let format = UInt32(status.st_mode) & 0o170_000
        switch format {
        case 0o100_000: self.kind = .regular
        case 0o040_000: self.kind = .directory
        case 0o120_000: self.kind = .symlink
        default: self.kind = .other
        }
        self.permissions = UInt32(status.st_mode) & 0o7777
        self.size = Int64(status.st_size)
        #if canImport(Darwin)
            self.modificationTime = Int64(status.st_mtimespec.tv_sec)
        #else
            self.modificationTime = Int64(status.st_mtim.tv_sec)
        #endif
        self.device = UInt64(truncatingIfNeeded: status.st_dev)
        self.inode = UInt64(truncatingIfNeeded: status.st_ino)
    }
}

enum Posix {
    /// lstat(2): never follows a final symbolic link.
    static func lstat(_ path: String) throws(PosixError) -> FileInfo {
        var status = stat()
        let result = path.withCString { systemLstat($0, &status) }
        guard result == 0 else {
            throw PosixError.current
        }
        return FileInfo(status)
    }

    /// lstat(2), nil when the file does not exist.
    static func lstatIfExists(_ path: String) throws(PosixError) -> FileInfo? {
        do throws(PosixError) {
            return try lstat(path)
        } catch {
            if error.code == ENOENT {
                return nil
            }
            throw error
        }
    }

    static func readlink(_ path: String) throws(PosixError) -> String {
        var size = 256
        while true {
            var buffer = [UInt8](repeating: 0, count: size)
            let count = buffer.withUnsafeMutableBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { chars in
                    path.withCString { systemReadlink($0, chars.baseAddress!, chars.count) }
                }
            }
            guard count >= 0 else {
                throw PosixError.current
            }
            if count < size {
                return String(decoding: buffer[0..<count], as: UTF8.self)
            }
            guard size < 1 << 20 else {
                throw PosixError(ENAMETOOLONG)
            }
            size *= 4
        }
    }

    /// The names in a directory, without "." and "..", sorted bytewise.
    static func listDirectory(_ path: String) throws(PosixError) -> [String] {
        guard let directory = opendir(path) else {
            throw PosixError.current
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." {
                names.append(name)
            }
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    static func mkdir(_ path: String, permissions: UInt32) throws(PosixError) {
        let result = path.withCString { systemMkdir($0, mode_t(permissions)) }
        guard result == 0 else {
            throw PosixError.current
        }
    }

    static func unlink(_ path: String) throws(PosixError) {
        guard path.withCString({ systemUnlink($0) }) == 0 else {
            throw PosixError.current
        }
    }

    static func rmdir(_ path: String) throws(PosixError) {
        guard path.withCString({ systemRmdir($0) }) == 0 else {
            throw PosixError.current
        }
    }

    static func symlink(target: String, at path: String) throws(PosixError) {
        let result = target.withCString { targetPointer in
            path.withCString { systemSymlink(targetPointer, $0) }
        }
        guard result == 0 else {
            throw PosixError.current
        }
    }

    /// link(2): a hard link at `path` to the existing `target` (never follows a symbolic link).
    static func link(existing target: String, at path: String) throws(PosixError) {
        let result = target.withCString { targetPointer in
            path.withCString { systemLink(targetPointer, $0) }
        }
        guard result == 0 else {
            throw PosixError.current
        }
    }

    /// Opens an existing file for reading, refusing a symbolic link as the final component.
    static func openForReading(_ path: String) throws(PosixError) -> FileDescriptor {
        let descriptor = path.withCString { systemOpen($0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0) }
        guard descriptor >= 0 else {
            throw PosixError.current
        }
        return FileDescriptor(descriptor)
    }

    /// Opens a directory without following a final symbolic link (for fchmod and futimens).
    static func openDirectory(_ path: String) throws(PosixError) -> FileDescriptor {
        let flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_DIRECTORY
        let descriptor = path.withCString { systemOpen($0, flags, 0) }
        guard descriptor >= 0 else {
            throw PosixError.current
        }
        return FileDescriptor(descriptor)
    }

    /// Creates a new file; fails if anything (a file, a symbolic link) is already there.
    static func createExclusive(_ path: String, permissions: UInt32) throws(PosixError) -> FileDescriptor {
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
        let descriptor = path.withCString { systemOpen($0, flags, mode_t(permissions)) }
        guard descriptor >= 0 else {
            throw PosixError.current
        }
        return FileDescriptor(descriptor)
    }

    /// Opens a file for writing, creating or truncating it; refuses a final symbolic link.
    static func createOrTruncate(_ path: String, permissions: UInt32) throws(PosixError) -> FileDescriptor {
        let flags = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC
        let descriptor = path.withCString { systemOpen($0, flags, mode_t(permissions)) }
        guard descriptor >= 0 else {
            throw PosixError.current
        }
        return FileDescriptor(descriptor)
    }
}

/// An open file descriptor; close it exactly once.
struct FileDescriptor: Sendable {
    var rawValue: Int32

    init(_ rawValue: Int32) {
        self.rawValue = rawValue
    }

    func close() {
        _ = systemClose(rawValue)
    }

    func info() throws(PosixError) -> FileInfo {
        var status = stat()
        guard fstat(rawValue, &status) == 0 else {
            throw PosixError.current
        }
        return FileInfo(status)
    }

    /// Reads up to `maximum` bytes onto the end of `buffer`; 0 at end of file.
    func read(into buffer: inout ByteBuffer, maximum: Int) throws(PosixError) -> Int {
        while true {
            var failure: Int32 = 0
            let count = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: maximum) { raw in
                let result = systemRead(rawValue, raw.baseAddress!, Swift.min(maximum, raw.count))
                if result < 0 {
                    failure = errno
                    return 0
                }
                return result
            }
            if failure == EINTR {
                continue
            }
            if failure != 0 {
                throw PosixError(failure)
            }
            return count
        }
    }

    /// Writes all the readable bytes of `buffer` (without moving its reader index).
    func writeAll(_ buffer: ByteBuffer) throws(PosixError) {
        var failure: Int32 = 0
        buffer.withUnsafeReadableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let result = systemWrite(rawValue, raw.baseAddress! + offset, raw.count - offset)
                if result < 0 {
                    if errno == EINTR {
                        continue
                    }
                    failure = errno
                    return
                }
                offset += result
            }
        }
        if failure != 0 {
            throw PosixError(failure)
        }
    }

    func setPermissions(_ permissions: UInt32) throws(PosixError) {
        guard fchmod(rawValue, mode_t(permissions)) == 0 else {
            throw PosixError.current
        }
    }

    /// Sets both the access and the modification time to `seconds` since the epoch.
    func setTimes(_ seconds: Int64) throws(PosixError) {
        var times = [
            timespec(tv_sec: time_t(seconds), tv_nsec: 0),
            timespec(tv_sec: time_t(seconds), tv_nsec: 0),
        ]
        guard futimens(rawValue, &times) == 0 else {
            throw PosixError.current
        }
    }
}

// The C calls under names that do not clash with the methods above.

private func systemLstat(_ path: UnsafePointer<CChar>, _ status: UnsafeMutablePointer<stat>) -> Int32 {
    lstat(path, status)
}

private func systemReadlink(_ path: UnsafePointer<CChar>, _ buffer: UnsafeMutablePointer<CChar>, _ size: Int) -> Int {
    readlink(path, buffer, size)
}

private func systemMkdir(_ path: UnsafePointer<CChar>, _ mode: mode_t) -> Int32 {
    mkdir(path, mode)
}

private func systemUnlink(_ path: UnsafePointer<CChar>) -> Int32 {
    unlink(path)
}

private func systemRmdir(_ path: UnsafePointer<CChar>) -> Int32 {
    rmdir(path)
}

private func systemSymlink(_ target: UnsafePointer<CChar>, _ path: UnsafePointer<CChar>) -> Int32 {
    symlink(target, path)
}

private func systemLink(_ target: UnsafePointer<CChar>, _ path: UnsafePointer<CChar>) -> Int32 {
    link(target, path)
}

private func systemOpen(_ path: UnsafePointer<CChar>, _ flags: Int32, _ mode: mode_t) -> Int32 {
    open(path, flags, mode)
}

private func systemClose(_ descriptor: Int32) -> Int32 {
    close(descriptor)
}

private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}

private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}
