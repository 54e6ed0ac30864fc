// swift-tools-version:6.1
import PackageDescription

// Performance benchmarks for Keyward, kept in their own package so the main package does not depend on
// ordo-one/benchmark. Run from this directory:
//
//     swift package --allow-writing-to-package-directory benchmark
//
// or `scripts/bench-keyformat` from the repository root for the parse+verify / raw verify ratio.
//
// The benchmark plugin discovers benchmark targets only when their sources live in a folder directly
// under a `Benchmarks/` directory, hence `Benchmarks/Benchmarks/<Target>/`.
let package = Package(
    name: "KeywardBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "keyward", path: ".."),
        // Only the MallocInterposer trait: it gives malloc counts without jemalloc. The default trait set
        // would also enable RuntimeInterposer, which on Linux with Swift 6.3 pulls in swift-runtime-interposer.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.30.0"),
    ],
    targets: [
        benchmark("KeyFormatBenchmarks", [.product(name: "Crypto", package: "swift-crypto")]),
        benchmark("EntitlementBenchmarks", []),
        benchmark(
            "RouteBenchmarks",
            [
                .product(name: "KeywardRegistry", package: "keyward"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]),
    ]
)

/// A benchmark executable: its sources in `Benchmarks/<name>/`, the benchmark library, the domain and `extra`.
func benchmark(_ name: String, _ extra: [Target.Dependency]) -> Target {
    .executableTarget(
        name: name,
        dependencies: [.product(name: "Benchmark", package: "benchmark"), .product(name: "KeywardDomain", package: "keyward")] + extra,
        path: "Benchmarks/\(name)",
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
}
