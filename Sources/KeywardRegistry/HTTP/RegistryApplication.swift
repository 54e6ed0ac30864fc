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
    public let web: WebUI

    public init(registry: Registry, metrics: PrometheusCollectorRegistry, throttle: LoginThrottle = LoginThrottle()) async throws {
        self.registry = registry
        self.metrics = metrics
        self.throttle = throttle
        self.web = try await WebUI.load(registry: registry, throttle: throttle)
    }
}

/// The registry's router. Tests call this too.
public func buildRegistryRouter(_ dependencies: RegistryDependencies) -> Router<RegistryRequestContext> {
    let registry = dependencies.registry
    let router = Router(context: RegistryRequestContext.self)
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: MetricsMiddleware())
    OperationalRoutes(database: registry.store.database, metrics: dependencies.metrics, openAPI: Registry.openAPIDescription()).add(to: router)
    router.add(middleware: BearerTokenMiddleware(tokens: TokenStore(database: registry.store.database), now: registry.now))
    AuthAPI(registry: registry, throttle: dependencies.throttle).add(to: router)
    LicenseKeysAPI(registry: registry).add(to: router)
    ActivationAPI(registry: registry).add(to: router)
    router.get("/api/v1/audit-events") { request, context in
        try context.requireAdministrator()
        let query = request.uri.queryParameters
        let limit = query.get("limit").map { Int($0) ?? 0 } ?? 50
        guard (1...AuditQuery.maximumLimit).contains(limit) else {
            throw APIError.invalidField(FieldError(field: "limit", code: "INVALID_LIMIT", message: "limit must be a whole number from 1 to \(AuditQuery.maximumLimit)."))
        }
        if let before = query.get("before"), Int64(before) == nil {
            throw APIError.invalidField(FieldError(field: "before", code: "INVALID_CURSOR", message: "before must be the id of an audit event."))
        }
        let events = try await AuditLog(database: registry.store.database).list(AuditQuery(
            actor: query.get("actor").flatMap { $0.isEmpty ? nil : $0 }, action: query.get("action").flatMap { $0.isEmpty ? nil : $0 },
            target: query.get("target").flatMap { $0.isEmpty ? nil : $0 }, beforeID: query.get("before").flatMap(Int64.init), limit: limit))
        return ItemsResponse(items: events)
    }
    dependencies.web.add(to: router)
    return router
}

extension AuditEvent: ResponseEncodable {}

/// The registry's application on `host:port`, with the database closed after the server on shutdown.
public func buildRegistryApplication(
    _ dependencies: RegistryDependencies, host: String, port: Int, logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    var app = Application(
        router: buildRegistryRouter(dependencies),
        configuration: .init(address: .hostname(host, port: port), serverName: "keyward"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
        logger: logger
    )
    app.addServices(DatabaseService(database: dependencies.registry.store.database))
    return app
}

extension Registry {
    /// The registry's OpenAPI description, served at `/openapi.yaml`.
    public static func openAPIDescription() -> String {
        Bundle.module.url(forResource: "registry", withExtension: "yaml").flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? ""
    }
}
