import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardStore
import Mustache

/// The registry's web UI: server-rendered pages that work without JavaScript, CSRF-protected forms.
public struct WebUI: Sendable {
    let registry: Registry
    let templates: MustacheLibrary
    let sessions: WebSessions
    let authentication: Authentication
    let synchronizer: Synchronizer
    let scheduler: SyncScheduler?
    let stylesheet: String

    /// Loads the templates and the stylesheet shipped with the registry.
    public static func load(registry: Registry, throttle: LoginThrottle, synchronizer: Synchronizer, scheduler: SyncScheduler? = nil) async throws -> WebUI {
        guard let resources = Bundle.module.resourceURL else {
            throw StoreError(code: "RESOURCES_MISSING", message: "The web UI's templates are missing from this build.")
        }
        let templates = try await MustacheLibrary(directory: resources.appendingPathComponent("templates").path)
        let stylesheet = try String(contentsOf: resources.appendingPathComponent("static/keyward.css"), encoding: .utf8)
        return WebUI(registry: registry, templates: templates, sessions: WebSessions(store: registry.store, now: registry.now),
                     authentication: Authentication(registry: registry, throttle: throttle), synchronizer: synchronizer, scheduler: scheduler,
                     stylesheet: stylesheet)
    }

    static let flashes: [String: (kind: String, text: String)] = [
        "registered": ("ok", "The license key was registered. Activate the installation for it to grant access."),
        "renamed": ("ok", "The ID # was changed."),
        "deleted": ("ok", "The license key was deleted. Activate the installation to apply the change."),
        "activated": ("ok", "The installation is activated."),
        "logged-out": ("info", "You are logged out."),
        "no-authority": ("info", "Synchronization is not available: no licensing authority is configured for this installation. Register keys with Create."),
        "sync-in-progress": ("info", "A synchronization is already running. Look at the history in a moment."),
    ]

    // MARK: Rendering

    /// The values every page's layout uses.
    func layout(_ session: WebSessions.Session?, request: Request, nav: String? = nil) async throws -> [String: Any] {
        var values: [String: Any] = ["testEnvironment": registry.installation.environment == .test]
        if let session {
            values["user"] = session.user.login
            values["csrf"] = session.csrf
            // The banner shows whenever the keys changed since the activation in force (or keys wait for a first one).
            let state = try await registry.activationState()
            values["activationRequired"] = nav != "activation" && (state.status == .required || (state.status == .never && !state.serials.isEmpty))
        }
        if let nav { values["nav" + nav.prefix(1).uppercased() + nav.dropFirst()] = true }
        if let code = request.uri.queryParameters.get("flash"), let flash = Self.flashes[code] {
            values["flash"] = ["kind": flash.kind, "text": flash.text]
        }
        if let id = request.uri.queryParameters.get("synchronization").flatMap(Int64.init),
           let run = try await registry.store.synchronizations(trigger: nil, beforeID: id + 1, limit: 1).first, run.id == id {
            values["flash"] = ["kind": run.outcome == .failed ? "error" : "ok", "text": run.summary]
        }
        return values
    }

    func page(_ template: String, _ values: [String: Any], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        let html = templates.render(values, withTemplate: template) ?? "Page \(template) is missing."
        var fields = headers
        fields[.contentType] = "text/html; charset=utf-8"
        fields[.cacheControl] = "no-store"
        fields[.init("X-Frame-Options")!] = "DENY"
        fields[.init("Content-Security-Policy")!] = "default-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func redirect(_ location: String, cookies: [Cookie] = []) -> Response {
        var response = Response.redirect(to: location, type: .normal)
        for cookie in cookies { response.setCookie(cookie) }
        return response
    }

    /// The logged-in session, or a redirect to the login page.
    func requireSession(_ request: Request) async throws -> WebSessions.Session {
        guard let session = try await sessions.session(of: request) else { throw WebRedirect(location: "/login") }
        return session
    }

    /// The form fields of a POST, after checking its CSRF token against the session's.
    func form(_ request: Request, context: RegistryRequestContext, session: WebSessions.Session) async throws -> [String: String] {
        let fields = URLEncodedForm.parse(Array(buffer: try await request.body.collect(upTo: context.maxUploadSize)))
        guard let token = fields["_csrf"], token == session.csrf else { throw Self.csrfRefusal }
        return fields
    }

    static let csrfRefusal = APIError(.forbidden, code: "CSRF_TOKEN_INVALID", message: "This form has expired or did not come from this site. Reload the page and try again.")

    // MARK: Routes

    public func add(to router: Router<RegistryRequestContext>) {
        router.add(middleware: WebRedirectMiddleware())
        router.get("/static/keyward.css") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "max-age=3600"],
                     body: .init(byteBuffer: ByteBuffer(string: stylesheet)))
        }
        router.get("/") { _, _ in Self.redirect("/license-keys") }
        router.get("/favicon.ico") { _, _ in
            Response(status: .ok, headers: [.contentType: "image/svg+xml", .cacheControl: "max-age=86400"],
                     body: .init(byteBuffer: ByteBuffer(string: Self.favicon)))
        }
        addLogin(to: router)
        addKeys(to: router)
        addActivation(to: router)
    }

    func addLogin(to router: Router<RegistryRequestContext>) {
        router.get("/login") { request, _ in
            if try await sessions.session(of: request) != nil { return Self.redirect("/license-keys") }
            let csrf = WebSessions.randomToken()
            var values = try await layout(nil, request: request)
            values["csrf"] = csrf
            return page("login", values, headers: [.setCookie: WebSessions.cookie(WebSessions.loginCSRFCookie, csrf, maxAge: 3600).description])
        }
        router.post("/login") { request, context in
            let fields = URLEncodedForm.parse(Array(buffer: try await request.body.collect(upTo: context.maxUploadSize)))
            guard let token = fields["_csrf"], let expected = request.cookies[WebSessions.loginCSRFCookie]?.value, token == expected else {
                throw Self.csrfRefusal
            }
            let login = fields["login"] ?? ""
            do {
                let user = try await authentication.logIn(login: login, password: fields["password"] ?? "", address: context.clientAddress)
                return Self.redirect("/license-keys", cookies: [try await sessions.start(for: user)])
            } catch let error as APIError {
                var values = try await layout(nil, request: request)
                values["csrf"] = token
                values["login"] = login
                values["error"] = error.message
                // 200 with the message: a form shown again is a page, not a failed resource (the API has the real codes).
                var response = page("login", values)
                response.headers.append(contentsOf: error.headers)
                return response
            }
        }
        router.post("/logout") { request, context in
            let session = try await requireSession(request)
            _ = try await form(request, context: context, session: session)
            try await registry.store.deleteWebSession(idHash: session.idHash)
            return Self.redirect("/login?flash=logged-out", cookies: [WebSessions.cookie(WebSessions.cookie, "", maxAge: 0)])
        }
    }

    // MARK: License keys

    func keyValues(_ key: RegisteredKey, activation: StoredActivation?) -> [String: Any] {
        let now = registry.now()
        let status = key.status(at: now)
        let days = key.license.expiresInDays(at: now)
        var warning: String?
        var warningLevel = "notice"
        if status == .valid, let days {
            // Warnings from 30 days, stronger from 7 and from 1.
            warning = days < 1 ? "expires today" : days == 1 ? "expires tomorrow" : days <= 30 ? "\(days) days left" : nil
            warningLevel = days <= 1 ? "urgent" : days <= 7 ? "soon" : "notice"
        }
        let statusClass = switch status {
        case .valid: "valid"
        case .expired: "expired"
        case .revoked: "revoked"
        case .notYetValid: "notyet"
        default: "expired"
        }
        let expires = key.license.expiresAt.map { Timestamp.format($0) } ?? "never"
        var values: [String: Any] = [
            "serial": key.serial, "idNumber": key.idNumber, "profile": key.license.profile.rawValue, "useType": key.license.useType.rawValue,
            "users": key.license.users, "purchaseType": key.license.purchaseType.rawValue, "suiteVersion": key.license.suiteVersion,
            "validFrom": Timestamp.format(key.license.validFrom), "expires": expires,
            "validity": "\(Timestamp.format(key.license.validFrom).prefix(10)) – \(key.license.expiresAt.map { String(Timestamp.format($0).prefix(10)) } ?? "no expiry")",
            "statusText": status.rawValue, "statusClass": statusClass, "source": key.source.rawValue,
            "activated": activation?.certificate.serials.contains(key.serial) ?? false,
            "organization": "\(key.license.organization.legalName) (\(key.license.organization.id))",
            "registeredAt": Timestamp.format(key.registeredAt), "registeredBy": key.registeredBy,
        ]
        // Absent values stay out of the dictionary: Mustache would print an Optional's "nil".
        if let warning { values["warning"] = ["text": warning, "level": warningLevel] }
        if let reason = key.revocationReason { values["revocationReason"] = reason }
        return values
    }

    func addKeys(to router: Router<RegistryRequestContext>) {
        router.get("/license-keys") { request, _ in
            let session = try await requireSession(request)
            let activation = try await registry.store.activation()
            let keys = try await registry.store.keys()
            var values = try await layout(session, request: request, nav: "keys")
            values["keys"] = keys.map { keyValues($0, activation: activation) }
            values["hasKeys"] = !keys.isEmpty
            values["installation"] = "\(registry.installation.organization.legalName) · installation \(registry.installation.installationId) · \(registry.installation.environment.rawValue)"
            if let next = scheduler?.nextRun.at { values["nextSynchronization"] = Timestamp.format(next) }
            return page("keys", values)
        }
        router.post("/license-keys/synchronize") { request, context in
            let session = try await requireSession(request)
            _ = try await form(request, context: context, session: session)
            do {
                let run = try await synchronizer.run(trigger: .manual, actor: "user:\(session.user.login)")
                return Self.redirect("/license-keys?synchronization=\(run.id)")
            } catch RegistryError.noAuthority {
                return Self.redirect("/license-keys?flash=no-authority")
            } catch RegistryError.syncInProgress {
                return Self.redirect("/license-keys?flash=sync-in-progress")
            }
        }
        router.get("/license-keys/synchronizations") { request, _ in
            let session = try await requireSession(request)
            let all = request.uri.queryParameters.get("trigger") == "all"
            var values = try await layout(session, request: request, nav: "keys")
            let runs = try await registry.store.synchronizations(trigger: all ? nil : .manual, limit: 100)
            values["all"] = all
            values["hasRuns"] = !runs.isEmpty
            values["runs"] = runs.map { run -> [String: Any] in
                var row: [String: Any] = [
                    "id": run.id, "trigger": run.trigger.rawValue, "actor": run.actor, "startedAt": Timestamp.format(run.startedAt),
                    "outcome": run.outcome?.rawValue ?? "running", "summary": run.summary,
                    "counts": "+\(run.added) / ↻\(run.renewed) / −\(run.revoked) / =\(run.unchanged)",
                ]
                if let revision = run.revision { row["revision"] = revision }
                if let finished = run.finishedAt { row["finishedAt"] = Timestamp.format(finished) }
                return row
            }
            values["authorityConfigured"] = registry.authority != nil
            return page("history", values)
        }
        router.get("/license-keys/new") { request, _ in
            let session = try await requireSession(request)
            return page("key-new", try await layout(session, request: request, nav: "keys"))
        }
        router.post("/license-keys") { request, context in
            let session = try await requireSession(request)
            let fields = try await form(request, context: context, session: session)
            do {
                try await registry.register(idNumber: fields["idNumber"] ?? "", accessKey: fields["accessKey"] ?? "", actor: "user:\(session.user.login)")
                return Self.redirect("/license-keys?flash=registered")
            } catch let error as RegistryError {
                var values = try await layout(session, request: request, nav: "keys")
                values["idNumber"] = fields["idNumber"] ?? ""
                values["accessKey"] = fields["accessKey"] ?? ""
                if case .invalid = error { values["idNumberError"] = error.message } else {
                    values["accessKeyError"] = error.message
                    values["accessKeyCode"] = error.code
                }
                return page("key-new", values)
            } catch let error as StoreError where error.code.hasPrefix("DUPLICATE") {
                var values = try await layout(session, request: request, nav: "keys")
                values["idNumber"] = fields["idNumber"] ?? ""
                values["accessKey"] = fields["accessKey"] ?? ""
                if error.code == "DUPLICATE_ID_NUMBER" { values["idNumberError"] = error.message } else {
                    values["accessKeyError"] = error.message
                    values["accessKeyCode"] = error.code
                }
                return page("key-new", values)
            }
        }
        router.get("/license-keys/:serial") { request, context in
            let session = try await requireSession(request)
            let key = try await existingKey(context)
            var values = try await layout(session, request: request, nav: "keys")
            values.merge(keyValues(key, activation: try await registry.store.activation())) { $1 }
            values["components"] = registry.components(of: key).map { ["code": $0.code, "name": $0.name, "menuCount": $0.menus.count] }
            return page("key", values)
        }
        router.get("/license-keys/:serial/edit") { request, context in
            let session = try await requireSession(request)
            let key = try await existingKey(context)
            var values = try await layout(session, request: request, nav: "keys")
            values["serial"] = key.serial
            values["idNumber"] = key.idNumber
            return page("key-edit", values)
        }
        router.post("/license-keys/:serial/edit") { request, context in
            let session = try await requireSession(request)
            let fields = try await form(request, context: context, session: session)
            let key = try await existingKey(context)
            do {
                _ = try await registry.rename(key.serial, to: fields["idNumber"] ?? "", actor: "user:\(session.user.login)")
                return Self.redirect("/license-keys/\(key.serial)?flash=renamed")
            } catch let error as RegistryError {
                return try await editPage(session, request, key, fields["idNumber"] ?? "", error.message)
            } catch let error as StoreError where error.code == "DUPLICATE_ID_NUMBER" {
                return try await editPage(session, request, key, fields["idNumber"] ?? "", error.message)
            }
        }
        router.get("/license-keys/:serial/delete") { request, context in
            let session = try await requireSession(request)
            let key = try await existingKey(context)
            var values = try await layout(session, request: request, nav: "keys")
            values["serial"] = key.serial
            values["idNumber"] = key.idNumber
            return page("key-delete", values)
        }
        router.post("/license-keys/:serial/delete") { request, context in
            let session = try await requireSession(request)
            _ = try await form(request, context: context, session: session)
            _ = try await registry.remove(try await existingKey(context).serial, actor: "user:\(session.user.login)")
            return Self.redirect("/license-keys?flash=deleted")
        }
    }

    func existingKey(_ context: RegistryRequestContext) async throws -> RegisteredKey {
        let serial = try context.parameters.require("serial")
        guard let key = try await registry.store.key(serial) else {
            throw APIError(.notFound, code: "UNKNOWN_KEY", message: "There is no registered key \(serial).")
        }
        return key
    }

    func editPage(_ session: WebSessions.Session, _ request: Request, _ key: RegisteredKey, _ idNumber: String, _ error: String) async throws -> Response {
        var values = try await layout(session, request: request, nav: "keys")
        values["serial"] = key.serial
        values["idNumber"] = idNumber
        values["idNumberError"] = error
        return page("key-edit", values)
    }

    // MARK: Activation

    func activationPage(_ session: WebSessions.Session, _ request: Request, certificateError: String? = nil) async throws -> Response {
        let state = try await registry.activationState()
        var values = try await layout(session, request: request, nav: "activation")
        values["installationId"] = registry.installation.installationId
        values["environment"] = registry.installation.environment.rawValue
        values["statusText"] = state.status.rawValue
        values["statusClass"] = state.status.rawValue
        values["authorityConfigured"] = registry.authority != nil
        if let current = state.current {
            values["current"] = ["keyCount": current.certificate.serials.count, "issuedAt": current.certificate.issuedAt,
                                 "installedAt": Timestamp.format(current.installedAt), "method": current.method.rawValue]
        }
        let change = state.change
        values["hasChange"] = !change.isEmpty
        values["addedKeys"] = change.addedKeys
        values["removedKeys"] = change.removedKeys
        values["addedComponents"] = change.addedComponents
        values["removedComponents"] = change.removedComponents
        values["seats"] = change.seats.sorted { $0.key < $1.key }.map { type, seats in
            ["kind": seats > 0 ? "plus" : "minus", "text": "\(seats > 0 ? "+" : "−")\(abs(seats)) \(type) seats"]
        }
        if let certificateError { values["certificateError"] = certificateError }
        return page("activation", values)
    }

    func addActivation(to router: Router<RegistryRequestContext>) {
        router.get("/activation") { request, _ in
            try await activationPage(try await requireSession(request), request)
        }
        router.post("/activation") { request, context in
            let session = try await requireSession(request)
            _ = try await form(request, context: context, session: session)
            do {
                try await registry.activateOnline(actor: "user:\(session.user.login)")
                return Self.redirect("/activation?flash=activated")
            } catch let error as RegistryError {
                return try await activationPage(session, request, certificateError: "\(error.code): \(error.message)")
            }
        }
        router.get("/activation/request") { request, _ in
            _ = try await requireSession(request)
            return try await ActivationAPI.requestDownload(registry)
        }
        router.post("/activation/certificate") { request, context in
            let session = try await requireSession(request)
            let body = Array(buffer: try await request.body.collect(upTo: context.maxUploadSize))
            guard let parts = MultipartForm.parse(body, contentType: request.headers[.contentType] ?? ""),
                  let token = parts["_csrf"].map({ String(decoding: $0.data, as: UTF8.self) }), token == session.csrf
            else { throw Self.csrfRefusal }
            guard let file = parts["certificate"], !file.data.isEmpty,
                  let document = try? KeywardJSON.decoder.decode(SignedDocument.self, from: Data(file.data))
            else {
                return try await activationPage(session, request, certificateError: "Choose the certificate file (JSON) the vendor sent.")
            }
            do {
                try await registry.install(document, method: .offline, actor: "user:\(session.user.login)")
                return Self.redirect("/activation?flash=activated")
            } catch let error as RegistryError {
                return try await activationPage(session, request, certificateError: error.message)
            }
        }
    }

    /// A key in a rounded square, as the tab icon.
    static let favicon = ##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0f2747"/><circle cx="12" cy="16" r="5" fill="none" stroke="#fff" stroke-width="3"/><path d="M17 16h10M23 16v4M27 16v3" stroke="#fff" stroke-width="3"/></svg>"##
}

/// Thrown by page handlers that need a logged-in user; becomes a redirect to the login page.
struct WebRedirect: Error {
    let location: String
}

/// Turns `WebRedirect` into a `303 See Other`.
struct WebRedirectMiddleware: RouterMiddleware {
    func handle(_ request: Request, context: RegistryRequestContext, next: (Request, RegistryRequestContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let redirect as WebRedirect {
            return Response.redirect(to: redirect.location, type: .normal)
        }
    }
}
