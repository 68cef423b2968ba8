// swift-tools-version:6.0
//
// swift-spdy: SPDY/2, SPDY/3 and SPDY/3.1 for Swift.

import PackageDescription

let package = Package(
    name: "swift-spdy",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "SPDY", targets: ["SPDY"]),
        .library(name: "NIOSPDY", targets: ["NIOSPDY"]),
        .library(name: "SPDYUpgrade", targets: ["SPDYUpgrade"]),
        .library(name: "SPDYKubernetes", targets: ["SPDYKubernetes"]),
        .library(name: "NIOSPDYOpenSSL", targets: ["NIOSPDYOpenSSL"]),
        .executable(name: "spdy-example", targets: ["SPDYExample"]),
        .executable(name: "spdyserv", targets: ["spdyserv"]),
        .executable(name: "spdy-interop", targets: ["spdy-interop"]),
        .executable(name: "spdycat", targets: ["spdycat"]),
        .executable(name: "spdyd", targets: ["spdyd"]),
        .executable(name: "spdyload", targets: ["spdyload"]),
        .executable(name: "spdyspec", targets: ["spdyspec"]),
        .library(name: "SPDYSpec", targets: ["SPDYSpec"]),
        .executable(name: "kube-pod", targets: ["kube-pod"]),
        .library(name: "SPDYProxy", targets: ["SPDYProxy"]),
        .executable(name: "spdyproxy", targets: ["spdyproxy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        // The system OpenSSL, for the TLS backend that offers NPN next to ALPN (SPDY-era
        // clients) in NIOSPDYOpenSSL; swift-nio-ssl (BoringSSL, prefixed symbols) stays the
        // default backend, and NIOSPDY does not need libssl-dev.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"]), .brew(["openssl"])]
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
        .target(
            name: "NIOSPDY",
            dependencies: [
                "SPDY",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // The TLS provider on the system OpenSSL (NPN next to ALPN) for SPDYServer and
        // SPDYClient.
        .target(
            name: "NIOSPDYOpenSSL",
            dependencies: [
                "NIOSPDY",
                "SPDY",
                "COpenSSL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "spdyserv",
            dependencies: [
                "NIOSPDY",
                "NIOSPDYOpenSSL",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // What the command-line tools share: option groups, one-line errors, the -v frame
        // log, gzip and deflate.
        .target(
            name: "SPDYToolSupport",
            dependencies: [
                "CZlib",
                "NIOSPDY",
                "NIOSPDYOpenSSL",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                "SPDY",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "spdycat",
            dependencies: [
                "NIOSPDY",
                "NIOSPDYOpenSSL",
                "SPDY",
                "SPDYToolSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "spdyd",
            dependencies: [
                "NIOSPDY",
                "NIOSPDYOpenSSL",
                "SPDY",
                "SPDYToolSupport",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // spdyspec's catalogue and runner (issue 19): a library, so that its tests can run the
        // catalogue against an in-memory server session.
        .target(
            name: "SPDYSpec",
            dependencies: [
                "NIOSPDY",
                "NIOSPDYOpenSSL",
                "SPDY",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "spdyspec",
            dependencies: [
                "SPDYSpec",
                "SPDY",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "spdyload",
            dependencies: [
                "NIOSPDY",
                "SPDY",
                "SPDYToolSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "SPDYExample",
            dependencies: [
                "SPDY",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // A reverse proxy: SPDY and HTTP/1.1 in front, HTTP/1.1 backends behind (spdyproxy).
        .target(
            name: "SPDYProxy",
            dependencies: [
                "NIOSPDY",
                "SPDY",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        .executableTarget(
            name: "spdyproxy",
            dependencies: [
                "SPDYProxy",
                "NIOSPDY",
                "NIOSPDYOpenSSL",
                "SPDY",
                "SPDYToolSupport",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // The Swift side of the interoperability suite (Interop/run.sh): server, client
        // scenarios and a frame dump for Wireshark.
        .executableTarget(
            name: "spdy-interop",
            dependencies: [
                "NIOSPDY",
                "SPDY",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Interop/Driver"
        ),
        // Our Kubernetes client (exec, attach, port-forward) against a given server: the Go
        // kubelet-peer on moby/spdystream, or kube-pod (Interop/KubeClient/run.sh).
        .executableTarget(
            name: "kube-interop",
            dependencies: [
                "SPDYKubernetes",
                "SPDYUpgrade",
                "SPDY",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Interop/KubeClient",
            exclude: ["run.sh"]
        ),
        // HTTP/1.1 upgraded to SPDY/3.1, as Kubernetes streams (exec, attach, port-forward).
        .target(
            name: "SPDYUpgrade",
            dependencies: [
                "NIOSPDY",
                "SPDY",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // Kubernetes streaming (exec, attach, cp, port-forward) over SPDY, server and client.
        .target(
            name: "SPDYKubernetes",
            dependencies: [
                "NIOSPDY",
                "SPDY",
                "SPDYUpgrade",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The pod kube-pod pretends to run: built-in commands and tar over a scratch folder.
        .target(
            name: "KubePod",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio")
            ]
        ),
        // A fake Kubernetes API server for one pod: kubectl exec, attach, cp and port-forward.
        .executableTarget(
            name: "kube-pod",
            dependencies: [
                "KubePod",
                "NIOSPDY",
                "SPDYKubernetes",
                "SPDYUpgrade",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // What several test suites share: the test server and its handler, raw connections
        // that record frames, a well-behaved client, waiting without hanging.
        .target(
            name: "SPDYTestSupport",
            dependencies: [
                "NIOSPDY",
                "SPDY",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Tests/SPDYTestSupport"
        ),
        .testTarget(
            name: "SPDYSpecTests",
            dependencies: [
                "SPDYSpec",
                "SPDY",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "NIOSPDYTests",
            dependencies: [
                "SPDYTestSupport",
                "SPDYUpgrade",
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                "NIOSPDY",
                "SPDY",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
            ]
        ),
        // The OpenSSL provider against our server and client, openssl s_client and s_server.
        .testTarget(
            name: "NIOSPDYOpenSSLTests",
            dependencies: [
                "NIOSPDYOpenSSL",
                "NIOSPDY",
                "SPDY",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // End-to-end tests of spdycat, spdyd and spdyload: they run the built executables.
        .testTarget(
            name: "SPDYToolsTests",
            dependencies: [
                "SPDYToolSupport",
                "SPDYTestSupport",
                "NIOSPDY",
                "SPDY",
                "spdycat",
                "spdyd",
                "spdyload",
                "spdyproxy",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // spdyproxy in front of real backends: nginx, an HTTP/1.1 echo server.
        .testTarget(
            name: "SPDYProxyTests",
            dependencies: [
                "SPDYProxy",
                "SPDYTestSupport",
                "NIOSPDY",
                "SPDY",
                "spdyproxy",
                "spdycat",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "KubePodTests",
            dependencies: [
                "KubePod",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SPDYKubernetesTests",
            dependencies: [
                "SPDYKubernetes",
                "SPDYUpgrade",
                "SPDY",
                "NIOSPDY",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SPDYTests",
            dependencies: [
                "SPDY",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            // Vectors/make_vectors.py writes the JSON files of golden frames the tests read.
            exclude: ["Vectors/make_vectors.py"],
            resources: [.copy("Vectors/golden.json"), .copy("Vectors/interop.json")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
