import Foundation

/// Where a Keyward store lives: an SQLite file (the embedded default), SQLite in memory, or a PostgreSQL server.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqliteFile(path: String)
    /// A private in-memory SQLite database, gone when closed; for tests.
    case sqliteMemory
    case postgres(PostgresLocation)

    /// Reads `--database` text: a `postgres://` or `postgresql://` URL, `:memory:`, or a file path.
    public static func parse(_ text: String) throws(StoreError) -> DatabaseLocation {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else {
            throw StoreError(code: "INVALID_DATABASE", message: "The database location is empty: give a file path or a postgres:// URL.")
        }
        if trimmed == ":memory:" { return .sqliteMemory }
        if trimmed.hasPrefix("postgres://") || trimmed.hasPrefix("postgresql://") {
            return .postgres(try PostgresLocation(url: trimmed))
        }
        if trimmed.contains("://") {
            throw StoreError(
                code: "INVALID_DATABASE",
                message: "Unsupported database URL \"\(trimmed.prefix(20))…\": use a file path for SQLite or a postgres:// URL.")
        }
        return .sqliteFile(path: trimmed)
    }

    /// A description safe for logs: never the password.
    public var description: String {
        switch self {
        case .sqliteFile(let path): "sqlite:\(path)"
        case .sqliteMemory: "sqlite::memory:"
        case .postgres(let location): location.description
        }
    }
}

/// A PostgreSQL server and database, from `postgres://user:password@host:port/database?sslmode=...`.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable { case disable, prefer, require }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    public init(host: String, port: Int = 5432, username: String, password: String? = nil, database: String, tls: TLSMode = .prefer) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
    }

    init(url text: String) throws(StoreError) {
        func invalid(_ why: String) -> StoreError {
            StoreError(
                code: "INVALID_DATABASE", message: "The PostgreSQL URL is not usable: \(why). Expected postgres://user:password@host:5432/database.")
        }
        guard let components = URLComponents(string: text) else { throw invalid("it cannot be parsed") }
        guard let host = components.host, !host.isEmpty else { throw invalid("it names no host") }
        guard let user = components.user, !user.isEmpty else { throw invalid("it names no user") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw invalid("it names no database") }
        var tls = TLSMode.prefer
        for item in components.queryItems ?? [] where item.name == "sslmode" {
            switch item.value {
            case "disable": tls = .disable
            case "allow", "prefer": tls = .prefer
            case "require", "verify-ca", "verify-full": tls = .require
            default: throw invalid("sslmode must be disable, prefer or require")
            }
        }
        self.init(
            host: host, port: components.port ?? 5432, username: user.removingPercentEncoding ?? user,
            password: components.password.map { $0.removingPercentEncoding ?? $0 }, database: database, tls: tls
        )
    }

    public var description: String { "postgres://\(username)@\(host):\(port)/\(database)" }
}
