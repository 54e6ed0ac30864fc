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
            try await body(connection.sql(logger: logger))
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
