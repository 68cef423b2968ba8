import Foundation
import NIOCore
import Testing

@testable import KubePod

@Suite struct ShellTests {
    @Test func exitStatuses() async throws {
        let sandbox = try Sandbox()
        let cases: [(String, Int32)] = [
            ("exit 0", 0), ("exit 3", 3), ("exit 256", 0), ("exit", 0), ("true", 0), ("false", 1),
            ("false; exit", 1), ("true && exit 4; echo no", 4), ("false && exit 4", 1), ("false || exit 5", 5),
            ("", 0), ("   ", 0), ("# just a comment", 0), ("exit abc", 2), ("nonexistent", 127),
            ("false && true || exit 9", 9), ("true || false && exit 8", 8), (":", 0),
        ]
        for (script, expected) in cases {
            let result = await run(["sh", "-c", script], in: sandbox)
            #expect(result.status == expected, "\(script): \(result.errors)")
        }
    }

    @Test func sequencesRunBuiltinCommands() async throws {
        let sandbox = try Sandbox()
        let result = await run(
            ["sh", "-c", "echo one; echo two && false && echo never; echo three || echo never; mkdir -p /made"],
            in: sandbox
        )
        #expect(result.status == 0)
        #expect(result.output == "one\ntwo\nthree\n")
        #expect(sandbox.info(host: sandbox.root + "/made")?.kind == .directory)
        let newlines = await run(["sh", "-c", "echo a\n\necho b &&\n echo c\n"], in: sandbox)
        #expect(newlines.output == "a\nb\nc\n")
        let test = await run(["sh", "-c", "[ -d /made ] && echo dir; test -f /made || echo notfile"], in: sandbox)
        #expect(test.output == "dir\nnotfile\n")
    }

    @Test func quoting() async throws {
        let sandbox = try Sandbox()
        let result = await run(["sh", "-c", #"echo 'a  b' "c \"d\" \\ e" f\ g '' "$" x#y # comment"#], in: sandbox)
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.output == "a  b c \"d\" \\ e f g  $ x#y\n")
        #expect(
            try Shell.tokenize("a|b||c&&d;e") == [
                .word("a"), .operator("|"), .word("b"), .operator("||"), .word("c"), .operator("&&"), .word("d"),
                .operator(";"), .word("e"),
            ])
    }

    @Test func unsupportedScriptsAreRefused() async throws {
        let sandbox = try Sandbox()
        for script in [
            "echo $HOME", "echo `id`", "echo $(id)", "echo hi > /x", "cat < /x", "sleep 1 &", "(echo)",
            "if true; then echo; fi", "for a in b; do echo; done", "ls /*", "A=1 echo", "echo 'open",
            "echo \"open", "&& echo", "echo ||", "echo |", "cd /tmp", "echo ~", "ls [ab]", "case x in esac",
        ] {
            let result = await run(["sh", "-c", script], in: sandbox)
            #expect(result.status == 2, "\(script)")
            #expect(result.errors.hasPrefix("sh: unsupported script"), "\(script): \(result.errors)")
            #expect(result.stdout.isEmpty, "\(script)")
        }
        #expect(!sandbox.exists(host: sandbox.root + "/x"))
        #expect(await run(["sh", "-c"], in: sandbox).status == 2)
        #expect(await run(["sh", "/script.sh"], in: sandbox).status == 2)
    }

    @Test func pipelines() async throws {
        let sandbox = try Sandbox()
        #expect(await run(["sh", "-c", "echo hello | cat"], in: sandbox).output == "hello\n")
        #expect(await run(["sh", "-c", "echo hello | cat | cat | tail -c 3"], in: sandbox).output == "lo\n")
        #expect(await run(["sh", "-c", "echo hi | false"], in: sandbox).status == 1)
        #expect(await run(["sh", "-c", "false | true"], in: sandbox).status == 0)
        // exit inside a pipeline ends only its own command.
        #expect(await run(["sh", "-c", "exit 3 | echo after"], in: sandbox).output == "after\n")
        // A large stream goes through the bounded pipe in order.
        let data = randomBytes(2_000_000, seed: 11)
        let result = await run(["sh", "-c", "cat | cat | tail -c+1"], in: sandbox, stdin: data, chunkSize: 50_000)
        #expect(result.status == 0)
        #expect(result.stdout == data)
        // The writer sees a broken pipe when the reader is gone.
        let early = await run(["sh", "-c", "cat | true"], in: sandbox, stdin: data, chunkSize: 50_000)
        #expect(early.status == 0)
    }

    @Test func kubectlRetryScript() async throws {
        let sandbox = try Sandbox()
        try sandbox.write("/data/file", randomBytes(200_000))
        let plain = await run(["tar", "cf", "-", "/data"], in: sandbox)
        let retried = await run(["sh", "-c", "tar cf - /data | tail -c+1"], in: sandbox)
        #expect(retried.status == 0)
        #expect(retried.stdout == plain.stdout)
        #expect(retried.errors == "tar: Removing leading `/' from member names\n")
        let resumed = await run(["sh", "-c", "tar cf - /data | tail -c+1025"], in: sandbox)
        #expect(resumed.stdout == Array(plain.stdout[1024...]))
    }

    @Test func readsCommandsFromStdin() async throws {
        let sandbox = try Sandbox()
        let script = "echo one\r\necho two\n\nfalse\nexit 5\necho never\n"
        let result = await run(["sh"], in: sandbox, stdin: Array(script.utf8), chunkSize: 3)
        #expect(result.status == 5)
        #expect(result.output == "one\ntwo\n")
        let lastStatus = await run(["sh"], in: sandbox, stdin: Array("false".utf8))
        #expect(lastStatus.status == 1)
        let empty = await run(["/bin/sh"], in: sandbox, stdin: [])
        #expect(empty.status == 0 && empty.stdout.isEmpty)
        let unsupported = await run(["sh"], in: sandbox, stdin: Array("echo $X\necho ok\n".utf8))
        #expect(unsupported.output == "ok\n")
        #expect(unsupported.errors.hasPrefix("sh: unsupported script"))
        #expect(unsupported.status == 0)
    }

    @Test func interactiveSessionWithTerminal() async throws {
        let sandbox = try Sandbox()
        // What a raw-mode terminal sends: CR for Enter, DEL for backspace, an arrow key, ^D.
        let typed = "echo hix\u{7f}\r\u{1b}[Aecho a\rstty size\r\u{4}"
        let result = await run(
            ["sh"],
            in: sandbox,
            stdin: Array(typed.utf8),
            chunkSize: 1,
            terminal: (width: 80, height: 24)
        )
        #expect(result.status == 0)
        let expected =
            "$ echo hix\u{8} \u{8}\r\nhi\r\n$ echo a\r\na\r\n$ stty size\r\n24 80\r\n$ exit\r\n"
        #expect(result.output == expected)
    }

    @Test func interactiveExitAndInterrupt() async throws {
        let sandbox = try Sandbox()
        let result = await run(
            ["sh", "-i"],
            in: sandbox,
            stdin: Array("echo abc\u{3}exit 3\r\necho never\r".utf8),
            terminal: (width: 80, height: 24)
        )
        #expect(result.status == 3)
        #expect(result.output == "$ echo abc^C\r\n$ exit 3\r\n")
    }
}
