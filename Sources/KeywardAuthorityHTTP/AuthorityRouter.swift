import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardWeb
import Logging
import Prometheus

/// The authority's router: every route, behind the error and token middlewares. Tests call this too.
public func buildAuthorityRouter(_ dependencies: AuthorityDependencies) -> Router<AuthorityRequestContext> {
    let router = Router(context: AuthorityRequestContext.self)
    // Metrics outermost, so refusals are counted by the status they are answered with.
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: SecurityHeadersMiddleware())
    if let console = dependencies.console {
        router.add(
            middleware: BrowserErrorPageMiddleware<AuthorityRequestContext>(apiPrefixes: AuthorityConsole.apiPrefixes, errorPage: console.errorPage))
    }
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: NULGuardMiddleware())
    OperationalRoutes(
        database: dependencies.authority.store.database, metrics: dependencies.metrics, openAPI: Authority.openAPIDescription(),
        metricsToken: dependencies.metricsToken
    )
    .add(to: router)
    let authority = dependencies.authority
    router.addRoutes(MetaController(authority: authority).publicEndpoints, atPath: "/v1")
    router.add(
        middleware: BearerTokenMiddleware(
            tokens: TokenStore(database: authority.store.database), now: authority.now, cache: authority.store.tokenCache))
    router.add(middleware: OperatorMiddleware(store: authority.store, now: authority.now))
    router.addRoutes(OrganizationsController(authority: authority).endpoints, atPath: "/v1")
    router.addRoutes(LicenseKeysController(authority: authority).endpoints, atPath: "/v1")
    router.addRoutes(OperatorsController(authority: authority).endpoints, atPath: "/v1")
    router.addRoutes(FeedController(authority: authority).endpoints, atPath: "/v1/organizations")
    router.addRoutes(MetaController(authority: authority).endpoints, atPath: "/v1")
    router.addRoutes(AuditEventsController(database: authority.store.database, policy: AuthorityRole.operator).endpoints, atPath: "/v1/audit-events")
    dependencies.console?.add(to: router)
    return router
}
