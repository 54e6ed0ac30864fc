import Foundation
import KeywardStore
import Logging
import ServiceLifecycle

/// Closes sessions whose lease ran out, as `expired`, once a minute, so the session history shows when they ended.
/// (Seats do not wait for it: an expired lease holds none the moment it runs out.)
public struct SessionSweeper: Service {
    public let registry: Registry
    let interval: Duration
    public let logger: Logger

    public init(registry: Registry, interval: Duration = .seconds(60), logger: Logger) {
        self.registry = registry
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await repeatUntilShutdown(every: interval, logger: logger, failure: "could not close expired sessions") {
            let expired = try await registry.store.expireSessions(now: registry.now())
            if expired > 0 {
                try await registry.access.refreshSessions()
                logger.debug("sessions expired", metadata: ["count": "\(expired)"])
            }
        }
    }
}
