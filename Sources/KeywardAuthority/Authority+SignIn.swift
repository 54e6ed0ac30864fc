import Foundation
import KeywardDomain
import KeywardOIDC
import KeywardStore

/// The identity provider the vendor's operators may sign in to the console with (`oidc.*` in the authority's
/// configuration), with the relying party that talks to it.
public struct OperatorSignIn: Sendable {
    public let settings: OIDCClientSettings
    let secret: String
    public let relyingParty: OIDCRelyingParty

    public init(settings: OIDCClientSettings, secret: String, relyingParty: OIDCRelyingParty) {
        self.settings = settings
        self.secret = secret
        self.relyingParty = relyingParty
    }
}

extension Authority {
    /// Starts an operator's sign-in with the provider: keeps its state (hashed, bound to `browserSecret`'s hash), nonce
    /// and PKCE verifier, and gives the provider's address to send the browser to.
    public func beginSignIn(_ signIn: OperatorSignIn, redirectURI: String, browserSecret: String) async throws(OIDCFailure) -> String {
        let authorization = try await signIn.relyingParty.beginSignIn(signIn.settings, redirectURI: redirectURI)
        let time = now()
        do {
            try await store.savePendingSignIn(
                PendingSignIn(
                    stateHash: APIToken.hash(authorization.state), browserHash: APIToken.hash(browserSecret), nonce: authorization.nonce,
                    codeVerifier: authorization.codeVerifier, redirectURI: redirectURI, createdAt: time,
                    expiresAt: time.addingTimeInterval(OIDCRelyingParty.signInLifetime)),
                now: time)
        } catch {
            throw OIDCFailure(code: "DATABASE_UNAVAILABLE", message: "The sign-in could not be kept. Try again in a few seconds.")
        }
        return authorization.url
    }

    /// Finishes an operator's sign-in: the state must be one this authority started in this browser (and is used up),
    /// the ID token verified, and its claim must name an active operator. A refusal writes its line in the audit log
    /// (`sign-in.refused`, with the code) and nothing else.
    public func completeSignIn(_ signIn: OperatorSignIn, callback: OIDCSignInCallback) async throws -> OperatorRecord {
        let settings = signIn.settings
        do {
            var pending: PendingSignIn?
            if let stateHash = callback.stateHash { pending = try await store.takePendingSignIn(stateHash: stateHash, now: now()) }
            let identity = try await signIn.relyingParty.finishSignIn(
                callback,
                pending: pending.map {
                    OIDCPendingSignIn(browserHash: $0.browserHash, nonce: $0.nonce, codeVerifier: $0.codeVerifier, redirectURI: $0.redirectURI)
                }, settings: settings, secret: signIn.secret, site: "console")
            guard let value = identity.value(of: settings.userClaim), !value.isEmpty else {
                throw OIDCFailure(
                    code: "OIDC_USER_UNKNOWN",
                    message:
                        "\(settings.displayName) did not send your \(settings.userClaim.rawValue), which the console uses as your login. Ask an admin to check oidc.scopes."
                )
            }
            guard let account = try await store.operatorRecord(value) else {
                throw OIDCFailure(
                    code: "OIDC_USER_UNKNOWN",
                    message:
                        "Your account \(String(value.prefix(64))) at \(settings.displayName) is not an operator of this authority. Ask an admin to make you one (keyward authority operator create)."
                )
            }
            guard account.active else {
                throw OIDCFailure(
                    code: "OIDC_USER_DISABLED", message: "Your operator account \(account.login) is disabled. Ask an admin to enable it.")
            }
            _ = try await store.database.write { sql in
                try await AuditLog.append(
                    .init(
                        actor: account.actor, action: "sign-in.oidc", target: account.actor,
                        details: ["issuer": .string(identity.issuer), "subject": .string(identity.subject)]), at: now(), on: sql)
            }
            return account
        } catch let failure as OIDCFailure {
            _ = try await store.database.write { sql in
                try await AuditLog.append(
                    .init(
                        actor: "oidc", action: "sign-in.refused", target: "sign-in",
                        details: ["code": .string(failure.code), "message": .string(failure.message)]), at: now(), on: sql)
            }
            throw failure
        }
    }
}
