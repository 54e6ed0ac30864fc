import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardStore
import Logging
import Prometheus

/// Everything the authority's HTTP service runs on, made once at start.
public struct AuthorityDependencies: Sendable {
    public let authority: Authority
    public let metrics: PrometheusCollectorRegistry
    /// The bearer token `/metrics` asks for; `nil` leaves it open (for a scraper on a private network).
    public let metricsToken: String?

    public init(authority: Authority, metrics: PrometheusCollectorRegistry, metricsToken: String? = nil) {
        self.authority = authority
        self.metrics = metrics
        self.metricsToken = metricsToken
    }
}

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

/// The authority's application: the router on `host:port`, with the database closed after the server on shutdown.
public func buildAuthorityApplication(
    _ dependencies: AuthorityDependencies, host: String, port: Int, limits: ConnectionLimits = .init(), logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    buildKeywardApplication(router: buildAuthorityRouter(dependencies), database: dependencies.authority.store.database,
                            serverName: "keyward-authority", host: host, port: port, limits: limits, logger: logger, onServerRunning: onServerRunning)
}
