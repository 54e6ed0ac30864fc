import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardStore
import Logging
import Prometheus

/// Everything the registry's HTTP service runs on, made once at start.
public struct RegistryDependencies: Sendable {
    public let registry: Registry
    public let metrics: PrometheusCollectorRegistry
    public let throttle: LoginThrottle
    public let synchronizer: Synchronizer
    /// The daily synchronization, when an authority is configured and it runs.
    public let scheduler: SyncScheduler?
    public let web: WebUI
    /// The bearer token `/metrics` asks for; `nil` leaves it open (for a scraper on a private network).
    public let metricsToken: String?

    public init(registry: Registry, metrics: PrometheusCollectorRegistry, throttle: LoginThrottle = LoginThrottle(),
                synchronizer: Synchronizer? = nil, scheduler: SyncScheduler? = nil, metricsToken: String? = nil,
                secureCookies: SecureCookies = .auto) async throws {
        self.registry = registry
        self.metrics = metrics
        self.throttle = throttle
        self.metricsToken = metricsToken
        let synchronizer = synchronizer ?? Synchronizer(registry: registry)
        self.synchronizer = synchronizer
        self.scheduler = scheduler
        self.web = try await WebUI.load(registry: registry, throttle: throttle, synchronizer: synchronizer, scheduler: scheduler,
                                        secureCookies: secureCookies)
        try await registry.loadAccess()
    }
}

/// The registry's router. Tests call this too.
public func buildRegistryRouter(_ dependencies: RegistryDependencies) -> Router<RegistryRequestContext> {
    let registry = dependencies.registry
    let router = Router(context: RegistryRequestContext.self)
    // Metrics outermost, so refusals are counted by the status they are answered with.
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: SecurityHeadersMiddleware())
    router.add(middleware: BrowserErrorPageMiddleware(web: dependencies.web))
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: NULGuardMiddleware())
    OperationalRoutes(database: registry.store.database, metrics: dependencies.metrics, openAPI: Registry.openAPIDescription(),
                      metricsToken: dependencies.metricsToken).add(to: router)
    router.add(middleware: BearerTokenMiddleware(tokens: TokenStore(database: registry.store.database), now: registry.now, cache: registry.tokenCache))
    AuthAPI(registry: registry, throttle: dependencies.throttle).add(to: router)
    LicenseKeysAPI(registry: registry).add(to: router)
    ActivationAPI(registry: registry).add(to: router)
    SynchronizationAPI(registry: registry, synchronizer: dependencies.synchronizer, scheduler: dependencies.scheduler).add(to: router)
    SettingsAPI(registry: registry).add(to: router)
    UsersAPI(registry: registry).add(to: router)
    AccessGroupsAPI(registry: registry).add(to: router)
    SessionsAPI(registry: registry).add(to: router)
    EntitlementsAPI(registry: registry).add(to: router)
    MigrationsAPI(registry: registry).add(to: router)
    router.get("/api/v1/audit-events") { request, context in
        try context.requireAdministrator(registry.access)
        return ItemsResponse(items: try await AuditLog(database: registry.store.database).list(try AuditQuery.from(request)))
    }
    dependencies.web.add(to: router)
    return router
}

/// The registry's application on `host:port`, with the database closed after the server on shutdown.
public func buildRegistryApplication(
    _ dependencies: RegistryDependencies, host: String, port: Int, limits: ConnectionLimits = .init(), logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    buildKeywardApplication(router: buildRegistryRouter(dependencies), database: dependencies.registry.store.database,
                            serverName: "keyward", host: host, port: port, limits: limits, logger: logger, onServerRunning: onServerRunning)
}

extension Registry {
    /// The registry's OpenAPI description, served at `/openapi.yaml`.
    public static func openAPIDescription() -> String {
        Bundle.module.url(forResource: "registry", withExtension: "yaml").flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? ""
    }
}
