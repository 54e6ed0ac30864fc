import Foundation
import KeywardDomain
import SQLKit

/// The console's sessions: started at login, looked up on every page, ended at logout or when the operator is disabled.
extension AuthorityStore {
    /// Starts a console session; only the SHA-256 of its id is stored.
    public func createOperatorSession(
        idHash: String, login: String, csrfToken: String, now: Date, expiresAt: Date, method: WebSessionMethod = .password
    ) async throws {
        try await database.write { sql in
            let session = WebSessionRow(
                idHash: idHash, loginFolded: Self.foldLogin(login), csrfToken: csrfToken, createdAt: now.storedMilliseconds,
                expiresAt: expiresAt.storedMilliseconds, method: method.rawValue)
            try await sql.insert(into: "operator_sessions").model(session, with: .columns).run()
            try await AuditLog.append(
                .init(
                    actor: "operator:\(login)", action: "operator.signed-in", target: "operator:\(login)",
                    details: ["method": .string(method.rawValue)]),
                at: now, on: sql)
        }
    }

    /// The active operator, CSRF token and sign-in method of an unexpired console session.
    public func operatorSession(idHash: String, now: Date) async throws -> (operator: OperatorRecord, csrfToken: String, method: WebSessionMethod)? {
        try await database.read { sql in
            guard
                let session = try await sql.select().columns("*").from("operator_sessions").where("id_hash", .equal, idHash)
                    .where("expires_at", .greaterThan, now.storedMilliseconds).first(decoding: WebSessionRow.self, with: .columns),
                let account = try await Self.operatorRecord(session.loginFolded, on: sql), account.active
            else { return nil }
            return (account, session.csrfToken, WebSessionMethod(rawValue: session.method) ?? .password)
        }
    }

    public func deleteOperatorSession(idHash: String) async throws {
        try await database.write { try await $0.delete(from: "operator_sessions").where("id_hash", .equal, idHash).run() }
    }

    /// The sign-ins sent to the identity provider, waiting for their callback.
    var pendingSignIns: PendingSignIns { PendingSignIns(database: database, table: "operator_sign_ins") }

    public func savePendingSignIn(_ pending: PendingSignIn, now: Date) async throws { try await pendingSignIns.save(pending, now: now) }

    public func takePendingSignIn(stateHash: String, now: Date) async throws -> PendingSignIn? {
        try await pendingSignIns.take(stateHash: stateHash, now: now)
    }
}
