import Foundation
import NIOCore
import Testing

@testable import KubePod

@Suite struct TarTests {
    @Test func roundTripThroughOurTar() async throws {
        let source = try Sandbox()
        let longName = try makeSampleTree(in: source, at: "/src")
        let created = await run(["tar", "cf", "-", "/src"], in: source)
        #expect(created.status == 0)
        #expect(created.errors == "tar: Removing leading `/' from member names\n")
        #expect(created.stdout.count % TarFormat.recordSize == 0)
        // Streaming: written in pieces, none much larger than the 64 KiB chunk.
        #expect(created.stdoutWrites > 16)
        #expect(created.largestStdoutWrite <= 64 * 1024)

        let target = try Sandbox()
        try target.mkdir("/dst")
        let extracted = await run(
            ["tar", "-xmf", "-", "-C", "/dst"], in: target, stdin: created.stdout, chunkSize: 1000)
        #expect(extracted.status == 0, "\(extracted.errors)")
        #expect(extracted.stderr.isEmpty)

        let before = try snapshot(source.root + "/src")
        let after = try snapshot(target.root + "/dst/src")
        #expect(before.count == 14)
        #expect(Set(before.keys) == Set(after.keys))
        for (path, entry) in before {
            #expect(after[path] == entry, "\(path)")
        }
        #expect(after["long/" + longName]?.contents == Array("long name\n".utf8))
        #expect(after["big.bin"]?.contents?.count == 1_048_576)
        #expect(after["empty"]?.contents == [])
        #expect(after["script.sh"]?.permissions == 0o755)
        #expect(after["nested"]?.permissions == 0o700)
        #expect(after["link"]?.linkTarget == "nested/deeper")
    }

    @Test func memberNamesAreStoredAsGNUTarStoresThem() async throws {
        let sandbox = try Sandbox()
        try sandbox.write("/a/b/file", "x")
        try sandbox.write("/a/b/sub/g", "y")
        try sandbox.write("/top", "t")

        func names(_ argv: [String]) async throws -> [String] {
            let created = await run(argv, in: sandbox)
            #expect(created.status == 0, "\(argv): \(created.errors)")
            let listed = await run(["tar", "tf", "-"], in: sandbox, stdin: created.stdout)
            #expect(listed.status == 0)
            return listed.output.split(separator: "\n").map(String.init)
        }
        #expect(try await names(["tar", "cf", "-", "/a/b"]) == ["a/b/", "a/b/file", "a/b/sub/", "a/b/sub/g"])
        #expect(try await names(["tar", "cf", "-", "a/b/"]) == ["a/b/", "a/b/file", "a/b/sub/", "a/b/sub/g"])
        #expect(try await names(["tar", "cf", "-", "/a/b/file", "top"]) == ["a/b/file", "top"])
        #expect(try await names(["tar", "cf", "-", "-C", "/a", "b/sub"]) == ["b/sub/", "b/sub/g"])
        #expect(try await names(["tar", "cf", "-", "/a/b/sub/.."]) == ["./", "file", "sub/", "sub/g"])
        let dotted = await run(["tar", "cf", "-", "/a/../a/b/file"], in: sandbox)
        #expect(dotted.errors == "tar: Removing leading `/a/../' from member names\n")

        // kubectl cp pod:/a/b ./x checks that every name starts with "a/b".
        let created = await run(["tar", "cf", "-", "/a/b"], in: sandbox)
        let listed = await run(["tar", "tf", "-"], in: sandbox, stdin: created.stdout)
        for name in listed.output.split(separator: "\n") {
            #expect(name.hasPrefix("a/b"))
        }
    }

    @Test func saferName() {
        #expect(TarRunNames.safer("/a/b") == ("a/b", "/"))
        #expect(TarRunNames.safer("a/b") == ("a/b", nil))
        #expect(TarRunNames.safer("//a") == ("a", "//"))
        #expect(TarRunNames.safer("../x") == ("x", "../"))
        #expect(TarRunNames.safer("a/../../b/c") == ("b/c", "a/../../"))
        #expect(TarRunNames.safer("/") == ("", "/"))
        #expect(TarRunNames.safer("a..b/..c") == ("a..b/..c", nil))
        #expect(TarRunNames.safer("./d") == ("./d", nil))
    }

    @Test func optionStyles() async throws {
        let sandbox = try Sandbox()
        try sandbox.write("/data/f", "content\n", mode: 0o664)
        let reference = await run(["tar", "cf", "-", "data"], in: sandbox).stdout
        for argv in [
            ["tar", "-cf", "-", "data"], ["tar", "-c", "-f", "-", "data"], ["tar", "--create", "--file=-", "data"],
            ["tar", "cvf", "-", "data"], ["tar", "-cvf-", "data"], ["/usr/bin/tar", "c", "data"],
            ["tar", "-C", "/", "-cf", "-", "data"], ["tar", "--create", "--file", "-", "--directory=/", "data"],
        ] {
            let result = await run(argv, in: sandbox)
            #expect(result.status == 0, "\(argv): \(result.errors)")
            #expect(result.stdout == reference, "\(argv)")
        }
        var index = 0
        for argv in [
            ["tar", "-xmf", "-", "-C", "/out"], ["tar", "xf", "-", "-C", "/out"],
            ["tar", "-x", "-m", "-f", "-", "-C", "/out"],
            ["tar", "-C", "/out", "-xvf", "-"], ["tar", "--extract", "--touch", "--file=-", "--directory", "/out"],
            ["tar", "--no-same-permissions", "--no-same-owner", "-xmf", "-", "-C", "/out"], ["tar", "-xmf-", "-C/out"],
            ["tar", "xfC", "-", "/out"], ["tar", "-x"],
        ] {
            index += 1
            let directory = "/out"
            try? FileManager.default.removeItem(atPath: sandbox.root + directory)
            try sandbox.mkdir(directory)
            var arguments = argv
            if argv == ["tar", "-x"] {
                arguments = ["tar", "-x", "-C", "/out"]
            }
            let result = await run(arguments, in: sandbox, stdin: reference)
            #expect(result.status == 0, "\(argv): \(result.errors)")
            #expect(sandbox.read("/out/data/f") == Array("content\n".utf8), "\(argv)")
            let mode = sandbox.info(host: sandbox.root + "/out/data/f")?.permissions
            #expect(mode == (argv.contains("--no-same-permissions") ? 0o644 : 0o664), "\(argv)")
        }
        #expect(index == 9)
    }

    @Test func usageErrors() async throws {
        let sandbox = try Sandbox()
        try sandbox.write("/f", "x")
        let compressed = await run(["tar", "-xzf", "-"], in: sandbox, stdin: [1, 2, 3])
        #expect(compressed.status == 2)
        #expect(compressed.errors.contains("compression (-z) is not supported"))
        #expect(await run(["tar", "--gzip", "-cf", "-", "f"], in: sandbox).status == 2)
        #expect(await run(["tar", "czf", "-", "f"], in: sandbox).status == 2)
        let noMode = await run(["tar", "-f", "-"], in: sandbox)
        #expect(noMode.status == 2)
        #expect(noMode.errors.contains("You must specify one of"))
        #expect(await run(["tar", "-cx", "-f", "-"], in: sandbox).status == 2)
        #expect(await run(["tar", "-cf"], in: sandbox).status == 2)
        #expect(await run(["tar", "--bogus"], in: sandbox).status == 2)
        let empty = await run(["tar", "cf", "-"], in: sandbox)
        #expect(empty.status == 2)
        #expect(empty.errors.contains("Cowardly refusing to create an empty archive"))
    }

    @Test func missingOperandsAreReportedAndTheRestArchived() async throws {
        let sandbox = try Sandbox()
        try sandbox.write("/here", "x")
        let result = await run(["tar", "cf", "-", "/nope", "/here"], in: sandbox)
        #expect(result.status == 2)
        #expect(result.errors.contains("tar: /nope: Cannot stat: No such file or directory"))
        #expect(result.errors.contains("tar: Exiting with failure status due to previous errors"))
        let listed = await run(["tar", "tf", "-"], in: sandbox, stdin: result.stdout)
        #expect(listed.output == "here\n")
    }

    @Test func extractionToAMissingDirectoryFails() async throws {
        let sandbox = try Sandbox()
        var archive = ArchiveBuilder()
        archive.file("f", "x")
        archive.end()
        let result = await run(["tar", "-xmf", "-", "-C", "/missing"], in: sandbox, stdin: archive.bytes)
        #expect(result.status == 2)
        #expect(result.errors.contains("tar: /missing: Cannot open: No such file or directory"))
    }

    @Test func extractionInEveryChunkSize() async throws {
        let source = try Sandbox()
        _ = try makeSampleTree(in: source, at: "/s")
        try? FileManager.default.removeItem(atPath: source.root + "/s/big.bin")
        try source.write("/s/mid.bin", randomBytes(5000, seed: 9))
        let archive = await run(["tar", "cf", "-", "s"], in: source).stdout
        let expected = try snapshot(source.root + "/s")
        for chunkSize in [1, 7, 511, 512, 513, 4096, archive.count] {
            let target = try Sandbox()
            let result = await run(["tar", "xf", "-"], in: target, stdin: archive, chunkSize: chunkSize)
            #expect(result.status == 0, "\(chunkSize): \(result.errors)")
            #expect(try snapshot(target.root + "/s") == expected, "\(chunkSize)")
        }
    }

    @Test func modificationTimes() async throws {
        let sandbox = try Sandbox()
        var archive = ArchiveBuilder()
        archive.entry("dir", type: TarFormat.directory, mode: 0o755)
        archive.file("dir/f", "x")
        archive.end()
        #expect(await run(["tar", "xf", "-"], in: sandbox, stdin: archive.bytes).status == 0)
        #expect(sandbox.info(host: sandbox.root + "/dir/f")?.modificationTime == 1_700_000_000)
        #expect(sandbox.info(host: sandbox.root + "/dir")?.modificationTime == 1_700_000_000)
        try sandbox.mkdir("/m")
        #expect(await run(["tar", "-xmf", "-", "-C", "/m"], in: sandbox, stdin: archive.bytes).status == 0)
        let now = Int64(Date().timeIntervalSince1970)
        #expect(abs((sandbox.info(host: sandbox.root + "/m/dir/f")?.modificationTime ?? 0) - now) < 60)
    }

    @Test func archiveToAndFromAPodFile() async throws {
        let sandbox = try Sandbox()
        try sandbox.write("/data/a", "a\n")
        try sandbox.write("/data/b", randomBytes(100_000))
        let created = await run(["tar", "cf", "/data/archive.tar", "/data"], in: sandbox)
        #expect(created.status == 0, "\(created.errors)")
        #expect(created.errors.contains("/data/archive.tar: file is the archive; not dumped"))
        try sandbox.mkdir("/restore")
        let extracted = await run(["tar", "xf", "/data/archive.tar", "-C", "/restore"], in: sandbox)
        #expect(extracted.status == 0, "\(extracted.errors)")
        #expect(sandbox.read("/restore/data/a") == Array("a\n".utf8))
        #expect(sandbox.read("/restore/data/b") == randomBytes(100_000))
        #expect(!sandbox.exists(host: sandbox.root + "/restore/data/archive.tar"))
    }

    @Test func selectedMembersOnly() async throws {
        let sandbox = try Sandbox()
        var archive = ArchiveBuilder()
        archive.file("keep/a", "a")
        archive.file("skip/b", "b")
        archive.file("keepsake", "c")
        archive.end()
        let result = await run(["tar", "xf", "-", "keep", "absent"], in: sandbox, stdin: archive.bytes)
        #expect(result.status == 2)
        #expect(result.errors.contains("tar: absent: Not found in archive"))
        #expect(sandbox.read("/keep/a") == Array("a".utf8))
        #expect(!sandbox.exists(host: sandbox.root + "/skip"))
        #expect(!sandbox.exists(host: sandbox.root + "/keepsake"))
    }

    @Test func kubectlCopyToPod() async throws {
        // kubectl cp ./local pod:/tmp/dest: test -d /tmp/dest fails, then the archive names
        // "dest/..." are extracted with tar -xmf - -C /tmp.
        let pod = try Sandbox()
        try pod.mkdir("/tmp")
        #expect(await run(["test", "-d", "/tmp/dest"], in: pod).status == 1)
        // kubectl's archive: Go's archive/tar, names relative to the destination's parent.
        var renamed = ArchiveBuilder()
        renamed.file("dest/one", "1")
        renamed.file("dest/sub/two", "22")
        renamed.end()
        let result = await run(["tar", "-xmf", "-", "-C", "/tmp"], in: pod, stdin: renamed.bytes)
        #expect(result.status == 0)
        #expect(pod.read("/tmp/dest/one") == Array("1".utf8))
        #expect(pod.read("/tmp/dest/sub/two") == Array("22".utf8))
        #expect(await run(["test", "-d", "/tmp/dest"], in: pod).status == 0)
    }

    @Test func existingFilesAreReplaced() async throws {
        let sandbox = try Sandbox()
        try sandbox.write("/f", "old old old")
        try sandbox.mkdir("/d")
        try sandbox.write("/d/inner", "kept")
        var archive = ArchiveBuilder()
        archive.file("f", "new")
        archive.entry("d", type: TarFormat.directory, mode: 0o711)
        archive.end()
        #expect(await run(["tar", "xf", "-"], in: sandbox, stdin: archive.bytes).status == 0)
        #expect(sandbox.read("/f") == Array("new".utf8))
        #expect(sandbox.read("/d/inner") == Array("kept".utf8))
        #expect(sandbox.info(host: sandbox.root + "/d")?.permissions == 0o711)
    }

    @Test func hardLinksAndUnknownTypes() async throws {
        let sandbox = try Sandbox()
        var archive = ArchiveBuilder()
        archive.file("orig", "shared")
        archive.entry("copy", type: TarFormat.hardLink, linkName: "orig")
        archive.entry("weird", type: UInt8(ascii: "Q"), contents: Array(repeating: 7, count: 700))
        archive.entry("fifo", type: TarFormat.fifo)
        archive.file("after", "still here")
        archive.end()
        let result = await run(["tar", "xf", "-"], in: sandbox, stdin: archive.bytes)
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.errors.contains("weird: Unknown file type 'Q', skipped"))
        #expect(sandbox.read("/copy") == Array("shared".utf8))
        #expect(sandbox.info(host: sandbox.root + "/copy")?.inode == sandbox.info(host: sandbox.root + "/orig")?.inode)
        #expect(!sandbox.exists(host: sandbox.root + "/weird"))
        #expect(!sandbox.exists(host: sandbox.root + "/fifo"))
        #expect(sandbox.read("/after") == Array("still here".utf8))
    }

    @Test func paxAndGNULongNamesAreRead() async throws {
        let sandbox = try Sandbox()
        let longName = "dir/" + String(repeating: "x", count: 200)
        let longTarget = String(repeating: "t", count: 150)
        var archive = ArchiveBuilder()
        // GNU: ././@LongLink entries.
        archive.entry("././@LongLink", type: TarFormat.gnuLongName, contents: Array(longName.utf8) + [0])
        archive.file(String(longName.prefix(100)), "gnu")
        archive.entry("././@LongLink", type: TarFormat.gnuLongLink, contents: Array(longTarget.utf8) + [0])
        archive.entry("gnulink", type: TarFormat.symbolicLink, linkName: String(longTarget.prefix(100)))
        // PAX: a global header (ignored), then path and linkpath records.
        archive.entry("global", type: TarFormat.paxGlobal, contents: PaxRecords.encode([("comment", "hi")]))
        let paxName = "pax/" + String(repeating: "y", count: 180)
        archive.entry("PaxHeaders/y", type: TarFormat.paxExtended, contents: PaxRecords.encode([("path", paxName)]))
        archive.file("truncated-name", "pax")
        // ustar: a name split into prefix and name.
        let prefix = String(repeating: "p", count: 120)
        archive.raw(
            headerBlock("n.txt", size: 5) { block in
                block.replaceSubrange(345..<(345 + prefix.utf8.count), with: Array(prefix.utf8))
            })
        archive.raw(Array("ustar".utf8))
        archive.pad()
        archive.end()
        let result = await run(["tar", "xf", "-"], in: sandbox, stdin: archive.bytes)
        #expect(result.status == 0, "\(result.errors)")
        #expect(sandbox.read("/" + longName) == Array("gnu".utf8))
        #expect(try Posix.readlink(sandbox.root + "/gnulink") == longTarget)
        #expect(sandbox.read("/" + paxName) == Array("pax".utf8))
        #expect(sandbox.read("/" + prefix + "/n.txt") == Array("ustar".utf8))
        #expect(!sandbox.exists(host: sandbox.root + "/global"))
        #expect(!sandbox.exists(host: sandbox.root + "/truncated-name"))
    }

    @Test func headerNumbers() throws {
        #expect(try TarHeader.parseOctal(ArraySlice(Array("0000644\0".utf8)), field: "mode") == 0o644)
        #expect(try TarHeader.parseOctal(ArraySlice(Array("   644 \0".utf8)), field: "mode") == 0o644)
        #expect(try TarHeader.parseOctal(ArraySlice([UInt8](repeating: 0, count: 8)), field: "mode") == 0)
        #expect(throws: TarError.self) { try TarHeader.parseOctal(ArraySlice(Array("0000648\0".utf8)), field: "mode") }
        #expect(throws: TarError.self) { try TarHeader.parseOctal(ArraySlice(Array("00 0644\0".utf8)), field: "mode") }
        #expect(throws: TarError.self) {
            try TarHeader.parseOctal(ArraySlice([0x80, 0, 0, 0, 0, 0, 0, 1]), field: "size")
        }
        #expect(throws: TarError.self) {
            try TarHeader.parseOctal(ArraySlice([0xFF, 0xFF, 0xFF, 0xFF]), field: "size")
        }
        let records = PaxRecords.encode([("path", String(repeating: "a", count: 95)), ("size", "12")])
        #expect(try PaxRecords.decode(records) == ["path": String(repeating: "a", count: 95), "size": "12"])
        #expect(String(decoding: PaxRecords.encode([("path", "abc")]), as: UTF8.self) == "12 path=abc\n")
        #expect(throws: TarError.self) { try PaxRecords.decode(Array("99 path=abc\n".utf8)) }
        #expect(throws: TarError.self) { try PaxRecords.decode(Array("12 pathabc\n\n".utf8)) }
        #expect(throws: TarError.self) { try PaxRecords.decode(Array("x".utf8)) }
        #expect(throws: TarError.self) { try PaxRecords.decode(Array("99999999999999999999999 a=b\n".utf8)) }
    }
}

/// GNU tar's member-name rule, reachable from the tests.
enum TarRunNames {
    static func safer(_ text: String) -> (String, String?) {
        let result = TarNames.saferName(text)
        return (result.name, result.removed)
    }
}
