import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry

extension AccessMigrationPlan: ResponseEncodable {}

/// `/api/v1/access-migrations`: move access groups from one key to another, e.g. after a key was switched.
struct AccessMigrationsController: Sendable {
    let registry: Registry

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group(authorizedBy: RegistryRole.administrator(registry.access, menu: ConfigurationMenu.accessGroup))
            .post(use: migrate)
        return routes
    }

    /// Plans (a dry run) or applies a migration of accesses.
    @Sendable func migrate(_ request: Request, context: RegistryRequestContext) async throws -> AccessMigrationPlan {
        let input = try await request.decodeJSON(as: AccessMigrationInput.self, context: context)
        return try await registry.migrateAccesses(input, actor: context.actor)
    }
}
