import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardWeb

/// The Settings page: the licensing authority's URL and organization token, "Test connection", the daily schedule, and
/// the tokens other systems use (service and directory tokens).
extension WebUI {
    /// The page, with what was typed kept (the token too: a test is usually followed by Save, which needs it again).
    /// `made` is a token just made, shown this once.
    func settingsPage(
        _ session: WebSessions.Session, _ request: Request, url: String? = nil, token: String? = nil, errors: [String: String] = [:],
        test: ConnectionTest? = nil, made: (token: APIToken, record: TokenRecord)? = nil, tokenForm: [String: String] = [:]
    ) async throws -> Response {
        let settings = registry.authoritySettings()
        var values = try await layout(session, request: request, nav: "settings")
        values["organization"] = registry.installation.organization.id
        values["locked"] = !settings.editable
        values["tokenSaved"] = settings.tokenSaved
        if let url = url ?? settings.url { values["url"] = url }
        if let token, !token.isEmpty, settings.editable { values["token"] = token }
        for (field, message) in errors { values[field + "Error"] = message }
        if let test {
            values["test"] = ["kind": test.ok ? "ok" : "error", "code": test.code, "message": test.message]
        }
        if let scheduler, settings.url != nil {
            var schedule: [String: Any] = ["dailyAt": scheduler.schedule.dailyTime + " UTC", "jitter": Int(scheduler.schedule.maximumJitter / 60)]
            if let next = scheduler.nextRun.at { schedule["nextAt"] = WebFormatting.time(next) }
            values["schedule"] = schedule
        }
        values["autoActivate"] = synchronizer.autoActivate ? "on" : "off"
        values["tokens"] = try await registry.integrationTokens().map { record -> [String: Any] in
            var row: [String: Any] = [
                "id": record.id, "kind": record.kind, "name": record.name, "created": WebFormatting.time(record.createdAt),
            ]
            if let revoked = record.revokedAt { row["revoked"] = WebFormatting.time(revoked) }
            return row
        }
        if let made {
            values["made"] = ["token": made.token.text, "kind": made.record.kind, "name": made.record.name]
        }
        let chosenKind = tokenForm["kind"] ?? IntegrationTokenKind.service.rawValue
        values["kindService"] = chosenKind == IntegrationTokenKind.service.rawValue
        values["kindDirectory"] = chosenKind == IntegrationTokenKind.directory.rawValue
        if let name = tokenForm["name"] { values["tokenName"] = name }
        if let provider = registry.signIn.settings { values["signInProvider"] = provider.displayName }
        return page("settings", values)
    }
}

/// The Settings page, mounted at `/settings`.
struct SettingsPagesController: Sendable {
    let web: WebUI

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group().add(middleware: WebAuthorization(web: web, menu: ConfigurationMenu.licenseKey))
            .get(use: settings)
            .post("authority", use: saveAuthority)
            .post("tokens", use: createToken)
            .post("tokens/:id/revoke", use: revokeToken)
        return routes
    }

    /// Makes a service or directory token and shows it once, on the page this answers with (never in a URL).
    @Sendable func createToken(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await web.form(request, context: context, session: session)
        let typed = ["kind": fields["kind"] ?? "", "name": fields["name"] ?? ""]
        do {
            let kind = try Registry.integrationTokenKind(typed["kind"] ?? "")
            let made = try await web.registry.createIntegrationToken(kind: kind, name: typed["name"] ?? "", actor: "user:\(session.user.login)")
            return try await web.settingsPage(session, request, made: made)
        } catch RegistryError.invalid(let problem) {
            return try await web.settingsPage(session, request, errors: ["token" + problem.field.capitalized: problem.message], tokenForm: typed)
        }
    }

    /// Revokes a service or directory token.
    @Sendable func revokeToken(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        _ = try await web.form(request, context: context, session: session)
        let id = try context.parameters.require("id")
        try await web.registry.revokeIntegrationToken(id: String(id.prefix(64)), actor: "user:\(session.user.login)")
        return WebUI.redirect("/settings?flash=token-revoked#tokens-heading")
    }

    /// The Settings page.
    @Sendable func settings(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        return try await web.settingsPage(try context.authorizedSession, request)
    }

    /// Saves or tests the authority connection.
    @Sendable func saveAuthority(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await web.form(request, context: context, session: session)
        let url = fields["url"] ?? ""
        do {
            if fields["action"] == "test" {
                // The typed values when there are any, else the saved ones.
                let typed = url.trimmingCharacters(in: .whitespaces).isEmpty ? nil : url
                let test = try await web.registry.testConnection(url: typed, token: fields["token"])
                return try await web.settingsPage(session, request, url: typed, token: fields["token"], test: test)
            }
            let saved = try await web.registry.saveAuthoritySettings(url: url, token: fields["token"], actor: "user:\(session.user.login)")
            return WebUI.redirect("/settings?flash=" + (saved.url == nil ? "settings-cleared" : "settings-saved"))
        } catch let error as RegistryError {
            if case .invalid(let problem) = error {
                return try await web.settingsPage(session, request, url: url, token: fields["token"], errors: [problem.field: problem.message])
            }
            return try await web.settingsPage(
                session, request, url: url, token: fields["token"],
                test: ConnectionTest(ok: false, code: error.code, message: error.message, revision: nil, keys: nil))
        }
    }
}
