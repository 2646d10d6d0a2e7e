// swift-tools-version:6.0
// A standalone package: the SwiftNIO baseline for the fanout benchmarks. It is never part of
// the main package's build (the main Package.swift does not reference this folder).
import PackageDescription

let package = Package(
    name: "NIOBaseline",
    products: [
        .executable(name: "nio-fanout", targets: ["NIOFanout"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0")
    ],
    targets: [
        .executableTarget(
            name: "NIOFanout",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]
        )
    ]
)
