import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardWeb
import NIOCore

/// The registry's web UI: server-rendered pages that work without JavaScript, CSRF-protected forms.
public struct WebUI: Sendable {
    let registry: Registry
    let pages: WebPages
    let sessions: WebSessions
    let authentication: Authentication
    let synchronizer: Synchronizer
    let scheduler: SyncScheduler?
    let ldapSynchronizer: LDAPSynchronizer
    let ldapScheduler: SyncScheduler?
    /// Where the identity provider sends the browser back after signing in.
    let signInRedirect: SignInRedirect

    /// Loads the templates and the stylesheet shipped with the registry.
    public static func load(
        registry: Registry, throttle: LoginThrottle, synchronizer: Synchronizer, scheduler: SyncScheduler? = nil,
        ldapSynchronizer: LDAPSynchronizer? = nil, ldapScheduler: SyncScheduler? = nil, secureCookies: SecureCookies = .auto,
        signInRedirect: String? = nil
    ) async throws -> WebUI {
        guard let resources = Bundle.module.resourceURL else {
            throw StoreError(code: "RESOURCES_MISSING", message: "The web UI's templates are missing from this build.")
        }
        let pages = try await WebPages.load(
            templatesDirectory: resources.appendingPathComponent("templates"), site: "Keyward",
            home: .init(href: "/license-keys", label: "the License key page"))
        return WebUI(
            registry: registry, pages: pages,
            sessions: WebSessions(store: registry.store, now: registry.now, cookies: WebCookies(secureCookies: secureCookies)),
            authentication: Authentication(registry: registry, throttle: throttle), synchronizer: synchronizer, scheduler: scheduler,
            ldapSynchronizer: ldapSynchronizer ?? LDAPSynchronizer(registry: registry), ldapScheduler: ldapScheduler,
            signInRedirect: SignInRedirect(configured: signInRedirect, secureCookies: secureCookies))
    }

    static let flashes: [String: (kind: String, text: String)] = [
        "registered": ("ok", "The license key was registered. Activate the installation for it to grant access."),
        "renamed": ("ok", "The ID # was changed."),
        "deleted": ("ok", "The license key was deleted. Activate the installation to apply the change."),
        "activated": ("ok", "The installation is activated."),
        "activated-with-revoked": (
            "warning",
            "The installation is activated, but not for every key: the vendor revoked some of them, listed below. They grant nothing now. Migrate their accesses to another key (the key's Migrate accesses), then delete them."
        ),
        "logged-out": ("info", "You are logged out."),
        "token-revoked": ("ok", "The token was revoked: the system that used it is refused from its next request."),
        "no-authority": (
            "info",
            "Synchronization is not available: no licensing authority is configured for this installation. Set one in Settings, or register keys with Create."
        ),
        "sync-in-progress": ("info", "A synchronization is already running. Look at the history in a moment."),
        "settings-saved": ("ok", "The settings were saved and are in use."),
        "user-created": ("ok", "The user was created."),
        "user-saved": ("ok", "The user was saved."),
        "group-created": ("ok", "The access group was created."),
        "group-saved": ("ok", "The access group was saved."),
        "group-deleted": ("ok", "The access group was deleted; its users' seats on the key are free."),
        "users-added": ("ok", "The users were added to the group."),
        "users-removed": (
            "ok",
            "The users were removed from the group. Any who are also in a linked directory group stay, marked “directory”: remove them there, or unlink the directory group."
        ),
        "directory-linked": ("ok", "The directory groups were linked: their members are users of the group."),
        "directory-linked-short": (
            "warning",
            "The directory groups were linked, but the key has too few seats for all their members: those left out are listed under Waiting for a seat. Free seats, or use a key with more users."
        ),
        "held-change-confirmed": ("ok", "The held change was applied: those users lost the access the directory took from them."),
        "held-change-discarded": ("ok", "The held change was discarded: those users keep their access, as users added by hand."),
        "held-change-decided": ("info", "That change was decided already, by someone else or in another tab."),
        "reprocessed": ("ok", "The assignment errors were retried: those who found a seat are members now."),
        "disconnected": ("ok", "The sessions were disconnected."),
        "migrated": ("ok", "The accesses were migrated to the new key."),
        "directory-saved": ("ok", "The directory settings were saved: the next synchronization uses them."),
        "directory-cleared": ("ok", "The directory settings were removed: LDAP synchronization is off until you set them again."),
        "sign-in-saved": ("ok", "The sign-in settings were saved: the login page offers the provider now."),
        "sign-in-cleared": ("ok", "Sign-in with an identity provider is off: everyone signs in with a password again."),
        "settings-cleared": ("ok", "The authority connection was removed. Synchronization and online activation are off until you set one."),
    ]

    // MARK: Rendering

    /// The main menu: each page's `nav` name, its address and its label.
    static let menu: [(nav: String, href: String, label: String)] = [
        ("dashboard", "/dashboard", "Dashboard"), ("keys", "/license-keys", "License key"), ("users", "/users", "Users"),
        ("groups", "/access-groups", "Access groups"), ("sessions", "/sessions", "Sessions"), ("activation", "/activation", "Activation"),
        ("settings", "/settings", "Settings"),
    ]

    /// The values every page's layout uses.
    func layout(_ session: WebSessions.Session?, request: Request, nav: String? = nil) async throws -> [String: Any] {
        var values = pages.layoutValues
        if registry.installation.environment == .test {
            values["environmentBanner"] = "Test environment: this installation is not the production one."
        }
        if let session {
            values["user"] = session.user.login
            values["csrf"] = session.csrf
            values["nav"] = Self.menu.map { ["href": $0.href, "label": $0.label, "current": $0.nav == nav] as [String: Any] }
            var banners: [[String: Any]] = []
            // The banner shows whenever the keys changed since the activation in force (or keys wait for a first one).
            let state = try await registry.activationState()
            if nav != "activation" && (state.status == .required || (state.status == .never && !state.serials.isEmpty)) {
                banners.append([
                    "kind": "warning", "id": "activation-banner", "href": "/activation", "label": "Review and activate",
                    "text":
                        "Activation required: the license keys changed since the installation was last activated. Keys outside the activation grant nothing yet.",
                ])
            }
            // The vendor changed which installation is production (a demotion, learned from the feed).
            if let notice = try await registry.environmentNotice() {
                banners.append(["kind": "warning", "id": "environment-banner", "href": "/activation", "label": "Activation", "text": notice])
            }
            if !banners.isEmpty { values["banners"] = banners }
        }
        if let code = request.uri.queryParameters.get("flash"), let flash = Self.flashes[code] {
            let text = code == "disconnected" ? Self.disconnectedText(request.cookies[Self.noticeCookie]?.value) ?? flash.text : flash.text
            values["flash"] = ["kind": flash.kind, "text": text]
        }
        if let id = request.uri.queryParameters.get("synchronization").flatMap(Int64.init),
            let run = try await registry.store.synchronizations(trigger: nil, beforeID: id + 1, limit: 1).first, run.id == id
        {
            // A run that brought keys but could not activate is partly a refusal: a warning that says what to do, not a success.
            values["flash"] = [
                "kind": run.outcome == .failed ? "error" : run.activationError != nil ? "warning" : "ok",
                "text": run.activationError != nil ? run.summary + " Open Activation to see why and activate again." : run.summary,
            ]
        }
        return values
    }

    func page(_ template: String, _ values: [String: Any], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        pages.page(template, values, status: status, headers: headers)
    }

    static func redirect(_ location: String, cookies: [Cookie] = []) -> Response { WebPages.redirect(location, cookies: cookies) }

    /// The form fields of a POST, after checking its CSRF token against the session's.
    func form(_ request: Request, context: RegistryRequestContext, session: WebSessions.Session) async throws -> FormFields {
        let fields = try await uncheckedForm(request, context: context)
        guard Self.hasValidToken(fields, session: session) else { throw Self.csrfRefusal }
        return fields
    }

    /// The form fields of a POST before its CSRF token is checked, for a form that shows itself again when it is stale.
    func uncheckedForm(_ request: Request, context: RegistryRequestContext) async throws -> FormFields {
        try URLEncodedForm.parse(Array(buffer: try await request.body.collect(upTo: context.maxUploadSize)))
    }

    static func hasValidToken(_ fields: FormFields, session: WebSessions.Session) -> Bool { CSRF.isValid(fields, expected: session.csrf) }

    static let csrfRefusal = CSRF.refusal

    // MARK: Routes

    public func add(to router: Router<RegistryRequestContext>) {
        router.add(middleware: WebPageErrorMiddleware<RegistryRequestContext>(refusal: Self.refusal, errorPage: errorPage))
        router.addRoutes(pages.assets(context: RegistryRequestContext.self))
        router.addRoutes(SitePagesController(web: self).endpoints)
        router.addRoutes(LicenseKeyPagesController(web: self).endpoints, atPath: "/license-keys")
        router.addRoutes(ActivationPagesController(web: self).endpoints, atPath: "/activation")
        router.addRoutes(SettingsPagesController(web: self).endpoints, atPath: "/settings")
        router.addRoutes(DirectoryPagesController(web: self).endpoints, atPath: "/settings/directory")
        router.addRoutes(SignInPagesController(web: self).endpoints, atPath: "/settings/sign-in")
        router.addRoutes(DashboardPagesController(web: self).endpoints, atPath: "/dashboard")
        router.addRoutes(DashboardPagesController(web: self).assignmentErrorEndpoints, atPath: "/assignment-errors")
        router.addRoutes(DashboardPagesController(web: self).heldChangeEndpoints, atPath: "/held-changes")
        router.addRoutes(UserPagesController(web: self).endpoints, atPath: "/users")
        router.addRoutes(AccessGroupPagesController(web: self).endpoints, atPath: "/access-groups")
        router.addRoutes(SessionPagesController(web: self).endpoints, atPath: "/sessions")
        router.addRoutes(AccessMigrationPagesController(web: self).endpoints, atPath: "/license-keys")
    }
}

/// The site's root, and logging in and out.
struct SitePagesController: Sendable {
    let web: WebUI

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.get("/", use: home)
            .get("/login", use: loginForm)
            .post("/login", use: logIn)
            .get("/login/oidc", use: startSignIn)
            .get(RouterPath(SignInRedirect.path), use: finishSignIn)
        routes.group().add(middleware: WebAuthorization(web: web, menu: ConfigurationMenu.licenseKey))
            .post("/logout", use: logOut)
        return routes
    }

    /// The site's root: the License key menu.
    @Sendable func home(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        WebUI.redirect("/license-keys")
    }

    /// The login form, with a CSRF token of its own (there is no session yet).
    @Sendable func loginForm(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        if try await web.sessions.session(of: request) != nil { return WebUI.redirect("/license-keys") }
        return try await loginPage(request)
    }

    /// The login form, with the provider's button when one is set, a refusal above it, and after the sign-out of a
    /// session opened with the provider, the offer to sign out there too.
    func loginPage(_ request: Request, login: String? = nil, error: APIError? = nil, csrf given: String? = nil) async throws -> Response {
        let csrf = given ?? WebCookies.randomToken()
        var values = try await web.layout(nil, request: request)
        values["csrf"] = csrf
        if let login { values["login"] = login }
        if let error { values["error"] = error.message }
        if let provider = web.registry.signIn.settings {
            values["provider"] = provider.displayName
            values["passwordForAdministratorOnly"] = provider.requireProvider
            if request.uri.queryParameters.get("provider") == "1",
                let url = web.registry.providerSignOutURL(postLogoutRedirectURI: web.signInRedirect.base(for: request) + "/login?flash=logged-out")
            {
                values["providerSignOut"] = url
            }
        }
        var headers = error?.headers ?? [:]
        if given == nil { headers[.setCookie] = web.sessions.cookies.cookie(WebCookies.loginCSRF, csrf, maxAge: 3600, request: request).description }
        // 200 with the message: a form shown again is a page, not a failed resource (the API has the real codes);
        // but a throttled login says 429 with its Retry-After, so tools and proxies see the limit.
        return web.page("login", values, status: error?.status == .tooManyRequests ? .tooManyRequests : .ok, headers: headers)
    }

    /// "Sign in with …": keeps a fresh state, nonce and PKCE verifier for this browser and sends it to the provider.
    @Sendable func startSignIn(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let browser = WebCookies.randomToken()
        let url: String
        do {
            url = try await web.registry.beginSignIn(redirectURI: web.signInRedirect.uri(for: request), browserSecret: browser)
        } catch let error as RegistryError {
            return try await loginPage(request, error: error.apiError)
        }
        let cookie = web.sessions.cookies.cookie(WebCookies.signIn, browser, maxAge: Int(Registry.signInLifetime), request: request)
        return WebUI.redirect(url, cookies: [cookie])
    }

    /// The provider's redirect back: throttled as the password form is; the sign-in is checked (state, code, ID token,
    /// user), then the user must administer a menu, as with a password.
    @Sendable func finishSignIn(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let attempt: LoginThrottle.Attempt
        do {
            attempt = try await web.authentication.begin(login: "(identity provider)", address: context.clientAddress, what: "sign-ins")
        } catch let error as APIError {
            return try await loginPage(request, error: error)
        }
        let forget = web.sessions.cookies.forget(WebCookies.signIn, request: request)
        do {
            func value(_ name: String) -> String? { query.get(name).map { String($0) } }
            let callback = Registry.SignInCallback(
                state: value("state"), code: value("code"), error: value("error"), errorDescription: value("error_description"),
                browserSecret: request.cookies[WebCookies.signIn]?.value)
            let user = try await web.registry.completeSignIn(callback)
            web.authentication.throttle.succeeded(attempt)
            let session = try await web.sessions.start(for: user, request: request, method: .openIDConnect)
            return WebUI.redirect("/license-keys", cookies: [session, forget])
        } catch let error as RegistryError {
            var response = try await loginPage(request, error: error.apiError)
            response.setCookie(forget)
            return response
        }
    }

    /// Logs in someone who administers at least one of the registry's menus; a refusal shows on the form.
    @Sendable func logIn(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let (fields, token) = try await LoginForm.read(request, limit: Authentication.maximumBodySize)
        let login = fields["login"] ?? ""
        do {
            let user = try await web.authentication.logIn(login: login, password: fields["password"] ?? "", address: context.clientAddress)
            guard web.registry.mayUseWebUI(user.login) else { throw APIError(.forbidden, code: "FORBIDDEN", message: Registry.webUIRefusal) }
            return WebUI.redirect("/license-keys", cookies: [try await web.sessions.start(for: user, request: request)])
        } catch let error as APIError {
            return try await loginPage(request, login: login, error: error, csrf: token)
        }
    }

    /// Ends the session.
    @Sendable func logOut(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        _ = try await web.form(request, context: context, session: session)
        try await web.registry.store.deleteWebSession(idHash: session.idHash)
        // A session opened with the identity provider: the login page offers to sign out there too (RP-initiated logout).
        let location = session.method == .openIDConnect ? "/login?flash=logged-out&provider=1" : "/login?flash=logged-out"
        return WebUI.redirect(location, cookies: [web.sessions.cookies.forget(WebCookies.session, request: request)])
    }
}

/// The web UI's rule on a group of pages: a logged-in session (else a redirect to the login page) of someone who
/// administers `menu` of Configuration (else the error page). Puts the session in the context for the pages.
struct WebAuthorization: RouterMiddleware {
    let web: WebUI
    let menu: String

    func handle(_ request: Request, context: RegistryRequestContext, next: (Request, RegistryRequestContext) async throws -> Response) async throws
        -> Response
    {
        guard let session = try await web.sessions.session(of: request) else { throw WebRedirect(location: "/login") }
        guard web.registry.access.mayAdminister(session.user.login, menu: menu) else {
            throw APIError(
                .forbidden, code: "FORBIDDEN",
                message: "Your account may not use this page: it needs access to Configuration \(menu) through a manager key.")
        }
        var context = context
        context.webSession = session
        return try await next(request, context)
    }
}

extension WebUI {
    /// A refusal as the site's error page, with the signed-in user's menu when there is one.
    @Sendable func errorPage(_ refusal: APIError, request: Request) async -> Response {
        var values: [String: Any] = [:]
        if let session = try? await sessions.session(of: request) {
            values["user"] = session.user.login
            values["csrf"] = session.csrf
            values["nav"] = Self.menu.map { ["href": $0.href, "label": $0.label] }
        }
        return pages.errorPage(refusal, layout: values)
    }

    /// The errors a page shows as a refusal: the API's, the store's and the services' own.
    @Sendable static func refusal(_ error: any Error) -> APIError? {
        switch error {
        case let error as APIError: error
        case let error as StoreError: APIError(error)
        case let error as any APIErrorConvertible: error.apiError
        default: nil
        }
    }

    /// The paths whose refusals stay JSON for a client that also accepts HTML.
    static let apiPrefixes = ["/api", "/scim"]
}
