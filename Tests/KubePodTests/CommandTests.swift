import Foundation
import NIOCore
import Testing

@testable import KubePod

@Suite struct CommandTests {
    @Test func echoJoinsArgumentsWithSpaces() async throws {
        let sandbox = try Sandbox()
        let result = await run(["echo", "hello", "pod", ""], in: sandbox)
        #expect(result.status == 0)
        #expect(result.output == "hello pod \n")
        #expect(result.stderr.isEmpty)
    }

    @Test func echoOptions() async throws {
        let sandbox = try Sandbox()
        #expect(await run(["echo", "-n", "a", "b"], in: sandbox).output == "a b")
        #expect(await run(["echo"], in: sandbox).output == "\n")
        #expect(await run(["echo", "-"], in: sandbox).output == "-\n")
        #expect(await run(["echo", "-x"], in: sandbox).output == "-x\n")
        #expect(await run(["echo", "-e", "a\\tb\\n"], in: sandbox).output == "a\tb\n\n")
        #expect(await run(["echo", "-ne", "a\\cb"], in: sandbox).output == "a")
        #expect(await run(["echo", "a\\tb"], in: sandbox).output == "a\\tb\n")
    }

    @Test func commandsMatchOnTheLastPathComponent() async throws {
        let sandbox = try Sandbox()
        #expect(await run(["/bin/echo", "x"], in: sandbox).output == "x\n")
        #expect(await run(["/usr/bin/true"], in: sandbox).status == 0)
        #expect(await run(["/bin/false"], in: sandbox).status == 1)
        #expect(await run(["/bin/sh", "-c", "exit 7"], in: sandbox).status == 7)
    }

    @Test func unknownCommandIsNotFound() async throws {
        let sandbox = try Sandbox()
        let result = await run(["frobnicate", "--now"], in: sandbox)
        #expect(result.status == 127)
        #expect(result.errors == "frobnicate: command not found\n")
        #expect(result.stdout.isEmpty)
        #expect(await run([], in: sandbox).status == 127)
    }

    @Test func namesListsEveryCommand() async throws {
        let sandbox = try Sandbox()
        for name in BuiltinCommands.names {
            let result = await run([name, "--definitely-not-an-option"], in: sandbox)
            #expect(result.status != 127, "\(name)")
        }
    }

    @Test func trueFalsePwdEnv() async throws {
        let sandbox = try Sandbox()
        #expect(await run(["true"], in: sandbox).status == 0)
        #expect(await run(["false"], in: sandbox).status == 1)
        let pwd = await run(["pwd"], in: sandbox)
        #expect(pwd.status == 0 && pwd.output == "/\n")
        let env = await run(["env"], in: sandbox)
        #expect(env.status == 0)
        #expect(env.output == BuiltinCommands.path + "\n")
        #expect(await run(["env", "A=1", "echo", "ran"], in: sandbox).output == "ran\n")
    }

    // MARK: - cat

    @Test func catStreamsThreeMegabytesOfStdin() async throws {
        let sandbox = try Sandbox()
        let data = randomBytes(3 * 1024 * 1024 + 123)
        let result = await run(["cat"], in: sandbox, stdin: data, chunkSize: 64 * 1024)
        #expect(result.status == 0)
        #expect(result.stdout.count == data.count)
        #expect(result.stdout == data)
        // Chunk by chunk: one write per stdin chunk, nothing gathered.
        #expect(result.stdoutWrites == (data.count + 64 * 1024 - 1) / (64 * 1024))
        #expect(result.largestStdoutWrite == 64 * 1024)
    }

    @Test func catDashAndFiles() async throws {
        let sandbox = try Sandbox()
        try sandbox.write("/a", "A\n")
        try sandbox.write("/dir/b", "B\n")
        let result = await run(["cat", "/a", "-", "dir/b"], in: sandbox, stdin: Array("in\n".utf8))
        #expect(result.status == 0)
        #expect(result.output == "A\nin\nB\n")
        // Without stdin, "-" is simply empty.
        #expect(await run(["cat"], in: sandbox).output == "")
    }

    @Test func catReadsALargeFileInPieces() async throws {
        let sandbox = try Sandbox()
        let data = randomBytes(1_000_000, seed: 7)
        try sandbox.write("/big", data)
        let result = await run(["cat", "/big"], in: sandbox)
        #expect(result.stdout == data)
        #expect(result.largestStdoutWrite <= 64 * 1024)
    }

    @Test func catErrors() async throws {
        let sandbox = try Sandbox()
        try sandbox.write("/ok", "ok\n")
        try sandbox.mkdir("/d")
        let result = await run(["cat", "/missing", "/ok", "/d"], in: sandbox)
        #expect(result.status == 1)
        #expect(result.output == "ok\n")
        #expect(result.errors == "cat: /missing: No such file or directory\ncat: /d: Is a directory\n")
    }

    @Test func catIsConfinedToTheRoot() async throws {
        let sandbox = try Sandbox()
        try sandbox.write("/etc/passwd", "pod-passwd\n")
        for path in [
            "/../../etc/passwd", "../../../../../../etc/passwd", "/etc/../../etc/passwd", "etc/passwd",
            "/./etc//passwd",
        ] {
            let result = await run(["cat", path], in: sandbox)
            #expect(result.status == 0, "\(path)")
            #expect(result.output == "pod-passwd\n", "\(path)")
        }
        // Symbolic links are resolved inside the root too, absolute or relative.
        try sandbox.symlink("/absolute", to: "/etc/passwd")
        try sandbox.symlink("/relative", to: "../../../../../../../etc/passwd")
        try sandbox.mkdir("/x")
        try sandbox.symlink("/x/up", to: "../../..")
        #expect(await run(["cat", "/absolute"], in: sandbox).output == "pod-passwd\n")
        #expect(await run(["cat", "/relative"], in: sandbox).output == "pod-passwd\n")
        #expect(await run(["cat", "/x/up/etc/passwd"], in: sandbox).output == "pod-passwd\n")
        // A link to a host path that only exists outside the root finds nothing.
        try sandbox.write("/../outside/secret", "host-secret\n")
        #expect(sandbox.read(host: sandbox.outside + "/secret") != nil)
        try sandbox.symlink("/leak", to: sandbox.outside + "/secret")
        let leak = await run(["cat", "/leak"], in: sandbox)
        #expect(leak.status == 1)
        #expect(leak.stdout.isEmpty)
    }

    @Test func symbolicLinkLoopsEnd() async throws {
        let sandbox = try Sandbox()
        try sandbox.symlink("/loop1", to: "/loop2")
        try sandbox.symlink("/loop2", to: "loop1")
        let result = await run(["cat", "/loop1"], in: sandbox)
        #expect(result.status == 1)
        #expect(result.errors.contains("Too many levels of symbolic links"))
    }

    // MARK: - ls, mkdir, rm

    @Test func lsListsSortedNames() async throws {
        let sandbox = try Sandbox()
        try sandbox.write("/d/b", "")
        try sandbox.write("/d/a", "")
        try sandbox.write("/d/.hidden", "")
        try sandbox.mkdir("/d/c")
        #expect(await run(["ls", "/d"], in: sandbox).output == "a\nb\nc\n")
        #expect(await run(["ls", "-1", "/d"], in: sandbox).output == "a\nb\nc\n")
        #expect(await run(["ls", "-a", "/d"], in: sandbox).output == ".\n..\n.hidden\na\nb\nc\n")
        #expect(await run(["ls", "/d/a"], in: sandbox).output == "/d/a\n")
        let both = await run(["ls", "/d/c", "/d/a", "/d"], in: sandbox)
        #expect(both.output == "/d/a\n\n/d:\na\nb\nc\n\n/d/c:\n")
        let long = await run(["ls", "-l", "/d"], in: sandbox)
        #expect(long.output.split(separator: "\n").first?.hasPrefix("-rw-r--r-- 1 root root 0 ") == true)
        let missing = await run(["ls", "/nope"], in: sandbox)
        #expect(missing.status == 2)
        #expect(missing.errors == "ls: cannot access '/nope': No such file or directory\n")
        #expect(await run(["ls"], in: sandbox).output == "d\n")
    }

    @Test func mkdirCreatesDirectories() async throws {
        let sandbox = try Sandbox()
        #expect(await run(["mkdir", "/a"], in: sandbox).status == 0)
        #expect(sandbox.info(host: sandbox.root + "/a")?.kind == .directory)
        let again = await run(["mkdir", "/a"], in: sandbox)
        #expect(again.status == 1)
        #expect(again.errors == "mkdir: cannot create directory '/a': File exists\n")
        let nested = await run(["mkdir", "/x/y"], in: sandbox)
        #expect(nested.status == 1)
        #expect(nested.errors.contains("No such file or directory"))
        #expect(await run(["mkdir", "-p", "/x/y/z", "/a"], in: sandbox).status == 0)
        #expect(sandbox.info(host: sandbox.root + "/x/y/z")?.kind == .directory)
        #expect(await run(["mkdir"], in: sandbox).status == 2)
        #expect(await run(["mkdir", "-m", "700", "/private"], in: sandbox).status == 0)
        #expect(sandbox.info(host: sandbox.root + "/private")?.permissions == 0o700)
    }

    @Test func mkdirThroughALinkStaysInside() async throws {
        let sandbox = try Sandbox()
        try sandbox.symlink("/escape", to: sandbox.outside)
        try sandbox.symlink("/up", to: "../../../../..")
        #expect(await run(["mkdir", "-p", "/escape/made"], in: sandbox).status == 0)
        #expect(await run(["mkdir", "/up/made2"], in: sandbox).status == 0)
        #expect(sandbox.outsideContents().isEmpty)
        #expect(sandbox.info(host: sandbox.root + sandbox.outside + "/made")?.kind == .directory)
        #expect(sandbox.info(host: sandbox.root + "/made2")?.kind == .directory)
    }

    @Test func rmRemovesFilesAndTrees() async throws {
        let sandbox = try Sandbox()
        try sandbox.write("/f", "x")
        try sandbox.write("/t/a/b/c", "x")
        try sandbox.write("/t/d", "x")
        #expect(await run(["rm", "/f"], in: sandbox).status == 0)
        #expect(!sandbox.exists(host: sandbox.root + "/f"))
        let directory = await run(["rm", "/t"], in: sandbox)
        #expect(directory.status == 1)
        #expect(directory.errors == "rm: cannot remove '/t': Is a directory\n")
        #expect(await run(["rm", "-rf", "/t"], in: sandbox).status == 0)
        #expect(!sandbox.exists(host: sandbox.root + "/t"))
        let missing = await run(["rm", "/missing"], in: sandbox)
        #expect(missing.status == 1)
        #expect(missing.errors == "rm: cannot remove '/missing': No such file or directory\n")
        #expect(await run(["rm", "-f", "/missing"], in: sandbox).status == 0)
        #expect(await run(["rm", "-f"], in: sandbox).status == 0)
        #expect(await run(["rm"], in: sandbox).status == 2)
    }

    @Test func rmNeverLeavesTheRoot() async throws {
        let sandbox = try Sandbox()
        try FileManager.default.createDirectory(atPath: sandbox.outside + "/keep", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: sandbox.outside + "/keep/file", contents: Data("k".utf8)))
        try sandbox.write("/inside", "x")
        try sandbox.mkdir("/tree")
        try sandbox.symlink("/tree/link", to: sandbox.outside + "/keep")
        try sandbox.symlink("/tree/relative", to: "../../outside/keep")
        try sandbox.symlink("/direct", to: sandbox.outside + "/keep")

        let slash = await run(["rm", "-rf", "/"], in: sandbox)
        #expect(slash.status == 1)
        #expect(slash.errors.contains("dangerous to operate recursively on '/'"))
        #expect(await run(["rm", "-rf", "/.."], in: sandbox).status == 1)
        #expect(await run(["rm", "-rf", "../../.."], in: sandbox).status == 1)
        #expect(sandbox.exists(host: sandbox.root + "/inside"))

        #expect(await run(["rm", "-r", "/tree", "/direct"], in: sandbox).status == 0)
        #expect(!sandbox.exists(host: sandbox.root + "/tree"))
        #expect(!sandbox.exists(host: sandbox.root + "/direct"))
        #expect(sandbox.read(host: sandbox.outside + "/keep/file") == Array("k".utf8))
        // "/../../x" is the pod's /x.
        #expect(await run(["rm", "/../../inside"], in: sandbox).status == 0)
        #expect(!sandbox.exists(host: sandbox.root + "/inside"))
        #expect(sandbox.exists(host: sandbox.root))
    }

    // MARK: - test

    @Test func testAndBracket() async throws {
        let sandbox = try Sandbox()
        try sandbox.write("/file", "x")
        try sandbox.write("/empty", "")
        try sandbox.mkdir("/dir")
        try sandbox.symlink("/link", to: "/dir")
        let cases: [([String], Int32)] = [
            (["test", "-d", "/dir"], 0), (["test", "-d", "/file"], 1), (["test", "-d", "/nope"], 1),
            (["test", "-f", "/file"], 0), (["test", "-f", "/dir"], 1), (["test", "-e", "/dir"], 0),
            (["test", "-e", "/nope"], 1), (["test", "-d", "/link"], 0), (["test", "-L", "/link"], 0),
            (["test", "-s", "/empty"], 1), (["test", "-s", "/file"], 0), (["test", "!", "-e", "/nope"], 0),
            (["[", "-d", "/dir", "]"], 0), (["[", "-f", "/dir", "]"], 1), (["/usr/bin/[", "-e", "/file", "]"], 0),
            (["test", "a", "=", "a"], 0), (["test", "a", "!=", "a"], 1), (["test", "3", "-gt", "2"], 0),
            (["test"], 1), (["test", "x"], 0), (["test", ""], 1), (["test", "-q", "x"], 2),
            (["[", "-d", "/dir"], 2), (["test", "-d", "/../../dir"], 0),
        ]
        for (argv, expected) in cases {
            #expect(await run(argv, in: sandbox).status == expected, "\(argv)")
        }
    }

    // MARK: - sleep, stty, tail

    @Test func sleepSleeps() async throws {
        let sandbox = try Sandbox()
        let clock = ContinuousClock()
        let start = clock.now
        #expect(await run(["sleep", "0.2"], in: sandbox).status == 0)
        #expect(clock.now - start >= .milliseconds(190))
        #expect(await run(["sleep", "abc"], in: sandbox).status == 2)
        #expect(await run(["sleep"], in: sandbox).status == 2)
    }

    @Test func sleepEndsWhenCancelled() async throws {
        let sandbox = try Sandbox()
        let task = Task { await run(["sleep", "infinity"], in: sandbox).status }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        #expect(await task.value == 130)
    }

    @Test func sttySize() async throws {
        let sandbox = try Sandbox()
        let tty = await run(["stty", "size"], in: sandbox, terminal: (width: 120, height: 40))
        #expect(tty.status == 0)
        #expect(tty.output == "40 120\n")
        let none = await run(["stty", "size"], in: sandbox)
        #expect(none.status == 1)
        #expect(none.errors.contains("Inappropriate ioctl for device"))
    }

    @Test func tailBytes() async throws {
        let sandbox = try Sandbox()
        let data = randomBytes(300_000, seed: 3)
        #expect(await run(["tail", "-c+1"], in: sandbox, stdin: data, chunkSize: 1000).stdout == data)
        #expect(
            await run(["tail", "-c", "+1001"], in: sandbox, stdin: data, chunkSize: 999).stdout == Array(data[1000...]))
        #expect(
            await run(["tail", "-c", "10"], in: sandbox, stdin: data, chunkSize: 7).stdout == Array(data.suffix(10)))
        try sandbox.write("/f", "hello world")
        #expect(await run(["tail", "-c", "5", "/f"], in: sandbox).output == "world")
        #expect(await run(["tail", "-n", "5"], in: sandbox).status == 2)
    }
}
