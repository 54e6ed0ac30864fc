import Foundation
import KeywardDomain
import SQLKit

/// What an operator may do (DESIGN.md section 13).
public enum OperatorRole: String, Sendable, Codable, CaseIterable {
    /// Everything, the operators, tokens and signing keys included.
    case admin
    /// Organizations, agreements, keys and activations.
    case clerk
    /// Reads everything, changes nothing.
    case auditor

    /// Whether this role may change organizations, agreements, keys and activations.
    public var mayChangeLicensing: Bool { self != .auditor }
}

/// One of the vendor's licensing staff.
public struct OperatorRecord: Sendable, Hashable, Codable {
    public var login: String
    public var name: String
    public var role: OperatorRole
    public var active: Bool
    public var createdAt: Date
    public var updatedAt: Date
    /// bcrypt; never shown.
    public var passwordHash: String

    /// How the audit log names the operator's actions.
    public var actor: String { "operator:\(login)" }
}

/// The operators, each change in the audit log.
extension AuthorityStore {
    /// Makes an operator; refused when the login is taken (in any case).
    public func createOperator(
        login: String, name: String, role: OperatorRole, passwordHash: String, actor: String, now: Date
    ) async throws -> OperatorRecord {
        try await database.write { sql in
            if try await Self.operatorRecord(login, on: sql) != nil {
                throw StoreError(
                    code: "LOGIN_TAKEN", message: "There is an operator \(login) already: choose another login.", kind: .conflict,
                    details: ["field": "login"])
            }
            let record = OperatorRecord(
                login: login, name: name, role: role, active: true, createdAt: now, updatedAt: now, passwordHash: passwordHash)
            try await sql.insert(into: "operators").model(OperatorRow(record), with: .columns).run()
            try await AuditLog.append(
                .init(
                    actor: actor, action: "operator.created", target: record.actor, details: ["name": .string(name), "role": .string(role.rawValue)]),
                at: now, on: sql)
            return record
        }
    }

    /// Every operator, by login.
    public func operators() async throws -> [OperatorRecord] {
        try await database.read { sql in
            try await sql.select().columns("*").from("operators").orderBy("login_folded").all(decoding: OperatorRow.self, with: .columns).map(
                \.record)
        }
    }

    /// The operator `login` (in any case), if there is one.
    public func operatorRecord(_ login: String) async throws -> OperatorRecord? {
        try await database.read { try await Self.operatorRecord(login, on: $0) }
    }

    /// Disables or enables an operator; disabling also revokes their tokens and ends their console sessions, so they are
    /// refused from their next request.
    @discardableResult
    public func setOperatorActive(_ login: String, _ active: Bool, actor: String, now: Date) async throws -> OperatorRecord {
        defer { tokenCache.removeAll() }
        return try await database.write { sql in
            guard var record = try await Self.operatorRecord(login, on: sql) else { throw Self.unknownOperator(login) }
            guard record.active != active else { return record }
            record.active = active
            record.updatedAt = now
            try await sql.update("operators").set("active", to: active ? 1 : 0).set("updated_at", to: now.storedMilliseconds)
                .where("login_folded", .equal, Self.foldLogin(login)).run()
            if !active {
                try await sql.delete(from: "operator_sessions").where("login_folded", .equal, Self.foldLogin(login)).run()
                try await sql.update("api_tokens").set("revoked_at", to: now.storedMilliseconds).where("kind", .equal, "operator")
                    .where("subject", .equal, record.login).where("revoked_at", .is, SQLLiteral.null).run()
            }
            try await AuditLog.append(
                .init(actor: actor, action: active ? "operator.enabled" : "operator.disabled", target: record.actor), at: now, on: sql)
            return record
        }
    }

    static func unknownOperator(_ login: String) -> StoreError {
        StoreError(code: "UNKNOWN_OPERATOR", message: "There is no operator \(login).", kind: .notFound)
    }

    static func operatorRecord(_ login: String, on sql: any SQLDatabase) async throws -> OperatorRecord? {
        try await sql.select().columns("*").from("operators").where("login_folded", .equal, foldLogin(login))
            .first(decoding: OperatorRow.self, with: .columns)?.record
    }

    /// Logins compare without regard to case or Unicode normalization, as the registry's do.
    static func foldLogin(_ login: String) -> String { login.precomposedStringWithCanonicalMapping.lowercased() }

    /// Whether two logins name the same operator.
    public static func sameLogin(_ one: String, _ other: String) -> Bool { foldLogin(one) == foldLogin(other) }
}

/// An `operators` row.
private struct OperatorRow: Codable {
    var loginFolded: String
    var login: String
    var name: String
    var role: String
    var passwordHash: String
    var active: Int
    var createdAt: Int64
    var updatedAt: Int64

    init(_ record: OperatorRecord) {
        loginFolded = AuthorityStore.foldLogin(record.login)
        login = record.login
        name = record.name
        role = record.role.rawValue
        passwordHash = record.passwordHash
        active = record.active ? 1 : 0
        createdAt = record.createdAt.storedMilliseconds
        updatedAt = record.updatedAt.storedMilliseconds
    }

    var record: OperatorRecord {
        OperatorRecord(
            login: login, name: name, role: OperatorRole(rawValue: role) ?? .auditor, active: active != 0,
            createdAt: Date(storedMilliseconds: createdAt), updatedAt: Date(storedMilliseconds: updatedAt), passwordHash: passwordHash)
    }
}
