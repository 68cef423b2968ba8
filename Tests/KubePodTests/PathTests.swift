import Foundation
import NIOCore
import Testing

@testable import KubePod

@Suite struct PathTests {
    @Test func lexicalDotDotNeverClimbsAboveTheRoot() throws {
        let sandbox = try Sandbox()
        try sandbox.mkdir("/etc")
        let fileSystem = PodFileSystem(root: sandbox.root + "/")
        for path in ["/../../etc", "../etc", "etc", "/etc/.", "/./etc/../etc", "//etc//", "/etc/x/.."] {
            let resolved = try? fileSystem.resolve(path, followFinalSymlink: true)
            if path == "/etc/x/.." {
                // A missing component before ".." is an error, as in a kernel.
                #expect(resolved == nil)
                continue
            }
            #expect(resolved?.components == ["etc"], "\(path)")
            #expect(resolved?.hostPath == sandbox.root + "/etc", "\(path)")
            #expect(resolved?.info?.kind == .directory, "\(path)")
        }
        let top = try fileSystem.resolve("/../..", followFinalSymlink: true)
        #expect(top.components.isEmpty)
        #expect(top.hostPath == sandbox.root)
        let relative = try fileSystem.resolve("x", from: ["etc"], followFinalSymlink: true)
        #expect(relative.hostPath == sandbox.root + "/etc/x")
        #expect(relative.info == nil)
    }

    @Test func symbolicLinksResolveInsideTheRoot() throws {
        let sandbox = try Sandbox()
        try sandbox.mkdir("/real/dir")
        try sandbox.symlink("/abs", to: "/real")
        try sandbox.symlink("/rel", to: "real/dir")
        try sandbox.symlink("/real/dir/up", to: "../../../../../..")
        try sandbox.symlink("/host", to: sandbox.outside)
        let fileSystem = PodFileSystem(root: sandbox.root)
        #expect(try fileSystem.resolve("/abs/dir", followFinalSymlink: true).components == ["real", "dir"])
        #expect(try fileSystem.resolve("/rel", followFinalSymlink: true).components == ["real", "dir"])
        #expect(try fileSystem.resolve("/rel", followFinalSymlink: false).components == ["rel"])
        #expect(try fileSystem.resolve("/rel", followFinalSymlink: false).info?.kind == .symlink)
        #expect(try fileSystem.resolve("/rel/..", followFinalSymlink: false).components == ["real"])
        #expect(try fileSystem.resolve("/rel/up/abs", followFinalSymlink: true).components == ["real"])
        // The link's host path means nothing inside the pod.
        #expect(throws: PosixError(ENOENT)) { try fileSystem.resolve("/host", followFinalSymlink: true) }
        #expect(throws: PosixError(ENOENT)) { try fileSystem.resolve("/host/x", followFinalSymlink: true) }
        #expect(try fileSystem.resolve("/host", followFinalSymlink: false).info?.kind == .symlink)
        try sandbox.write("/file", "x")
        #expect(throws: PosixError(ENOTDIR)) { try fileSystem.resolve("/file/y", followFinalSymlink: true) }
    }

    @Test func createDirectoriesStaysInside() throws {
        let sandbox = try Sandbox()
        try sandbox.symlink("/host", to: sandbox.outside)
        let fileSystem = PodFileSystem(root: sandbox.root)
        let made = try fileSystem.resolve("/host/a/b", followFinalSymlink: true, createDirectories: true)
        #expect(made.hostPath == sandbox.root + sandbox.outside + "/a/b")
        #expect(made.info?.kind == .directory)
        #expect(sandbox.outsideContents().isEmpty)
    }
}

@Suite struct StreamingTests {
    /// Serves stdin chunks and notes, for each one, whether the first member was already on disk.
    actor WatchingFeeder {
        let data: [UInt8]
        let watched: String
        var offset = 0
        var firstSeenAtChunk: Int?
        var chunks = 0

        init(_ data: [UInt8], watching path: String) {
            self.data = data
            self.watched = path
        }

        func next() -> ByteBuffer? {
            if firstSeenAtChunk == nil, (try? Posix.lstat(watched))?.size == 1_000_000 {
                firstSeenAtChunk = chunks
            }
            guard offset < data.count else {
                return nil
            }
            let end = min(offset + 10_000, data.count)
            defer { offset = end }
            chunks += 1
            return ByteBuffer(bytes: data[offset..<end])
        }
    }

    @Test func extractionConsumesStdinAsItGoes() async throws {
        let sandbox = try Sandbox()
        var archive = ArchiveBuilder()
        archive.entry("first", contents: randomBytes(1_000_000, seed: 1))
        archive.entry("second", contents: randomBytes(2_000_000, seed: 2))
        archive.end()
        let feeder = WatchingFeeder(archive.bytes, watching: sandbox.root + "/first")
        let io = CommandIO(
            readStdin: { await feeder.next() },
            writeStdout: { _ in },
            writeStderr: { _ in }
        )
        #expect(await sandbox.commands.run(["tar", "xf", "-"], io: io) == 0)
        let seen = await feeder.firstSeenAtChunk
        let total = await feeder.chunks
        // The first member was complete on disk while most of the archive was still unread.
        #expect(seen != nil)
        #expect((seen ?? total) < 110)
        #expect(total == (archive.bytes.count + 9_999) / 10_000)
        #expect(sandbox.read("/second") == randomBytes(2_000_000, seed: 2))
    }

    @Test func readOnlyDirectoriesAreFilledThenProtected() async throws {
        let sandbox = try Sandbox()
        var archive = ArchiveBuilder()
        archive.entry("ro", type: TarFormat.directory, mode: 0o555)
        archive.file("ro/inside", "x", mode: 0o444)
        archive.end()
        let result = await run(["tar", "xf", "-"], in: sandbox, stdin: archive.bytes)
        #expect(result.status == 0, "\(result.errors)")
        #expect(sandbox.read("/ro/inside") == Array("x".utf8))
        #expect(sandbox.info(host: sandbox.root + "/ro")?.permissions == 0o555)
        #expect(sandbox.info(host: sandbox.root + "/ro/inside")?.permissions == 0o444)
    }

    @Test func aDirectoryMemberReplacesAnExistingLink() async throws {
        let sandbox = try Sandbox()
        try sandbox.symlink("/d", to: sandbox.outside)
        var archive = ArchiveBuilder()
        archive.entry("d", type: TarFormat.directory)
        archive.file("d/x", "inside")
        archive.end()
        let result = await run(["tar", "xf", "-"], in: sandbox, stdin: archive.bytes)
        #expect(result.status == 0, "\(result.errors)")
        #expect(sandbox.info(host: sandbox.root + "/d")?.kind == .directory)
        #expect(sandbox.read("/d/x") == Array("inside".utf8))
        #expect(sandbox.outsideContents().isEmpty)
    }
}
