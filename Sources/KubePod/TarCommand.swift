// `tar`: create (c), extract (x) and list (t), enough for `kubectl cp` both ways.
//
// kubectl cp runs, in the pod:
//   to the pod:   test -d DEST, then tar -xmf - [-C DIR] (or tar --no-same-permissions
//                 --no-same-owner -xmf - [-C DIR] with --no-preserve), the archive on stdin;
//   from the pod: tar cf - PATH, the archive on stdout (sh -c "tar cf - PATH | tail -c+N"
//                 with --retries), then checks that every member name starts with PATH without
//                 its leading "/" -- so names are stored as GNU tar stores them.
//
// Extraction is confined: a member name that is absolute or has a ".." component is refused
// (reported, its data skipped, and tar exits 2 at the end), a symbolic link already on the way
// to a member is never followed (the member is refused), and an existing file is replaced by
// unlinking it first, so no write goes through a link. Symbolic links in the archive are
// created as they are (every later access through them is resolved inside the pod's root);
// hard links must point at a regular file extracted under the same directory.

import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

struct TarCommand {
    let fileSystem: PodFileSystem

    enum Mode {
        case create
        case extract
        case list
    }

    struct Options {
        var mode: Mode?
        /// The archive: nil or "-" for stdin / stdout, otherwise a pod path.
        var archive: String?
        /// Operands, each with the -C directory in force where it appeared (create).
        var operands: [(directory: String?, path: String)] = []
        /// The last -C (extract and list).
        var directory: String?
        /// False with -m / --touch: extracted files keep the extraction time.
        var restoreModificationTime = true
        /// False with --no-same-permissions: modes are masked with umask 022.
        var samePermissions = true
    }

    /// A usage error (exit 2 after "Try 'tar --help'...").
    struct UsageError: Error {
        var message: String
    }

    /// Directories whose mode and time are set at the end, at most this many.
    static let maximumDelayedDirectories = 10_000

    func run(_ arguments: [String], io: CommandIO) async -> Int32 {
        let options: Options
        do {
            options = try Self.parse(arguments)
        } catch {
            await io.error("tar: \(error.message)")
            await io.error("Try 'tar --help' or 'tar --usage' for more information.")
            return 2
        }
        var run = TarRun(fileSystem: fileSystem, options: options, io: io)
        do {
            switch options.mode {
            case .create: try await run.create()
            case .extract, .list: try await run.extractOrList()
            case nil: break
            }
        } catch let error as TarError {
            await io.error("tar: \(error.message)")
            await io.error("tar: Error is not recoverable: exiting now")
            return 2
        } catch is CancellationError {
            return 130
        } catch {
            // Writing the archive failed: the reader went away.
            return 2
        }
        if run.failed {
            await io.error("tar: Exiting with failure status due to previous errors")
            return 2
        }
        return run.changed ? 1 : 0
    }

    // MARK: - Options

    /// Parses GNU tar's three styles: "cf - x" (old, bundled, no dash), "-xmf - -C dir" and
    /// "--extract --file=-".
    static func parse(_ arguments: [String]) throws(UsageError) -> Options {
        var options = Options()
        var currentDirectory: String?
        var index = 0

        func setMode(_ mode: Mode) throws(UsageError) {
            if let existing = options.mode, existing != mode {
                throw UsageError(
                    message: "You may not specify more than one '-Acdtrux', '--delete' or '--test-label' option")
            }
            options.mode = mode
        }

        func setArgument(_ option: Character, _ value: String) {
            if option == "f" {
                options.archive = value
            } else {
                currentDirectory = value
                options.directory = value
            }
        }

        /// Applies a short option; true when it takes an argument.
        func apply(_ option: Character) throws(UsageError) -> Bool {
            switch option {
            case "c": try setMode(.create)
            case "x": try setMode(.extract)
            case "t": try setMode(.list)
            case "f", "C": return true
            case "m": options.restoreModificationTime = false
            case "p": options.samePermissions = true
            case "v", "o": break
            case "z", "j", "J", "Z", "a":
                throw UsageError(
                    message: "compression (-\(option)) is not supported by this pod's tar; send an uncompressed archive"
                )
            default:
                throw UsageError(message: "invalid or unsupported option -- '\(option)'")
            }
            return false
        }

        // The old style: the first argument is a bundle of letters without a dash, and the
        // letters that take an argument take the next arguments in order.
        if let first = arguments.first, !first.isEmpty, !first.hasPrefix("-") {
            index = 1
            for option in first {
                if try apply(option) {
                    guard index < arguments.count else {
                        throw UsageError(message: "option requires an argument -- '\(option)'")
                    }
                    setArgument(option, arguments[index])
                    index += 1
                }
            }
        }

        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                options.operands += arguments[index...].map { (currentDirectory, $0) }
                break
            }
            if argument.hasPrefix("--") {
                let body = argument.dropFirst(2)
                let name = String(body.prefix(while: { $0 != "=" }))
                let value: String? = body.contains("=") ? String(body.drop(while: { $0 != "=" }).dropFirst()) : nil
                func requireValue() throws(UsageError) -> String {
                    if let value {
                        return value
                    }
                    guard index < arguments.count else {
                        throw UsageError(message: "option '--\(name)' requires an argument")
                    }
                    index += 1
                    return arguments[index - 1]
                }
                switch name {
                case "create": try setMode(.create)
                case "extract", "get": try setMode(.extract)
                case "list": try setMode(.list)
                case "file": setArgument("f", try requireValue())
                case "directory": setArgument("C", try requireValue())
                case "touch": options.restoreModificationTime = false
                case "no-same-permissions": options.samePermissions = false
                case "same-permissions", "preserve-permissions": options.samePermissions = true
                case "verbose", "no-same-owner", "same-owner", "numeric-owner", "overwrite", "unlink-first",
                    "no-overwrite-dir", "recursion", "totals", "format", "warning", "blocking-factor", "record-size":
                    if ["format", "warning", "blocking-factor", "record-size"].contains(name) {
                        _ = try requireValue()  // accepted, and without effect here
                    }
                case "gzip", "gunzip", "ungzip", "bzip2", "xz", "lzip", "lzma", "lzop", "zstd", "compress",
                    "uncompress", "auto-compress", "use-compress-program":
                    throw UsageError(
                        message:
                            "compression (--\(name)) is not supported by this pod's tar; send an uncompressed archive")
                default:
                    throw UsageError(message: "unrecognized or unsupported option '\(argument)'")
                }
                continue
            }
            if argument.hasPrefix("-") && argument.count > 1 {
                let letters = Array(argument.dropFirst())
                for (position, option) in letters.enumerated() {
                    if try apply(option) {
                        let rest = String(letters[(position + 1)...])
                        if !rest.isEmpty {
                            setArgument(option, rest)
                        } else {
                            guard index < arguments.count else {
                                throw UsageError(message: "option requires an argument -- '\(option)'")
                            }
                            setArgument(option, arguments[index])
                            index += 1
                        }
                        break
                    }
                }
                continue
            }
            options.operands.append((currentDirectory, argument))
        }
        guard options.mode != nil else {
            throw UsageError(message: "You must specify one of the '-Acdtrux', '--delete' or '--test-label' options")
        }
        return options
    }
}

/// Member names as GNU tar stores them.
enum TarNames {
    /// GNU tar's safer_name_suffix: drops leading slashes and every leading component up to
    /// and including the last ".." one.
    static func saferName(_ text: String) -> (name: String, removed: String?) {
        let bytes = Array(text.utf8)
        let slash = UInt8(ascii: "/")
        let dot = UInt8(ascii: ".")
        var prefixLength = 0
        var index = 0
        while index < bytes.count {
            if bytes[index] == dot && index + 1 < bytes.count && bytes[index + 1] == dot
                && (index + 2 == bytes.count || bytes[index + 2] == slash)
            {
                prefixLength = index + 2
            }
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if byte == slash {
                    break
                }
            }
        }
        while prefixLength < bytes.count && bytes[prefixLength] == slash {
            prefixLength += 1
        }
        guard prefixLength > 0 else {
            return (text, nil)
        }
        return (
            String(decoding: bytes[prefixLength...], as: UTF8.self),
            String(decoding: bytes[..<prefixLength], as: UTF8.self)
        )
    }
}

/// One run of tar: its state and its two directions.
private struct TarRun {
    let fileSystem: PodFileSystem
    let options: TarCommand.Options
    let io: CommandIO
    /// Something went wrong but tar went on (exit 2 at the end).
    var failed = false
    /// A file changed while it was read (exit 1 at the end, as GNU tar).
    var changed = false
    private var warnedPrefixes: Set<String> = []

    init(fileSystem: PodFileSystem, options: TarCommand.Options, io: CommandIO) {
        self.fileSystem = fileSystem
        self.options = options
        self.io = io
    }

    private var usesStandardStreams: Bool {
        options.archive == nil || options.archive == "-"
    }

    private var permissionMask: UInt32 {
        options.samePermissions ? 0o777 : 0o755
    }

    /// Reports a problem with one member and goes on.
    private mutating func report(_ message: String) async {
        await io.error("tar: \(message)")
        failed = true
    }

    // MARK: - Create

    mutating func create() async throws {
        guard !options.operands.isEmpty else {
            throw TarError("Cowardly refusing to create an empty archive")
        }
        var archiveIdentity: (device: UInt64, inode: UInt64)?
        var archiveFile: FileDescriptor?
        defer { archiveFile?.close() }
        var output: ArchiveOutput
        if usesStandardStreams {
            output = ArchiveOutput(sink: io.writeStdout)
        } else {
            let path = options.archive!
            do {
                let resolved = try fileSystem.resolve(path, followFinalSymlink: true)
                if resolved.info?.kind == .directory {
                    throw PosixError(EISDIR)
                }
                let file = try Posix.createOrTruncate(resolved.hostPath, permissions: 0o644)
                archiveFile = file
                let info = try file.info()
                archiveIdentity = (info.device, info.inode)
            } catch let error as PosixError {
                throw TarError("\(path): Cannot open: \(error.message)")
            }
            let file = archiveFile!
            output = ArchiveOutput(sink: { try file.writeAll($0) })
        }
        for (directory, operand) in options.operands {
            var start: [String] = []
            if let directory {
                do {
                    let resolved = try fileSystem.resolve(directory, followFinalSymlink: true)
                    guard resolved.info?.kind == .directory else {
                        throw PosixError(resolved.info == nil ? ENOENT : ENOTDIR)
                    }
                    start = resolved.components
                } catch let error as PosixError {
                    throw TarError("\(directory): Cannot open: \(error.message)")
                }
            }
            let resolved: PodFileSystem.Resolved
            do {
                resolved = try fileSystem.resolve(operand, from: start, followFinalSymlink: false)
                guard resolved.info != nil else {
                    throw PosixError(ENOENT)
                }
            } catch let error as PosixError {
                await report("\(operand): Cannot stat: \(error.message)")
                continue
            }
            try await archiveTree(
                hostPath: resolved.hostPath, shownAs: operand, into: &output, skipping: archiveIdentity)
        }
        try await output.finish()
    }

    /// Archives a file or a directory and everything below it (depth first, names sorted),
    /// without following symbolic links.
    private mutating func archiveTree(
        hostPath: String,
        shownAs operand: String,
        into output: inout ArchiveOutput,
        skipping archive: (device: UInt64, inode: UInt64)?
    ) async throws {
        var stack: [(hostPath: String, text: String)] = [(hostPath, operand)]
        while let (path, text) = stack.popLast() {
            try Task.checkCancellation()
            let info: FileInfo
            do throws(PosixError) {
                info = try Posix.lstat(path)
            } catch {
                await report("\(text): Cannot stat: \(error.message)")
                continue
            }
            let name = await memberName(text, isDirectory: info.kind == .directory)
            switch info.kind {
            case .directory:
                let children: [String]
                do throws(PosixError) {
                    children = try Posix.listDirectory(path)
                } catch {
                    await report("\(text): Cannot open: \(error.message)")
                    continue
                }
                try await writeHeader(
                    name: name,
                    info: info,
                    size: 0,
                    typeFlag: TarFormat.directory,
                    into: &output
                )
                let parentText =
                    text.allSatisfy { $0 == "/" } ? "" : String(text.reversed().drop(while: { $0 == "/" }).reversed())
                for child in children.reversed() {
                    stack.append((path + "/" + child, parentText + "/" + child))
                }
            case .symlink:
                let target: String
                do throws(PosixError) {
                    target = try Posix.readlink(path)
                } catch {
                    await report("\(text): Cannot readlink: \(error.message)")
                    continue
                }
                try await writeHeader(
                    name: name,
                    info: info,
                    size: 0,
                    typeFlag: TarFormat.symbolicLink,
                    linkName: target,
                    into: &output
                )
            case .regular:
                if let archive, archive.device == info.device && archive.inode == info.inode {
                    await io.error("tar: \(text): file is the archive; not dumped")
                    continue
                }
                let file: FileDescriptor
                do throws(PosixError) {
                    file = try Posix.openForReading(path)
                } catch {
                    await report("\(text): Cannot open: \(error.message)")
                    continue
                }
                defer { file.close() }
                try await writeHeader(
                    name: name, info: info, size: info.size, typeFlag: TarFormat.regular, into: &output)
                var remaining = info.size
                while remaining > 0 {
                    try Task.checkCancellation()
                    let count: Int
                    do {
                        count = try await output.write(from: file, maximum: Int(min(remaining, Int64(fileChunkSize))))
                    } catch let error as PosixError {
                        await report("\(text): Read error: \(error.message)")
                        count = 0
                    }
                    if count == 0 {
                        // The file shrank (or could not be read): keep the archive consistent.
                        if !failed {
                            await io.error("tar: \(text): File shrank by \(remaining) bytes; padding with zeros")
                        }
                        changed = true
                        var zeros = remaining
                        while zeros > 0 {
                            let piece = Int(min(zeros, Int64(fileChunkSize)))
                            try await output.write([UInt8](repeating: 0, count: piece))
                            zeros -= Int64(piece)
                        }
                        break
                    }
                    remaining -= Int64(count)
                }
                try await output.padToBlock()
            case .other:
                await io.error("tar: \(text): special file not archived")
            }
        }
    }

    /// The member name GNU tar stores for an operand (or a path below one): without leading
    /// "/" and without anything up to the last ".." component, printing "Removing leading
    /// `PREFIX' from member names" once per prefix; a directory's name ends with "/".
    private mutating func memberName(_ text: String, isDirectory: Bool) async -> String {
        let (stripped, removed) = TarNames.saferName(text)
        if let removed, !warnedPrefixes.contains(removed) {
            if warnedPrefixes.count < 1000 {
                warnedPrefixes.insert(removed)
            }
            await io.error("tar: Removing leading `\(removed)' from member names")
        }
        var name = String(stripped.reversed().drop(while: { $0 == "/" }).reversed())
        if isDirectory {
            name = name.isEmpty ? "./" : name + "/"
        } else if name.isEmpty {
            name = "."
        }
        return name
    }

    /// A ustar header, preceded by a PAX header when the name or link name is over 100 bytes
    /// or the size over 8 GiB.
    private func writeHeader(
        name: String,
        info: FileInfo,
        size: Int64,
        typeFlag: UInt8,
        linkName: String = "",
        into output: inout ArchiveOutput
    ) async throws {
        var records: [(key: String, value: String)] = []
        if name.utf8.count > 100 {
            records.append(("path", name))
        }
        if linkName.utf8.count > 100 {
            records.append(("linkpath", linkName))
        }
        if size > TarFormat.maximumOctal11 {
            records.append(("size", String(size)))
        }
        if !records.isEmpty {
            let data = PaxRecords.encode(records)
            let base = name.split(separator: "/").last.map(String.init) ?? "entry"
            let paxName = Array(("PaxHeaders/" + base).utf8.prefix(100))
            try await output.write(
                TarHeader.encode(
                    name: paxName,
                    mode: 0o644,
                    size: Int64(data.count),
                    modificationTime: info.modificationTime,
                    typeFlag: TarFormat.paxExtended
                )
            )
            try await output.write(data)
            try await output.padToBlock()
        }
        try await output.write(
            TarHeader.encode(
                name: Array(name.utf8),
                mode: info.permissions,
                size: size,
                modificationTime: info.modificationTime,
                typeFlag: typeFlag,
                linkName: Array(linkName.utf8)
            )
        )
    }

    // MARK: - Extract and list

    /// A member of the archive with its extended headers applied.
    private struct Member {
        var name: String
        var linkName: String
        var size: Int64
        var mode: UInt32
        var modificationTime: Int64?
        var typeFlag: UInt8
    }

    mutating func extractOrList() async throws {
        var archiveFile: FileDescriptor?
        defer { archiveFile?.close() }
        var input: ArchiveInput
        if usesStandardStreams {
            let io = self.io
            input = ArchiveInput(source: { try await io.nextStdinChunk() })
        } else {
            let path = options.archive!
            do {
                let resolved = try fileSystem.resolve(path, followFinalSymlink: true)
                guard let info = resolved.info else {
                    throw PosixError(ENOENT)
                }
                guard info.kind == .regular else {
                    throw PosixError(info.kind == .directory ? EISDIR : EACCES)
                }
                archiveFile = try Posix.openForReading(resolved.hostPath)
            } catch let error as PosixError {
                throw TarError("\(path): Cannot open: \(error.message)")
            }
            let file = archiveFile!
            input = ArchiveInput(source: {
                var chunk = ByteBufferAllocator().buffer(capacity: fileChunkSize)
                return try file.read(into: &chunk, maximum: fileChunkSize) > 0 ? chunk : nil
            })
        }

        var base: [String] = []
        if options.mode == .extract, let directory = options.directory {
            do {
                let resolved = try fileSystem.resolve(directory, followFinalSymlink: true)
                guard let info = resolved.info else {
                    throw PosixError(ENOENT)
                }
                guard info.kind == .directory else {
                    throw PosixError(ENOTDIR)
                }
                base = resolved.components
            } catch let error as PosixError {
                throw TarError("\(directory): Cannot open: \(error.message)")
            }
        }
        let baseHostPath = fileSystem.hostPath(base)

        let selections = options.operands.map { operand in
            String(operand.path.reversed().drop(while: { $0 == "/" }).reversed())
        }
        var matched = Set<String>()
        var delayedDirectories: [(path: String, mode: UInt32, time: Int64?)] = []
        var extendedPath: String?
        var extendedLink: String?
        var extendedSize: Int64?
        var extendedTime: Int64?
        var sawHeader = false

        while let block = try await input.readBlock() {
            guard block.contains(where: { $0 != 0 }) else {
                break  // end of archive (GNU tar also accepts a lone zero block)
            }
            let header: TarHeader
            do {
                header = try TarHeader.decode(block)
            } catch {
                let position = "\(error.message) at byte \(input.offset - Int64(TarFormat.blockSize))"
                throw TarError(sawHeader ? position : "This does not look like a tar archive (\(position))")
            }
            sawHeader = true
            switch header.typeFlag {
            case TarFormat.paxExtended, TarFormat.paxGlobal:
                guard header.size <= Int64(TarFormat.maximumExtendedHeaderSize) else {
                    throw TarError("Extended header of \(header.size) bytes is too large")
                }
                let records = try PaxRecords.decode(try await input.readBytes(Int(header.size)))
                try await input.skip(TarFormat.padded(header.size) - header.size)
                if header.typeFlag == TarFormat.paxExtended {
                    if let path = records["path"] {
                        extendedPath = path
                    }
                    if let link = records["linkpath"] {
                        extendedLink = link
                    }
                    if let size = records["size"] {
                        guard let value = Int64(size), value >= 0, value <= TarFormat.maximumMemberSize else {
                            throw TarError("Malformed extended header: invalid size '\(size)'")
                        }
                        extendedSize = value
                    }
                    if let time = records["mtime"] {
                        extendedTime = Int64(time.prefix(while: { $0 != "." }))
                    }
                }
                continue
            case TarFormat.gnuLongName, TarFormat.gnuLongLink:
                guard header.size <= Int64(TarFormat.maximumLongNameSize) else {
                    throw TarError("Long name of \(header.size) bytes is too large")
                }
                let data = try await input.readBytes(Int(header.size))
                try await input.skip(TarFormat.padded(header.size) - header.size)
                let text = String(decoding: data.prefix(while: { $0 != 0 }), as: UTF8.self)
                if header.typeFlag == TarFormat.gnuLongName {
                    extendedPath = text
                } else {
                    extendedLink = text
                }
                continue
            default:
                break
            }

            let member = Member(
                name: extendedPath ?? header.name,
                linkName: extendedLink ?? header.linkName,
                size: extendedSize ?? header.size,
                mode: header.mode,
                modificationTime: extendedTime ?? header.modificationTime,
                typeFlag: header.typeFlag
            )
            extendedPath = nil
            extendedLink = nil
            extendedSize = nil
            extendedTime = nil
            // Only regular files carry data in the sense of the format, but whatever a header
            // says it carries is skipped for every other type too.
            var dataLeft = member.size

            if !selections.isEmpty {
                let trimmed = String(member.name.reversed().drop(while: { $0 == "/" }).reversed())
                guard let selection = selections.first(where: { trimmed == $0 || trimmed.hasPrefix($0 + "/") }) else {
                    try await input.skip(TarFormat.padded(dataLeft))
                    continue
                }
                matched.insert(selection)
            }

            if options.mode == .list {
                try await io.print(member.name + "\n")
                try await input.skip(TarFormat.padded(dataLeft))
                continue
            }

            do {
                try await extract(
                    member,
                    base: baseHostPath,
                    input: &input,
                    dataLeft: &dataLeft,
                    delayedDirectories: &delayedDirectories
                )
            } catch let error as MemberError {
                await report("\(member.name): \(error.message)")
            }
            try await input.skip(dataLeft + TarFormat.padded(member.size) - member.size)
        }
        if !sawHeader {
            throw TarError("This does not look like a tar archive")
        }

        // Directory modes and times last, deepest first, so that extracting into a directory
        // did not change its time and a read-only directory could still be filled.
        for directory in delayedDirectories.reversed() {
            applyDirectoryStatus(path: directory.path, mode: directory.mode, time: directory.time)
        }
        for selection in selections where !matched.contains(selection) {
            await report("\(selection): Not found in archive")
        }
    }

    /// Why one member could not be extracted; tar reports it and goes on.
    private struct MemberError: Error {
        var message: String

        init(_ message: String) {
            self.message = message
        }

        init(_ action: String, _ error: PosixError) {
            self.message = "\(action): \(error.message)"
        }
    }

    /// The components of a member name, refused when absolute or with "..".
    private static func components(of name: String) throws(MemberError) -> [String] {
        guard !name.contains("\0") else {
            throw MemberError("Refusing a member name with a NUL byte")
        }
        guard !name.hasPrefix("/") else {
            throw MemberError("Refusing to extract a member with an absolute name")
        }
        let components = name.split(separator: "/").map(String.init).filter { $0 != "." }
        guard !components.contains("..") else {
            throw MemberError("Refusing to extract a member whose name contains '..'")
        }
        return components
    }

    /// Makes the directories above a member (0755), refusing to go through a symbolic link or
    /// anything but a directory; returns the host path of the member.
    private func prepareParents(_ components: [String], base: String) throws(MemberError) -> String {
        var path = base
        for component in components.dropLast() {
            path += "/" + component
            let existing: FileInfo?
            do throws(PosixError) {
                existing = try Posix.lstatIfExists(path)
            } catch {
                throw MemberError("Cannot open", error)
            }
            if let existing {
                switch existing.kind {
                case .directory:
                    continue
                case .symlink:
                    throw MemberError("Cannot open: refusing to extract through the symbolic link '\(component)'")
                default:
                    throw MemberError("Cannot mkdir", PosixError(ENOTDIR))
                }
            }
            do throws(PosixError) {
                try Posix.mkdir(path, permissions: 0o755)
            } catch {
                if error.code == EEXIST, (try? Posix.lstat(path))?.kind == .directory {
                    continue
                }
                throw MemberError("Cannot mkdir", error)
            }
        }
        return path + "/" + components.last!
    }

    /// Removes what is at `path` unless it is a directory (GNU tar's default: unlink, then
    /// create), so that nothing is ever written through an existing link.
    private func clear(_ path: String, for action: String) throws(MemberError) {
        do throws(PosixError) {
            guard let info = try Posix.lstatIfExists(path) else {
                return
            }
            guard info.kind != .directory else {
                throw PosixError(EISDIR)
            }
            try Posix.unlink(path)
        } catch {
            throw MemberError(action, error)
        }
    }

    private mutating func extract(
        _ member: Member,
        base: String,
        input: inout ArchiveInput,
        dataLeft: inout Int64,
        delayedDirectories: inout [(path: String, mode: UInt32, time: Int64?)]
    ) async throws {
        let components = try Self.components(of: member.name)
        guard !components.isEmpty else {
            return  // "./": the directory itself
        }
        let path = try prepareParents(components, base: base)
        let time = options.restoreModificationTime ? member.modificationTime : nil
        switch member.typeFlag {
        case TarFormat.regular, TarFormat.regularOld, TarFormat.contiguous:
            try clear(path, for: "Cannot open")
            let file: FileDescriptor
            do throws(PosixError) {
                file = try Posix.createExclusive(path, permissions: 0o600)
            } catch {
                throw MemberError("Cannot open", error)
            }
            defer { file.close() }
            var writeError: PosixError?
            while dataLeft > 0 {
                let chunk = try await input.readData(maximum: Int(min(dataLeft, Int64(fileChunkSize))))
                dataLeft -= Int64(chunk.readableBytes)
                if writeError == nil {
                    do throws(PosixError) {
                        try file.writeAll(chunk)
                    } catch {
                        writeError = error
                    }
                }
            }
            if let writeError {
                throw MemberError("Cannot write", writeError)
            }
            do throws(PosixError) {
                try file.setPermissions(member.mode & permissionMask)
                if let time {
                    try file.setTimes(time)
                }
            } catch {
                throw MemberError("Cannot change mode", error)
            }
        case TarFormat.directory:
            do throws(PosixError) {
                if let info = try Posix.lstatIfExists(path), info.kind != .directory {
                    try Posix.unlink(path)
                }
                if try Posix.lstatIfExists(path) == nil {
                    try Posix.mkdir(path, permissions: 0o700)
                }
            } catch {
                throw MemberError("Cannot mkdir", error)
            }
            let mode = member.mode & permissionMask
            if delayedDirectories.count < TarCommand.maximumDelayedDirectories {
                delayedDirectories.append((path, mode, time))
            } else {
                applyDirectoryStatus(path: path, mode: mode, time: time)
            }
        case TarFormat.symbolicLink:
            guard !member.linkName.isEmpty, !member.linkName.contains("\0") else {
                throw MemberError("Cannot create symlink: invalid target")
            }
            try clear(path, for: "Cannot create symlink to '\(member.linkName)'")
            do throws(PosixError) {
                try Posix.symlink(target: member.linkName, at: path)
            } catch {
                throw MemberError("Cannot create symlink to '\(member.linkName)'", error)
            }
        case TarFormat.hardLink:
            let targetComponents = try Self.components(of: member.linkName)
            guard !targetComponents.isEmpty else {
                throw MemberError("Cannot hard link to '\(member.linkName)': invalid target")
            }
            var target = base
            do throws(PosixError) {
                for (position, component) in targetComponents.enumerated() {
                    target += "/" + component
                    let info = try Posix.lstat(target)
                    let isLast = position == targetComponents.count - 1
                    guard isLast ? info.kind == .regular : info.kind == .directory else {
                        throw PosixError(isLast ? EPERM : ENOTDIR)
                    }
                }
            } catch {
                throw MemberError("Cannot hard link to '\(member.linkName)'", error)
            }
            guard target != path else {
                return
            }
            try clear(path, for: "Cannot hard link to '\(member.linkName)'")
            do throws(PosixError) {
                try Posix.link(existing: target, at: path)
            } catch {
                throw MemberError("Cannot hard link to '\(member.linkName)'", error)
            }
        case TarFormat.characterDevice, TarFormat.blockDevice, TarFormat.fifo:
            await io.error("tar: \(member.name): device or FIFO member skipped")
        case TarFormat.gnuVolumeHeader:
            break
        default:
            let type = Character(Unicode.Scalar(member.typeFlag))
            await io.error("tar: \(member.name): Unknown file type '\(type)', skipped")
        }
    }

    /// Sets a directory's mode (and time), refusing to follow a link put in its place.
    private func applyDirectoryStatus(path: String, mode: UInt32, time: Int64?) {
        guard let directory = try? Posix.openDirectory(path) else {
            return
        }
        defer { directory.close() }
        try? directory.setPermissions(mode)
        if let time {
            try? directory.setTimes(time)
        }
    }
}
