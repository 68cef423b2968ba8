// swift-tools-version: 6.1
//
// Benchmarks of the swift-spdy wire layer (target WireLayer), of the session
// (target Session) and of the session's receive path on a recorded connection
// (target RecordedStream). They live in their own package so that the benchmark
// dependency never reaches users of the library.
//
// Run with: swift package --allow-writing-to-package-directory benchmark
//
// ordo-one/benchmark 1.38.1 adds ordo-one/swift-runtime-interposer on Linux
// with Swift 6.3 when its default trait "RuntimeInterposer" is on. Listing the
// traits explicitly (only "MallocInterposer") turns that trait off, and
// SwiftPM then does not fetch the package at all. "MallocInterposer" is what
// provides the malloc counts on Swift 6.3+.

import PackageDescription

import struct Foundation.URL

// The identity of a path dependency is the name of its directory, which is
// whatever the repository was cloned as; read it instead of assuming it.
let rootPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent

let package = Package(
    name: "swift-spdy-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "WireLayer",
            dependencies: [
                "CZlibBaseline",
                .product(name: "SPDY", package: rootPackage),
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/WireLayer",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        ),
        // SPDYSession: an SPDY/3.1 client and server connected in memory.
        .executableTarget(
            name: "Session",
            dependencies: [
                .product(name: "SPDY", package: rootPackage),
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/Session",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        ),
        // SPDYSession's receive path on a recorded SPDY/3 connection (requests into a
        // server, responses into a client), fed in 16 KiB pieces: the workload of the
        // comparison with the C library's spdylay_session_mem_recv.
        .executableTarget(
            name: "RecordedStream",
            dependencies: [
                .product(name: "SPDY", package: rootPackage),
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/RecordedStream",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        ),
        // The session workloads as a plain executable, for callgrind and perf.
        .executableTarget(
            name: "SessionProfile",
            dependencies: [
                .product(name: "SPDY", package: rootPackage),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/Profile"
        ),
        // Plain zlib (no SPDY framing), for a baseline of the header-block cost.
        .target(
            name: "CZlibBaseline",
            linkerSettings: [.linkedLibrary("z")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
