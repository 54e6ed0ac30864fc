import Foundation
import KeywardStore
import Logging
import ServiceLifecycle
import SQLKit
import NIOConcurrencyHelpers

/// Keeps the entitlement snapshot in step with changes made by other registry instances on the same PostgreSQL
/// database. Every access change is audited, so a new audit event means a full rebuild, with the catalog saved by
/// the last synchronization, except for the events that cannot change access (`unrelatedActions`: an API login's
/// token, a password). Sessions are not audited, so their number and latest lease are watched as well (a heartbeat
/// on another instance moves the lease). `serve` runs it on PostgreSQL only: an SQLite file belongs to one process,
/// whose own changes rebuild the snapshot.
public final class AccessWatcher: Service, Sendable {
    struct Mark: Equatable {
        var audit: Int64?
        var sessions: Int
        var latestLease: Int64?
    }

    /// Audited actions that change nothing the snapshot holds. A disconnection ends sessions, which are watched on
    /// their own. Any other action, including one added later, rebuilds.
    static let unrelatedActions = ["token.created", "token.revoked", "user.password-changed", "session.disconnected"]

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
        let previous = last.withLockedValue { $0 }
        // The first look only takes the mark (start-up built the snapshot); later ones count what was audited since.
        let since = previous.map { $0.audit ?? 0 } ?? Int64.max
        let unrelated = SQLList(Self.unrelatedActions.map { SQLBind($0) })
        let (mark, accessChanges) = try await registry.store.database.read { sql -> (Mark, Int) in
            let row = try await sql.raw("""
                SELECT (SELECT MAX(id) FROM audit_events) AS audit,
                       (SELECT COUNT(*) FROM audit_events WHERE id > \(bind: since) AND action NOT IN (\(unrelated))) AS changes,
                       (SELECT COUNT(*) FROM user_sessions WHERE ended_at IS NULL) AS sessions,
                       (SELECT MAX(lease_expires_at) FROM user_sessions WHERE ended_at IS NULL) AS lease
                """).first()
            return (Mark(audit: try row?.decode(column: "audit", as: Int64?.self), sessions: try row?.decode(column: "sessions", as: Int.self) ?? 0,
                         latestLease: try row?.decode(column: "lease", as: Int64?.self)),
                    try row?.decode(column: "changes", as: Int.self) ?? 0)
        }
        last.withLockedValue { $0 = mark }
        guard let previous else { return "nothing" }
        if accessChanges > 0 {
            try await registry.loadAccess()
            return "full"
        }
        if previous.sessions != mark.sessions || previous.latestLease != mark.latestLease {
            try await registry.access.refreshSessions()
            return "sessions"
        }
        return "nothing"
    }
}
