// swift-tools-version: 6.0
//
// libFuzzer targets for swift-spdy (issue 7). They live in their own package, like
// Benchmarks/, so that nothing here reaches users of the library.
//
// Each executable target is one fuzz target: it exports LLVMFuzzerTestOneInput and has
// no Swift `main` (libFuzzer provides it). Build them all with
//
//     swift build -c release --package-path Fuzz \
//         --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address
//
// (both forms are needed: see scripts/fuzz.sh), or build and run them with
// scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET…].

import PackageDescription

import struct Foundation.URL

// The identity of a path dependency is the name of its directory, which is
// whatever the repository was cloned as; read it instead of assuming it.
let rootPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent

let spdy: Target.Dependency = .product(name: "SPDY", package: rootPackage)
let nioCore: Target.Dependency = .product(name: "NIOCore", package: "swift-nio")

let package = Package(
    name: "swift-spdy-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        // Plain zlib for the header-block target (raw blocks compressed here, with or
        // without the SPDY dictionaries). zlib.h is only included by the .c file, so
        // this module never clashes with the library's CZlib module.
        .target(name: "CFuzzZlib", linkerSettings: [.linkedLibrary("z")]),
        // What the targets share: an input cursor, the seed-corpus writer.
        .target(name: "FuzzCommon", dependencies: ["CFuzzZlib", spdy, nioCore]),
        .executableTarget(name: "FuzzFrameDecoder", dependencies: ["FuzzCommon", spdy, nioCore]),
        .executableTarget(name: "FuzzHeaderBlock", dependencies: ["FuzzCommon", "CFuzzZlib", spdy, nioCore]),
        .executableTarget(name: "FuzzSession", dependencies: ["FuzzCommon", spdy, nioCore]),
        .executableTarget(name: "FuzzRoundTrip", dependencies: ["FuzzCommon", spdy, nioCore]),
    ],
    swiftLanguageModes: [.v6]
)
