import Foundation
import KeywardStore
import Logging
import ServiceLifecycle
import SQLKit
import NIOConcurrencyHelpers

/// Keeps the entitlement snapshot in step with changes made by other registry instances on the same PostgreSQL
/// database. Every access change is audited, so a new audit event means a full rebuild; sessions are not audited,
/// so their number and latest lease are watched as well (a heartbeat on another instance moves the lease). `serve`
/// runs it on PostgreSQL only: an SQLite file belongs to one process, whose own changes rebuild the snapshot.
public final class AccessWatcher: Service, Sendable {
    struct Mark: Equatable {
        var audit: Int64?
        var sessions: Int
        var latestLease: Int64?
    }

    let registry: Registry
    let interval: Duration
    let logger: Logger
    private let last = NIOLockedValueBox<Mark?>(nil)

    public init(registry: Registry, interval: Duration = .seconds(2), logger: Logger) {
        self.registry = registry
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await repeatUntilShutdown(every: interval, logger: logger, failure: "could not check for access changes") { try await poll() }
    }

    /// Rebuilds what changed since the last look; returns what it did (for tests): `full`, `sessions` or `nothing`.
    @discardableResult
    public func poll() async throws -> String {
        let mark = try await registry.store.database.read { sql -> Mark in
            let row = try await sql.raw("""
                SELECT (SELECT MAX(id) FROM audit_events) AS audit,
                       (SELECT COUNT(*) FROM user_sessions WHERE ended_at IS NULL) AS sessions,
                       (SELECT MAX(lease_expires_at) FROM user_sessions WHERE ended_at IS NULL) AS lease
                """).first()
            return Mark(audit: try row?.decode(column: "audit", as: Int64?.self), sessions: try row?.decode(column: "sessions", as: Int.self) ?? 0,
                        latestLease: try row?.decode(column: "lease", as: Int64?.self))
        }
        let previous = last.withLockedValue { last in
            defer { last = mark }
            return last
        }
        guard let previous else { return "nothing" }  // the first look only takes the mark: start-up built the snapshot
        if previous.audit != mark.audit {
            try await registry.access.refresh()
            return "full"
        }
        if previous != mark {
            try await registry.access.refreshSessions()
            return "sessions"
        }
        return "nothing"
    }
}
