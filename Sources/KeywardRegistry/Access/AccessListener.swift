import Foundation
import KeywardStore
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Hears, on PostgreSQL, what the other registry instances on the same database change (`LISTEN`; each change sends
/// its `NOTIFY` in its own transaction, see ``AccessControl/changing(_:_:)``) and patches this instance's snapshot
/// the same way, within milliseconds. When the connection drops (PostgreSQL restarted, the network cut) it listens
/// again after `retry` and rebuilds once, for what it may have missed meanwhile; the `AccessWatcher` poll stays as
/// the slow fallback, and rebuilds only when this listener cannot vouch that it heard everything (``heard``). `serve` runs it on PostgreSQL only.
public final class AccessListener: Service, Sendable {
    public let registry: Registry
    let retry: Duration
    public let logger: Logger
    /// What the listener has heard, as the `AccessWatcher` asks it: equal values at two looks mean it listened the
    /// whole time between them and applied every notification, so nothing can have been missed.
    public struct Hearing: Sendable, Equatable {
        /// How many times it has started listening.
        public var connections = 0
        /// Notifications it heard but could not apply.
        public var failures = 0
        /// Whether it listens now.
        var listening = false
    }

    private let hearing = NIOLockedValueBox(Hearing())

    public init(registry: Registry, retry: Duration = .seconds(1), logger: Logger) {
        self.registry = registry
        self.retry = retry
        self.logger = logger
    }

    /// How many times it has started listening (for tests: 1 once it first listens, more after reconnections).
    public var connections: Int { hearing.withLockedValue { $0.connections } }

    /// What it has heard, while it listens; nil while it does not.
    public var heard: Hearing? { hearing.withLockedValue { $0.listening ? $0 : nil } }

    public func run() async throws {
        guard registry.store.database.canListen else { return await waitForShutdown() }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.registry.store.database.listen(AccessNotification.channel, onListening: { await self.started() }) { payload in
                        do {
                            try await self.registry.access.received(payload)
                        } catch {
                            self.hearing.withLockedValue { $0.failures += 1 }
                            self.logger.warning("could not apply another instance's access change", metadata: ["error": "\(error)"])
                        }
                    }
                    self.hearing.withLockedValue { $0.listening = false }
                } catch {
                    self.hearing.withLockedValue { $0.listening = false }
                    if Task.isCancelled { return }
                    self.logger.warning("stopped hearing other instances' access changes; listening again", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: self.retry)
            }
        }
    }

    /// Counts a start of listening; after a reconnection, rebuilds for the notifications missed meanwhile.
    private func started() async {
        let count = hearing.withLockedValue { hearing in
            hearing.connections += 1
            hearing.listening = true
            return hearing.connections
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
