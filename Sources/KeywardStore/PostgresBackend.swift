import Foundation
import Logging
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit

/// PostgreSQL through PostgresNIO's `PostgresClient` (a pool), with SQLKit on top.
final class PostgresBackend: DatabaseBackend {
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger

    init(_ location: PostgresLocation, logger: Logger) {
        let tls: PostgresClient.Configuration.TLS = switch location.tls {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.username,
            password: location.password, database: location.database, tls: tls
        )
        configuration.options.maximumConnections = 20
        configuration.options.connectTimeout = .seconds(5)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        // The pool runs until closed; a service wrapper can own this later.
        self.runner = Task { await client.run() }
    }

    func withReader<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await body(OpenConnectionSQL(base: connection.sql(logger: logger), connection: connection))
        }
    }

    func withTransaction<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        // Our own BEGIN/COMMIT rather than PostgresClient.withTransaction, so callers see their own errors unwrapped.
        try await withReader { try await inTransaction($0, begin: "BEGIN", body) }
    }

    func withSnapshot<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await withReader { try await inTransaction($0, begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body) }
    }

    func close() async {
        runner.cancel()
        await runner.value
    }
}

/// A pooled connection's SQL that refuses to send a query once the server has closed the connection.
///
/// PostgresNIO (1.33) writes each query to its channel without a write promise: a query sent after the channel closed
/// (typically the ROLLBACK that follows a query failed by PostgreSQL stopping) is never answered, and its caller waits
/// for ever, with whatever it holds: the snapshot rebuild lock, and so every later write. Found by
/// `scripts/verify_faults.py` (PostgreSQL stopped under load); `FaultRegressionTests` keeps it fixed.
struct OpenConnectionSQL: SQLDatabase {
    let base: any SQLDatabase
    let connection: PostgresConnection

    var logger: Logger { base.logger }
    var eventLoop: any EventLoop { base.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { base.version }
    var dialect: any SQLDialect { base.dialect }
    var queryLogLevel: Logger.Level? { base.queryLogLevel }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        guard !connection.isClosed else { return eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        return base.execute(sql: query, onRow)
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        guard !connection.isClosed else { throw ChannelError.ioOnClosedChannel }
        try await base.execute(sql: query, onRow)
    }
}
