// spdy-interop: our side of the interoperability suite (Interop/run.sh).
//
//   spdy-interop server --version 3|3.1 [--port P] [--connections N] [--expect a,b,...]
//   spdy-interop client --scenario netty|spdystream --port P [--host H]
//   spdy-interop frames --dump FILE | --verify FILE
//
// Servers print "PORT p" once listening; every check prints one line; the exit status is
// 0 when every check passed.

import NIOCore
import NIOSPDY
import SPDY

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    say("usage: spdy-interop server|client|frames [options]")
    exit(2)
}
let options = Options(arguments.dropFirst(2))
startWatchdog(seconds: options.int("timeout", default: 120), name: arguments[1])

switch arguments[1] {
case "server":
    let expected = (options["expect"] ?? "").split(separator: ",").map(String.init)
    for name in expected where InteropServer.expectations[name] == nil {
        say("server: unknown expectation \(name)")
        exit(2)
    }
    let server = InteropServer(expected: expected, connections: options.int("connections", default: 0))
    InteropServer.shared = server
    try await server.run(options: options)
case "client":
    try await InteropClient(options: options).run()
case "frames":
    if let path = options["dump"] {
        try FramesCell.dump(to: path)
    } else if let path = options["verify"] {
        try FramesCell.verify(path)
    } else {
        say("usage: spdy-interop frames --dump FILE | --verify FILE")
        exit(2)
    }
default:
    say("unknown command \(arguments[1])")
    exit(2)
}
