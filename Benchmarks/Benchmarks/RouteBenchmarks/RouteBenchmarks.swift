import AsyncHTTPClient
import Benchmark
import Foundation
import Hummingbird
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardRegistry
import KeywardRegistryHTTP
import KeywardStore
import Logging
import Metrics
import NIOCore
import NIOPosix
import Prometheus

/// What the registry's own code costs per request, without the network: the request goes through the same router and
/// middleware as in `keyward serve` (errors, NUL guard, metrics, bearer token), and the response body is written out.
/// The entitlement check against `/health/live` is the HTTP budget's ratio (DESIGN.md section 9) minus the socket,
/// HTTP parsing and thread hand-offs that both share; `scripts/verify --only load` measures the whole thing.
enum RouteFixture {
    struct Ready: Sendable {
        let responder: RouterResponder<RegistryRequestContext>
        let serviceToken: String
        /// A listening socket: the request context reads its channel's remote address (nil here).
        let channel: any Channel
    }

    static let logger = Logger(label: "keyward.bench")
    static let users = 200

    /// A registry on a fresh SQLite file: one nominative manager key of 1,000 seats, `users` users in one access group
    /// on DOC/DC021, a service token. Made once per process.
    static func make() async throws -> Ready {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: PrometheusCollectorRegistry()))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-bench-\(UUID().uuidString)")
        let database = try await KeywardDatabase.open(.sqliteFile(path: directory.appendingPathComponent("registry.sqlite").path), logger: logger)
        try await Migrator(Schema.registry).migrate(database, logger: logger)
        let store = RegistryStore(database: database)
        let now = Date()
        let installation = try await store.createInstallation(
            RegistryInstallation(
                installationId: "inst-bench", organization: Organization(id: "bench", legalName: "Bench Ltd."), environment: .production,
                createdAt: now)
        ).installation
        let signingKey = AuthoritySigningKey()
        // No authority: the client is made for the connection's sake and lives as long as the benchmark process.
        let registry = Registry(
            store: store, installation: installation, trust: TrustStore([signingKey.publicKey]), catalog: try Catalog.shipped(),
            connection: AuthorityConnection(client: nil, http: .forAuthority()))
        let serial = Serial.generate()
        let license = LicenseKey(
            serial: serial, organization: installation.organization, profile: .manager, useType: .nominative, users: 1000,
            purchaseType: .sale, suiteVersion: "2.1", validFrom: now.addingTimeInterval(-86_400), expiresAt: nil,
            components: ["CFG", "DOC", "WF"], issuedAt: now.addingTimeInterval(-86_400))
        _ = try await registry.register(idNumber: "Bench", accessKey: AccessKey.issue(license, signedWith: signingKey), actor: "bench")
        let certificate = ActivationCertificate(
            installationId: installation.installationId, organization: installation.organization,
            environment: installation.environment, serials: [serial], issuedAt: now
        ).signed(with: signingKey)
        _ = try await registry.install(certificate, method: .offline, actor: "bench")
        let logins = (0..<users).map { "load\($0)" }
        for login in logins {
            _ = try await registry.createUser(UserInput(login: login, name: login, email: "\(login)@example.com"), actor: "bench")
        }
        _ = try await registry.createGroup(
            GroupInput(idNumber: "Load", name: "Load", keySerial: serial, component: "DOC", menus: ["DC021"], users: logins), actor: "bench")
        let token = try await database.write { sql in
            try await TokenStore.create(kind: RegistryTokenKind.service, name: "bench", subject: nil, expiresAt: nil, now: now, on: sql).token.text
        }
        let router = buildRegistryRouter(try await RegistryDependencies(registry: registry, metrics: PrometheusCollectorRegistry()))
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        return Ready(responder: router.buildResponder(), serviceToken: token, channel: channel)
    }

    /// Answers `path` once, body written out; fails the run on anything but 200.
    static func respond(_ ready: Ready, _ path: String, token: String?) async throws {
        var fields = HTTPFields()
        if let token { fields[.authorization] = "Bearer \(token)" }
        let request = Request(
            head: HTTPRequest(method: .get, scheme: "http", authority: "127.0.0.1", path: path, headerFields: fields),
            body: RequestBody(buffer: ByteBuffer()))
        let context = RegistryRequestContext(source: ApplicationRequestContextSource(channel: ready.channel, logger: logger))
        let response = try await ready.responder.respond(to: request, context: context)
        guard response.status == .ok else { fatalError("\(path) answered \(response.status)") }
        try await response.body.write(DiscardingWriter())
    }

    struct DiscardingWriter: ResponseBodyWriter {
        mutating func write(_ buffer: ByteBuffer) async throws { blackHole(buffer.readableBytes) }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal], warmupIterations: 100, maxDuration: .seconds(5), maxIterations: 200_000)
    let fixture = SharedFixture()

    Benchmark("GET /health/live (in process)") { benchmark in
        let ready = try await fixture.ready()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { try await RouteFixture.respond(ready, "/health/live", token: nil) }
    }
    Benchmark("GET /api/v1/entitlements/check (in process)") { benchmark in
        let ready = try await fixture.ready()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try await RouteFixture.respond(ready, "/api/v1/entitlements/check?login=load42&component=DOC&menu=DC021", token: ready.serviceToken)
        }
    }
}

/// The fixture, made by the first benchmark that runs and shared by the next.
actor SharedFixture {
    private var made: RouteFixture.Ready?
    func ready() async throws -> RouteFixture.Ready {
        if let made { return made }
        let ready = try await RouteFixture.make()
        made = ready
        return ready
    }
}
