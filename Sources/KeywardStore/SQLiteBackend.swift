import Foundation
import Logging
import SQLKit
import SQLiteKit
import Synchronization

/// SQLite through SQLiteNIO: one writer connection, serialized, and a few reader connections (WAL mode).
final class SQLiteBackend: DatabaseBackend {
    private struct Lane: Sendable {
        let connection: SQLiteConnection
        let lock = AsyncLock()
    }

    private let writer: Lane
    private let readers: [Lane]
    private let nextReader = Atomic<Int>(0)
    private let threadPool: NIOThreadPool

    private init(writer: Lane, readers: [Lane], threadPool: NIOThreadPool) {
        self.writer = writer
        self.readers = readers
        self.threadPool = threadPool
    }

    static let readerCount = 4
    /// SQLKit logs each query with its bind values, which hold token hashes, password hashes and CSRF tokens: never.
    static let queryLogLevel: Logger.Level? = nil

    static func open(_ location: DatabaseLocation, logger: Logger) async throws -> SQLiteBackend {
        // SQLite calls block their thread (a busy writer waits in busy_timeout), so each database gets a thread
        // per connection: sharing NIO's small singleton pool lets waiting writers starve the one holding the lock.
        let threadPool = NIOThreadPool(numberOfThreads: readerCount + 1)
        threadPool.start()
        func connect(_ storage: SQLiteConnection.Storage, reader: Bool) async throws -> Lane {
            let connection = try await SQLiteConnection.open(
                storage: storage, threadPool: threadPool, logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())
            try await configure(connection, reader: reader)
            return Lane(connection: connection)
        }
        do {
            switch location {
            case .sqliteMemory:
                // A private in-memory database exists only on its connection: everything shares the writer.
                return SQLiteBackend(writer: try await connect(.memory, reader: false), readers: [], threadPool: threadPool)
            case .sqliteFile(let path):
                let url = URL(fileURLWithPath: path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                let writer = try await connect(.file(path: path), reader: false)
                var readers: [Lane] = []
                for _ in 0..<readerCount { readers.append(try await connect(.file(path: path), reader: true)) }
                return SQLiteBackend(writer: writer, readers: readers, threadPool: threadPool)
            case .postgres:
                preconditionFailure("SQLiteBackend opened for a PostgreSQL location")
            }
        } catch {
            try? await threadPool.shutdownGracefully()
            throw error
        }
    }

    private static func configure(_ connection: SQLiteConnection, reader: Bool) async throws {
        let sql = connection.sql(queryLogLevel: queryLogLevel)
        // First, so every later statement (even switching to WAL) waits for other processes instead of failing.
        try await sql.raw("PRAGMA busy_timeout = 10000").run()
        // WAL lets readers run beside the writer; FULL makes every acknowledged commit survive a crash.
        if !reader {
            try await sql.raw("PRAGMA journal_mode = WAL").run()
            try await sql.raw("PRAGMA synchronous = FULL").run()
        }
        try await sql.raw("PRAGMA foreign_keys = ON").run()
        if reader { try await sql.raw("PRAGMA query_only = 1").run() }
    }

    func withReader<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        guard !readers.isEmpty else {
            return try await writer.lock.withLock { try await body(writer.connection.sql(queryLogLevel: Self.queryLogLevel)) }
        }
        let lane = readers[nextReader.add(1, ordering: .relaxed).oldValue % readers.count]
        return try await lane.lock.withLock { try await body(lane.connection.sql(queryLogLevel: Self.queryLogLevel)) }
    }

    func withTransaction<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        // IMMEDIATE takes the write lock now, so a transaction never fails half-way on a busy database.
        try await writer.lock.withLock {
            try await inTransaction(writer.connection.sql(queryLogLevel: Self.queryLogLevel), begin: "BEGIN IMMEDIATE", body)
        }
    }

    func withSnapshot<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        // A deferred read transaction in WAL mode sees one snapshot from its first read to its end.
        try await withReader { try await inTransaction($0, begin: "BEGIN", body) }
    }

    /// One process owns an SQLite file: there is no one to hear from.
    func listen(_ channel: String, onListening: @Sendable () async -> Void, _ received: @Sendable (String) async -> Void) async throws {}

    func close() async {
        for lane in readers + [writer] {
            await lane.lock.withLock { try? await lane.connection.close() }
        }
        try? await threadPool.shutdownGracefully()
    }
}
