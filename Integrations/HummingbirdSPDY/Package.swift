// swift-tools-version:6.0
//
// Hummingbird 2 over SPDY/3.1, SPDY/3, SPDY/2 and HTTP/1.1 on one port. It lives in its
// own package so that Hummingbird never reaches users of the root package and the root
// `swift test` does not build it. The folder is not called `Hummingbird`: a root package's
// identity is its folder's name, and `hummingbird` is the identity of the dependency.

import PackageDescription

import struct Foundation.URL

// The identity of a path dependency is the name of its directory, which is whatever the
// repository was cloned as; read it instead of assuming it.
let rootPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "swift-spdy-hummingbird",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "HummingbirdSPDY", targets: ["HummingbirdSPDY"]),
        .executable(name: "hummingbird-spdy-example", targets: ["HummingbirdSPDYExample"]),
    ],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        .target(
            name: "HummingbirdSPDY",
            dependencies: [
                .product(name: "NIOSPDY", package: rootPackage),
                .product(name: "SPDY", package: rootPackage),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A Hummingbird app served over SPDY and HTTP/1.1, for the interoperability suite.
        .executableTarget(
            name: "HummingbirdSPDYExample",
            dependencies: [
                "HummingbirdSPDY",
                .product(name: "NIOSPDY", package: rootPackage),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "HummingbirdSPDYTests",
            dependencies: [
                "HummingbirdSPDY",
                .product(name: "NIOSPDY", package: rootPackage),
                .product(name: "SPDY", package: rootPackage),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
