import Foundation
import Logging
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit
import ServiceLifecycle
import Synchronization

/// PostgreSQL through PostgresNIO's `PostgresClient` (a pool), with SQLKit on top.
final class PostgresBackend: DatabaseBackend {
    private let client: PostgresClient
    /// The pool's own task, for a database opened by ``KeywardDatabase/open(_:logger:)`` (a command, a test); `nil` while
    /// a service runs the pool (``run()``) in its service group.
    private let runner: Mutex<Task<Void, Never>?>
    /// Whether the pool was started: `PostgresClient.run()` may be called once only.
    private let started = Atomic<Bool>(false)
    /// Opens when the pool runs: a service's first requests (loading the access model) may come before the service
    /// group has started the database's service, and wait here rather than lease from a pool that does not run.
    private let running = StartGate()
    let logger: Logger
    private let committed = Atomic<Int>(0)
    /// When the pool last handed a connection out (`DispatchTime` nanoseconds; 0: never yet): a busy pool still does, a
    /// pool whose server is gone does not.
    private let lastLease = Atomic<UInt64>(0)

    /// A pool on `location` of at most `maximumConnections`, not yet running: ``startRunning()`` runs it on a task of its
    /// own, ``run()`` in the caller's.
    init(_ location: PostgresLocation, maximumConnections: Int = 20, logger: Logger) {
        let tls: PostgresClient.Configuration.TLS =
            switch location.tls {
            case .disable: .disable
            case .prefer: .prefer(.makeClientConfiguration())
            case .require: .require(.makeClientConfiguration())
            }
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.username,
            password: location.password, database: location.database, tls: tls
        )
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.runner = Mutex(nil)
    }

    /// Runs the pool on a task of its own until ``close()``.
    func startRunning() {
        markStarted()
        let client = self.client
        runner.withLock { $0 = Task { await client.run() } }
    }

    /// Runs the pool in the calling task until it is cancelled or its service group shuts down gracefully (the pool's
    /// own `Service` behaviour): the application's first service.
    func run() async {
        markStarted()
        await client.run()
    }

    /// A pool opened for a service runs here; one that runs on its own task waits for the graceful shutdown.
    func serve() async {
        if runsByItself {
            try? await gracefulShutdown()
        } else {
            await run()
        }
    }

    /// Whether the pool runs on a task of its own (``startRunning()``) rather than in a service.
    var runsByItself: Bool { runner.withLock { $0 != nil } }

    private func markStarted() {
        let (exchanged, _) = started.compareExchange(expected: false, desired: true, ordering: .relaxed)
        precondition(exchanged, "a PostgreSQL pool runs once")
        running.open()
    }

    /// How long a request waits for a pooled connection before it is refused with `DATABASE_UNAVAILABLE`: while
    /// PostgreSQL is down the pool keeps trying to connect, and a request should fail fast rather than wait for it.
    static let connectionDeadline: Duration = .seconds(5)
    /// How long a request waits for a connection at most while the pool is busy (it gave other requests connections
    /// within the last `connectionDeadline`) rather than cut off from its server, or still making its first
    /// connection (at start, on a loaded machine, that can take longer than the deadline).
    static let busyDeadline: Duration = .seconds(30)

    /// Queries are not logged (`queryLogLevel: nil`): SQLKit would log their bind values, which hold token hashes,
    /// password hashes and CSRF tokens. Losing the server (no connection within the deadline, a connection closed
    /// under a query, PostgreSQL shutting down) is `DATABASE_UNAVAILABLE`; the body's own errors pass unchanged.
    func withReader<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        do {
            return try await leased(within: Self.connectionDeadline) { connection in
                try await body(OpenConnectionSQL(base: connection.sql(queryLogLevel: nil, logger: logger), connection: connection))
            }
        } catch let error where Self.isOutage(error) {
            throw StoreError.databaseUnavailable
        }
    }

    /// Runs `body` with a pooled connection, or throws `DATABASE_UNAVAILABLE` when the pool gives none within
    /// `deadline` and has given none to anyone else meanwhile (busy is not down, and a pool that never connected yet is
    /// starting: then it waits up to ``busyDeadline``). The connection is leased on a child task that holds it until
    /// `body` is done here, since the pool's own lease has no deadline.
    private func leased<T>(within deadline: Duration, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let (connections, handOver) = AsyncThrowingStream.makeStream(of: PostgresConnection.self)
        let (finished, finish) = AsyncStream.makeStream(of: Void.self)
        let client = self.client
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask {
                do {
                    try await self.running.wait()
                    try await client.withConnection { connection in
                        self.lastLease.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
                        handOver.yield(connection)
                        for await _ in finished {}
                    }
                } catch {
                    handOver.finish(throwing: error)
                }
            }
            let timer = Task {
                try await Task.sleep(for: deadline)
                var waited = deadline
                let window = UInt64(deadline.components.seconds) * 1_000_000_000
                while waited < Self.busyDeadline {
                    let last = self.lastLease.load(ordering: .relaxed)
                    guard last == 0 || DispatchTime.now().uptimeNanoseconds - last < window else { break }
                    try await Task.sleep(for: .seconds(1))
                    waited += .seconds(1)
                }
                handOver.finish(throwing: StoreError.databaseUnavailable)
            }
            defer {
                timer.cancel()
                finish.finish()
            }
            var iterator = connections.makeAsyncIterator()
            guard let connection = try await iterator.next() else { throw StoreError.databaseUnavailable }
            timer.cancel()
            let result = try await body(connection)
            finish.finish()  // the child gives the connection back to the pool
            try await group.waitForAll()
            return result
        }
    }

    /// Whether `error` says the server is gone or going, rather than refusing a statement.
    static func isOutage(_ error: any Error) -> Bool {
        switch error {
        case let error as StoreError: return error == .databaseUnavailable
        case is ChannelError, is IOError, is NIOConnectionError: return true
        case let error as PSQLError:
            switch error.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed: return true
            case .server:
                // Class 08, connection exception; 57P, operator intervention (57P01 admin shutdown, 57P03
                // cannot connect now, while PostgreSQL starts).
                let state = error.serverInfo?[.sqlState] ?? ""
                return state.hasPrefix("08") || state.hasPrefix("57P")
            default: return false
            }
        default: return false
        }
    }

    func withTransaction<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        // Our own BEGIN/COMMIT rather than PostgresClient.withTransaction, so callers see their own errors unwrapped.
        let notifications = KeywardDatabase.pending
        let result = try await withReader { connection in
            try await inTransaction(connection, begin: "BEGIN") { sql in
                let result = try await body(sql)
                for notification in notifications {
                    try await sql.raw("SELECT pg_notify(\(bind: notification.channel), \(bind: notification.payload))").run()
                }
                return result
            }
        }
        committed.add(1, ordering: .relaxed)
        return result
    }

    var commits: Int { committed.load(ordering: .relaxed) }

    func listen(_ channel: String, onListening: @Sendable () async -> Void, _ received: @Sendable (String) async -> Void) async throws {
        try await running.wait()
        try await client.withConnection { connection in
            try await connection.listen(on: channel) { notifications in
                await onListening()
                for try await notification in notifications { await received(notification.payload) }
            }
        }
    }

    /// A transaction all the same: the notifications pending for the write are sent inside it.
    func withStatement<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T { try await withTransaction(body) }

    func withSnapshot<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await withReader { try await inTransaction($0, begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body) }
    }

    /// Stops a pool that runs on its own task; a pool run by a service stops with it.
    func close() async {
        guard let task = runner.withLock({ $0 }) else { return }
        task.cancel()
        await task.value
    }
}

/// A pooled connection's SQL that never leaves a query waiting on a connection the server has closed.
///
/// PostgresNIO (1.33) writes each query to its channel without a write promise: a query written after the channel
/// closed (typically the ROLLBACK that follows a query failed by PostgreSQL stopping, or any query racing the close)
/// is never answered, and its caller waits for ever with whatever it holds: the snapshot rebuild lock, the write
/// lock, and so every later write. Found by `scripts/verify_faults.py` (PostgreSQL stopped under load).
/// - A query is not sent on a connection already closed.
/// - A query in flight runs on a task of its own while this one waits for the first of: its answer, or the
///   connection found closed (checked every second) and still no answer a second later. A healthy connection's
///   query is never cut short, however long it takes. On the failure path the abandoned query's task stays
///   suspended; it holds nothing of ours.
/// `FaultRegressionTests` keeps both fixed.
struct OpenConnectionSQL: SQLDatabase {
    let base: any SQLDatabase
    let connection: PostgresConnection

    var logger: Logger { base.logger }
    var eventLoop: any EventLoop { base.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { base.version }
    var dialect: any SQLDialect { base.dialect }
    var queryLogLevel: Logger.Level? { base.queryLogLevel }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        guard !connection.isClosed else { return eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        return base.execute(sql: query, onRow)
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        guard !connection.isClosed else { throw ChannelError.ioOnClosedChannel }
        let (base, connection) = (self.base, self.connection)
        let answer = FirstAnswer()
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let watchdog = Task {
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(1))
                    guard connection.isClosed else { continue }
                    try await Task.sleep(for: .seconds(1))  // what PostgresNIO had taken before the close, it fails itself
                    if answer.claim() { continuation.resume(throwing: ChannelError.ioOnClosedChannel) }
                    return
                }
            }
            Task {
                do {
                    try await base.execute(sql: query, onRow)
                    watchdog.cancel()
                    if answer.claim() { continuation.resume() }
                } catch {
                    watchdog.cancel()
                    if answer.claim() { continuation.resume(throwing: error) }
                }
            }
        }
    }
}

/// A gate that opens once: until then ``wait()`` suspends (a cancelled waiter throws `CancellationError`), after it
/// returns at once.
final class StartGate: Sendable {
    private let state = Mutex<(isOpen: Bool, waiters: [UInt64: CheckedContinuation<Void, any Error>], next: UInt64)>((false, [:], 0))

    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async throws {
        if state.withLock({ $0.isOpen }) { return }
        let id = state.withLock { state in
            defer { state.next += 1 }
            return state.next
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Result<Void, any Error>? = state.withLock { state in
                    if state.isOpen { return .success(()) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let resumeNow { continuation.resume(with: resumeNow) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(throwing: CancellationError())
        }
    }
}
