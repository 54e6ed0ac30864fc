import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore

extension AccessGroupRecord: ResponseEncodable {}

/// `/api/v1/access-groups`: who may use which menus of which key. A group's path is its ID #.
struct AccessGroupsAPI: Sendable {
    let registry: Registry

    struct Logins: Decodable {
        let logins: [String]
    }

    func add(to router: Router<RegistryRequestContext>) {
        router.get("/api/v1/access-groups") { _, context in
            try context.requireAdministrator(registry.access, menu: ConfigurationMenu.accessGroup)
            return ItemsResponse(items: try await registry.store.groups())
        }
        router.post("/api/v1/access-groups") { request, context in
            try context.requireAdministrator(registry.access, menu: ConfigurationMenu.accessGroup)
            let input = try await request.decodeJSON(as: GroupInput.self, context: context)
            return EditedResponse(status: .created, response: try await registry.createGroup(input, actor: context.actor))
        }
        router.get("/api/v1/access-groups/:idNumber") { _, context in
            try context.requireAdministrator(registry.access, menu: ConfigurationMenu.accessGroup)
            return try await existingGroup(context)
        }
        router.put("/api/v1/access-groups/:idNumber") { request, context in
            try context.requireAdministrator(registry.access, menu: ConfigurationMenu.accessGroup)
            let group = try await existingGroup(context)
            let input = try await request.decodeJSON(as: GroupInput.self, context: context)
            return try await registry.updateGroup(group.idNumber, input, actor: context.actor)
        }
        router.delete("/api/v1/access-groups/:idNumber") { _, context in
            try context.requireAdministrator(registry.access, menu: ConfigurationMenu.accessGroup)
            try await registry.deleteGroup(try await existingGroup(context).idNumber, actor: context.actor)
            return Response(status: .noContent)
        }
        for (method, add) in [(HTTPRequest.Method.post, true), (.delete, false)] {
            router.on("/api/v1/access-groups/:idNumber/users", method: method) { request, context in
                try context.requireAdministrator(registry.access, menu: ConfigurationMenu.accessGroup)
                let group = try await existingGroup(context)
                let input = try await request.decodeJSON(as: Logins.self, context: context)
                return try await registry.changeMembers(group.idNumber, add: add, logins: input.logins, actor: context.actor)
            }
        }
    }

    func existingGroup(_ context: RegistryRequestContext) async throws -> AccessGroupRecord {
        let idNumber = try context.parameters.require("idNumber")
        guard idNumber.count <= 50, let group = try await registry.store.group(idNumber) else {
            throw APIError(.notFound, code: "UNKNOWN_GROUP", message: "There is no access group \(idNumber.prefix(50)).")
        }
        return group
    }
}
