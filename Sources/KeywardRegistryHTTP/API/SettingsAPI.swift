import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore

extension AuthoritySettings: ResponseEncodable {}
extension ConnectionTest: ResponseEncodable {}

/// `/api/v1/settings/authority`: the licensing authority's URL and organization token, and "Test connection".
struct SettingsAPI: Sendable {
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

    func add(to router: Router<RegistryRequestContext>) {
        router.get("/api/v1/settings/authority") { _, context in
            try context.requireAdministrator(registry.access)
            return registry.authoritySettings()
        }
        router.put("/api/v1/settings/authority") { request, context in
            try context.requireAdministrator(registry.access)
            let body = try await request.decodeJSON(as: AuthorityBody.self, context: context)
            return try await registry.saveAuthoritySettings(url: body.url, token: body.token, actor: context.actor)
        }
        router.post("/api/v1/settings/authority/test") { request, context in
            try context.requireAdministrator(registry.access)
            let body = try await request.decodeJSONIfPresent(as: TestBody.self, context: context)
            return try await registry.testConnection(url: body?.url, token: body?.token)
        }
    }
}
