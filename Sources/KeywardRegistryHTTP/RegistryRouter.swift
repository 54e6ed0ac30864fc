import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import Logging
import Prometheus


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
