import SPDYToolSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `-D`: spdyd in the background.
///
/// Forking a process that may already run threads is unsafe, so instead of the original's
/// `daemon(3)` spdyd starts itself again with an environment marker, its standard input on
/// /dev/null and its output on pipes. The copy starts the server, prints the listening lines
/// and its process ID, then leaves the terminal's session and points its output at
/// /dev/null (``detach()``). The first process relays what the copy printed and exits 0 once
/// the copy has detached, or with the copy's status when it failed to start.
enum Daemon {
    /// The environment variable that marks the background copy.
    static let childMarker = "SPDYD_DAEMON_CHILD"

    /// The line the background copy prints once it serves.
    static let readyPrefix = "spdyd: running in the background as process "

    /// Starts the background copy, relays its start-up output and exits.
    static func startInBackground() throws -> Never {
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
            throw ToolError("-D: cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        // Nothing else is inherited: a descriptor the copy kept open could make whoever
        // started spdyd wait for the copy (Foundation's Process watches a socket for the
        // end of its child, for one).
        let highest = min(Int32(clamping: sysconf(Int32(_SC_OPEN_MAX))), 65536)
        for fd in 3..<max(3, highest) where fcntl(fd, F_GETFD) != -1 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        setenv(childMarker, "1", 1)
        let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
        defer { for argument in arguments { free(argument) } }
        var pid = pid_t()
        let status = posix_spawn(&pid, "/proc/self/exe", &actions, nil, arguments, environ)
        unsetenv(childMarker)
        close(outPipe[1])
        close(errPipe[1])
        guard status == 0 else {
            throw ToolError("-D: cannot start the background process: \(String(cString: strerror(status)))")
        }
        let printed = relay(from: outPipe[0], to: Output.standardOutput)
        _ = relay(from: errPipe[0], to: Output.standardError)
        if printed.contains(readyPrefix) {
            exit(0)
        }
        var childStatus: Int32 = 0
        waitpid(pid, &childStatus, 0)
        let exited = childStatus & 0x7F == 0
        let code = exited ? (childStatus >> 8) & 0xFF : 1
        exit(code == 0 ? 1 : code)
    }

    /// In the background copy: prints the ready line, leaves the terminal's session and
    /// sends further output (the `-v` log included) to /dev/null.
    static func detach() {
        Output.standardOutput.write(readyPrefix + "\(getpid())\n")
        setsid()
        chdir("/")
        let null = open("/dev/null", O_RDWR)
        if null >= 0 {
            dup2(null, 1)
            dup2(null, 2)
            close(null)
        }
    }

    /// Copies a pipe to `output` until its end; returns what was copied.
    private static func relay(from fd: Int32, to output: Output) -> String {
        var all: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            all += buffer.prefix(count)
        }
        close(fd)
        let text = String(decoding: all, as: UTF8.self)
        output.write(text)
        return text
    }
}
