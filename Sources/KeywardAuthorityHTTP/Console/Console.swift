import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardOIDC
import KeywardStore
import KeywardWeb
import NIOCore

/// The vendor's console: server-rendered pages under `/` for the licensing staff (the API stays under `/v1`), with
/// the registry's look, layout, forms, CSRF and cookies (``WebPages``, ``WebCookies``). Works without JavaScript.
public struct AuthorityConsole: Sendable {
    let authority: Authority
    let pages: WebPages
    let cookies: WebCookies
    let throttle: LoginThrottle
    let passwords: PasswordHasher
    /// The identity provider operators may sign in with, when `oidc.*` is configured.
    let signIn: OperatorSignIn?
    let signInRedirect: SignInRedirect

    public static func load(
        authority: Authority, throttle: LoginThrottle = LoginThrottle(), passwords: PasswordHasher = PasswordHasher(),
        signIn: OperatorSignIn? = nil, secureCookies: SecureCookies = .auto, signInRedirect: String? = nil
    ) async throws -> AuthorityConsole {
        guard let resources = Bundle.module.resourceURL else {
            throw StoreError(code: "RESOURCES_MISSING", message: "The console's templates are missing from this build.")
        }
        let pages = try await WebPages.load(
            templatesDirectory: resources.appendingPathComponent("console"), site: "Keyward authority", home: .init(href: "/", label: "the dashboard")
        )
        return AuthorityConsole(
            authority: authority, pages: pages, cookies: WebCookies(secureCookies: secureCookies), throttle: throttle, passwords: passwords,
            signIn: signIn, signInRedirect: SignInRedirect(configured: signInRedirect, secureCookies: secureCookies))
    }

    /// The main menu: each page's `nav` name, its address and its label.
    static let menu: [(nav: String, href: String, label: String)] = [
        ("dashboard", "/", "Dashboard"), ("organizations", "/organizations", "Organizations"), ("activation", "/activation", "Activation"),
        ("signing-keys", "/signing-keys", "Signing keys"), ("operators", "/operators", "Operators"), ("audit", "/audit", "Audit log"),
    ]

    static let flashes: [String: (kind: String, text: String)] = [
        "logged-out": ("info", "You are logged out."),
        "organization-created": ("ok", "The organization was created. Add an agreement to issue its keys."),
        "organization-saved": ("ok", "The legal name was changed. Keys issued before keep the name they carry; new keys carry the new one."),
        "token-revoked": ("ok", "The token was revoked: the registry that used it is refused from its next request."),
        "renewed": ("ok", "The key was renewed: the same serial with the new expiry. The customer's registry gets it at its next synchronization."),
        "revoked": ("ok", "The key was revoked. The customer's registry learns it at its next synchronization or activation."),
        "switched": ("ok", "The key was switched: this is the new key; the old one is revoked, “switched to” this serial."),
        "agreement-created": ("ok", "The agreement was recorded and its keys issued."),
        "promoted": ("ok", "The installation is the organization's production installation now."),
        "rotated": ("ok", "A new signing key signs from now on; the old ones stay trusted until you retire them."),
        "retired": ("ok", "The signing key was retired: nothing it signed is trusted any longer."),
        "operator-created": ("ok", "The operator was created. Give them their password in person; it is not shown again."),
        "operator-disabled": ("ok", "The operator was disabled: their sessions and tokens stopped working at once."),
        "operator-enabled": ("ok", "The operator was enabled again."),
    ]

    // MARK: Rendering

    /// The values every page's layout uses.
    func layout(_ session: ConsoleSession?, request: Request, nav: String? = nil) -> [String: Any] {
        var values = pages.layoutValues
        if let session {
            values["user"] = session.account.login
            values["csrf"] = session.csrf
            values["role"] = session.account.role.rawValue
            values["mayChange"] = session.account.role.mayChangeLicensing
            values["isAdmin"] = session.account.role == .admin
            values["nav"] = Self.menu.map { ["href": $0.href, "label": $0.label, "current": $0.nav == nav] as [String: Any] }
        }
        if let code = request.uri.queryParameters.get("flash"), let flash = Self.flashes[code] {
            values["flash"] = ["kind": flash.kind, "text": flash.text]
        }
        return values
    }

    /// A page; a form shown again with its problems is a page too (200, as the registry's are): the refusal's own
    /// status is the API's.
    func page(_ template: String, _ values: [String: Any], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        pages.page(template, values, status: status, headers: headers)
    }

    /// The form fields of a POST, after checking its CSRF token against the session's.
    func form(_ request: Request, context: AuthorityRequestContext, session: ConsoleSession) async throws -> FormFields {
        let fields = try URLEncodedForm.parse(Array(buffer: try await request.body.collect(upTo: context.maxUploadSize)))
        guard CSRF.isValid(fields, expected: session.csrf) else { throw CSRF.refusal }
        return fields
    }

    /// A refusal as the console's error page, with the signed-in operator's menu when there is one.
    @Sendable func errorPage(_ refusal: APIError, request: Request) async -> Response {
        var values: [String: Any] = [:]
        if let session = try? await session(of: request) {
            values = layout(session, request: request)
            values["flash"] = nil
        }
        return pages.errorPage(refusal, layout: values)
    }

    /// The errors a page shows as a refusal: the API's, the store's and the service's own.
    @Sendable static func refusal(_ error: any Error) -> APIError? {
        switch error {
        case let error as APIError: error
        case let error as StoreError: APIError(error)
        case let error as any APIErrorConvertible: error.apiError
        case let error as OIDCFailure: APIError(.unauthorized, code: error.code, message: error.message)
        default: nil
        }
    }

    /// The paths whose refusals stay JSON for a client that also accepts HTML.
    static let apiPrefixes = ["/v1"]

    // MARK: Sessions

    /// The session of the request's cookie, if it is valid and its operator active.
    func session(of request: Request) async throws -> ConsoleSession? {
        guard let id = WebCookies.sessionID(of: request) else { return nil }
        let idHash = WebCookies.hash(id)
        guard let found = try await authority.store.operatorSession(idHash: idHash, now: authority.now()) else { return nil }
        return ConsoleSession(account: found.operator, csrf: found.csrfToken, idHash: idHash, method: found.method)
    }

    /// Starts a session for `account` and returns the cookie to set.
    func start(for account: OperatorRecord, request: Request, method: WebSessionMethod) async throws -> Cookie {
        let id = WebCookies.randomToken()
        let time = authority.now()
        try await authority.store.createOperatorSession(
            idHash: WebCookies.hash(id), login: account.login, csrfToken: WebCookies.randomToken(), now: time,
            expiresAt: time.addingTimeInterval(WebCookies.sessionLifetime), method: method)
        return cookies.cookie(WebCookies.session, id, maxAge: Int(WebCookies.sessionLifetime), request: request)
    }

    // MARK: Routes

    public func add(to router: Router<AuthorityRequestContext>) {
        router.add(middleware: WebPageErrorMiddleware<AuthorityRequestContext>(refusal: Self.refusal, errorPage: errorPage))
        router.addRoutes(pages.assets(context: AuthorityRequestContext.self))
        ConsoleSitePages(console: self).add(to: router)
        router.addRoutes(DashboardPage(console: self).endpoints)
        router.addRoutes(OrganizationPages(console: self).endpoints, atPath: "/organizations")
        router.addRoutes(AgreementPages(console: self).endpoints, atPath: "/organizations")
        router.addRoutes(KeyPages(console: self).endpoints, atPath: "/keys")
        router.addRoutes(ActivationPages(console: self).endpoints, atPath: "/activation")
        router.addRoutes(AuditPages(console: self).endpoints, atPath: "/audit")
        router.addRoutes(SigningKeyPages(console: self).endpoints, atPath: "/signing-keys")
        router.addRoutes(OperatorPages(console: self).endpoints, atPath: "/operators")
    }
}

/// A signed-in operator's console session.
struct ConsoleSession: Sendable {
    let account: OperatorRecord
    let csrf: String
    let idHash: String
    let method: WebSessionMethod
}

/// The console's rule on a group of pages: a signed-in operator (else a redirect to the login page). Reading is every
/// role's; a change (any POST) needs the roles of `change` (an auditor reads everything and changes nothing): another
/// role is refused with 403, written nowhere but the audit log (`operator.refused`).
struct ConsoleAuthorization: RouterMiddleware {
    let console: AuthorityConsole
    var change: Set<OperatorRole> = [.admin, .clerk]
    var read: Set<OperatorRole> = Set(OperatorRole.allCases)

    func handle(_ request: Request, context: AuthorityRequestContext, next: (Request, AuthorityRequestContext) async throws -> Response) async throws
        -> Response
    {
        guard let session = try await console.session(of: request) else {
            let back = request.method == .get ? "?next=" + (request.uri.path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") : ""
            throw WebRedirect(location: "/login" + (request.uri.path == "/" ? "" : back))
        }
        let allowed = request.method == .get || request.method == .head ? read : change
        guard allowed.contains(session.account.role) else {
            try await console.authority.store.database.write { sql in
                _ = try await AuditLog.append(
                    .init(
                        actor: session.account.actor, action: "operator.refused", target: "\(request.method.rawValue) \(request.uri.path)",
                        details: ["role": .string(session.account.role.rawValue)]), at: console.authority.now(), on: sql)
            }
            let who = allowed.contains(.clerk) ? "an admin or a clerk" : "an admin"
            throw APIError(
                .forbidden, code: "ROLE_FORBIDDEN",
                message: "Your role (\(session.account.role.rawValue)) may not do this: it is for \(who). Ask one of them.",
                details: ["role": .string(session.account.role.rawValue)])
        }
        var context = context
        context.consoleSession = session
        return try await next(request, context)
    }
}

extension AuthorityRequestContext {
    /// The session the page group's `ConsoleAuthorization` admitted; only for pages behind one.
    var authorizedSession: ConsoleSession {
        get throws {
            guard let consoleSession else { throw WebRedirect(location: "/login") }
            return consoleSession
        }
    }
}
