// Pod paths confined to the host folder that stands for the pod's "/".
//
// A pod path is walked one component at a time, as a kernel would inside a chroot: "." is
// skipped, ".." drops the last resolved component but never goes above the pod's "/", and a
// symbolic link met on the way is read and spliced into the walk, an absolute target starting
// again from the pod's "/" (never from the host's). The host path that comes out has no
// symbolic link in it except, when asked for, the final component; it is always the root
// folder or below it.

/// The pod's file system: a host folder standing for "/".
struct PodFileSystem: Sendable {
    /// The host path of the pod's "/", without a trailing slash ("" when it is the host's "/").
    let root: String

    /// How many symbolic links one walk follows before giving up with ELOOP, as Linux does.
    static let maximumSymbolicLinks = 40

    init(root: String) {
        var trimmed = root
        while trimmed.count > 1 && trimmed.hasSuffix("/") {
            trimmed.removeLast()
        }
        self.root = trimmed == "/" ? "" : trimmed
    }

    /// The host path of already resolved pod components.
    func hostPath(_ components: [String]) -> String {
        if components.isEmpty {
            return root.isEmpty ? "/" : root
        }
        return root + "/" + components.joined(separator: "/")
    }

    /// A pod path walked inside the root.
    struct Resolved {
        /// The pod path's components after the walk ([] for the pod's "/").
        var components: [String]
        /// The host path, at or below the root.
        var hostPath: String
        /// lstat of the final component, nil when it does not exist.
        var info: FileInfo?

        /// The pod path, for messages.
        var podPath: String {
            "/" + components.joined(separator: "/")
        }
    }

    /// The non-empty components of a path, "." and ".." included.
    static func split(_ path: String) -> [String] {
        path.split(separator: "/").map(String.init)
    }

    /// Walks `path` inside the root.
    ///
    /// - Parameters:
    ///   - path: an absolute pod path, or one relative to `directory`.
    ///   - directory: resolved components that a relative path starts from ([] is the pod's "/").
    ///   - followFinalSymlink: whether a symbolic link as the last component is followed
    ///     (cat, ls, test) or returned as itself (rm, tar's create, test -L).
    ///   - createDirectories: creates missing components as directories (mkdir -p).
    /// - Throws: ENOENT when a component before the last does not exist, ENOTDIR when it is not
    ///   a directory, ELOOP after too many symbolic links, or what lstat and readlink report.
    func resolve(
        _ path: String,
        from directory: [String] = [],
        followFinalSymlink: Bool,
        createDirectories: Bool = false
    ) throws(PosixError) -> Resolved {
        var pending = Array(Self.split(path).reversed())
        var resolved = path.hasPrefix("/") ? [] : directory
        var links = 0
        while let component = pending.popLast() {
            if component == "." {
                continue
            }
            if component == ".." {
                if !resolved.isEmpty {
                    resolved.removeLast()
                }
                continue
            }
            let candidate = hostPath(resolved + [component])
            guard let existing = try Posix.lstatIfExists(candidate) else {
                if createDirectories {
                    do throws(PosixError) {
                        try Posix.mkdir(candidate, permissions: 0o755)
                    } catch {
                        guard error.code == EEXIST else {
                            throw error
                        }
                        // Created meanwhile: walk it again.
                        pending.append(component)
                        continue
                    }
                    resolved.append(component)
                    continue
                }
                if pending.isEmpty {
                    resolved.append(component)
                    return Resolved(components: resolved, hostPath: candidate, info: nil)
                }
                throw PosixError(ENOENT)
            }
            let isLast = pending.isEmpty
            if existing.kind == .symlink && (!isLast || followFinalSymlink || createDirectories) {
                links += 1
                guard links <= Self.maximumSymbolicLinks else {
                    throw PosixError(ELOOP)
                }
                let target = try Posix.readlink(candidate)
                if target.hasPrefix("/") {
                    resolved = []
                }
                pending.append(contentsOf: Self.split(target).reversed())
                continue
            }
            if !isLast && existing.kind != .directory {
                throw PosixError(ENOTDIR)
            }
            resolved.append(component)
        }
        let host = hostPath(resolved)
        return Resolved(components: resolved, hostPath: host, info: try Posix.lstatIfExists(host))
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
