import Foundation
import Hummingbird
import HummingbirdCore
import KeywardStore
import Logging
import ServiceLifecycle

/// A Keyward service's application: `router` served with `configuration` within `limits`, running `services` beside it.
///
/// The services run in dependency order: the database first, then `services` in their order, then the server
/// (which Hummingbird adds last). A graceful shutdown stops them in reverse: the server stops taking requests and
/// finishes the ones under way, each service stops (a synchronization under way finishes or fails), and only then
/// does the database close. `beforeServerStarts` runs once the services run, before the server takes a request: work
/// that needs the database (loading what the routes read) goes there, as the database is not running before it.
public func buildKeywardApplication<Context: RequestContext>(
    router: Router<Context>, database: KeywardDatabase, configuration: ApplicationConfiguration, limits: ConnectionLimits,
    services: [any Service] = [], logger: Logger, beforeServerStarts: @escaping @Sendable () async throws -> Void = {},
    onServerRunning: @escaping @Sendable (Int) async -> Void
) -> some ApplicationProtocol where Context: InitializableFromSource<ApplicationRequestContextSource> {
    var app = Application(
        router: router,
        server: limits.server,
        configuration: configuration,
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
        logger: logger
    )
    app.addServices(DatabaseService(database: database))
    app.addServices(services)
    app.beforeServerStarts(perform: beforeServerStarts)
    return app
}

/// The same on `host:port`, for callers that have no configuration reader (tests, the demo authority).
public func buildKeywardApplication<Context: RequestContext>(
    router: Router<Context>, database: KeywardDatabase, serverName: String, host: String, port: Int, limits: ConnectionLimits = .init(),
    services: [any Service] = [], logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void
) -> some ApplicationProtocol where Context: InitializableFromSource<ApplicationRequestContextSource> {
    let configuration = ApplicationConfiguration(
        address: .hostname(host, port: port), serverName: serverName,
        availableConnectionsDelegate: MaximumAvailableConnections(limits.maximumConnections))
    return buildKeywardApplication(
        router: router, database: database, configuration: configuration, limits: limits, services: services,
        logger: logger, onServerRunning: onServerRunning)
}
