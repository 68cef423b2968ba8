// swift-tools-version:6.0
//
// swift-spdy: SPDY/2, SPDY/3 and SPDY/3.1 for Swift.

import PackageDescription

let package = Package(
    name: "swift-spdy",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "SPDY", targets: ["SPDY"]),
        .executable(name: "spdy-example", targets: ["SPDYExample"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        .target(
            name: "SPDY",
            dependencies: [
                "CZlib",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ]
        ),
        .executableTarget(
            name: "SPDYExample",
            dependencies: [
                "SPDY",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SPDYTests",
            dependencies: [
                "SPDY",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Vectors"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
