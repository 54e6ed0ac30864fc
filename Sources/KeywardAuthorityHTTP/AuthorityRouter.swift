import KeywardAuthority
import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardStore
import Logging
import Prometheus


/// The authority's router: every route, behind the error and token middlewares. Tests call this too.
public func buildAuthorityRouter(_ dependencies: AuthorityDependencies) -> Router<AuthorityRequestContext> {
    let router = Router(context: AuthorityRequestContext.self)
    // Metrics outermost, so refusals are counted by the status they are answered with.
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: SecurityHeadersMiddleware())
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: NULGuardMiddleware())
    OperationalRoutes(database: dependencies.authority.store.database, metrics: dependencies.metrics, openAPI: Authority.openAPIDescription(),
                      metricsToken: dependencies.metricsToken)
        .add(to: router)
    MetaController(authority: dependencies.authority).addPublic(to: router)
    router.add(middleware: BearerTokenMiddleware(tokens: TokenStore(database: dependencies.authority.store.database), now: dependencies.authority.now))
    OrganizationsController(authority: dependencies.authority).add(to: router)
    LicenseKeysController(authority: dependencies.authority).add(to: router)
    FeedController(authority: dependencies.authority).add(to: router)
    MetaController(authority: dependencies.authority).add(to: router)
    return router
}
