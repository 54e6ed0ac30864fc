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
    ///
    /// Their time limits catch hangs (a wait for the whole outage, which here never ends, or a 10-minute deadline).
    /// They leave room for the machine: on 2 cores the whole suite starts at once, and a test started with the others
    /// may wait over a minute for a thread before it finishes (seen in .ci/run: tests of 2 s reported after 100 s).
    @Suite struct FaultRegressionTests {
        /// Nothing listens there: connecting is refused at once.
        static let closedAddress = "127.0.0.1"
        static let closedPort = 1

        /// A stopped authority is reported as unreachable at once. AsyncHTTPClient's default pool retried the refused
        /// connection until the request's deadline, so every synchronization against a stopped authority took 30 s. Here
        /// the deadline is 10 minutes: waiting for it would overrun the test's time limit (no stopwatch in a unit test).
        @Test(.timeLimit(.minutes(3)))
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
        @Test(.timeLimit(.minutes(3)))
        func pingAnswersFalseWhilePostgreSQLIsUnreachable() async throws {
            let location = DatabaseLocation.postgres(
                PostgresLocation(host: Self.closedAddress, port: Self.closedPort, username: "keyward", database: "keyward", tls: .disable))
            let database = try await KeywardDatabase.open(location, logger: testLogger)
            #expect(await database.ping(timeout: .seconds(1)) == false)
            await database.close()
        }

        /// A request that needs the database while PostgreSQL cannot be reached is refused with `DATABASE_UNAVAILABLE`,
        /// not left waiting for the pool to connect: a pool that never connected waits at most 30 s (a pool that had
        /// connected, 5 s: `duringAnOutageTheAPIAnswers503AndTheCheckKeepsAnswering`), inside the time limit.
        @Test(.timeLimit(.minutes(3)))
        func aReadWhilePostgreSQLIsUnreachableIsRefusedAsUnavailable() async throws {
            let location = DatabaseLocation.postgres(
                PostgresLocation(host: Self.closedAddress, port: Self.closedPort, username: "keyward", database: "keyward", tls: .disable))
            let database = try await KeywardDatabase.open(location, logger: testLogger)
            let error = await #expect(throws: StoreError.self) { try await database.read { try await $0.raw("SELECT 1").run() } }
            #expect(error?.code == "DATABASE_UNAVAILABLE")
            #expect(error?.kind == .unavailable)
            await database.close()
        }

        /// While the registry's database refuses connections (as during a PostgreSQL restart), the API refuses what
        /// needs it with 503 `DATABASE_UNAVAILABLE` and `Retry-After`, the entitlement check keeps answering from the
        /// snapshot for callers authenticated before, nothing is written, and the same request succeeds once the
        /// database is back.
        @Test(.timeLimit(.minutes(4)), .enabled(if: Backend.postgresURL != nil, "needs KEYWARD_TEST_POSTGRES_URL"))
        func duringAnOutageTheAPIAnswers503AndTheCheckKeepsAnswering() async throws {
            try await RegistryHarness.run(.postgres) { harness in
                let key = try await harness.registerAndActivate(harness.accessKey(users: 5, components: ["DOC"]), idNumber: "Docs")
                _ = try await harness.registry.createUser(UserInput(login: "ann", name: "Ann", email: "ann@example.com"), actor: "test")
                _ = try await harness.registry.createGroup(
                    AccessGroupInput(idNumber: "G", name: "G", keySerial: key.serial, component: "DOC", menus: ["DC021"], users: ["ann"]),
                    actor: "test")
                let name = try #require(
                    try await harness.store.database.read { try await $0.raw("SELECT current_database() AS name").first() }?
                        .decode(column: "name", as: String.self))
                try await harness.withAPI { api in
                    let check = "/api/v1/entitlements/check?login=ann&component=DOC&menu=DC021"
                    let unused = try await harness.serviceToken()
                    #expect(try await api.call(.get, check).status == .ok)
                    let before = try await harness.fingerprint()
                    try await administerTestPostgres("ALTER DATABASE \(name) WITH ALLOW_CONNECTIONS false")
                    try await administerTestPostgres("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(name)'")
                    // Past the token cache's 10 s: the token, authenticated a minute ago, is still taken while the
                    // database cannot be asked.
                    harness.clock.advance(by: 60)
                    let checked = try await api.call(.get, check)
                    #expect(checked.status == .ok, "the check answers from the snapshot")
                    #expect(checked.json["allowed"] as? Bool == true)  // raw JSON: the check's wire shape
                    let refused = try await api.call(
                        .post, "/api/v1/users", json: #"{"login":"bob","name":"Bob","email":"bob@example.com"}"#)
                    #expect(refused.status == .serviceUnavailable)
                    #expect(refused.errorCode == "DATABASE_UNAVAILABLE")
                    #expect(refused.headers[.retryAfter] == "5")
                    // A token this instance never authenticated cannot be checked meanwhile.
                    let stranger = try await api.call(.get, check, token: unused)
                    #expect(stranger.status == .serviceUnavailable)
                    #expect(stranger.errorCode == "DATABASE_UNAVAILABLE")
                    try await administerTestPostgres("ALTER DATABASE \(name) WITH ALLOW_CONNECTIONS true")
                    #expect(try await harness.fingerprint() == before, "nothing was written during the outage")
                    #expect(try await api.call(.get, "/api/v1/users/bob").status == .notFound)
                    let created = try await api.call(.post, "/api/v1/users", json: #"{"login":"bob","name":"Bob","email":"bob@example.com"}"#)
                    #expect(created.status == .created)
                }
            }
        }

        /// A connection the server closed in the middle of a transaction fails the next query instead of hanging it.
        /// PostgresNIO never answers a query written to a closed channel; the ROLLBACK after a failed query hung for ever,
        /// with the snapshot rebuild lock held, and every later write of the registry hung behind it.
        @Test(.timeLimit(.minutes(3)), .enabled(if: Backend.postgresURL != nil, "needs KEYWARD_TEST_POSTGRES_URL"))
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
                // And the pool goes on with new connections (a new one may take seconds on a loaded machine).
                #expect(await database.ping(timeout: .seconds(10)))
            }
        }
    }
}
