import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore

extension AuthoritySettings: ResponseEncodable {}
extension ConnectionTest: ResponseEncodable {}

/// `/api/v1/settings/authority`: the licensing authority's URL and organization token, and "Test connection".
struct SettingsController: Sendable {
    let registry: Registry

    struct AuthorityBody: Decodable {
        /// Blank clears the connection.
        let url: String
        /// Absent or blank keeps the saved token.
        let token: String?
    }

    struct TestBody: Decodable {
        let url: String?
        let token: String?
    }

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group(authorizedBy: RegistryRole.administrator(registry.access))
            .get("authority", use: showAuthority)
            .put("authority", use: saveAuthority)
            .post("authority/test", use: testAuthority)
        return routes
    }

    /// The authority connection, without the token.
    @Sendable func showAuthority(_ request: Request, context: RegistryRequestContext) async throws -> AuthoritySettings {
        registry.authoritySettings()
    }

    /// Saves (or, with a blank URL, clears) the authority connection.
    @Sendable func saveAuthority(_ request: Request, context: RegistryRequestContext) async throws -> AuthoritySettings {
        let body = try await request.decodeJSON(as: AuthorityBody.self, context: context)
        return try await registry.saveAuthoritySettings(url: body.url, token: body.token, actor: context.actor)
    }

    /// Tries the typed connection, or the saved one.
    @Sendable func testAuthority(_ request: Request, context: RegistryRequestContext) async throws -> ConnectionTest {
        let body = try await request.decodeJSONIfPresent(as: TestBody.self, context: context)
        return try await registry.testConnection(url: body?.url, token: body?.token)
    }
}
