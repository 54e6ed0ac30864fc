import Foundation
import KeywardDomain
import SQLKit

/// Sign-ins sent to an identity provider, each kept until its callback in `table` (the registry's `oidc_sign_ins`, the
/// authority's `operator_sign_ins`, of one shape).
struct PendingSignIns: Sendable {
    let database: KeywardDatabase
    let table: String

    /// Keeps `pending`, and drops those older than their expiry.
    func save(_ pending: PendingSignIn, now: Date) async throws {
        try await database.write { sql in
            try await sql.delete(from: table).where("expires_at", .lessThanOrEqual, now.storedMilliseconds).run()
            try await sql.insert(into: table).model(PendingSignInRow(pending), with: .columns).run()
        }
    }

    /// Takes (and so removes) the unexpired sign-in of `stateHash`: a state is good for one callback only.
    func take(stateHash: String, now: Date) async throws -> PendingSignIn? {
        // One statement, so two callbacks racing with the same state cannot both take it.
        try await database.write { sql in
            let row = try await sql.delete(from: table).where("state_hash", .equal, stateHash).returning("*")
                .first(decoding: PendingSignInRow.self, with: .columns)
            guard let row else { return nil }
            return row.expiresAt > now.storedMilliseconds ? row.pending : nil
        }
    }
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
