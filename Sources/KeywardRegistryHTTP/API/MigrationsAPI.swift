import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry

extension MigrationPlan: ResponseEncodable {}

/// `/api/v1/access-migrations`: move access groups from one key to another, e.g. after a key was switched.
struct MigrationsAPI: Sendable {
    let registry: Registry

    func add(to router: Router<RegistryRequestContext>) {
        router.post("/api/v1/access-migrations") { request, context in
            try context.requireAdministrator(registry.access, menu: ConfigurationMenu.accessGroup)
            let input = try await request.decodeJSON(as: MigrationInput.self, context: context)
            return try await registry.migrateAccesses(input, actor: context.actor)
        }
    }
}
