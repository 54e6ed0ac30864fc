import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardWeb

/// The registry's web sessions: the shared session cookie (`WebCookies`) naming a session stored by its hash, with a
/// CSRF token.
struct WebSessions: Sendable {
    let store: RegistryStore
    let now: @Sendable () -> Date
    let cookies: WebCookies

    struct Session: Sendable {
        let user: RegistryUser
        let csrf: String
        let idHash: String
        var method: WebSessionMethod = .password
    }

    /// The session of the request's cookie, if it is valid.
    func session(of request: Request) async throws -> Session? {
        guard let id = WebCookies.sessionID(of: request) else { return nil }
        let idHash = WebCookies.hash(id)
        guard let found = try await store.webSession(idHash: idHash, now: now()) else { return nil }
        return Session(user: found.user, csrf: found.csrfToken, idHash: idHash, method: found.method)
    }

    /// Starts a session for `user` and returns the cookie to set (`Secure` when the request came over HTTPS).
    func start(for user: RegistryUser, request: Request, method: WebSessionMethod = .password) async throws -> Cookie {
        let id = WebCookies.randomToken()
        let time = now()
        try await store.createWebSession(
            idHash: WebCookies.hash(id), login: user.login, csrfToken: WebCookies.randomToken(), now: time,
            expiresAt: time.addingTimeInterval(WebCookies.sessionLifetime), method: method)
        return cookies.cookie(WebCookies.session, id, maxAge: Int(WebCookies.sessionLifetime), request: request)
    }
}
