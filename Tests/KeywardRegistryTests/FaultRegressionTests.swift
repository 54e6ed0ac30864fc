import AsyncHTTPClient
import Foundation
import KeywardHTTP
import KeywardRegistry
import KeywardRegistryHTTP
import KeywardStore
import KeywardTestSupport
import SQLKit
import Testing

extension RegistryTests {
    /// Defects found by the fault injection script (`scripts/verify_faults.py`), kept fixed.
    @Suite struct FaultRegressionTests {
        /// Nothing listens there: connecting is refused at once.
        static let closedAddress = "127.0.0.1"
        static let closedPort = 1

        /// A stopped authority is reported as unreachable at once. AsyncHTTPClient's default pool retried the refused
        /// connection until the request's deadline, so every synchronization against a stopped authority took 30 s. Here
        /// the deadline is 10 minutes: waiting for it would overrun the test's time limit (no stopwatch in a unit test).
        @Test(.timeLimit(.minutes(1)))
        func aRefusedAuthorityConnectionFailsAtOnce() async throws {
            let client = AuthorityClient(
                baseURL: "http://\(Self.closedAddress):\(Self.closedPort)", token: "kw_000000000000_00000000000000000000000000000000",
                http: .forTests,
                timeout: .minutes(10))
            let error = await #expect(throws: RegistryError.self) { _ = try await client.feed(organizationId: "acme", etag: nil) }
            #expect(error?.code == "AUTHORITY_UNREACHABLE")
        }

        /// Readiness says "not ready" while PostgreSQL does not answer. The pool keeps a request waiting for a connection
        /// until the server is back (here: never), so `/health/ready` used to hang for the whole outage instead of
        /// answering 503; a hang overruns the time limit.
        @Test(.timeLimit(.minutes(1)))
        func pingAnswersFalseWhilePostgreSQLIsUnreachable() async throws {
            let location = DatabaseLocation.postgres(
                PostgresLocation(host: Self.closedAddress, port: Self.closedPort, username: "keyward", database: "keyward", tls: .disable))
            let database = try await KeywardDatabase.open(location, logger: testLogger)
            #expect(await database.ping(timeout: .seconds(1)) == false)
            await database.close()
        }

        /// A connection the server closed in the middle of a transaction fails the next query instead of hanging it.
        /// PostgresNIO never answers a query written to a closed channel; the ROLLBACK after a failed query hung for ever,
        /// with the snapshot rebuild lock held, and every later write of the registry hung behind it.
        @Test(.timeLimit(.minutes(1)), .enabled(if: Backend.postgresURL != nil, "needs KEYWARD_TEST_POSTGRES_URL"))
        func aQueryOnAConnectionTheServerClosedFails() async throws {
            try await withFreshDatabase(.postgres) { database, _ in
                await #expect(throws: (any Error).self) {
                    try await database.write { sql in
                        let pid = try #require(try await sql.raw("SELECT pg_backend_pid() AS pid").first()?.decode(column: "pid", as: Int.self))
                        try await database.read { try await $0.raw("SELECT pg_terminate_backend(\(literal: pid))").run() }
                        try await Task.sleep(for: .milliseconds(300))  // the client sees the connection close
                        try await sql.raw("SELECT 1").run()
                    }
                }
                // And the pool goes on with new connections.
                #expect(await database.ping())
            }
        }
    }
}
