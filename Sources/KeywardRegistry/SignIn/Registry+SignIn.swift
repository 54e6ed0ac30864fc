import Foundation
import KeywardDomain
import KeywardOIDC
import KeywardStore
import NIOConcurrencyHelpers

/// The identity provider people sign in with (OpenID Connect), which an administrator may change while the registry
/// runs (Settings > Sign-in), and the relying party that talks to it.
public final class SignInConnection: Sendable {
    public struct State: Sendable {
        public let settings: OIDCClientSettings?
        let secret: String?
        public let source: AuthorityConnection.Source
    }

    private let state: NIOLockedValueBox<State>
    /// `nil` where the registry has no HTTP client (some tests): sign-in with a provider then says it is not set.
    public let relyingParty: OIDCRelyingParty?

    public init(
        settings: OIDCClientSettings? = nil, secret: String? = nil, source: AuthorityConnection.Source? = nil, relyingParty: OIDCRelyingParty?
    ) {
        state = NIOLockedValueBox(State(settings: settings, secret: secret, source: source ?? (settings == nil ? .none : .configuration)))
        self.relyingParty = relyingParty
    }

    public var current: State { state.withLockedValue { $0 } }

    /// The settings in use, when sign-in with a provider is on.
    public var settings: OIDCClientSettings? { current.settings }

    func replace(settings: OIDCClientSettings?, secret: String?) throws(RegistryError) {
        let replaced = state.withLockedValue { state in
            guard state.source != .configuration else { return false }
            state = State(settings: settings, secret: settings == nil ? nil : secret, source: settings == nil ? .none : .settings)
            return true
        }
        guard replaced else { throw RegistryError.signInLocked }
    }

    /// The connection of the configuration (`oidc.*`) if set, else the one saved on the settings page.
    public static func make(
        configured: (settings: OIDCClientSettings, secret: String)?, saved: [RegistrySetting: String], relyingParty: OIDCRelyingParty?
    ) -> SignInConnection {
        if let configured {
            return SignInConnection(settings: configured.settings, secret: configured.secret, source: .configuration, relyingParty: relyingParty)
        }
        if let text = saved[.signIn], let settings = try? JSONDecoder().decode(OIDCClientSettings.self, from: Data(text.utf8)),
            let secret = saved[.signInSecret]
        {
            return SignInConnection(settings: settings, secret: secret, source: .settings, relyingParty: relyingParty)
        }
        return SignInConnection(relyingParty: relyingParty)
    }
}

/// What the settings page and `GET /api/v1/settings/sign-in` show: never the client secret.
public struct SignInSettingsView: Sendable, Hashable {
    public let settings: OIDCClientSettings?
    public let secretSaved: Bool
    public let source: AuthorityConnection.Source
    public let editable: Bool
}

extension Registry {
    /// How long a sign-in sent to the provider may take before its callback is refused.
    public static let signInLifetime = OIDCRelyingParty.signInLifetime

    /// The sign-in settings as the page shows them.
    public func signInSettings() -> SignInSettingsView {
        let state = signIn.current
        return SignInSettingsView(
            settings: state.settings, secretSaved: state.secret != nil, source: state.source, editable: state.source != .configuration)
    }

    /// Typed settings, checked, with the secret to use: the typed one, or the saved one for the saved issuer and client.
    func signInSettings(from form: OIDCSettingsForm) throws(RegistryError) -> (settings: OIDCClientSettings, secret: String) {
        let settings: OIDCClientSettings
        do {
            settings = try OIDCClientSettings.checked(form)
        } catch {
            throw .invalid(error)
        }
        if let typed = form.clientSecret, !typed.isEmpty {
            guard typed.utf8.count <= 1024, !typed.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
                throw .invalid(
                    FieldError(field: "clientSecret", code: "INVALID_SECRET", message: "The client secret is at most 1,024 bytes, on one line."))
            }
            return (settings, typed)
        }
        let saved = signIn.current
        guard let secret = saved.secret, let old = saved.settings else {
            throw .invalid(FieldError(field: "clientSecret", code: "SECRET_REQUIRED", message: "Enter the client secret the provider gave."))
        }
        guard old.issuer == settings.issuer, old.clientId == settings.clientId else {
            throw .invalid(
                FieldError(
                    field: "clientSecret", code: "SECRET_REQUIRED",
                    message:
                        "Type the client secret to use another issuer or client id: the saved one is sent only to the saved provider, as the saved client."
                ))
        }
        return (settings, secret)
    }

    /// Saves the sign-in settings and uses them at once; a blank form turns sign-in with a provider off (a form with
    /// other fields but no issuer is refused: it was meant to save something).
    @discardableResult
    public func saveSignInSettings(_ form: OIDCSettingsForm, actor: String) async throws -> SignInSettingsView {
        guard signIn.current.source != .configuration else { throw RegistryError.signInLocked }
        if form.isBlank {
            try await store.saveSettings([.signIn: nil, .signInSecret: nil], actor: actor, now: now())
            try signIn.replace(settings: nil, secret: nil)
            return signInSettings()
        }
        let (settings, secret) = try signInSettings(from: form)
        let text = String(decoding: try JSONEncoder().encode(settings), as: UTF8.self)
        var changes: [RegistrySetting: String?] = [.signIn: text]
        if secret != signIn.current.secret { changes[.signInSecret] = secret }
        try await store.saveSettings(changes, actor: actor, now: now())
        try signIn.replace(settings: settings, secret: secret)
        return signInSettings()
    }

    /// Fetches the discovery document and keys of the typed settings (or the saved ones). Changes nothing.
    public func testSignIn(_ form: OIDCSettingsForm? = nil) async throws -> OIDCTestResult {
        let settings: OIDCClientSettings
        if let form, !(form.issuer ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            if signIn.current.source == .configuration { throw RegistryError.signInLocked }
            do {
                settings = try OIDCClientSettings.checked(form)
            } catch {
                throw RegistryError.invalid(error)
            }
        } else if let form, !form.isBlank {
            throw RegistryError.invalid(
                FieldError(
                    field: "issuer", code: "INVALID_ISSUER",
                    message: "Type the issuer of the settings to test, or leave every field blank to test the saved ones."))
        } else if let saved = signIn.settings {
            settings = saved
        } else {
            throw RegistryError.signInNotConfigured
        }
        let party = try relyingParty()
        return await party.test(settings)
    }

    func relyingParty() throws(RegistryError) -> OIDCRelyingParty {
        guard let party = signIn.relyingParty else { throw RegistryError.signInNotConfigured }
        return party
    }

    /// The provider's settings, secret and relying party, when sign-in with a provider is on.
    func configuredSignIn() throws(RegistryError) -> (settings: OIDCClientSettings, secret: String, party: OIDCRelyingParty) {
        let state = signIn.current
        guard let settings = state.settings, let secret = state.secret, let party = signIn.relyingParty else {
            throw RegistryError.signInNotConfigured
        }
        return (settings, secret, party)
    }

    // MARK: Signing in

    /// Starts a sign-in: keeps its state (hashed, bound to `browserSecret`'s hash), nonce and PKCE verifier, and gives
    /// the provider's address to send the browser to.
    public func beginSignIn(redirectURI: String, browserSecret: String) async throws -> String {
        let (settings, _, party) = try configuredSignIn()
        let authorization = try await Self.refusing { () throws(OIDCFailure) in try await party.beginSignIn(settings, redirectURI: redirectURI) }
        let time = now()
        try await store.savePendingSignIn(
            PendingSignIn(
                stateHash: APIToken.hash(authorization.state), browserHash: APIToken.hash(browserSecret), nonce: authorization.nonce,
                codeVerifier: authorization.codeVerifier, redirectURI: redirectURI, createdAt: time,
                expiresAt: time.addingTimeInterval(Self.signInLifetime)),
            now: time)
        return authorization.url
    }

    /// What the provider's callback brought back to the registry.
    public typealias SignInCallback = OIDCSignInCallback

    /// Finishes a sign-in to the web UI: the state must be one this registry started in this browser (and is used up),
    /// the code is exchanged with PKCE's verifier, the ID token verified with its nonce, and its claim must name an
    /// active user who administers a menu (``mayUseWebUI(_:)``). A refusal writes its line in the audit log and nothing
    /// else.
    public func completeSignIn(_ callback: SignInCallback) async throws -> RegistryUser {
        do {
            let (settings, secret, party) = try configuredSignIn()
            var pending: PendingSignIn?
            if let stateHash = callback.stateHash { pending = try await store.takePendingSignIn(stateHash: stateHash, now: now()) }
            let identity = try await party.finishSignIn(
                callback,
                pending: pending.map {
                    OIDCPendingSignIn(browserHash: $0.browserHash, nonce: $0.nonce, codeVerifier: $0.codeVerifier, redirectURI: $0.redirectURI)
                }, settings: settings, secret: secret, site: "registry")
            let user = try await user(for: identity, settings: settings)
            guard mayUseWebUI(user.login) else {
                throw OIDCFailure(code: "FORBIDDEN", message: Self.webUIRefusal)
            }
            try await store.database.write { sql in
                try await AuditLog.append(
                    .init(
                        actor: "user:\(user.login)", action: "sign-in.oidc", target: "user:\(user.login)",
                        details: ["issuer": .string(identity.issuer), "subject": .string(identity.subject)]), at: now(), on: sql)
            }
            return user
        } catch let failure as OIDCFailure {
            try await recordRefusedSignIn(failure, action: "sign-in.refused")
            throw RegistryError.signIn(failure)
        }
    }

    /// Opens a suite session for the user an ID token names, verified as for signing in (the audience may also be one
    /// of the settings' other audiences); the token must name an active registry user.
    public func openSession(idToken: String, ip: String?, actor: String) async throws -> UserSession {
        let user: RegistryUser
        do {
            let (settings, _, party) = try configuredSignIn()
            try OIDCRelyingParty.checkShape(idToken)
            let metadata = try await party.metadata(issuer: settings.issuer)
            let identity = try await party.verify(idToken, metadata: metadata, audiences: settings.acceptedAudiences, nonce: nil)
            user = try await self.user(for: identity, settings: settings)
        } catch let failure as OIDCFailure {
            try await recordRefusedSignIn(failure, action: "session.refused", actor: actor)
            throw RegistryError.signIn(failure)
        }
        return try await openSession(login: user.login, ip: ip, actor: actor)
    }

    /// The active, non-built-in user whose login is the token's configured claim.
    func user(for identity: OIDCIdentity, settings: OIDCClientSettings) async throws -> RegistryUser {
        guard let value = identity.value(of: settings.userClaim), !value.isEmpty else {
            throw OIDCFailure(
                code: "OIDC_USER_UNKNOWN",
                message:
                    "\(settings.displayName) did not send your \(settings.userClaim.rawValue), which this registry uses as your login. Ask your administrator to check the scopes in Settings > Sign-in."
            )
        }
        let login = try? UserRules.login(value)
        guard let login, let user = try await store.user(login), !user.builtin else {
            throw OIDCFailure(
                code: "OIDC_USER_UNKNOWN",
                message:
                    "Your account \(String(value.prefix(64))) at \(settings.displayName) is not a user of this registry. Ask your registry administrator to add you (or to synchronize the directory)."
            )
        }
        guard user.active else {
            throw OIDCFailure(
                code: "OIDC_USER_DISABLED",
                message: "Your account \(user.login) is disabled in this registry. Ask your registry administrator to enable it.")
        }
        return user
    }

    func recordRefusedSignIn(_ failure: OIDCFailure, action: String, actor: String = "oidc") async throws {
        try await store.database.write { sql in
            try await AuditLog.append(
                .init(
                    actor: actor, action: action, target: "sign-in", details: ["code": .string(failure.code), "message": .string(failure.message)]),
                at: now(), on: sql)
        }
    }

    /// Runs `body`, turning a provider's refusal into the registry's.
    static func refusing<T>(_ body: () async throws(OIDCFailure) -> T) async throws(RegistryError) -> T {
        do {
            return try await body()
        } catch {
            throw RegistryError.signIn(error)
        }
    }

    /// Where to send a browser after the registry's own sign-out of a provider session, if the provider offers it.
    public func providerSignOutURL(postLogoutRedirectURI: String) -> String? {
        guard let settings = signIn.settings, let party = signIn.relyingParty else { return nil }
        return party.endSessionURL(settings, postLogoutRedirectURI: postLogoutRedirectURI)
    }
}

extension RegistryError {
    static let signInNotConfigured = RegistryError.refused(
        code: "SIGN_IN_NOT_CONFIGURED",
        message: "Sign-in with an identity provider is not set up: an administrator sets it in Settings > Sign-in (or PUT /api/v1/settings/sign-in).",
        kind: .conflict)
    static let signInLocked = RegistryError.refused(
        code: "SETTINGS_LOCKED",
        message: "Sign-in with an identity provider is set by the server's configuration (oidc.* in the config file); change it there.",
        kind: .conflict)

    /// A refused sign-in or ID token: `401` with the provider's or the token's reason.
    static func signIn(_ failure: OIDCFailure) -> RegistryError {
        switch failure.code {
        case "OIDC_USER_DISABLED": .refused(code: failure.code, message: failure.message, kind: .forbidden)
        case "OIDC_PROVIDER_UNREACHABLE": .refused(code: failure.code, message: failure.message, kind: .busy)
        default: .refused(code: failure.code, message: failure.message, kind: .unauthorized)
        }
    }
}
