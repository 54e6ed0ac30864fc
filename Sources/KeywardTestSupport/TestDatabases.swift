import Foundation
import KeywardStore
import Logging
import NIOConcurrencyHelpers

/// The store backends every store test runs on: SQLite always, PostgreSQL when `KEYWARD_TEST_POSTGRES_URL` is set.
public enum Backend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqliteFile
    case sqliteMemory
    case postgres

    public var description: String { rawValue }

    public static let postgresURL = ProcessInfo.processInfo.environment["KEYWARD_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }

    /// Every backend available here.
    public static let available: [Backend] = postgresURL == nil ? [.sqliteFile, .sqliteMemory] : allCases
    /// Backends that can be opened more than once at the same time, for multi-instance tests.
    public static let shared: [Backend] = available.filter { $0 != .sqliteMemory }
}

public let testLogger = Logger(label: "keyward.tests")

/// Backends for tests of a whole service: SQLite on a file, and PostgreSQL when available.
extension Backend {
    public static let services: [Backend] = available.filter { $0 != .sqliteMemory }
}

/// A fresh, empty database on `backend`, removed after `body`; `open` makes more handles on the same database.
/// `logger` is the database's (the tests' quiet one unless a test listens to what the store logs).
public func withFreshDatabase<T>(
    _ backend: Backend, logger: Logger = testLogger,
    _ body: (_ database: KeywardDatabase, _ open: @escaping @Sendable () async throws -> KeywardDatabase) async throws -> T
) async throws -> T {
    let location: DatabaseLocation
    var cleanup: @Sendable () async throws -> Void = {}
    switch backend {
    case .sqliteMemory:
        location = .sqliteMemory
    case .sqliteFile:
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-test-\(UUID().uuidString)")
        location = .sqliteFile(path: directory.appendingPathComponent("store.sqlite").path)
        cleanup = { try? FileManager.default.removeItem(at: directory) }
    case .postgres:
        let admin = try DatabaseLocation.parse(Backend.postgresURL!)
        guard case .postgres(var server) = admin else { preconditionFailure("KEYWARD_TEST_POSTGRES_URL is not a postgres:// URL") }
        let name = "kwtest_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        let adminDatabase = try await KeywardDatabase.open(admin, logger: testLogger)
        try await adminDatabase.read { try await $0.raw("CREATE DATABASE \(unsafeRaw: name)").run() }
        await adminDatabase.close()
        server.database = String(name)
        location = .postgres(server)
        cleanup = {
            let adminDatabase = try await KeywardDatabase.open(admin, logger: testLogger)
            try await adminDatabase.read { try await $0.raw("DROP DATABASE IF EXISTS \(unsafeRaw: name) WITH (FORCE)").run() }
            await adminDatabase.close()
        }
    }
    let database = try await KeywardDatabase.open(location, logger: logger)
    let opened = OpenedDatabases()
    let open: @Sendable () async throws -> KeywardDatabase = {
        let extra = try await KeywardDatabase.open(location, logger: logger)
        await opened.add(extra)
        return extra
    }
    do {
        let result = try await body(database, open)
        await opened.closeAll()
        await database.close()
        try await cleanup()
        return result
    } catch {
        await opened.closeAll()
        await database.close()
        try? await cleanup()
        throw error
    }
}

/// A fresh, empty database on `backend` named as a `database` setting names it (a file path, or a postgres:// URL
/// with its password), for tests that start a whole service from its settings; removed after `body`.
public func withFreshDatabaseSetting<T>(_ backend: Backend, _ body: (_ setting: String) async throws -> T) async throws -> T {
    switch backend {
    case .sqliteMemory:
        return try await body(":memory:")
    case .sqliteFile:
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return try await body(directory.appendingPathComponent("store.sqlite").path)
    case .postgres:
        let admin = try DatabaseLocation.parse(Backend.postgresURL!)
        let name = "kwtest_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        let adminDatabase = try await KeywardDatabase.open(admin, logger: testLogger)
        try await adminDatabase.read { try await $0.raw("CREATE DATABASE \(unsafeRaw: String(name))").run() }
        await adminDatabase.close()
        guard var components = URLComponents(string: Backend.postgresURL!) else { preconditionFailure("KEYWARD_TEST_POSTGRES_URL is not a URL") }
        components.path = "/" + name
        let drop: @Sendable () async throws -> Void = {
            let adminDatabase = try await KeywardDatabase.open(admin, logger: testLogger)
            try await adminDatabase.read { try await $0.raw("DROP DATABASE IF EXISTS \(unsafeRaw: String(name)) WITH (FORCE)").run() }
            await adminDatabase.close()
        }
        do {
            let result = try await body(components.string!)
            try await drop()
            return result
        } catch {
            try? await drop()
            throw error
        }
    }
}

private actor OpenedDatabases {
    var databases: [KeywardDatabase] = []
    func add(_ database: KeywardDatabase) { databases.append(database) }
    func closeAll() async {
        for database in databases { await database.close() }
        databases = []
    }
}

/// A clock tests move by hand, so no test depends on the wall clock.
public final class TestClock: Sendable {
    private let current: NIOLockedValueBox<Date>

    public init(_ start: Date) {
        current = NIOLockedValueBox(start)
    }

    public var now: Date { current.withLockedValue { $0 } }

    public func advance(by seconds: TimeInterval) {
        current.withLockedValue { $0 = $0.addingTimeInterval(seconds) }
    }

    public func set(_ date: Date) {
        current.withLockedValue { $0 = date }
    }
}

/// A temporary directory, removed when `body` ends. `created: false` only names it, for a command that must make
/// it itself (its permissions are then the command's).
public func withTemporaryDirectory<T>(created: Bool = true, _ body: (URL) async throws -> T) async rethrows -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-test-\(UUID().uuidString)", isDirectory: true)
    if created { try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url)
}

/// A router path such as `/v1/organizations/:id` written as OpenAPI does, `/v1/organizations/{id}`.
public func openAPIPath(_ routerPath: String) -> String {
    "/" + routerPath.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
}

/// A log handler that keeps every message and its metadata as text, for tests of what is (never) logged.
public struct CapturingLogHandler: LogHandler {
    public final class Records: Sendable {
        private let lines = NIOLockedValueBox<[String]>([])
        public init() {}
        public var all: [String] { lines.withLockedValue { $0 } }
        func append(_ line: String) { lines.withLockedValue { $0.append(line) } }
    }

    public let records: Records
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace

    public init(records: Records) {
        self.records = records
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String, file: String, function: String, line: UInt
    ) {
        let all = metadata.merging(explicit ?? [:]) { $1 }
        records.append("\(level) \(message) \(all)")
    }
}

extension Logger {
    /// A logger at trace level whose every record lands in `records`.
    public static func capturing(_ records: CapturingLogHandler.Records) -> Logger {
        var logger = Logger(label: "keyward.tests.capture") { _ in CapturingLogHandler(records: records) }
        logger.logLevel = .trace
        return logger
    }
}

/// Runs `statement` on the test PostgreSQL server's administration database (`KEYWARD_TEST_POSTGRES_URL`), on a
/// connection of its own: for tests that make a database refuse connections, as an outage would.
public func administerTestPostgres(_ statement: String) async throws {
    let adminDatabase = try await KeywardDatabase.open(try DatabaseLocation.parse(Backend.postgresURL!), logger: testLogger)
    do {
        try await adminDatabase.read { try await $0.raw("\(unsafeRaw: statement)").run() }
        await adminDatabase.close()
    } catch {
        await adminDatabase.close()
        throw error
    }
}
