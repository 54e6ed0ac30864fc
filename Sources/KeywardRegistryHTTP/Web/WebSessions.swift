import Crypto
import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore

/// Web UI sessions: an HttpOnly, SameSite=Lax cookie naming a session stored by its hash, with a CSRF token.
struct WebSessions: Sendable {
    static let cookie = "keyward_session"
    static let loginCSRFCookie = "keyward_login_csrf"
    /// Binds a sign-in sent to the identity provider to the browser that started it (only its hash is stored).
    static let signInCookie = "keyward_oidc"
    static let lifetime: TimeInterval = 8 * 3600

    let store: RegistryStore
    let now: @Sendable () -> Date
    let secureCookies: SecureCookies

    struct Session: Sendable {
        let user: RegistryUser
        let csrf: String
        let idHash: String
        var method: WebSessionMethod = .password
    }

    static func hash(_ id: String) -> String { APIToken.hash(id) }

    static func randomToken() -> String { APIToken.generate().secret + APIToken.generate().secret }

    /// The session of the request's cookie, if it is valid.
    func session(of request: Request) async throws -> Session? {
        guard let id = request.cookies[Self.cookie]?.value, !id.isEmpty, id.count <= 128 else { return nil }
        let idHash = Self.hash(id)
        guard let found = try await store.webSession(idHash: idHash, now: now()) else { return nil }
        return Session(user: found.user, csrf: found.csrfToken, idHash: idHash, method: found.method)
    }

    /// Starts a session for `user` and returns the cookie to set (`Secure` when the request came over HTTPS).
    func start(for user: RegistryUser, request: Request, method: WebSessionMethod = .password) async throws -> Cookie {
        let id = Self.randomToken()
        let time = now()
        try await store.createWebSession(
            idHash: Self.hash(id), login: user.login, csrfToken: Self.randomToken(), now: time,
            expiresAt: time.addingTimeInterval(Self.lifetime), method: method)
        return cookie(Self.cookie, id, maxAge: Int(Self.lifetime), request: request)
    }

    /// An HttpOnly, SameSite=Lax cookie for the whole site, `Secure` as `secureCookies` decides for `request`.
    func cookie(_ name: String, _ value: String, maxAge: Int, request: Request) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: "/", secure: secureCookies.isSecure(request), httpOnly: true, sameSite: .lax)
    }
}
