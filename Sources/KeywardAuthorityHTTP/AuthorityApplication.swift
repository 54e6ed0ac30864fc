import KeywardAuthority
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

/// The authority's application: the router on `host:port`, with the database closed after the server on shutdown.
public func buildAuthorityApplication(
    _ dependencies: AuthorityDependencies, host: String, port: Int, limits: ConnectionLimits = .init(), logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    buildKeywardApplication(router: buildAuthorityRouter(dependencies), database: dependencies.authority.store.database,
                            serverName: "keyward-authority", host: host, port: port, limits: limits, logger: logger, onServerRunning: onServerRunning)
}
