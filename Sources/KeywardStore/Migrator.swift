import Foundation
import Logging
import SQLKit

/// Applies migrations in order, each in its own transaction, and records them in `keyward_migrations`.
///
/// Several instances may start at once: on PostgreSQL an advisory lock serializes them, on SQLite
/// `BEGIN IMMEDIATE` does, and each instance re-reads what is applied inside its transaction.
public struct Migrator: Sendable {
    public let migrations: [Migration]

    public init(_ migrations: [Migration]) {
        precondition(Set(migrations.map(\.number)).count == migrations.count, "migration numbers must be unique")
        self.migrations = migrations.sorted { $0.number < $1.number }
    }

    /// An arbitrary constant naming Keyward's migration lock among the database's advisory locks.
    static let advisoryLockKey: Int64 = 0x6B65_7977_6172_6400

    /// Brings `database` up to date and returns the numbers it applied now.
    @discardableResult
    public func migrate(_ database: KeywardDatabase, logger: Logger, now: @Sendable () -> Date = Date.init) async throws -> [Int] {
        var applied: [Int] = []
        try await database.write { sql in
            try await lock(sql, kind: database.kind)
            try await sql.create(table: "keyward_migrations").ifNotExists()
                .column("number", type: .bigint, .primaryKey(autoIncrement: false))
                .column("name", type: .text, .notNull)
                .column("applied_at", type: .bigint, .notNull)
                .run()
        }
        for migration in migrations {
            let didApply = try await database.write { sql -> Bool in
                try await lock(sql, kind: database.kind)
                let recorded = try await recordedMigrations(sql)
                try check(recorded)
                guard recorded[migration.number] == nil else { return false }
                try await migration.apply(sql, database.kind)
                try await sql.insert(into: "keyward_migrations")
                    .columns("number", "name", "applied_at")
                    .values(SQLBind(migration.number), SQLBind(migration.name), SQLBind(Int64(now().timeIntervalSince1970 * 1000)))
                    .run()
                return true
            }
            if didApply {
                applied.append(migration.number)
                logger.debug("migration applied", metadata: ["number": "\(migration.number)", "name": "\(migration.name)"])
            }
        }
        return applied
    }

    /// The migrations recorded in `database`, by number.
    public func recorded(in database: KeywardDatabase) async throws -> [Int: String] {
        try await database.read { try await recordedMigrations($0) }
    }

    private func lock(_ sql: any SQLDatabase, kind: DatabaseKind) async throws {
        if kind == .postgres {
            try await sql.raw("SELECT pg_advisory_xact_lock(\(bind: Self.advisoryLockKey))").run()
        }
    }

    private func recordedMigrations(_ sql: any SQLDatabase) async throws -> [Int: String] {
        let rows = try await sql.select().columns("number", "name").from("keyward_migrations").all()
        var recorded: [Int: String] = [:]
        for row in rows {
            recorded[try row.decode(column: "number", as: Int.self)] = try row.decode(column: "name", as: String.self)
        }
        return recorded
    }

    /// Refuses a database whose history disagrees with this code: newer, or with a migration renamed.
    private func check(_ recorded: [Int: String]) throws(StoreError) {
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.number, $0.name) })
        if let newer = recorded.keys.filter({ known[$0] == nil }).max() {
            throw StoreError(
                code: "DATABASE_TOO_NEW",
                message:
                    "The database has migration \(newer) (\(recorded[newer]!)), which this version of Keyward does not know. Upgrade Keyward, or restore a backup taken before the upgrade."
            )
        }
        for (number, name) in recorded where known[number] != name {
            throw StoreError(
                code: "MIGRATION_MISMATCH",
                message:
                    "Migration \(number) was applied as \"\(name)\" but this version of Keyward calls it \"\(known[number]!)\". The database belongs to a different build; restore a matching version."
            )
        }
    }
}
