import Foundation
import KeywardDomain
import SQLKit

/// Organization and operator tokens, each change in the audit log.
extension AuthorityStore {
    /// Makes a token of `kind` for `subject` (an organization id, or an operator's login), recorded in the audit log.
    public func createToken(kind: String, name: String, subject: String?, actor: String, now: Date) async throws -> (
        token: APIToken, record: TokenRecord
    ) {
        try await database.write { sql in
            if let subject, kind == "organization", try await Self.organization(subject, on: sql) == nil {
                throw Self.unknownOrganization(subject)
            }
            // An operator token is a person's: the audit log names them for every action it makes.
            var subject = subject
            if let login = subject, kind == "operator" {
                guard let person = try await Self.operatorRecord(login, on: sql) else { throw Self.unknownOperator(login) }
                subject = person.login
                guard person.active else {
                    throw StoreError(
                        code: "OPERATOR_DISABLED", message: "Operator \(person.login) is disabled: enable them before making them a token.",
                        kind: .conflict)
                }
            }
            let created = try await TokenStore.create(kind: kind, name: name, subject: subject, now: now, on: sql)
            try await AuditLog.append(
                .init(
                    actor: actor, action: "token.created", target: "token:\(created.token.id)",
                    details: ["kind": .string(kind), "name": .string(created.record.name), "subject": subject.map(JSONValue.string) ?? .null]),
                at: now, on: sql)
            return created
        }
    }

    /// Revokes a token for good.
    public func revokeToken(_ id: String, actor: String, now: Date) async throws -> TokenRecord {
        defer { tokenCache.removeAll() }  // after the commit, so a request cannot cache the token again before it
        return try await database.write { sql in
            let record = try await TokenStore.revoke(id: id, now: now, on: sql)
            try await AuditLog.append(.init(actor: actor, action: "token.revoked", target: "token:\(id)"), at: now, on: sql)
            return record
        }
    }
}
