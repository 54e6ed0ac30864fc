import Foundation
import Logging
import NIOConcurrencyHelpers
import SQLKit

/// The SQL dialect behind a store; only the store looks at it.
public enum DatabaseKind: String, Sendable {
    case sqlite
    case postgres
}

/// The one database value a service opens at start: reads, write transactions, migrations.
///
/// Every multi-statement change goes through ``write(_:)``: one transaction, committed when the body
/// returns and rolled back when it throws. On SQLite writes are serialized (`BEGIN IMMEDIATE`); on
/// PostgreSQL they run concurrently and take the row or advisory locks they need.
public final class KeywardDatabase: Sendable {
    public let kind: DatabaseKind
    public let location: DatabaseLocation
    private let backend: any DatabaseBackend

    private init(kind: DatabaseKind, location: DatabaseLocation, backend: any DatabaseBackend) {
        self.kind = kind
        self.location = location
        self.backend = backend
    }

    /// Opens the database at `location` for a command or a test: a PostgreSQL pool runs on a task of its own until
    /// ``close()``. A service opens it with ``openForService(_:logger:)`` instead.
    public static func open(_ location: DatabaseLocation, logger: Logger) async throws -> KeywardDatabase {
        switch location {
        case .sqliteFile, .sqliteMemory:
            return KeywardDatabase(kind: .sqlite, location: location, backend: try await SQLiteBackend.open(location, logger: logger))
        case .postgres(let postgres):
            let backend = PostgresBackend(postgres, logger: logger)
            backend.startRunning()
            return KeywardDatabase(kind: .postgres, location: location, backend: backend)
        }
    }

    /// Opens the database at `location` for a service, whose first service it is (``DatabaseService``): a PostgreSQL
    /// pool runs only once that service runs, in the service group, and stops last. Until then the database answers
    /// nothing; the work of a start that comes before the services (migrations, first start) goes through
    /// ``beforeServing(_:)``.
    public static func openForService(_ location: DatabaseLocation, logger: Logger) async throws -> KeywardDatabase {
        switch location {
        case .sqliteFile, .sqliteMemory:
            return try await open(location, logger: logger)
        case .postgres(let postgres):
            return KeywardDatabase(kind: .postgres, location: location, backend: PostgresBackend(postgres, logger: logger))
        }
    }

    /// Runs `body` on the database before its service runs: a start's own reads and writes (migrations, the first
    /// start's installation, the saved settings). On SQLite that is this database; on PostgreSQL, a pool of two
    /// connections to the same server that runs in a child task for as long as `body` does and is closed before this
    /// returns.
    public func beforeServing<T>(_ body: (KeywardDatabase) async throws -> T) async throws -> T {
        guard case .postgres(let postgres) = location, let backend = backend as? PostgresBackend, !backend.runsByItself else {
            return try await body(self)
        }
        let setup = PostgresBackend(postgres, maximumConnections: 2, logger: backend.logger)
        let database = KeywardDatabase(kind: .postgres, location: location, backend: setup)
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask { await setup.run() }
            defer { group.cancelAll() }
            return try await body(database)
        }
    }

    /// Runs the database as a service until the service group shuts down gracefully, then closes it: a PostgreSQL pool
    /// opened by ``openForService(_:logger:)`` runs here.
    func serve() async {
        await backend.serve()
        await close()
    }

    /// Opens the database at `location` and brings its schema up to date with `migrations`, so an unmigrated
    /// database value never exists. A migration that fails closes it again and throws its `StoreError`.
    public static func open(_ location: DatabaseLocation, migrating migrations: [Migration], logger: Logger) async throws -> KeywardDatabase {
        let database = try await open(location, logger: logger)
        do {
            try await Migrator(migrations).migrate(database, logger: logger)
        } catch {
            await database.close()
            throw error
        }
        return database
    }

    /// Runs `body` on a connection outside any explicit transaction: for reads.
    public func read<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await backend.withReader(body)
    }

    /// Runs `body` on one consistent snapshot of the database: several reads that see the same moment.
    public func snapshot<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await backend.withSnapshot(body)
    }

    /// Runs `body` in one transaction: all of it is committed, or none of it when `body` throws.
    public func write<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await backend.withTransaction(body)
    }

    /// Runs `body`, which makes exactly one statement, as a write of its own: committed when `body` returns, and
    /// unchanged when it throws. On SQLite the statement runs without BEGIN and COMMIT around it (one round trip
    /// instead of three), or within the write group open at the moment; on PostgreSQL in a transaction, so that
    /// pending notifications go with it. For the hottest writes (heartbeats).
    public func writeStatement<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await backend.withStatement(body)
    }

    /// A message for the other processes on the same database, sent by the next write transaction as it commits.
    public struct Notification: Sendable, Hashable {
        public var channel: String
        public var payload: String

        public init(channel: String, payload: String) {
            self.channel = channel
            self.payload = payload
        }
    }

    @TaskLocal static var pending: [Notification] = []

    /// Runs `body` so that every write transaction it makes sends `notifications` within the transaction, just before
    /// COMMIT: delivered to the listeners exactly when the change is committed, never for a change rolled back. On
    /// PostgreSQL (`NOTIFY`); on SQLite, whose file belongs to one process, nothing is sent.
    public func notifying<T>(_ notifications: [Notification], _ body: () async throws -> T) async throws -> T {
        try await Self.$pending.withValue(notifications) { try await body() }
    }

    public func notifying<T>(_ notification: Notification, _ body: () async throws -> T) async throws -> T {
        try await notifying([notification], body)
    }

    /// Sends `notification` from within a write transaction (`sql` is the transaction's), delivered when it commits:
    /// for a write that learns what it changed only as it runs. On SQLite nothing is sent.
    public func send(_ notification: Notification?, on sql: any SQLDatabase) async throws {
        guard kind == .postgres, let notification else { return }
        try await sql.raw("SELECT pg_notify(\(bind: notification.channel), \(bind: notification.payload))").run()
    }

    /// Whether ``listen(_:_:)`` hears other processes' notifications: PostgreSQL only.
    public var canListen: Bool { kind == .postgres }

    /// Listens on `channel` on a connection of its own, calling `received` with each payload, until the connection
    /// ends (it throws then) or the task is cancelled (it returns). On SQLite it returns at once.
    public func listen(_ channel: String, onListening: @Sendable () async -> Void = {}, _ received: @Sendable (String) async -> Void)
        async throws
    {
        try await backend.listen(channel, onListening: onListening, received)
    }

    /// Whether the database answers a trivial query; for readiness checks.
    public func ping(timeout: Duration = .seconds(2)) async -> Bool {
        // Bounded: while PostgreSQL is gone, the pool keeps a request waiting for a connection until it is back, and a
        // readiness check must say "not ready" now rather than hang (found by scripts/verify_faults.py).
        let answer = FirstAnswer()
        return await withCheckedContinuation { continuation in
            let timer = Task { try await Task.sleep(for: timeout) }
            let query = Task {
                let ok = (try? await read { try await $0.raw("SELECT 1 AS one").first()?.decode(column: "one", as: Int.self) == 1 }) ?? false
                if answer.claim() {
                    timer.cancel()
                    continuation.resume(returning: ok)
                }
            }
            Task {
                guard (try? await timer.value) != nil, answer.claim() else { return }
                query.cancel()
                continuation.resume(returning: false)
            }
        }
    }

    /// Write transactions committed so far. On SQLite, writers that wait for each other share one commit (group
    /// commit), so this counts commits, not calls to ``write(_:)``.
    public var commits: Int { backend.commits }

    /// Closes every connection.
    public func close() async {
        await backend.close()
    }
}

/// Runs `body` between `begin` and COMMIT on `sql`, rolling back when it throws.
func inTransaction<T>(_ sql: any SQLDatabase, begin: String, _ body: (any SQLDatabase) async throws -> T) async throws -> T {
    try await sql.raw(SQLQueryString(begin)).run()
    do {
        let result = try await body(sql)
        try await sql.raw("COMMIT").run()
        return result
    } catch {
        try? await sql.raw("ROLLBACK").run()
        throw error
    }
}

/// What each SQL backend provides to ``KeywardDatabase``.
protocol DatabaseBackend: Sendable {
    func withReader<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T
    func withTransaction<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T
    func withStatement<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T
    func withSnapshot<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T
    func listen(_ channel: String, onListening: @Sendable () async -> Void, _ received: @Sendable (String) async -> Void) async throws
    var commits: Int { get }
    /// Runs what the backend needs while a service runs it, until the service group shuts down gracefully.
    func serve() async
    func close() async
}

/// Which of two racing tasks answers first.
final class FirstAnswer: Sendable {
    private let answered = NIOLockedValueBox(false)

    /// True for the first caller only.
    func claim() -> Bool {
        answered.withLockedValue { answered in
            defer { answered = true }
            return !answered
        }
    }
}
