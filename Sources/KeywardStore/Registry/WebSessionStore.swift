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

    /// Keeps a sign-in sent to the identity provider until its callback, and drops those older than their expiry.
    public func savePendingSignIn(_ pending: PendingSignIn, now: Date) async throws {
        try await database.write { sql in
            try await sql.delete(from: "oidc_sign_ins").where("expires_at", .lessThanOrEqual, now.storedMilliseconds).run()
            try await sql.insert(into: "oidc_sign_ins").model(PendingSignInRow(pending), with: .columns).run()
        }
    }

    /// Takes (and so removes) the unexpired sign-in of `stateHash`: a state is good for one callback only.
    public func takePendingSignIn(stateHash: String, now: Date) async throws -> PendingSignIn? {
        // One statement, so two callbacks racing with the same state cannot both take it.
        try await database.write { sql in
            let row = try await sql.delete(from: "oidc_sign_ins").where("state_hash", .equal, stateHash).returning("*")
                .first(decoding: PendingSignInRow.self, with: .columns)
            guard let row else { return nil }
            return row.expiresAt > now.storedMilliseconds ? row.pending : nil
        }
    }
}

/// How a web session was opened.
public enum WebSessionMethod: String, Sendable {
    case password
    /// With the identity provider (OpenID Connect), whose own sign-out is offered at logout.
    case openIDConnect = "oidc"
}

/// A sign-in sent to the identity provider, waiting for its callback.
public struct PendingSignIn: Sendable, Hashable {
    public let stateHash: String
    /// The SHA-256 of the cookie set in the browser that started it: a callback from another browser is refused.
    public let browserHash: String
    public let nonce: String
    public let codeVerifier: String
    public let redirectURI: String
    public let createdAt: Date
    public let expiresAt: Date

    public init(stateHash: String, browserHash: String, nonce: String, codeVerifier: String, redirectURI: String, createdAt: Date, expiresAt: Date) {
        self.stateHash = stateHash
        self.browserHash = browserHash
        self.nonce = nonce
        self.codeVerifier = codeVerifier
        self.redirectURI = redirectURI
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// An `oidc_sign_ins` row.
private struct PendingSignInRow: Codable {
    var stateHash: String
    var browserHash: String
    var nonce: String
    var codeVerifier: String
    var redirectUri: String
    var createdAt: Int64
    var expiresAt: Int64

    init(_ pending: PendingSignIn) {
        stateHash = pending.stateHash
        browserHash = pending.browserHash
        nonce = pending.nonce
        codeVerifier = pending.codeVerifier
        redirectUri = pending.redirectURI
        createdAt = pending.createdAt.storedMilliseconds
        expiresAt = pending.expiresAt.storedMilliseconds
    }

    var pending: PendingSignIn {
        PendingSignIn(
            stateHash: stateHash, browserHash: browserHash, nonce: nonce, codeVerifier: codeVerifier, redirectURI: redirectUri,
            createdAt: Date(storedMilliseconds: createdAt), expiresAt: Date(storedMilliseconds: expiresAt))
    }
}

/// A `web_sessions` row.
private struct WebSessionRow: Codable {
    /// The SHA-256 of the session id, never the id.
    var idHash: String
    var loginFolded: String
    var csrfToken: String
    var createdAt: Int64
    var expiresAt: Int64
    var method: String
}
