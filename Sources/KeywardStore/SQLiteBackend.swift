import Foundation
import Logging
import NIOConcurrencyHelpers
import SQLKit
import SQLiteKit
import ServiceLifecycle
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
    /// Writers waiting for the writer's connection: while there are some, a finished write transaction is handed over
    /// open instead of committed (group commit).
    private let writersWaiting = Atomic<Int>(0)
    private let committed = Atomic<Int>(0)
    /// The write transaction left open for the next writer of its group; only touched while holding the writer's lock.
    private let openGroup = NIOLockedValueBox<CommitGroup?>(nil)
    /// At most this many writers share one commit, and a group's transaction stays open at most this long, so no
    /// writer waits long for its commit and another process on the same file gets its turn.
    static let groupLimit = 64
    static let groupWindow: Duration = .milliseconds(100)

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
        // First, so every later statement (even switching to WAL) waits for other processes instead of failing. 30 s:
        // several processes opening and migrating one file together on a loaded 2-core machine waited more than 10 s
        // for the write lock now and then (`MigratorTests.instancesStartingTogetherApplyEachMigrationOnce`).
        try await sql.raw("PRAGMA busy_timeout = 30000").run()
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
        // An in-memory database reads on the writer's connection too: a read must never see a group's uncommitted writes.
        guard !readers.isEmpty else {
            let result = try await writer.lock.withLock {
                try await inTransaction(writer.connection.sql(queryLogLevel: Self.queryLogLevel), begin: "BEGIN IMMEDIATE", body)
            }
            committed.add(1, ordering: .relaxed)
            return result
        }
        await lockWriter()
        return try await lockedTransaction(body)
    }

    /// One statement, its own transaction: in autocommit mode SQLite commits it (and, with `synchronous=FULL`, flushes
    /// it) before it returns, so no BEGIN and COMMIT round trips are needed around it. Handed an open group, it joins
    /// that group as any writer would, and is answered after the group's commit.
    func withStatement<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        guard !readers.isEmpty else { return try await withTransaction(body) }
        await lockWriter()
        if openGroup.withLockedValue({ $0 }) != nil { return try await lockedTransaction(body) }
        do {
            let result = try await body(writer.connection.sql(queryLogLevel: Self.queryLogLevel))
            committed.add(1, ordering: .relaxed)
            writer.lock.unlock()
            return result
        } catch {
            writer.lock.unlock()
            throw error
        }
    }

    /// Takes the writer's connection, counted among the writers waiting for it meanwhile.
    private func lockWriter() async {
        writersWaiting.add(1, ordering: .relaxed)
        await writer.lock.lock()
        writersWaiting.subtract(1, ordering: .relaxed)
    }

    /// `body` in the group's open transaction, or in a new one; called holding the writer's lock, which it releases.
    private func lockedTransaction<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        let sql = writer.connection.sql(queryLogLevel: Self.queryLogLevel)
        let group: CommitGroup
        // A writer that joins an open group runs in a savepoint, so that its failure undoes its changes alone; the one
        // that begins a group has nothing of others' to keep, and a failure rolls the transaction back.
        let joined: Bool
        if let open = openGroup.withLockedValue({ $0 }) {
            group = open
            joined = true
        } else {
            joined = false
            do {
                // IMMEDIATE takes the write lock now, so a transaction never fails half-way on a busy database.
                try await sql.raw("BEGIN IMMEDIATE").run()
            } catch {
                writer.lock.unlock()
                throw error
            }
            group = CommitGroup()
            openGroup.withLockedValue { $0 = group }
        }
        let outcome: Result<T, any Error>
        do {
            if joined { try await sql.raw("SAVEPOINT keyward_write").run() }
            outcome = .success(try await body(sql))
            if joined { try await sql.raw("RELEASE SAVEPOINT keyward_write").run() }
            group.members += 1
        } catch {
            guard joined else {
                try? await sql.raw("ROLLBACK").run()
                openGroup.withLockedValue { $0 = nil }
                group.finish(.failure(error))
                writer.lock.unlock()
                throw error
            }
            do {
                // Only this writer's changes are undone; the group's others stand.
                try await sql.raw("ROLLBACK TO SAVEPOINT keyward_write").run()
                try await sql.raw("RELEASE SAVEPOINT keyward_write").run()
            } catch {
                // The transaction itself is gone (SQLite rolls back on some I/O errors): the whole group fails.
                try? await sql.raw("ROLLBACK").run()
                openGroup.withLockedValue { $0 = nil }
                group.finish(.failure(error))
                writer.lock.unlock()
                throw error
            }
            // Refused at once: nothing of this writer's is in the group, so it need not wait for the commit.
            try? await closeOrHandOver(group, sql, waiting: false)
            throw error
        }
        try await closeOrHandOver(group, sql, waiting: true)
        return try outcome.get()
    }

    /// After a writer's body: leaves the transaction open for the next waiting writer (and, when `waiting`, waits for
    /// the group's commit), or commits it for the whole group. Returns once the group's changes are committed, throws
    /// if they are not.
    private func closeOrHandOver(_ group: CommitGroup, _ sql: any SQLDatabase, waiting: Bool) async throws {
        if writersWaiting.load(ordering: .relaxed) > 0, group.members < Self.groupLimit, ContinuousClock.now - group.opened < Self.groupWindow {
            if waiting {
                try await group.wait { writer.lock.unlock() }
            } else {
                writer.lock.unlock()
            }
            return
        }
        openGroup.withLockedValue { $0 = nil }
        do {
            try await sql.raw("COMMIT").run()
        } catch {
            try? await sql.raw("ROLLBACK").run()
            group.finish(.failure(error))
            writer.lock.unlock()
            throw error
        }
        committed.add(1, ordering: .relaxed)
        group.finish(.success(()))
        writer.lock.unlock()
    }

    var commits: Int { committed.load(ordering: .relaxed) }

    func withSnapshot<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        // A deferred read transaction in WAL mode sees one snapshot from its first read to its end.
        try await withReader { try await inTransaction($0, begin: "BEGIN", body) }
    }

    /// One process owns an SQLite file: there is no one to hear from.
    func listen(_ channel: String, onListening: @Sendable () async -> Void, _ received: @Sendable (String) async -> Void) async throws {}

    /// Nothing runs beside the connections: waits for the graceful shutdown.
    func serve() async {
        try? await gracefulShutdown()
    }

    func close() async {
        for lane in readers {
            await lane.lock.withLock { try? await lane.connection.close() }
        }
        await writer.lock.withLock {
            // A group handed over to a writer that never came (the lock went to this close first): commit it.
            if let group = openGroup.withLockedValue({ open in
                defer { open = nil }
                return open
            }) {
                do {
                    try await writer.connection.sql(queryLogLevel: Self.queryLogLevel).raw("COMMIT").run()
                    group.finish(.success(()))
                } catch {
                    group.finish(.failure(error))
                }
            }
            try? await writer.connection.close()
        }
        try? await threadPool.shutdownGracefully()
    }
}

/// The writers whose transactions are committed together: each waits for the one COMMIT (or its failure).
final class CommitGroup: Sendable {
    private struct State {
        var members = 0
        var waiting: [CheckedContinuation<Void, any Error>] = []
        var outcome: Result<Void, any Error>?
    }

    private let state = NIOLockedValueBox(State())
    /// When its transaction began.
    let opened = ContinuousClock.now

    /// Writers whose changes are in the open transaction.
    var members: Int {
        get { state.withLockedValue { $0.members } }
        set { state.withLockedValue { $0.members = newValue } }
    }

    /// Waits for the group's commit; `handOver` runs once this writer is registered, to let the next writer in.
    func wait(handOver: () -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let done = state.withLockedValue { state -> Result<Void, any Error>? in
                if let outcome = state.outcome { return outcome }
                state.waiting.append(continuation)
                return nil
            }
            handOver()
            if let done { continuation.resume(with: done) }
        }
    }

    func finish(_ outcome: Result<Void, any Error>) {
        let waiting = state.withLockedValue { state in
            state.outcome = outcome
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume(with: outcome) }
    }
}
