import Foundation
import KeywardStore
import KeywardTestSupport
import SQLKit
import Testing

extension StoreTests {
    @Suite struct MigratorTests {
        struct Boom: Error {}

        static func probe(_ number: Int, _ table: String, fail: Bool = false) -> Migration {
            Migration(number, "create \(table)") { sql, _ in
                try await sql.create(table: table).column("id", type: .bigint, .primaryKey(autoIncrement: false)).run()
                if fail { throw Boom() }
            }
        }

        static func tableExists(_ table: String, in database: KeywardDatabase) async -> Bool {
            (try? await database.read { try await $0.select().column(SQLLiteral.all).from(table).limit(1).all() }) != nil
        }

        @Test(arguments: Backend.available)
        func appliesEachMigrationOnceAndRecordsIt(backend: Backend) async throws {
            try await withFreshDatabase(backend) { database, _ async throws in
                let migrator = Migrator(Schema.common + [Self.probe(902, "probe_two")])
                #expect(try await migrator.migrate(database, logger: testLogger) == [1, 2, 902])
                #expect(try await migrator.migrate(database, logger: testLogger) == [])
                #expect(try await migrator.recorded(in: database) == [1: "create audit_events", 2: "create api_tokens", 902: "create probe_two"])
                #expect(await Self.tableExists("probe_two", in: database))
            }
        }

        @Test(arguments: Backend.available)
        func aFailingMigrationLeavesNothingBehind(backend: Backend) async throws {
            try await withFreshDatabase(backend) { database, _ async throws in
                let broken = Migrator(Schema.common + [Self.probe(902, "probe_half", fail: true)])
                await #expect(throws: Boom.self) { try await broken.migrate(database, logger: testLogger) }
                #expect(try await broken.recorded(in: database) == [1: "create audit_events", 2: "create api_tokens"])
                #expect(await !Self.tableExists("probe_half", in: database))

                let fixed = Migrator(Schema.common + [Self.probe(902, "probe_half")])
                #expect(try await fixed.migrate(database, logger: testLogger) == [902])
                #expect(await Self.tableExists("probe_half", in: database))
            }
        }

        @Test(arguments: Backend.available)
        func refusesADatabaseMigratedByANewerVersion(backend: Backend) async throws {
            try await withFreshDatabase(backend) { database, _ async throws in
                try await Migrator(Schema.common + [Self.probe(907, "probe_new")]).migrate(database, logger: testLogger)
                await #expect(throws: StoreError.self) { try await Migrator(Schema.common).migrate(database, logger: testLogger) }
                do {
                    try await Migrator(Schema.common).migrate(database, logger: testLogger)
                } catch let error as StoreError {
                    #expect(error.code == "DATABASE_TOO_NEW")
                    #expect(error.message.contains("907"))
                }
            }
        }

        @Test(arguments: Backend.available)
        func refusesAMigrationThatWasRenamed(backend: Backend) async throws {
            try await withFreshDatabase(backend) { database, _ async throws in
                try await Migrator(Schema.common + [Self.probe(902, "probe_a")]).migrate(database, logger: testLogger)
                let renamed = Migrator(Schema.common + [Self.probe(902, "probe_b"), Self.probe(903, "probe_c")])
                do {
                    try await renamed.migrate(database, logger: testLogger)
                    Issue.record("a renamed migration was accepted")
                } catch let error as StoreError {
                    #expect(error.code == "MIGRATION_MISMATCH")
                }
                #expect(await !Self.tableExists("probe_c", in: database))
            }
        }

        @Test(arguments: Backend.shared)
        func instancesStartingTogetherApplyEachMigrationOnce(backend: Backend) async throws {
            try await withFreshDatabase(backend) { database, open async throws in
                let migrator = Migrator(Schema.common + (902...906).map { Self.probe($0, "probe_\($0)") })
                let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                    for _ in 0..<4 {
                        group.addTask {
                            let instance = try await open()
                            return try await migrator.migrate(instance, logger: testLogger)
                        }
                    }
                    return try await group.reduce(into: [Int]()) { $0 += $1 }
                }
                #expect(applied.sorted() == [1, 2, 902, 903, 904, 905, 906])
                #expect(try await migrator.recorded(in: database).count == 7)
            }
        }
    }
}
