import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
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

/// The registry's application on `host:port`, with the database closed after the server on shutdown.
public func buildRegistryApplication(
    _ dependencies: RegistryDependencies, host: String, port: Int, limits: ConnectionLimits = .init(), logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    buildKeywardApplication(router: buildRegistryRouter(dependencies), database: dependencies.registry.store.database,
                            serverName: "keyward", host: host, port: port, limits: limits, logger: logger, onServerRunning: onServerRunning)
}
