import Foundation
import KeywardStore
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Hears, on PostgreSQL, what the other registry instances on the same database change (`LISTEN`; each change sends
/// its `NOTIFY` in its own transaction, see ``AccessControl/changing(_:_:)``) and patches this instance's snapshot
/// the same way, within milliseconds. When the connection drops (PostgreSQL restarted, the network cut) it listens
/// again after `retry` and rebuilds once, for what it may have missed meanwhile; the `AccessWatcher` poll stays as
/// the slow fallback. `serve` runs it on PostgreSQL only.
public final class AccessListener: Service, Sendable {
    public let registry: Registry
    let retry: Duration
    public let logger: Logger
    private let listening = NIOLockedValueBox(0)

    public init(registry: Registry, retry: Duration = .seconds(1), logger: Logger) {
        self.registry = registry
        self.retry = retry
        self.logger = logger
    }

    /// How many times it has started listening (for tests: 1 once it first listens, more after reconnections).
    public var connections: Int { listening.withLockedValue { $0 } }

    public func run() async throws {
        guard registry.store.database.canListen else { return await waitForShutdown() }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.registry.store.database.listen(AccessNotification.channel, onListening: { await self.started() }) { payload in
                        do {
                            try await self.registry.access.received(payload)
                        } catch {
                            self.logger.warning("could not apply another instance's access change", metadata: ["error": "\(error)"])
                        }
                    }
                } catch {
                    if Task.isCancelled { return }
                    self.logger.warning("stopped hearing other instances' access changes; listening again", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: self.retry)
            }
        }
    }

    /// Counts a start of listening; after a reconnection, rebuilds for the notifications missed meanwhile.
    private func started() async {
        let count = listening.withLockedValue { count in
            count += 1
            return count
        }
        guard count > 1 else { return }
        do {
            try await registry.loadAccess()
        } catch {
            logger.warning("could not rebuild access after listening again", metadata: ["error": "\(error)"])
        }
    }

    private func waitForShutdown() async {
        try? await gracefulShutdown()
    }
}
