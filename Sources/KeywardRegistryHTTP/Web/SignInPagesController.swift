import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardOIDC
import KeywardRegistry
import KeywardStore
import KeywardWeb

/// Settings > Sign-in: the OpenID Connect provider people sign in with, and "Test connection".
extension WebUI {
    /// The text fields of the form, in the order shown: name, label, placeholder, help.
    static let signInFields: [(name: String, label: String, placeholder: String, help: String)] = [
        (
            "issuer", "Issuer URL", "https://login.microsoftonline.com/TENANT-ID/v2.0",
            "The provider's issuer, as its /.well-known/openid-configuration names it. Okta: https://ORG.okta.com; Keycloak: https://HOST/realms/REALM."
        ),
        ("clientId", "Client id", "keyward-registry", "The application's id at the provider (Entra ID: the Application (client) ID)."),
        (
            "scopes", "Scopes", OIDCClientSettings.defaultScopes.joined(separator: " "),
            "Separated by spaces; openid is required, profile and email carry the usual claims."
        ),
        ("providerName", "Name on the button", "Entra ID", "Shown as “Sign in with …”; blank shows the issuer's host."),
    ]

    /// The page, with what was typed kept (never the saved secret).
    func signInPage(
        _ session: WebSessions.Session, _ request: Request, typed: FormFields? = nil, errors: [String: String] = [:], test: OIDCTestResult? = nil
    ) async throws -> Response {
        let view = registry.signInSettings()
        var values = try await layout(session, request: request, nav: "settings")
        let saved = view.settings
        let savedValues: [String: String?] = [
            "issuer": saved?.issuer, "clientId": saved?.clientId,
            "scopes": (saved?.scopes ?? OIDCClientSettings.defaultScopes).joined(separator: " "), "providerName": saved?.providerName,
        ]
        values["fields"] = Self.signInFields.map { field -> [String: Any] in
            var row: [String: Any] = ["name": field.name, "label": field.label, "placeholder": field.placeholder, "help": field.help]
            if let value = typed?[field.name] ?? savedValues[field.name] ?? nil { row["value"] = value }
            if let error = errors[field.name] { row["error"] = error }
            return row
        }
        let claim = typed?["userClaim"] ?? saved?.userClaim.rawValue ?? OIDCUserClaim.preferredUsername.rawValue
        values["claims"] = OIDCUserClaim.allCases.map { option -> [String: Any] in
            ["value": option.rawValue, "label": option.rawValue, "selected": option.rawValue == claim]
        }
        values["audiences"] = typed?["audiences"] ?? saved?.audiences.joined(separator: "\n") ?? ""
        values["requireProvider"] = typed.map { $0["requireProvider"] == "on" } ?? saved?.requireProvider ?? false
        values["redirectURI"] = signInRedirect.uri(for: request)
        values["locked"] = !view.editable
        values["configured"] = view.settings != nil && view.secretSaved
        values["secretSaved"] = view.secretSaved
        if let secret = typed?["clientSecret"], !secret.isEmpty, view.editable { values["secret"] = secret }
        if let error = errors["clientSecret"] { values["secretError"] = error }
        if let error = errors["userClaim"] { values["claimError"] = error }
        if let error = errors["audiences"] { values["audiencesError"] = error }
        if let saved { values["summary"] = ["issuer": saved.issuer, "clientId": saved.clientId, "userClaim": saved.userClaim.rawValue] }
        if let test { values["test"] = ["kind": test.ok ? "ok" : "error", "code": test.code, "message": test.message] }
        return page("sign-in", values)
    }
}

/// Settings > Sign-in, mounted at `/settings/sign-in`.
struct SignInPagesController: Sendable {
    let web: WebUI

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group().add(middleware: WebAuthorization(web: web, menu: ConfigurationMenu.licenseKey))
            .get(use: show)
            .post(use: save)
        return routes
    }

    @Sendable func show(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        try await web.signInPage(try context.authorizedSession, request)
    }

    /// Saves, clears or tests the settings, as the button pressed says.
    @Sendable func save(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await web.form(request, context: context, session: session)
        let form = OIDCSettingsForm(
            issuer: fields["issuer"], clientId: fields["clientId"], clientSecret: fields["clientSecret"], scopes: fields["scopes"].map { [$0] },
            userClaim: fields["userClaim"], providerName: fields["providerName"],
            audiences: fields["audiences"].map { $0.split(whereSeparator: \.isNewline).map(String.init) },
            requireProvider: fields["requireProvider"] == "on")
        let actor = "user:\(session.user.login)"
        return try await web.settingsAction(
            fields["action"], at: "/settings/sign-in", saved: "sign-in-saved", cleared: "sign-in-cleared",
            test: {
                let test = try await web.registry.testSignIn(web.registry.signInSettings().editable ? form : nil)
                return try await web.signInPage(session, request, typed: fields, test: test)
            },
            clear: { try await web.registry.saveSignInSettings(OIDCSettingsForm(), actor: actor) },
            save: { try await web.registry.saveSignInSettings(form, actor: actor) },
            page: { errors, failure in
                try await web.signInPage(
                    session, request, typed: fields, errors: errors,
                    test: failure.map { OIDCTestResult(ok: false, code: $0.code, message: $0.message, metadata: nil, keyIds: []) })
            })
    }
}
