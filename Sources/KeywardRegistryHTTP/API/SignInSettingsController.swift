import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardOIDC
import KeywardRegistry
import KeywardStore
import KeywardWeb

/// The sign-in settings as the API shows them: never the client secret.
struct SignInSettingsResponse: ResponseCodable {
    let configured: Bool
    let settings: OIDCSettingsForm?
    let secretSaved: Bool
    let source: AuthorityConnection.Source
    let editable: Bool
    /// The address to register with the provider as the redirect URI, as this request reached the registry.
    let redirectURI: String

    init(_ view: SignInSettingsView, redirectURI: String) {
        configured = view.settings != nil && view.secretSaved
        settings = view.settings.map(OIDCSettingsForm.init)
        secretSaved = view.secretSaved
        source = view.source
        editable = view.editable
        self.redirectURI = redirectURI
    }
}

/// What "Test connection" found at the provider.
struct SignInTestResponse: ResponseCodable {
    let ok: Bool
    let code: String
    let message: String
    let issuer: String?
    let authorizationEndpoint: String?
    let tokenEndpoint: String?
    let jwksURI: String?
    let endSessionEndpoint: String?
    let keyIds: [String]

    init(_ result: OIDCTestResult) {
        ok = result.ok
        code = result.code
        message = result.message
        issuer = result.metadata?.issuer
        authorizationEndpoint = result.metadata?.authorizationEndpoint
        tokenEndpoint = result.metadata?.tokenEndpoint
        jwksURI = result.metadata?.jwksURI
        endSessionEndpoint = result.metadata?.endSessionEndpoint
        keyIds = result.keyIds
    }
}

extension OIDCSettingsForm: ResponseCodable {}

/// `/api/v1/settings/sign-in`: the identity provider people sign in with (OpenID Connect), and "Test connection".
struct SignInSettingsController: Sendable {
    let registry: Registry
    let redirect: SignInRedirect

    func add(to router: Router<RegistryRequestContext>) {
        router.group("/api/v1/settings/sign-in", authorizedBy: RegistryRole.administrator(registry.access))
            .get(use: show)
            .put(use: save)
            .post("test", use: test)
    }

    @Sendable func show(_ request: Request, context: RegistryRequestContext) async throws -> SignInSettingsResponse {
        SignInSettingsResponse(registry.signInSettings(), redirectURI: redirect.uri(for: request))
    }

    /// Saves the settings and uses them at once (a blank body turns sign-in with a provider off); a blank or absent
    /// client secret keeps the saved one.
    @Sendable func save(_ request: Request, context: RegistryRequestContext) async throws -> SignInSettingsResponse {
        let form = try await request.decodeJSON(as: OIDCSettingsForm.self, context: context)
        return SignInSettingsResponse(try await registry.saveSignInSettings(form, actor: context.actor), redirectURI: redirect.uri(for: request))
    }

    /// Fetches the discovery document and keys of the typed settings, or of the saved ones without a body.
    @Sendable func test(_ request: Request, context: RegistryRequestContext) async throws -> SignInTestResponse {
        let form = try await request.decodeJSONIfPresent(as: OIDCSettingsForm.self, context: context)
        return SignInTestResponse(try await registry.testSignIn(form))
    }
}
