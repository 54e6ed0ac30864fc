import Foundation
import SQLKit

/// What the access watcher sees in one look at the database: audit events and open sessions.
public struct AccessChangeMark: Sendable, Hashable {
    /// The highest audit event id, 0 when there is none.
    public var highestAuditID: Int64
    /// Audit events above the floor, of the actions that can change access.
    public var changes: Int
    /// The same, above the settled floor.
    public var changesAboveSettled: Int
    /// Open user sessions, and the latest lease among them.
    public var openSessions: Int
    public var latestLease: Int64?

    public init(highestAuditID: Int64, changes: Int, changesAboveSettled: Int, openSessions: Int, latestLease: Int64?) {
        self.highestAuditID = highestAuditID
        self.changes = changes
        self.changesAboveSettled = changesAboveSettled
        self.openSessions = openSessions
        self.latestLease = latestLease
    }
}

extension RegistryStore {
    /// One look for changes made by other instances: counts the audit events above `floor` and above `settled`, leaving
    /// out the `ignoring` actions, and the open sessions, in one statement.
    public func accessChangeMark(floor: Int64, settled: Int64, ignoring actions: [String]) async throws -> AccessChangeMark {
        let ignored = SQLList(actions.map { SQLBind($0) })
        return try await database.read { sql in
            let row = try await sql.raw(
                """
                SELECT (SELECT MAX(id) FROM audit_events) AS audit,
                       (SELECT COUNT(*) FROM audit_events WHERE id > \(bind: floor) AND action NOT IN (\(ignored))) AS changes,
                       (SELECT COUNT(*) FROM audit_events WHERE id > \(bind: settled) AND action NOT IN (\(ignored))) AS settled,
                       (SELECT COUNT(*) FROM user_sessions WHERE ended_at IS NULL) AS sessions,
                       (SELECT MAX(lease_expires_at) FROM user_sessions WHERE ended_at IS NULL) AS lease
                """
            ).first()
            return AccessChangeMark(
                highestAuditID: try row?.decode(column: "audit", as: Int64?.self) ?? 0,
                changes: try row?.decode(column: "changes", as: Int.self) ?? 0,
                changesAboveSettled: try row?.decode(column: "settled", as: Int.self) ?? 0,
                openSessions: try row?.decode(column: "sessions", as: Int.self) ?? 0, latestLease: try row?.decode(column: "lease", as: Int64?.self))
        }
    }
}
