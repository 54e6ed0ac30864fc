// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "keyward",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "keyward", targets: ["keyward"]),
        .library(name: "KeywardDomain", targets: ["KeywardDomain"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.32.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.0"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.14.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.25.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.25.0"),
    ],
    targets: [
        // Pure domain: key format, payloads, validation codes, trust store. Foundation and Crypto only.
        .target(
            name: "KeywardDomain",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The store: SQLKit over SQLite (embedded default) and PostgreSQL, migrations, repositories.
        .target(
            name: "KeywardStore",
            dependencies: [
                "KeywardDomain",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The vendor's authority: signing keys on disk, issuing.
        .target(
            name: "KeywardAuthority",
            dependencies: ["KeywardStore", "KeywardDomain"],
            swiftSettings: swiftSettings
        ),
        // The customer's registry.
        .target(
            name: "KeywardRegistry",
            dependencies: ["KeywardStore", "KeywardDomain"],
            swiftSettings: swiftSettings
        ),
        // Every CLI command, as a library so tests call the same code the executable runs.
        .target(
            name: "KeywardCLI",
            dependencies: [
                "KeywardAuthority",
                "KeywardRegistry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "keyward",
            dependencies: ["KeywardCLI"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "KeywardDomainTests", dependencies: ["KeywardDomain"], swiftSettings: swiftSettings),
        .testTarget(name: "KeywardStoreTests", dependencies: ["KeywardStore"], swiftSettings: swiftSettings),
        .testTarget(name: "KeywardAuthorityTests", dependencies: ["KeywardAuthority"], swiftSettings: swiftSettings),
        .testTarget(name: "KeywardRegistryTests", dependencies: ["KeywardRegistry"], swiftSettings: swiftSettings),
        // Runs the real `keyward` binary, so it depends on the executable to have it built.
        .testTarget(name: "KeywardCLITests", dependencies: ["KeywardCLI", "keyward", "KeywardDomain"], swiftSettings: swiftSettings),
    ]
)
