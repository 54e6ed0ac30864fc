// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "keyward",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "keyward", targets: ["keyward"]),
        .library(name: "KeywardDomain", targets: ["KeywardDomain"]),
        // For the benchmarks package: the registry's router in process.
        .library(
            name: "KeywardRegistry",
            targets: [
                "KeywardRegistry", "KeywardRegistryHTTP", "KeywardStore", "KeywardAuthority", "KeywardAuthorityHTTP", "KeywardHTTP", "KeywardOIDC",
                "KeywardWeb",
            ]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.32.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.0"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.14.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.25.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.25.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.30.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.5.0"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        // Tests only: reading the OpenAPI descriptions.
        .package(url: "https://github.com/mattpolzin/OpenAPIKit.git", from: "6.4.0", traits: []),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
    ],
    targets: [
        // The pure domain: key format, payloads, validation codes, seat arithmetic, the entitlement snapshot,
        // the feed-diff rules, the shipped catalog. Foundation, Crypto (with CryptoExtras for PEM) and swift-collections'
        // persistent hash tries (for the patched snapshot) only, no I/O.
        .target(
            name: "KeywardDomain",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "HashTreeCollections", package: "swift-collections"),
            ],
            resources: [.copy("Resources/catalog.json")],
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
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            swiftSettings: swiftSettings
        ),
        // The vendor's authority service: signing keys, organizations, issuing, feeds, activations. No HTTP.
        .target(
            name: "KeywardAuthority",
            dependencies: [
                "KeywardStore", "KeywardDomain", "KeywardOIDC", .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            swiftSettings: swiftSettings
        ),
        // OpenID Connect's relying party, for the registry's and the authority's sign-in: discovery, the authorization
        // request with PKCE, the code exchange, and ID tokens verified by jwt-kit against the provider's JWKS. No HTTP server.
        .target(
            name: "KeywardOIDC",
            dependencies: [
                "KeywardDomain",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The customer's registry service: registered keys, activation, synchronization, access control. No HTTP server.
        .target(
            name: "KeywardRegistry",
            dependencies: [
                "KeywardStore", "KeywardDomain", "KeywardOIDC",
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // OpenLDAP's client library, from the system (Debian: libldap-dev).
        .systemLibrary(name: "CLDAP", path: "Sources/CLDAP", pkgConfig: "ldap", providers: [.apt(["libldap-dev"])]),
        // The registry's LDAP adapter: KeywardRegistry's LDAPDirectory over libldap.
        .target(name: "KeywardLDAP", dependencies: ["CLDAP", "KeywardRegistry"], swiftSettings: swiftSettings),
        // What both HTTP adapters share: error bodies, JSON input, limits, headers, health, metrics, the OpenAPI route.
        .target(
            name: "KeywardHTTP",
            dependencies: [
                "KeywardStore",
                "KeywardDomain",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // What both web UIs share: the layout, login and error templates, the stylesheet and script, forms, CSRF, session
        // cookies, the sign-in redirect, how pages, redirects and refusals are answered.
        .target(
            name: "KeywardWeb",
            dependencies: [
                "KeywardHTTP", "KeywardDomain", "KeywardOIDC",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            resources: [.copy("Resources/templates"), .copy("Resources/static")],
            swiftSettings: swiftSettings
        ),
        // The authority's HTTP adapter: its API under /v1 and the composition root.
        .target(
            name: "KeywardAuthorityHTTP",
            dependencies: [
                "KeywardAuthority", "KeywardHTTP", "KeywardWeb", "KeywardOIDC", "KeywardStore", "KeywardDomain",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            resources: [.copy("Resources/authority.yaml"), .copy("Resources/console")],
            swiftSettings: swiftSettings
        ),
        // The registry's HTTP adapters: its API, the web UI (the License key menu) and the composition root.
        .target(
            name: "KeywardRegistryHTTP",
            dependencies: [
                "KeywardRegistry", "KeywardHTTP", "KeywardWeb", "KeywardStore", "KeywardDomain", "KeywardLDAP", "KeywardOIDC",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Resources/registry.yaml"), .copy("Resources/scim.yaml"), .copy("Resources/templates")],
            swiftSettings: swiftSettings
        ),
        // Every CLI command, as a library so tests call the same code the executable runs.
        .target(
            name: "KeywardCLI",
            dependencies: [
                "KeywardAuthority",
                "KeywardAuthorityHTTP",
                "KeywardRegistry",
                "KeywardRegistryHTTP",
                "KeywardHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        // Shared by the test targets only: fresh databases on every backend, a hand-moved clock.
        .target(
            name: "KeywardTestSupport",
            dependencies: [
                "KeywardStore", .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "OpenAPIKit", package: "OpenAPIKit"), .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "keyward",
            dependencies: ["KeywardCLI"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "KeywardDomainTests", dependencies: ["KeywardDomain", "KeywardTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "KeywardStoreTests",
            dependencies: [
                "KeywardStore", "KeywardTestSupport", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "SQLKit", package: "sql-kit"),
            ], swiftSettings: swiftSettings),
        .testTarget(
            name: "KeywardAuthorityTests",
            dependencies: [
                "KeywardAuthority", "KeywardAuthorityHTTP", "KeywardHTTP", "KeywardWeb", "KeywardOIDC", "KeywardTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "JWTKit", package: "jwt-kit"), .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KeywardRegistryTests",
            dependencies: [
                "KeywardRegistry", "KeywardRegistryHTTP", "KeywardHTTP", "KeywardAuthority", "KeywardAuthorityHTTP", "KeywardTestSupport",
                "KeywardLDAP", "KeywardOIDC", "KeywardWeb", .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Runs the real `keyward` binary, so it depends on the executable to have it built.
        .testTarget(
            name: "KeywardCLITests",
            dependencies: [
                "KeywardCLI", "keyward", "KeywardDomain", "KeywardAuthority", "KeywardStore", "KeywardTestSupport",
                .product(name: "SQLKit", package: "sql-kit"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
