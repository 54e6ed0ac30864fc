import Foundation
import KeywardTestSupport
import Logging
import SQLKit
import ServiceLifecycle
import Synchronization
import Testing

@testable import KeywardStore

extension StoreTests {
    /// The database as an application's first service: a start's own work runs before it, and it closes last.
    /// Time limits in this file are hang guards, not stopwatches: in .ci/run the whole suite starts at once on 2 cores,
    /// and a test of a second was reported after 61 s there, so they leave minutes.
    @Suite struct DatabaseServiceTests {
        /// A service that waits for the graceful shutdown and then writes one row, as a synchronization under way at
        /// SIGTERM would finish its transaction.
        final class Flag: Sendable {
            let raised = Atomic<Bool>(false)
            var isRaised: Bool { raised.load(ordering: .relaxed) }
        }

        struct LastWords: Service {
            let database: KeywardDatabase
            let wrote = Flag()
            let running: @Sendable () -> Void

            func run() async throws {
                // While the group runs, the database answers.
                _ = try await database.read { try await $0.select().column(SQLLiteral.all).from("probe_words").all() }
                running()
                try? await gracefulShutdown()
                try await database.write { try await $0.insert(into: "probe_words").columns("id").values(SQLBind(1)).run() }
                wrote.raised.store(true, ordering: .relaxed)
            }
        }

        @Test(arguments: Backend.services)
        func aServiceStoppingAfterTheShutdownBeganStillWritesAndTheDatabaseClosesAfterIt(backend: Backend) async throws {
            try await withFreshDatabaseSetting(backend) { setting in
                let location = try DatabaseLocation.parse(setting)
                let database = try await KeywardDatabase.openForService(location, logger: testLogger)
                // The start's own work: done, and its connections closed, before any service runs.
                let migrated = try await database.beforeServing { opened in
                    let applied = try await Migrator(
                        Schema.common + [
                            Migration(901, "create probe_words") { sql, _ in
                                try await sql.create(table: "probe_words").column("id", type: .bigint, .primaryKey(autoIncrement: false)).run()
                            }
                        ]
                    ).migrate(opened, logger: testLogger)
                    return applied
                }
                #expect(migrated == [1, 2, 901])
                let (started, signal) = AsyncStream.makeStream(of: Void.self)
                let lastWords = LastWords(database: database, running: { signal.yield() })
                let group = ServiceGroup(
                    configuration: .init(services: [DatabaseService(database: database), lastWords], logger: testLogger))
                try await withThrowingTaskGroup { tasks in
                    tasks.addTask { try await group.run() }
                    for await _ in started { break }
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
                #expect(lastWords.wrote.isRaised, "the write after the shutdown began was refused: the database closed first")
                let reopened = try await KeywardDatabase.open(location, logger: testLogger)
                let rows = try await reopened.read { try await $0.select().column("id").from("probe_words").all() }
                await reopened.close()
                #expect(rows.count == 1)
            }
        }

        /// A setup that fails throws its own error, and its pool stops with it (one left running would hold this call).
        @Test(.timeLimit(.minutes(3)), arguments: Backend.services)
        func aFailedSetupThrowsItsOwnError(backend: Backend) async throws {
            struct Refused: Error {}
            try await withFreshDatabaseSetting(backend) { setting in
                let database = try await KeywardDatabase.openForService(try DatabaseLocation.parse(setting), logger: testLogger)
                await #expect(throws: Refused.self) {
                    try await database.beforeServing { opened in
                        _ = try await Migrator(Schema.common).migrate(opened, logger: testLogger)
                        throw Refused()
                    }
                }
                await database.close()
            }
        }
    }
}

extension StoreTests {
    /// What a request waits on while the database's service has not started its pool yet.
    @Suite struct StartGateTests {
        @Test(.timeLimit(.minutes(3)))
        func waitersGoOnWhenTheGateOpensAndACancelledOneStopsWaiting() async throws {
            let gate = StartGate()
            let cancelled = Task { try await gate.wait() }
            let waiters = (0..<20).map { _ in Task { try await gate.wait() } }
            cancelled.cancel()
            await #expect(throws: CancellationError.self) { try await cancelled.value }
            gate.open()
            for waiter in waiters { try await waiter.value }
            try await gate.wait()  // open: at once
        }
    }
}
