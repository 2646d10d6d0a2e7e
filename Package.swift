// swift-tools-version:6.1
import PackageDescription

// Layering (DESIGN.md): CEpoll <- Wire <- {FIX, WebSocket} <- Broker <- broker (executable).
// Debian C libraries come in as system libraries named by pkg-config.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// Release builds drop the runtime exclusivity checks: they cost a thread-local lookup on every
// class property access on the per-message path (seen in perf as swift_beginAccess/AccessSet).
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

// The release `broker` (docs/profiling.md, "Memory": idle fanout node 22.5 -> 13.9 MB RSS):
// - -static-stdlib: the Swift runtime and libraries are linked in instead of mapped as shared
//   libraries (libswiftCore, FoundationEssentials, _StringProcessing, ...) with their symbol
//   tables and relocated pages: -3.7 MB.
// - lld with -z pack-relative-relocs (RELR, glibc >= 2.36): the ~40,000 relative relocations of a
//   PIE fit in 8 KB instead of a 950 KB .rela.dyn read at every start: -1.0 MB, PIE kept.
// - --no-export-dynamic: -static-stdlib's link arguments export every symbol; nothing looks ours
//   up by name, and the dynamic symbol table was 0.7 MB resident.
// Debug builds and tests stay dynamic.
let releaseExecutable: [LinkerSetting] = [
    .unsafeFlags(["-static-stdlib", "-use-ld=lld", "-Xlinker", "--no-export-dynamic",
                  "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(configuration: .release)),
    // The shared FoundationEssentials.swiftmodule we compile against does not autolink what its
    // static archive needs (SwiftPM's --static-swift-stdlib adds the same two).
    .linkedLibrary("_FoundationCShims", .when(configuration: .release)),
    .linkedLibrary("_FoundationCollections", .when(configuration: .release)),
]

let package = Package(
    name: "Brokerage",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "broker", targets: ["BrokerCLI"]),
        .library(name: "Wire", targets: ["Wire"]),
        .library(name: "FIX", targets: ["FIX"]),
        .library(name: "WebSocket", targets: ["WebSocket"]),
        .library(name: "Broker", targets: ["Broker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.1.0"),
    ],
    targets: [
        .target(name: "CEpoll", cSettings: [.define("_GNU_SOURCE")]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        // Declarations only (no pkg-config, no link): CLibPQLoader loads libpq on first use.
        .systemLibrary(name: "CLibPQ", providers: [.apt(["libpq-dev"])]),
        .target(name: "CLibPQLoader", dependencies: ["CLibPQ"], linkerSettings: [.linkedLibrary("dl")]),
        .target(
            name: "Wire",
            dependencies: ["CEpoll", "COpenSSL", .product(name: "Logging", package: "swift-log")],
            swiftSettings: hotPath
        ),
        .target(name: "FIX", dependencies: ["Wire", .product(name: "Logging", package: "swift-log")],
                swiftSettings: hotPath),
        .target(name: "WebSocket", dependencies: ["Wire", "CZlib", .product(name: "Logging", package: "swift-log")],
                swiftSettings: hotPath),
        .target(
            name: "Broker",
            dependencies: [
                "Wire", "FIX", "WebSocket", "CRdKafka", "CHiredis", "CLibPQ", "CLibPQLoader", "COpenSSL",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            exclude: ["Resources"],  // symbol listings read from disk by path (Resources/README.md)
            swiftSettings: hotPath
        ),
        .executableTarget(name: "KafkaMock", dependencies: ["CRdKafka"]),
        .executableTarget(name: "BrokerCLI", dependencies: ["Broker", "Wire", .product(name: "Logging", package: "swift-log")],
                          linkerSettings: releaseExecutable),
        .testTarget(name: "WireTests", dependencies: ["Wire"]),
        .testTarget(name: "FIXTests", dependencies: ["FIX", "Wire"]),
        .testTarget(name: "WebSocketTests", dependencies: ["WebSocket", "Wire", "CZlib"]),
        .testTarget(name: "BrokerTests", dependencies: ["Broker", "FIX", "WebSocket", "Wire"]),
    ]
)
