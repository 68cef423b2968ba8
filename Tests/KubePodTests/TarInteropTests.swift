import Foundation
import NIOCore
import Testing

@testable import KubePod

/// Our tar against the system's GNU tar, both ways.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tar")))
struct TarInteropTests {
    static let gnuTar = "/usr/bin/tar"

    @Test func gnuTarReadsOurArchives() async throws {
        let source = try Sandbox()
        let longName = try makeSampleTree(in: source, at: "/src")
        let created = await run(["tar", "cf", "-", "/src"], in: source)
        #expect(created.status == 0)
        let archivePath = source.base + "/ours.tar"
        try Data(created.stdout).write(to: URL(fileURLWithPath: archivePath))

        let listing = try runHost(Self.gnuTar, ["-tf", archivePath])
        #expect(listing.status == 0, "\(listing.stderr)")
        let names = String(decoding: listing.stdout, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(names.contains("src/long/" + longName))
        #expect(names.contains("src/nested/empty-dir/"))
        #expect(names.contains("src/link"))
        #expect(names.first == "src/")
        #expect(listing.stderr.isEmpty)

        let verbose = try runHost(Self.gnuTar, ["-tvf", archivePath])
        let lines = String(decoding: verbose.stdout, as: UTF8.self)
        #expect(lines.contains("src/link -> nested/deeper"))
        #expect(lines.contains("-rw------- root/root   1048576"))

        let target = source.base + "/gnu-extracted"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let extracted = try runHost(Self.gnuTar, ["-xpf", archivePath, "-C", target])
        #expect(extracted.status == 0, "\(extracted.stderr)")
        let before = try snapshot(source.root + "/src")
        let after = try snapshot(target + "/src")
        #expect(Set(before.keys) == Set(after.keys))
        for (path, entry) in before {
            #expect(after[path] == entry, "\(path)")
        }
    }

    @Test func weReadGNUTarArchives() async throws {
        for format in ["gnu", "posix", "ustar", "oldgnu"] {
            let source = try Sandbox()
            let longName = try makeSampleTree(in: source, at: "/src")
            if format == "ustar" {
                // ustar cannot hold a 141-byte file name: keep only names it can split.
                try FileManager.default.removeItem(atPath: source.root + "/src/long")
            }
            let made = try runHost(Self.gnuTar, ["--format=\(format)", "-cf", "-", "-C", source.root, "src"])
            #expect(made.status == 0, "\(format): \(made.stderr)")

            let target = try Sandbox()
            try target.mkdir("/dst")
            let result = await run(["tar", "-xmf", "-", "-C", "/dst"], in: target, stdin: made.stdout, chunkSize: 4000)
            #expect(result.status == 0, "\(format): \(result.errors)")
            #expect(result.stderr.isEmpty, "\(format): \(result.errors)")
            let before = try snapshot(source.root + "/src")
            let after = try snapshot(target.root + "/dst/src")
            #expect(Set(before.keys) == Set(after.keys), "\(format)")
            for (path, entry) in before {
                #expect(after[path] == entry, "\(format): \(path)")
            }
            if format != "ustar" {
                #expect(after["long/" + longName]?.contents == Array("long name\n".utf8))
            }
        }
    }

    @Test func gnuTarHardLinksAndAbsoluteNames() async throws {
        let source = try Sandbox()
        try source.write("/h/a", "same inode")
        try FileManager.default.linkItem(atPath: source.root + "/h/a", toPath: source.root + "/h/b")
        let made = try runHost(Self.gnuTar, ["-cf", "-", "-C", source.root, "h"])
        #expect(made.status == 0)
        let target = try Sandbox()
        let result = await run(["tar", "xf", "-"], in: target, stdin: made.stdout)
        #expect(result.status == 0, "\(result.errors)")
        #expect(target.read("/h/b") == Array("same inode".utf8))
        #expect(target.info(host: target.root + "/h/a")?.inode == target.info(host: target.root + "/h/b")?.inode)
    }

    @Test func ourCreateMatchesGNUNames() async throws {
        let sandbox = try Sandbox()
        try sandbox.write("/a/b/file", "x")
        try sandbox.write("/a/b/sub/g", "y")
        for operand in ["a/b", "a/b/", "./a/b", "a/b/sub/..", "a/../a/b/file"] {
            let ours = await run(["tar", "cf", "-", operand], in: sandbox)
            let gnu = try runHost(Self.gnuTar, ["-cf", "-", "-C", sandbox.root, operand])
            let oursListed = try runHost(Self.gnuTar, ["-tf", "-"], stdin: ours.stdout)
            let gnuListed = try runHost(Self.gnuTar, ["-tf", "-"], stdin: gnu.stdout)
            #expect(oursListed.stdout == gnuListed.stdout, "\(operand)")
            #expect(ours.errors == gnu.stderr.replacingOccurrences(of: Self.gnuTar + ":", with: "tar:"), "\(operand)")
        }
    }
}
