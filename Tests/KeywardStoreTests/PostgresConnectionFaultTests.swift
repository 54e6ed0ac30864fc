import Foundation
import KeywardTestSupport
import Logging
import NIOCore
import PostgresNIO
import SQLKit
import Testing

@testable import KeywardStore

extension StoreTests {
    /// PostgresNIO (1.33) never answers a query written to a connection that closes under it. The fault cannot be made
    /// on purpose with a real server (it needs the close to land between two writes), so the query here is a stand-in
    /// that closes the real connection and then never answers, as PostgresNIO does.
    @Suite struct PostgresConnectionFaultTests {
        struct NeverAnswers: SQLDatabase {
            let connection: PostgresConnection
            let base: any SQLDatabase
            var logger: Logger { base.logger }
            var eventLoop: any EventLoop { base.eventLoop }
            var dialect: any SQLDialect { base.dialect }
            func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
                eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)  // not used: OpenConnectionSQL awaits the async form
            }

            func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
                try await connection.close()
                try await Task.sleep(for: .seconds(3600))  // no answer, as PostgresNIO gives none
            }
        }

        /// Found by scripts/verify_faults.py on its third PostgreSQL outage: a write in flight when the server went away
        /// waited for ever, and every later write behind it. It now fails once the connection is seen closed. The time
        /// limit is a hang guard with room for a loaded machine (the whole suite starts at once on 2 cores).
        @Test(.timeLimit(.minutes(3)), .enabled(if: Backend.postgresURL != nil, "needs KEYWARD_TEST_POSTGRES_URL"))
        func aQueryInFlightWhenTheConnectionClosesFails() async throws {
            guard case .postgres(let location) = try DatabaseLocation.parse(Backend.postgresURL!) else { return }
            let configuration = PostgresConnection.Configuration(
                host: location.host, port: location.port, username: location.username,
                password: location.password, database: location.database, tls: .disable)
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: Logger(label: "test"))
            let sql = OpenConnectionSQL(base: NeverAnswers(connection: connection, base: connection.sql()), connection: connection)
            await #expect(throws: (any Error).self) { try await sql.raw("SELECT 1").run() }
            #expect(connection.isClosed)
        }
    }
}
