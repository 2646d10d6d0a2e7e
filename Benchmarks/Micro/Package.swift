// swift-tools-version:6.1
// Microbenchmarks with allocation counts (STYLE.md §9). A package of its own so that neither the
// main build nor CI ever compiles package-benchmark; it depends on the main package by path.
//
//   cd Benchmarks/Micro && swift package benchmark                        # run everything
//   swift package benchmark thresholds check --path Thresholds/6.3        # gate allocations
//
// package-benchmark 1.38.1 with only the MallocInterposer trait: malloc/calloc/realloc/free are
// counted by ordo-one/malloc-interposer. The RuntimeInterposer trait (ARC counters, which on
// Linux + Swift 6.3 would need ordo-one/swift-runtime-interposer) is left off on purpose.
import PackageDescription

let package = Package(
    name: "MicroBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/ordo-one/package-benchmark.git", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "MicroBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "Wire", package: "main"),
                .product(name: "FIX", package: "main"),
                .product(name: "WebSocket", package: "main"),
                .product(name: "Broker", package: "main"),
            ],
            path: "Benchmarks/MicroBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
    ]
)
