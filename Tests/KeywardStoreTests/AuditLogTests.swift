import Foundation
import KeywardDomain
import KeywardStore
import KeywardTestSupport
import SQLKit
import Testing

extension StoreTests {
    @Suite struct AuditLogTests {
        static let time = Date(timeIntervalSince1970: 1_790_000_000.123)

        static func migrated(_ database: KeywardDatabase) async throws -> AuditLog {
            try await Migrator(Schema.common).migrate(database, logger: testLogger)
            return AuditLog(database: database)
        }

        /// `count` writers at once, writer `index` on `handle(index)`, each appending two events targeting `pair:<index>`,
        /// every fifth refusing between the two; by index, whether the writer committed.
        static func writePairs(_ count: Int, on handle: @escaping @Sendable (Int) -> KeywardDatabase) async throws -> [Int: Bool] {
            struct Refused: Error {}
            return try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
                for index in 0..<count {
                    group.addTask {
                        do {
                            try await handle(index).write { sql in
                                for part in 0..<2 {
                                    try await AuditLog.append(
                                        .init(actor: "t\(index)", action: "pair.\(part)", target: "pair:\(index)"), at: Self.time, on: sql)
                                    if part == 0 && index.isMultiple(of: 5) { throw Refused() }
                                }
                            }
                            return (index, true)
                        } catch is Refused {
                            return (index, false)
                        }
                    }
                }
                return try await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
            }
        }

        static func count(_ database: KeywardDatabase) async throws -> Int {
            try await database.read { try await $0.raw("SELECT COUNT(*) AS n FROM audit_events").first()!.decode(column: "n", as: Int.self) }
        }

        @Test(arguments: Backend.available)
        func appendsAndListsNewestFirst(backend: Backend) async throws {
            try await withFreshDatabase(backend) { database, _ async throws in
                let log = try await Self.migrated(database)
                let details: [String: JSONValue] = [
                    "users": 25, "components": .array(["DOC", "WF"]), "note": .object(["why": "renewal", "ok": true]), "ratio": .double(0.5),
                    "none": .null,
                ]
                let first = try await log.append(
                    .init(actor: "operator:alice", action: "license-key.issued", target: "license-key:KW-1", details: details), at: Self.time)
                try await log.append(
                    .init(actor: "operator:bob", action: "license-key.revoked", target: "license-key:KW-1"), at: Self.time.addingTimeInterval(60))
                try await log.append(
                    .init(actor: "operator:alice", action: "organization.created", target: "organization:acme"), at: Self.time.addingTimeInterval(120)
                )

                let all = try await log.list()
                #expect(all.map(\.action) == ["organization.created", "license-key.revoked", "license-key.issued"])
                #expect(all.last == first)
                #expect(all.last?.details == details)
                #expect(abs(all.last!.occurredAt.timeIntervalSince(Self.time)) < 0.001)

                #expect(try await log.list(AuditQuery(actor: "operator:alice")).map(\.action) == ["organization.created", "license-key.issued"])
                #expect(try await log.list(AuditQuery(target: "license-key:KW-1")).count == 2)
                #expect(try await log.list(AuditQuery(action: "license-key.revoked")).map(\.actor) == ["operator:bob"])

                let page1 = try await log.list(AuditQuery(limit: 2))
                let page2 = try await log.list(AuditQuery(beforeID: page1.last!.id, limit: 2))
                #expect(page1.count == 2)
                #expect(page2.map(\.id) == [first.id])
            }
        }

        @Test(arguments: Backend.available)
        func refusesBadEventsAndWritesNothing(backend: Backend) async throws {
            try await withFreshDatabase(backend) { database, _ async throws in
                let log = try await Self.migrated(database)
                let bad: [NewAuditEvent] = [
                    .init(actor: "", action: "a.b", target: "t"),
                    .init(actor: "x", action: "", target: "t"),
                    .init(actor: "x", action: "a.b", target: String(repeating: "t", count: 201)),
                    .init(actor: "x\u{0}y", action: "a.b", target: "t"),
                    .init(actor: "x", action: "a\nb", target: "t"),
                    .init(actor: "x", action: "a.b", target: "t", details: ["blob": .string(String(repeating: "z", count: 70_000))]),
                ]
                for event in bad {
                    do {
                        try await log.append(event, at: Self.time)
                        Issue.record("accepted \(event.actor)/\(event.action)")
                    } catch let error as StoreError {
                        #expect(error.code == "INVALID_AUDIT_EVENT")
                    }
                }
                #expect(try await Self.count(database) == 0)
                for limit in [0, -1, 501] {
                    await #expect(throws: StoreError.self) { try await log.list(AuditQuery(limit: limit)) }
                }
            }
        }

        @Test(arguments: Backend.available)
        func sqlMetaCharactersAreStoredVerbatim(backend: Backend) async throws {
            try await withFreshDatabase(backend) { database, _ async throws in
                let log = try await Self.migrated(database)
                let nasty = "x'); DROP TABLE audit_events; --"
                try await log.append(.init(actor: nasty, action: "a.\"b\"", target: "%_\\"), at: Self.time)
                let events = try await log.list(AuditQuery(actor: nasty))
                #expect(events.map(\.target) == ["%_\\"])
                #expect(try await log.list(AuditQuery(target: "%")).isEmpty)
            }
        }

        @Test(arguments: Backend.available)
        func historyCannotBeRewrittenEvenInSQL(backend: Backend) async throws {
            try await withFreshDatabase(backend) { database, _ async throws in
                let log = try await Self.migrated(database)
                let event = try await log.append(.init(actor: "admin", action: "license-key.renamed", target: "license-key:KW-1"), at: Self.time)
                await #expect(throws: (any Error).self) {
                    try await database.write { try await $0.raw("UPDATE audit_events SET actor = 'someone-else'").run() }
                }
                await #expect(throws: (any Error).self) {
                    try await database.write { try await $0.raw("DELETE FROM audit_events").run() }
                }
                #expect(try await log.list() == [event])
            }
        }

        @Test(arguments: Backend.available)
        func aTransactionThatThrowsLeavesNoEvent(backend: Backend) async throws {
            struct Refused: Error {}
            try await withFreshDatabase(backend) { database, _ async throws in
                let log = try await Self.migrated(database)
                await #expect(throws: Refused.self) {
                    try await database.write { sql in
                        try await AuditLog.append(.init(actor: "admin", action: "a.one", target: "t"), at: Self.time, on: sql)
                        try await AuditLog.append(.init(actor: "admin", action: "a.two", target: "t"), at: Self.time, on: sql)
                        throw Refused()
                    }
                }
                #expect(try await log.list().isEmpty)
            }
        }

        @Test(arguments: Backend.shared)
        func concurrentTransactionsAreAllOrNothing(backend: Backend) async throws {
            try await withFreshDatabase(backend) { database, open async throws in
                _ = try await Self.migrated(database)
                let second = try await open()
                let outcomes = try await Self.writePairs(60) { $0.isMultiple(of: 2) ? database : second }
                let committed = outcomes.values.filter { $0 }.count
                #expect(committed == 48)
                #expect(try await Self.count(database) == committed * 2)
                let events = try await AuditLog(database: database).list(AuditQuery(limit: 500))
                let perTarget = Dictionary(grouping: events, by: \.target).mapValues(\.count)
                #expect(perTarget.values.allSatisfy { $0 == 2 })
            }
        }

        @Test func survivesClosingAndReopeningAnSQLiteFile() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-reopen-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let location = DatabaseLocation.sqliteFile(path: directory.appendingPathComponent("nested/store.sqlite").path)
            let first = try await KeywardDatabase.open(location, logger: testLogger)
            let written = try await Self.migrated(first).append(.init(actor: "admin", action: "a.b", target: "t"), at: Self.time)
            await first.close()

            let second = try await KeywardDatabase.open(location, logger: testLogger)
            #expect(try await Self.migrated(second).list() == [written])
            #expect(await second.ping())
            await second.close()
        }
    }
}
