import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardWeb
import Logging
import Prometheus

/// The registry's router. Tests call this too.
public func buildRegistryRouter(_ dependencies: RegistryDependencies) -> Router<RegistryRequestContext> {
    let registry = dependencies.registry
    let router = Router(context: RegistryRequestContext.self)
    // Metrics outermost, so refusals are counted by the status they are answered with.
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: SecurityHeadersMiddleware())
    router.add(
        middleware: BrowserErrorPageMiddleware<RegistryRequestContext>(apiPrefixes: WebUI.apiPrefixes, errorPage: dependencies.web.errorPage))
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: NULGuardMiddleware())
    OperationalRoutes(
        database: registry.store.database, metrics: dependencies.metrics, openAPI: Registry.openAPIDescription(),
        metricsToken: dependencies.metricsToken
    ).add(to: router)
    router.add(middleware: SCIMErrorMiddleware())
    router.add(
        middleware: BearerTokenMiddleware(tokens: TokenStore(database: registry.store.database), now: registry.now, cache: registry.tokenCache))
    router.addRoutes(AuthController(registry: registry, throttle: dependencies.throttle).endpoints, atPath: "/api/v1/auth")
    router.addRoutes(LicenseKeysController(registry: registry).endpoints, atPath: "/api/v1/license-keys")
    router.addRoutes(ActivationController(registry: registry).endpoints, atPath: "/api/v1/activation")
    router.addRoutes(
        SynchronizationController(registry: registry, synchronizer: dependencies.synchronizer, scheduler: dependencies.scheduler).endpoints,
        atPath: "/api/v1/license-keys/synchronizations")
    router.addRoutes(SettingsController(registry: registry).endpoints, atPath: "/api/v1/settings")
    router.addRoutes(TokensController(registry: registry).endpoints, atPath: "/api/v1/tokens")
    router.addRoutes(UsersController(registry: registry).endpoints, atPath: "/api/v1/users")
    router.addRoutes(AccessGroupsController(registry: registry).endpoints, atPath: "/api/v1/access-groups")
    router.addRoutes(SessionsController(registry: registry).endpoints, atPath: "/api/v1/sessions")
    router.addRoutes(EntitlementsController(registry: registry).endpoints, atPath: "/api/v1/entitlements")
    router.addRoutes(AccessMigrationsController(registry: registry).endpoints, atPath: "/api/v1/access-migrations")
    router.addRoutes(
        AuditEventsController(database: registry.store.database, policy: RegistryRole.administrator(registry.access)).endpoints,
        atPath: "/api/v1/audit-events")
    DirectoryController(registry: registry).add(to: router)
    DirectorySyncController(registry: registry, synchronizer: dependencies.ldapSynchronizer, scheduler: dependencies.ldapScheduler).add(to: router)
    SignInSettingsController(registry: registry, redirect: dependencies.web.signInRedirect).add(to: router)
    SCIMController(registry: registry).add(to: router)
    dependencies.web.add(to: router)
    return router
}
