import Foundation
import Hummingbird
import KeywardAuthority
import KeywardHTTP
import KeywardOIDC
import KeywardStore
import KeywardWeb
import NIOCore

/// Signing in and out of the console: a login and password (throttled as the registry's), or the identity provider.
struct ConsoleSitePages: Sendable {
    let console: AuthorityConsole

    func add(to router: Router<AuthorityRequestContext>) {
        router.get("/login", use: loginForm)
        router.post("/login", use: logIn)
        router.get("/login/oidc", use: startSignIn)
        router.get(RouterPath(SignInRedirect.path), use: finishSignIn)
        router.group().add(middleware: ConsoleAuthorization(console: console, change: Set(OperatorRole.allCases)))
            .post("/logout", use: logOut)
    }

    /// The largest login body read: a login of 64 characters and a password of 72 bytes fit many times over.
    static let maximumBodySize = 4096

    /// The login form, with a CSRF token of its own (there is no session yet).
    @Sendable func loginForm(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        if try await console.session(of: request) != nil { return WebPages.redirect("/") }
        return loginPage(request)
    }

    /// The login form, with the provider's button when one is configured and a refusal above it; after the sign-out of
    /// a session opened with the provider, the offer to sign out there too.
    func loginPage(_ request: Request, login: String? = nil, error: APIError? = nil, csrf given: String? = nil) -> Response {
        let csrf = given ?? WebCookies.randomToken()
        var values = console.layout(nil, request: request)
        values["csrf"] = csrf
        values["loginHeading"] = "Log in to the licensing console"
        if let next = request.uri.queryParameters.get("next"), Self.next(request) != "/" {
            values["nextQuery"] = "?next=" + (String(next).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        }
        if let login { values["login"] = login }
        if let error { values["error"] = error.message }
        if let signIn = console.signIn {
            values["provider"] = signIn.settings.displayName
            values["passwordForAdministratorOnly"] = false
            if request.uri.queryParameters.get("provider") == "1",
                let url = signIn.relyingParty.endSessionURL(
                    signIn.settings, postLogoutRedirectURI: console.signInRedirect.base(for: request) + "/login?flash=logged-out")
            {
                values["providerSignOut"] = url
            }
        }
        var headers = error?.headers ?? [:]
        if given == nil { headers[.setCookie] = console.cookies.cookie(WebCookies.loginCSRF, csrf, maxAge: 3600, request: request).description }
        return console.page("login", values, status: error?.status == .tooManyRequests ? .tooManyRequests : .ok, headers: headers)
    }

    /// Counts an attempt (after the throttle's growing delay), or refuses it with 429 and `Retry-After`.
    func begin(login: String, address: String?, what: String) async throws -> LoginThrottle.Attempt {
        try await console.throttle.admit(login: login, address: address, now: console.authority.now(), what: what)
    }

    /// Logs an operator in; a refusal shows on the form (the same sentence for an unknown login and a wrong password).
    @Sendable func logIn(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let (fields, token) = try await LoginForm.read(request, limit: Self.maximumBodySize)
        let login = fields["login"] ?? ""
        do {
            let attempt = try await begin(login: login, address: context.clientAddress, what: "logins")
            let account: OperatorRecord?
            do {
                account = try await console.authority.authenticateOperator(
                    login: login, password: fields["password"] ?? "", passwords: console.passwords)
            } catch {
                console.throttle.release(attempt)
                throw error
            }
            guard let account else { throw APIError(.unauthorized, code: "INVALID_CREDENTIALS", message: "The login or password is wrong.") }
            console.throttle.succeeded(attempt)
            return WebPages.redirect(Self.next(request), cookies: [try await console.start(for: account, request: request, method: .password)])
        } catch let error as APIError {
            return loginPage(request, login: login, error: error, csrf: token)
        }
    }

    /// Where to go after signing in: the page that sent the operator to the login form, if it is one of the console's.
    static func next(_ request: Request) -> String {
        guard let next = request.uri.queryParameters.get("next").map { String($0) }?.removingPercentEncoding, next.hasPrefix("/"),
            !next.hasPrefix("//"), !next.contains("\\"), !next.hasPrefix("/login"),
            // Browsers drop tabs and line breaks from addresses: "/\t/evil.example" would lead off the site.
            !next.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F })
        else { return "/" }
        return next
    }

    /// "Sign in with …": keeps a fresh state, nonce and PKCE verifier for this browser and sends it to the provider.
    @Sendable func startSignIn(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        guard let signIn = console.signIn else {
            return loginPage(
                request,
                error: APIError(
                    .conflict, code: "SIGN_IN_NOT_CONFIGURED",
                    message:
                        "Sign-in with an identity provider is not set up on this authority (oidc.* in its configuration). Log in with your password."
                ))
        }
        let browser = WebCookies.randomToken()
        do {
            let url = try await console.authority.beginSignIn(signIn, redirectURI: console.signInRedirect.uri(for: request), browserSecret: browser)
            let cookie = console.cookies.cookie(WebCookies.signIn, browser, maxAge: Int(OIDCRelyingParty.signInLifetime), request: request)
            return WebPages.redirect(url, cookies: [cookie])
        } catch {
            return loginPage(request, error: APIError(.serviceUnavailable, code: error.code, message: error.message))
        }
    }

    /// The provider's redirect back: throttled as the password form is; then the state, code, ID token and operator.
    @Sendable func finishSignIn(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        guard let signIn = console.signIn else { throw APIError.notFound() }
        let forget = console.cookies.forget(WebCookies.signIn, request: request)
        let query = request.uri.queryParameters
        func value(_ name: String) -> String? { query.get(name).map { String($0) } }
        do {
            let attempt = try await begin(login: "(identity provider)", address: context.clientAddress, what: "sign-ins")
            let callback = OIDCSignInCallback(
                state: value("state"), code: value("code"), error: value("error"), errorDescription: value("error_description"),
                browserSecret: request.cookies[WebCookies.signIn]?.value)
            let account: OperatorRecord
            do {
                account = try await console.authority.completeSignIn(signIn, callback: callback)
            } catch let failure as OIDCFailure {
                throw APIError(.unauthorized, code: failure.code, message: failure.message)
            }
            console.throttle.succeeded(attempt)
            return WebPages.redirect("/", cookies: [try await console.start(for: account, request: request, method: .openIDConnect), forget])
        } catch let error as APIError {
            var response = loginPage(request, error: error)
            response.setCookie(forget)
            return response
        }
    }

    /// Ends the session; after a provider session, the login page offers the provider's sign-out.
    @Sendable func logOut(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        _ = try await console.form(request, context: context, session: session)
        try await console.authority.store.deleteOperatorSession(idHash: session.idHash)
        let location = session.method == .openIDConnect ? "/login?flash=logged-out&provider=1" : "/login?flash=logged-out"
        return WebPages.redirect(location, cookies: [console.cookies.forget(WebCookies.session, request: request)])
    }
}
