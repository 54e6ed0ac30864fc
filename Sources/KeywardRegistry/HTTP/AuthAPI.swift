import Foundation
import Hummingbird
import HummingbirdBcrypt
import KeywardDomain
import KeywardHTTP
import KeywardStore

/// `/api/v1/auth/token`: API tokens for people who can log in, with password guessing throttled.
struct AuthAPI: Sendable {
    let registry: Registry
    let throttle: LoginThrottle

    struct Login: Decodable {
        let login: String
        let password: String
    }

    struct TokenResponse: ResponseEncodable {
        let token: String
        let id: String
        let login: String
        let expiresAt: Date
    }

    static let tokenLifetime: TimeInterval = 12 * 3600

    func add(to router: Router<RegistryRequestContext>) {
        router.post("/api/v1/auth/token") { request, context in
            let input = try await request.decodeJSON(as: Login.self, context: context)
            let user = try await Authentication(registry: registry, throttle: throttle)
                .logIn(login: input.login, password: input.password, address: context.clientAddress)
            let now = registry.now()
            let made = try await registry.store.database.write { sql in
                let made = try await TokenStore.create(kind: RegistryTokenKind.user, name: RegistryTokenKind.administratorRole,
                                                       subject: user.login.lowercased(), expiresAt: now.addingTimeInterval(Self.tokenLifetime), now: now, on: sql)
                try await AuditLog.append(.init(actor: "user:\(user.login)", action: "token.created", target: "token:\(made.token.id)"), at: now, on: sql)
                return made
            }
            return EditedResponse(status: .created, response: TokenResponse(token: made.token.text, id: made.record.id, login: user.login,
                                                                            expiresAt: made.record.expiresAt ?? now))
        }
        router.delete("/api/v1/auth/token") { _, context in
            let token = try context.requireUser().token
            try await registry.store.database.write { sql in
                try await TokenStore.revoke(id: token.id, now: registry.now(), on: sql)
                try await AuditLog.append(.init(actor: context.actor, action: "token.revoked", target: "token:\(token.id)"), at: registry.now(), on: sql)
            }
            registry.tokenCache.removeAll()
            return Response(status: .noContent)
        }
    }
}

/// Checks a login and password, throttled; shared by the API and the web login form.
public struct Authentication: Sendable {
    let registry: Registry
    let throttle: LoginThrottle

    public init(registry: Registry, throttle: LoginThrottle) {
        self.registry = registry
        self.throttle = throttle
    }

    /// The user, or `401 INVALID_CREDENTIALS` (the same for an unknown login and a wrong password), or `429` when throttled.
    public func logIn(login: String, password: String, address: String?) async throws -> RegistryUser {
        let now = registry.now()
        if let wait = throttle.retryAfter(login: login, address: address, now: now) {
            var error = APIError(.tooManyRequests, code: "TOO_MANY_ATTEMPTS", message: "Too many failed logins. Try again in \(wait) seconds.",
                                 details: ["retryAfter": .int(wait)])
            error.headers[.retryAfter] = "\(wait)"
            throw error
        }
        let user = login.count <= 64 ? try await registry.store.user(login) : nil
        // bcrypt runs even for unknown logins, so timing does not tell which logins exist.
        let hash = user?.passwordHash ?? Self.decoyHash
        let matches = await Task.detached { Bcrypt.verify(password, hash: hash) }.value
        guard let user, matches, user.active, user.passwordHash != nil else {
            throttle.recordFailure(login: login, address: address, now: now)
            throw APIError(.unauthorized, code: "INVALID_CREDENTIALS", message: "The login or password is wrong.")
        }
        throttle.recordSuccess(login: login)
        return user
    }

    /// A bcrypt hash of a random password, compared against when the login is unknown.
    static let decoyHash = Bcrypt.hash(UUID().uuidString, cost: 10)
}
