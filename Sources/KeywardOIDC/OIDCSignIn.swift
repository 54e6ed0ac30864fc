import Foundation
import KeywardDomain

/// What the provider's redirect back brought to the site.
public struct OIDCSignInCallback: Sendable {
    public var state: String?
    public var code: String?
    public var error: String?
    public var errorDescription: String?
    /// The cookie of the browser that started the sign-in.
    public var browserSecret: String?

    public init(state: String?, code: String?, error: String?, errorDescription: String?, browserSecret: String?) {
        self.state = state
        self.code = code
        self.error = error
        self.errorDescription = errorDescription
        self.browserSecret = browserSecret
    }

    /// The state as it is stored (its hash), when the callback has one of a sane size.
    public var stateHash: String? {
        guard let state, !state.isEmpty, state.count <= 256 else { return nil }
        return APIToken.hash(state)
    }
}

/// What a site kept of a sign-in it sent to the provider, to finish it at the callback.
public struct OIDCPendingSignIn: Sendable, Hashable {
    /// The SHA-256 of the cookie set in the browser that started it: a callback from another browser is refused.
    public let browserHash: String
    public let nonce: String
    public let codeVerifier: String
    public let redirectURI: String

    public init(browserHash: String, nonce: String, codeVerifier: String, redirectURI: String) {
        self.browserHash = browserHash
        self.nonce = nonce
        self.codeVerifier = codeVerifier
        self.redirectURI = redirectURI
    }
}

/// The authorization code flow as both sites (the registry's web UI, the authority's console) run it; each keeps the
/// pending sign-ins in its own store and decides who the identity is.
extension OIDCRelyingParty {
    /// How long a sign-in sent to the provider may take before its callback is refused.
    public static let signInLifetime: TimeInterval = 600

    /// A fresh authorization request (state, nonce, PKCE verifier) for `settings`' provider.
    public func beginSignIn(_ settings: OIDCClientSettings, redirectURI: String) async throws(OIDCFailure) -> OIDCAuthorization {
        authorization(settings, metadata: try await metadata(issuer: settings.issuer), redirectURI: redirectURI)
    }

    /// Finishes a sign-in: `pending` is what the site kept for the callback's state (`nil` when it kept nothing: a state
    /// it never sent, used already, or expired), which must have been started in this browser; then the provider's
    /// answer, the code exchanged with PKCE's verifier, and the ID token verified with its nonce. `site` names where to
    /// start again, in the sentences.
    public func finishSignIn(
        _ callback: OIDCSignInCallback, pending: OIDCPendingSignIn?, settings: OIDCClientSettings, secret: String, site: String
    ) async throws(OIDCFailure) -> OIDCIdentity {
        guard let pending else {
            throw OIDCFailure(
                code: "OIDC_STATE_INVALID",
                message:
                    "This sign-in was not started by this \(site), was used already, or is older than 10 minutes. Start again with the button on the login page."
            )
        }
        guard let browser = callback.browserSecret, APIToken.hash(browser) == pending.browserHash else {
            throw OIDCFailure(
                code: "OIDC_STATE_INVALID",
                message: "This sign-in was started in another browser (or its cookie was lost). Start again with the button on the login page.")
        }
        if let error = callback.error {
            let said = callback.errorDescription.map { ": \(String($0.prefix(200)))" } ?? ""
            throw OIDCFailure(
                code: "OIDC_PROVIDER_ERROR",
                message: "\(settings.displayName) did not sign you in (\(String(error.prefix(64)))\(said)). Try again, or ask your administrator.")
        }
        guard let code = callback.code, !code.isEmpty, code.utf8.count <= 4096 else {
            throw OIDCFailure(code: "OIDC_PROVIDER_ERROR", message: "\(settings.displayName) sent no sign-in code back. Try again.")
        }
        let metadata = try await metadata(issuer: settings.issuer)
        let idToken = try await redeem(
            code: code, codeVerifier: pending.codeVerifier, redirectURI: pending.redirectURI, settings: settings, secret: secret, metadata: metadata)
        return try await verify(idToken, metadata: metadata, audiences: [settings.clientId], nonce: pending.nonce)
    }
}
