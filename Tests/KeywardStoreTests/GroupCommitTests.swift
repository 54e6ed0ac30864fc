import Foundation
import KeywardDomain
import KeywardStore
import KeywardTestSupport
import SQLKit
import Testing

extension StoreTests {
    /// Group commit on SQLite: writers that wait for the connection share one COMMIT (one fsync) instead of one each;
    /// each runs in a savepoint of its own, so one that fails is undone alone; and a writer returns only once its
    /// changes are committed.
    @Suite struct GroupCommitTests {
        static let time = Date(timeIntervalSince1970: 1_780_000_000)

        /// 200 writers at once, every fifth failing half-way: each successful writer's two events are stored, no failed
        /// writer's first event is, and the 160 successful writers took fewer commits than writers.
        @Test func concurrentWritersShareCommitsAndAFailureIsUndoneAlone() async throws {
            try await withFreshDatabase(.sqliteFile) { database, _ async throws in
                let log = try await AuditLogTests.migrated(database)
                let before = database.commits
                let outcomes = try await AuditLogTests.writePairs(200) { _ in database }
                let commits = database.commits - before
                #expect(outcomes.values.filter { $0 }.count == 160)
                #expect(commits >= 1 && commits < 160, "\(commits) commits for 160 successful writers")
                let events = try await log.list(AuditQuery(limit: 500))
                let perTarget = Dictionary(grouping: events, by: \.target).mapValues(\.count)
                for (index, committed) in outcomes {
                    #expect(perTarget["pair:\(index)"] == (committed ? 2 : nil), "writer \(index)")
                }
            }
        }

        /// What a writer acknowledged is on disk: after 100 concurrent writers return, another connection to the file
        /// (a fresh process would see the same) reads every one of them.
        @Test func whatAWriterAcknowledgedIsCommitted() async throws {
            try await withFreshDatabase(.sqliteFile) { database, open async throws in
                _ = try await AuditLogTests.migrated(database)
                try await withThrowingTaskGroup { group in
                    for index in 0..<100 {
                        group.addTask {
                            try await database.write { sql in
                                try await AuditLog.append(.init(actor: "t", action: "one", target: "w:\(index)"), at: Self.time, on: sql)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let other = try await open()
                #expect(try await AuditLogTests.count(other) == 100)
            }
        }

        /// A lone writer commits at once: nothing waits behind it, so it does not hold its transaction open.
        @Test func aLoneWriterCommitsAtOnce() async throws {
            try await withFreshDatabase(.sqliteFile) { database, open async throws in
                _ = try await AuditLogTests.migrated(database)
                let other = try await open()
                for index in 0..<5 {
                    let before = database.commits
                    try await database.write { sql in
                        try await AuditLog.append(.init(actor: "t", action: "one", target: "w:\(index)"), at: Self.time, on: sql)
                    }
                    #expect(database.commits == before + 1)
                    #expect(try await AuditLogTests.count(other) == index + 1)
                }
            }
        }

        /// One-statement writes (heartbeats) beside transactions: each is committed when it returns (another connection
        /// reads it), alone without BEGIN and COMMIT or within the group it was handed, and one refused by SQL (the
        /// audit log refuses UPDATE) changes nothing and leaves the others standing.
        @Test func oneStatementWritesAreCommittedAloneOrInAGroup() async throws {
            try await withFreshDatabase(.sqliteFile) { database, open async throws in
                _ = try await AuditLogTests.migrated(database)
                let other = try await open()
                let before = database.commits
                try await database.writeStatement { sql in
                    try await AuditLog.append(.init(actor: "t", action: "alone", target: "s:alone"), at: Self.time, on: sql)
                }
                #expect(database.commits == before + 1)
                #expect(try await AuditLogTests.count(other) == 1)
                let refusals = try await withThrowingTaskGroup(of: Bool.self, returning: Int.self) { group in
                    for index in 0..<150 {
                        group.addTask {
                            switch index % 3 {
                            case 0:
                                try await database.writeStatement { sql in
                                    try await AuditLog.append(.init(actor: "t", action: "statement", target: "s:\(index)"), at: Self.time, on: sql)
                                }
                            case 1:
                                try await database.write { sql in
                                    try await AuditLog.append(.init(actor: "t", action: "transaction", target: "s:\(index)"), at: Self.time, on: sql)
                                }
                            default:
                                do {
                                    try await database.writeStatement { sql in try await sql.raw("UPDATE audit_events SET actor = 'changed'").run() }
                                } catch {
                                    return true
                                }
                            }
                            return false
                        }
                    }
                    return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
                #expect(refusals == 50, "every UPDATE of the audit log is refused")
                #expect(try await AuditLogTests.count(other) == 101)
                let changed = try await other.read { sql in
                    try await sql.raw("SELECT COUNT(*) AS n FROM audit_events WHERE actor = 'changed'").first()?.decode(column: "n", as: Int.self)
                }
                #expect(changed == 0)
            }
        }
    }
}
