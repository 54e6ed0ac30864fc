import Foundation
import Hummingbird
import HummingbirdBcrypt
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore

/// `/api/v1/auth/token`: API tokens for people who can log in, with password guessing throttled.
struct AuthController: Sendable {
    let registry: Registry
    let throttle: LoginThrottle

    struct Login: Decodable {
        let login: String
        let password: String
    }

    struct TokenResponse: ResponseCodable {
        let token: String
        let id: String
        let login: String
        let expiresAt: Date
    }

    static let tokenLifetime: TimeInterval = 12 * 3600

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.post("token", use: logIn)
        routes.group(authorizedBy: RegistryRole.user(registry.access))
            .delete("token", use: logOut)
        return routes
    }

    /// A token for a login and password: open to anyone, throttled.
    @Sendable func logIn(_ request: Request, context: RegistryRequestContext) async throws -> EditedResponse<TokenResponse> {
        let input = try await request.decodeJSON(as: Login.self, context: context, limit: Authentication.maximumBodySize)
        let user = try await Authentication(registry: registry, throttle: throttle)
            .logIn(login: input.login, password: input.password, address: context.clientAddress)
        let now = registry.now()
        let made = try await registry.store.database.write { sql in
            let made = try await TokenStore.create(
                kind: RegistryTokenKind.user, name: RegistryTokenKind.administratorRole,
                subject: user.login.lowercased(), expiresAt: now.addingTimeInterval(Self.tokenLifetime), now: now, on: sql)
            try await AuditLog.append(.init(actor: "user:\(user.login)", action: "token.created", target: "token:\(made.token.id)"), at: now, on: sql)
            return made
        }
        return EditedResponse(
            status: .created,
            response: TokenResponse(
                token: made.token.text, id: made.record.id, login: user.login,
                expiresAt: made.record.expiresAt ?? now))
    }

    /// Revokes the caller's own token.
    @Sendable func logOut(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let token = try context.authorizedToken
        try await registry.store.database.write { sql in
            try await TokenStore.revoke(id: token.id, now: registry.now(), on: sql)
            try await AuditLog.append(.init(actor: context.actor, action: "token.revoked", target: "token:\(token.id)"), at: registry.now(), on: sql)
        }
        registry.tokenCache.removeAll()
        return Response(status: .noContent)
    }
}

/// Checks a login and password, throttled; shared by the API and the web login form.
public struct Authentication: Sendable {
    let registry: Registry
    let throttle: LoginThrottle

    /// The largest login request body read: a login of 64 characters and a password of 72 bytes fit many times over.
    public static let maximumBodySize = 4096

    public init(registry: Registry, throttle: LoginThrottle) {
        self.registry = registry
        self.throttle = throttle
    }

    /// The user, or `401 INVALID_CREDENTIALS` (the same for an unknown login and a wrong password), or `429` when this
    /// address failed this login too often. The attempt is counted before the password is compared.
    public func logIn(login: String, password: String, address: String?) async throws -> RegistryUser {
        let attempt = try await begin(login: login, address: address, what: "logins")
        let user = login.count <= 64 ? try await registry.store.user(login) : nil
        // Compared even for unknown logins (with a decoy of the same cost), so timing does not tell which logins exist.
        let matches: Bool
        do {
            matches = try await registry.passwords.verify(password, against: user?.passwordHash)
        } catch {
            // Refused as BUSY before the comparison: no guess was made, so none is counted.
            throttle.release(attempt)
            throw error
        }
        guard let user, matches, user.active else {
            throw APIError(.unauthorized, code: "INVALID_CREDENTIALS", message: "The login or password is wrong.")
        }
        throttle.succeeded(attempt)
        // Said only to someone who knows the password, so it tells nobody else which logins exist.
        if let provider = registry.signIn.settings, provider.requireProvider, !user.builtin {
            throw APIError(
                .forbidden, code: "PASSWORD_SIGN_IN_OFF",
                message:
                    "This registry signs its users in with \(provider.displayName): use “Sign in with \(provider.displayName)” on the login page. Only the built-in administrator signs in with a password."
            )
        }
        return user
    }

    /// Counts an attempt for `login` from `address` (after the throttle's growing delay), or refuses it with `429`
    /// and `Retry-After` when that pair, or that address, failed too often. `what` names the attempts in the sentence.
    func begin(login: String, address: String?, what: String) async throws -> LoginThrottle.Attempt {
        try await throttle.admit(login: login, address: address, now: registry.now(), what: what)
    }
}
