import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import NIOCore

/// The cookies of a site's web sessions: HttpOnly, SameSite=Lax, for the whole site, `Secure` as `secureCookies`
/// decides for the request; and the secrets they carry (random, stored only by their hash).
public struct WebCookies: Sendable {
    /// The session cookie.
    public static let session = "keyward_session"
    /// The login form's CSRF token, before there is a session.
    public static let loginCSRF = "keyward_login_csrf"
    /// Binds a sign-in sent to the identity provider to the browser that started it (only its hash is stored).
    public static let signIn = "keyward_oidc"
    /// How long a web session lasts.
    public static let sessionLifetime: TimeInterval = 8 * 3600

    public let secureCookies: SecureCookies

    public init(secureCookies: SecureCookies) { self.secureCookies = secureCookies }

    /// An HttpOnly, SameSite=Lax cookie for the whole site.
    public func cookie(_ name: String, _ value: String, maxAge: Int, request: Request) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: "/", secure: secureCookies.isSecure(request), httpOnly: true, sameSite: .lax)
    }

    /// A cookie's removal.
    public func forget(_ name: String, request: Request) -> Cookie { cookie(name, "", maxAge: 0, request: request) }

    /// The session id a request's cookie names, when it has the shape of one.
    public static func sessionID(of request: Request) -> String? {
        guard let id = request.cookies[session]?.value, !id.isEmpty, id.count <= 128 else { return nil }
        return id
    }

    /// How a secret is stored.
    public static func hash(_ secret: String) -> String { APIToken.hash(secret) }

    /// A fresh secret (session id, CSRF token, sign-in binding).
    public static func randomToken() -> String { APIToken.generate().secret + APIToken.generate().secret }
}

/// Every form's CSRF token: a hidden `_csrf` field that must equal the session's (or, on the login form, its cookie's).
public enum CSRF {
    public static func isValid(_ fields: FormFields, expected: String?) -> Bool {
        guard let token = fields["_csrf"], let expected, !expected.isEmpty else { return false }
        return token == expected
    }

    public static let refusal = APIError(
        .forbidden, code: "CSRF_TOKEN_INVALID", message: "This form has expired or did not come from this site. Reload the page and try again.")
}

/// A login form's body: small (`limit` bytes, else 413), with the CSRF token of the login cookie (else 403).
public enum LoginForm {
    /// The fields and the form's CSRF token, which the form shows again after a refusal.
    public static func read(_ request: Request, limit: Int) async throws -> (fields: FormFields, csrf: String) {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError.payloadTooLarge(limit: limit)
        }
        let fields = try URLEncodedForm.parse(Array(buffer: body))
        guard CSRF.isValid(fields, expected: request.cookies[WebCookies.loginCSRF]?.value), let token = fields["_csrf"] else {
            throw CSRF.refusal
        }
        return (fields, token)
    }
}
