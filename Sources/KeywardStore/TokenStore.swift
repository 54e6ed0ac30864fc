import Foundation
import KeywardDomain
import SQLKit

/// A stored bearer token, without its secret.
public struct TokenRecord: Sendable, Hashable, Codable {
    public var id: String
    /// What the token may do, e.g. `operator`, `organization`, `user`, `service`.
    public var kind: String
    /// A person's label for it, e.g. `deploy-bot`.
    public var name: String
    /// What it is bound to: an organization id, a user login; `nil` for operators.
    public var subject: String?
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?

    /// Whether the token may be used at `now`.
    public func isUsable(at now: Date) -> Bool {
        revokedAt == nil && (expiresAt.map { now < $0 } ?? true)
    }
}

/// Bearer tokens: made once and shown once, checked on every request, revoked for good.
public struct TokenStore: Sendable {
    let database: KeywardDatabase

    public init(database: KeywardDatabase) {
        self.database = database
    }

    public static let maximumNameLength = 100

    /// Makes a token inside the caller's transaction; the returned `APIToken` is the only copy of the secret.
    public static func create(
        kind: String, name: String, subject: String?, expiresAt: Date? = nil, now: Date, on sql: any SQLDatabase
    ) async throws -> (token: APIToken, record: TokenRecord) {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        // Counted in Unicode scalars as given, as the API descriptions' `maxLength` counts.
        guard !trimmed.isEmpty, name.unicodeScalars.count <= maximumNameLength,
            !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw StoreError(
                code: "INVALID_TOKEN_NAME", message: "A token name must be 1 to \(maximumNameLength) characters without control characters.",
                details: ["field": "name"])
        }
        let token = APIToken.generate()
        let record = TokenRecord(id: token.id, kind: kind, name: trimmed, subject: subject, createdAt: now, expiresAt: expiresAt, revokedAt: nil)
        let row = TokenRow(
            id: token.id, kind: kind, name: trimmed, subject: subject, secretHash: token.secretHash, createdAt: now.storedMilliseconds,
            expiresAt: expiresAt?.storedMilliseconds, revokedAt: nil)
        try await sql.insert(into: "api_tokens").model(row, with: .columns).run()
        return (token, record)
    }

    /// The usable token `presented` stands for, or `nil` (unknown, wrong secret, revoked or expired).
    public func authenticate(_ presented: String, now: Date) async throws -> TokenRecord? {
        guard let token = APIToken(presented) else { return nil }
        let row = try await database.read { sql in
            try await sql.select().columns("*").from("api_tokens").where("id", .equal, token.id).first(decoding: TokenRow.self, with: .columns)
        }
        guard let row, token.matches(storedHash: row.secretHash) else { return nil }
        return row.record.isUsable(at: now) ? row.record : nil
    }

    /// Revokes token `id` inside the caller's transaction; `UNKNOWN_TOKEN` if there is none (of `kinds`, when given).
    @discardableResult
    public static func revoke(id: String, kinds: Set<String>? = nil, now: Date, on sql: any SQLDatabase) async throws -> TokenRecord {
        guard let row = try await sql.select().columns("*").from("api_tokens").where("id", .equal, id).first(),
            case let record = try record(row), kinds.map({ $0.contains(record.kind) }) ?? true
        else {
            throw StoreError(code: "UNKNOWN_TOKEN", message: "There is no token \(id).", kind: .notFound)
        }
        if record.revokedAt == nil {
            try await sql.update("api_tokens").set("revoked_at", to: now.storedMilliseconds).where("id", .equal, id).run()
        }
        var revoked = record
        revoked.revokedAt = revoked.revokedAt ?? now
        return revoked
    }

    /// Token `id`, if there is one.
    public func record(id: String) async throws -> TokenRecord? {
        try await database.read { sql in try await sql.select().columns("*").from("api_tokens").where("id", .equal, id).first().map(Self.record) }
    }

    /// Every token of `kinds` (all when `nil`), newest first.
    public func list(kinds: Set<String>? = nil, subject: String? = nil) async throws -> [TokenRecord] {
        try await database.read { sql in
            var select = sql.select().columns("*").from("api_tokens")
            if let kinds { select = select.where("kind", .in, Array(kinds)) }
            if let subject { select = select.where("subject", .equal, subject) }
            return try await select.orderBy("created_at", .descending).orderBy("id").all().map(Self.record)
        }
    }

    static func record(_ row: any SQLRow) throws -> TokenRecord {
        try row.decode(model: TokenRow.self, with: .columns).record
    }
}

/// An `api_tokens` row: the SHA-256 of the secret, never the secret.
private struct TokenRow: Codable {
    var id: String
    var kind: String
    var name: String
    var subject: String?
    var secretHash: String
    var createdAt: Int64
    var expiresAt: Int64?
    var revokedAt: Int64?

    var record: TokenRecord {
        TokenRecord(
            id: id, kind: kind, name: name, subject: subject, createdAt: Date(storedMilliseconds: createdAt),
            expiresAt: expiresAt.map(Date.init(storedMilliseconds:)), revokedAt: revokedAt.map(Date.init(storedMilliseconds:)))
    }
}
