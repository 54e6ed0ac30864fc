import Foundation
import KeywardDomain
import SQLKit

/// The web UI's sessions: started at login, looked up on every page, ended at logout or when the password changes.
extension RegistryStore {
    /// Starts a web session; only the SHA-256 of its id is stored.
    public func createWebSession(
        idHash: String, login: String, csrfToken: String, now: Date, expiresAt: Date, method: WebSessionMethod = .password
    ) async throws {
        try await database.write { sql in
            let session = WebSessionRow(
                idHash: idHash, loginFolded: Self.fold(login), csrfToken: csrfToken, createdAt: now.storedMilliseconds,
                expiresAt: expiresAt.storedMilliseconds, method: method.rawValue)
            try await sql.insert(into: "web_sessions").model(session, with: .columns).run()
        }
    }

    /// The user, CSRF token and sign-in method of an unexpired web session.
    public func webSession(idHash: String, now: Date) async throws -> (user: RegistryUser, csrfToken: String, method: WebSessionMethod)? {
        try await database.read { sql in
            guard
                let session = try await sql.select().columns("*").from("web_sessions").where("id_hash", .equal, idHash)
                    .where("expires_at", .greaterThan, now.storedMilliseconds).first(decoding: WebSessionRow.self, with: .columns)
            else { return nil }
            guard
                let user = try await sql.select().columns("*").from("registry_users")
                    .where("login_folded", .equal, session.loginFolded).first().map(Self.user), user.active
            else { return nil }
            return (user, session.csrfToken, WebSessionMethod(rawValue: session.method) ?? .password)
        }
    }

    public func deleteWebSession(idHash: String) async throws {
        try await database.write { try await $0.delete(from: "web_sessions").where("id_hash", .equal, idHash).run() }
    }

    /// The sign-ins sent to the identity provider, waiting for their callback.
    var pendingSignIns: PendingSignIns { PendingSignIns(database: database, table: "oidc_sign_ins") }

    public func savePendingSignIn(_ pending: PendingSignIn, now: Date) async throws { try await pendingSignIns.save(pending, now: now) }

    public func takePendingSignIn(stateHash: String, now: Date) async throws -> PendingSignIn? {
        try await pendingSignIns.take(stateHash: stateHash, now: now)
    }
}

/// How a web session was opened.
public enum WebSessionMethod: String, Sendable {
    case password
    /// With the identity provider (OpenID Connect), whose own sign-out is offered at logout.
    case openIDConnect = "oidc"
}

/// A `web_sessions` (registry) or `operator_sessions` (authority) row.
struct WebSessionRow: Codable {
    /// The SHA-256 of the session id, never the id.
    var idHash: String
    var loginFolded: String
    var csrfToken: String
    var createdAt: Int64
    var expiresAt: Int64
    var method: String
}
