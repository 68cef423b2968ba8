import Foundation
import NIOCore
import Testing

@testable import KubePod

/// Hostile archives: nothing is ever written outside the root, and tar exits non-zero.
@Suite struct TarSecurityTests {
    /// Extracts into /dst and checks that nothing reached `outside`.
    func extract(
        _ archive: [UInt8],
        in sandbox: Sandbox,
        chunkSize: Int = 512,
        outsideHas expected: [String] = []
    ) async throws -> CommandResult {
        try? sandbox.mkdir("/dst")
        let result = await run(["tar", "-xmf", "-", "-C", "/dst"], in: sandbox, stdin: archive, chunkSize: chunkSize)
        #expect(sandbox.outsideContents() == expected)
        return result
    }

    @Test func dotDotEntriesAreRefused() async throws {
        let sandbox = try Sandbox()
        var archive = ArchiveBuilder()
        archive.file("../../etc/x", "escaped")
        archive.file("a/../../../outside/y", "escaped")
        archive.file("../../../../../../../../" + String(sandbox.outside.dropFirst()) + "/z", "escaped")
        archive.file("ok", "fine")
        archive.end()
        let result = try await extract(archive.bytes, in: sandbox)
        #expect(result.status == 2)
        #expect(result.errors.contains("tar: ../../etc/x: Refusing to extract a member whose name contains '..'"))
        #expect(result.errors.contains("tar: Exiting with failure status due to previous errors"))
        #expect(!sandbox.exists(host: sandbox.root + "/etc/x"))
        #expect(!sandbox.exists(host: sandbox.root + "/dst/etc/x"))
        #expect(!sandbox.exists(host: sandbox.base + "/etc"))
        #expect(sandbox.read("/dst/ok") == Array("fine".utf8))
        #expect(try Posix.listDirectory(sandbox.root + "/dst") == ["ok"])
    }

    @Test func absoluteEntriesAreRefused() async throws {
        let sandbox = try Sandbox()
        var archive = ArchiveBuilder()
        archive.file(sandbox.outside + "/abs", "escaped")
        archive.file("/etc/kubepod-test-absolute", "escaped")
        archive.end()
        let result = try await extract(archive.bytes, in: sandbox)
        #expect(result.status == 2)
        #expect(result.errors.contains("Refusing to extract a member with an absolute name"))
        #expect(!FileManager.default.fileExists(atPath: "/etc/kubepod-test-absolute"))
        #expect(!sandbox.exists(host: sandbox.root + "/etc"))
        #expect(try Posix.listDirectory(sandbox.root + "/dst").isEmpty)
    }

    @Test func symbolicLinkThenFileThroughIt() async throws {
        for target in [sandbox0Outside, "../../../../../../../../../..", "/"] {
            let sandbox = try Sandbox()
            let linkTarget = target == sandbox0Outside ? sandbox.outside : target
            var archive = ArchiveBuilder()
            archive.entry("evil", type: TarFormat.symbolicLink, linkName: linkTarget)
            archive.file("evil/pwned", "escaped")
            archive.entry("evil/dir", type: TarFormat.directory)
            archive.file("evil/dir/deeper", "escaped")
            archive.end()
            let result = try await extract(archive.bytes, in: sandbox)
            #expect(result.status == 2, "\(target)")
            #expect(
                result.errors.contains(
                    "tar: evil/pwned: Cannot open: refusing to extract through the symbolic link 'evil'"))
            #expect(!sandbox.exists(host: sandbox.outside + "/pwned"))
            #expect(!sandbox.exists(host: sandbox.root + "/pwned"))
            #expect(!sandbox.exists(host: sandbox.root + "/dir"))
            #expect(sandbox.info(host: sandbox.root + "/dst/evil")?.kind == .symlink)
        }
    }

    @Test func existingSymbolicLinksAreNotFollowed() async throws {
        let sandbox = try Sandbox()
        #expect(FileManager.default.createFile(atPath: sandbox.outside + "/target", contents: Data("original".utf8)))
        try sandbox.mkdir("/dst")
        // A link already in the pod towards a host directory, and one towards a host file.
        try sandbox.symlink("/dst/dirlink", to: sandbox.outside)
        try sandbox.symlink("/dst/filelink", to: sandbox.outside + "/target")
        var archive = ArchiveBuilder()
        archive.file("dirlink/new", "escaped")
        archive.file("filelink", "replaced")
        archive.end()
        let result = await run(["tar", "-xmf", "-", "-C", "/dst"], in: sandbox, stdin: archive.bytes)
        #expect(result.status == 2)
        #expect(!sandbox.exists(host: sandbox.outside + "/new"))
        // The link is replaced by a file; the host file is untouched.
        #expect(sandbox.read(host: sandbox.outside + "/target") == Array("original".utf8))
        #expect(sandbox.info(host: sandbox.root + "/dst/filelink")?.kind == .regular)
        #expect(sandbox.read("/dst/filelink") == Array("replaced".utf8))
        #expect(try Posix.listDirectory(sandbox.outside) == ["target"])
    }

    @Test func extractionDirectoryThroughALinkStaysInside() async throws {
        let sandbox = try Sandbox()
        try sandbox.symlink("/escape", to: sandbox.outside)
        try sandbox.symlink("/up", to: "../../../..")
        var archive = ArchiveBuilder()
        archive.file("f", "x")
        archive.end()
        let escape = await run(["tar", "xf", "-", "-C", "/escape"], in: sandbox, stdin: archive.bytes)
        #expect(escape.status == 2)
        #expect(escape.errors.contains("tar: /escape: Cannot open: No such file or directory"))
        let up = await run(["tar", "xf", "-", "-C", "/up"], in: sandbox, stdin: archive.bytes)
        #expect(up.status == 0)
        #expect(sandbox.read("/f") == Array("x".utf8))
        #expect(sandbox.outsideContents().isEmpty)
    }

    @Test func hardLinksOutsideAreRefused() async throws {
        let sandbox = try Sandbox()
        #expect(FileManager.default.createFile(atPath: sandbox.outside + "/secret", contents: Data("s".utf8)))
        var archive = ArchiveBuilder()
        archive.entry("h1", type: TarFormat.hardLink, linkName: "../../outside/secret")
        archive.entry("h2", type: TarFormat.hardLink, linkName: sandbox.outside + "/secret")
        archive.entry("sl", type: TarFormat.symbolicLink, linkName: sandbox.outside + "/secret")
        archive.entry("h3", type: TarFormat.hardLink, linkName: "sl")
        archive.entry("h4", type: TarFormat.hardLink, linkName: "sl/x")
        archive.end()
        let result = try await extract(archive.bytes, in: sandbox, outsideHas: ["secret"])
        #expect(result.status == 2)
        #expect(sandbox.info(host: sandbox.outside + "/secret")?.size == 1)
        for name in ["h1", "h2", "h3", "h4"] {
            #expect(!sandbox.exists(host: sandbox.root + "/dst/" + name), "\(name)")
        }
        #expect(try Posix.listDirectory(sandbox.root + "/dst") == ["sl"])
    }

    @Test func badChecksum() async throws {
        let sandbox = try Sandbox()
        var archive = ArchiveBuilder()
        archive.file("good", "1")
        archive.file("bad", "2")
        archive.end()
        archive.bytes[1024 + 148] = UInt8(ascii: "7")  // the second header's checksum
        let result = try await extract(archive.bytes, in: sandbox)
        #expect(result.status == 2)
        #expect(result.errors.contains("bad header checksum at byte 1024"))
        #expect(result.errors.contains("tar: Error is not recoverable: exiting now"))
        #expect(!sandbox.exists(host: sandbox.root + "/dst/bad"))
    }

    @Test func garbageAndEmptyInput() async throws {
        let sandbox = try Sandbox()
        let garbage = try await extract(randomBytes(4096, seed: 5), in: sandbox)
        #expect(garbage.status == 2)
        #expect(garbage.errors.contains("This does not look like a tar archive"))
        let empty = try await extract([], in: sandbox)
        #expect(empty.status == 2)
        #expect(empty.errors.contains("This does not look like a tar archive"))
        let short = try await extract(Array("hello".utf8), in: sandbox)
        #expect(short.status == 2)
        #expect(short.errors.contains("Unexpected EOF in archive"))
        #expect(try Posix.listDirectory(sandbox.root + "/dst").isEmpty)
    }

    @Test func truncatedArchives() async throws {
        let sandbox = try Sandbox()
        var archive = ArchiveBuilder()
        archive.file("first", "complete")
        archive.entry("second", contents: randomBytes(10_000))
        archive.end()
        // Inside the second member's data, inside its header, and just after it.
        for cut in [512 + 512 + 512 + 3000, 512 + 512 + 100, 512 + 512 + 512 + 10_000] {
            let result = try await extract(Array(archive.bytes.prefix(cut)), in: sandbox, chunkSize: 1000)
            #expect(result.status == 2, "\(cut)")
            #expect(result.errors.contains("Unexpected EOF in archive"), "\(cut)")
            #expect(sandbox.read("/dst/first") == Array("complete".utf8))
        }
    }

    @Test func absurdSizes() async throws {
        let sandbox = try Sandbox()
        let cases: [(String, [UInt8])] = [
            ("octal garbage", headerBlock("f") { $0.replaceSubrange(124..<136, with: Array("12345678x12\0".utf8)) }),
            ("negative", headerBlock("f") { $0.replaceSubrange(124..<136, with: Array("-0000000001\0".utf8)) }),
            (
                "base-256",
                headerBlock("f") { $0.replaceSubrange(124..<136, with: [0x80] + [UInt8](repeating: 0xFF, count: 11)) }
            ),
            (
                "base-256 negative",
                headerBlock("f") { $0.replaceSubrange(124..<136, with: [UInt8](repeating: 0xFF, count: 12)) }
            ),
            ("mode garbage", headerBlock("f") { $0.replaceSubrange(100..<108, with: Array("rwxrwxr\0".utf8)) }),
        ]
        for (label, block) in cases {
            let result = try await extract(block + [UInt8](repeating: 0, count: 1024), in: sandbox)
            #expect(result.status == 2, "\(label)")
            #expect(result.errors.contains("field"), "\(label): \(result.errors)")
            #expect(!sandbox.exists(host: sandbox.root + "/dst/f"), "\(label)")
        }
        // Extended headers: negative or huge sizes, oversized headers, malformed records.
        var negative = ArchiveBuilder()
        negative.entry("p", type: TarFormat.paxExtended, contents: PaxRecords.encode([("size", "-5")]))
        negative.file("f", "x")
        var huge = ArchiveBuilder()
        huge.entry("p", type: TarFormat.paxExtended, contents: PaxRecords.encode([("size", "99999999999999999999")]))
        huge.file("f", "x")
        var oversized = ArchiveBuilder()
        oversized.entry("p", type: TarFormat.paxExtended, size: 1 << 40)
        var longLink = ArchiveBuilder()
        longLink.entry("././@LongLink", type: TarFormat.gnuLongName, size: 8_000_000_000)
        var malformed = ArchiveBuilder()
        malformed.entry("p", type: TarFormat.paxExtended, contents: Array("5 a=b\n".utf8))
        malformed.file("f", "x")
        for (label, archive) in [
            ("pax negative", negative), ("pax huge", huge), ("pax oversized", oversized), ("long name", longLink),
            ("pax malformed", malformed),
        ] {
            var bytes = archive
            bytes.end()
            let result = try await extract(bytes.bytes, in: sandbox)
            #expect(result.status == 2, "\(label)")
            #expect(result.errors.contains("tar: Error is not recoverable"), "\(label): \(result.errors)")
            #expect(!sandbox.exists(host: sandbox.root + "/dst/f"), "\(label)")
        }
        // A size in the header that is far larger than the data that follows.
        var lying = ArchiveBuilder()
        lying.entry("f", contents: Array("short".utf8), size: 0o7_777_777_777)
        let result = try await extract(lying.bytes, in: sandbox)
        #expect(result.status == 2)
        #expect(result.errors.contains("Unexpected EOF in archive"))
    }

    @Test func namesWithNULBytesAreRefused() async throws {
        let sandbox = try Sandbox()
        var archive = ArchiveBuilder()
        archive.entry("p", type: TarFormat.paxExtended, contents: PaxRecords.encode([("path", "a\u{0}b")]))
        archive.file("ignored", "x")
        archive.end()
        let result = try await extract(archive.bytes, in: sandbox)
        #expect(result.status == 2)
        #expect(try Posix.listDirectory(sandbox.root + "/dst").isEmpty)
    }
}

/// Stands for "the sandbox's own outside folder" in a list of link targets.
private let sandbox0Outside = "<outside>"
