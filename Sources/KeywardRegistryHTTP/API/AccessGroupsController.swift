import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore

/// `/api/v1/access-groups`: who may use which menus of which key, for administrators of the Access group menu. A
/// group's path is its ID #.
struct AccessGroupsController: Sendable {
    let registry: Registry

    struct Logins: Decodable {
        let logins: [String]
    }

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group(authorizedBy: RegistryRole.administrator(registry.access, menu: ConfigurationMenu.accessGroup))
            .get(use: list)
            .post(use: create)
            .get(":idNumber", use: show)
            .put(":idNumber", use: update)
            .delete(":idNumber", use: delete)
            .post(":idNumber/users", use: addMembers)
            .delete(":idNumber/users", use: removeMembers)
            .get(":idNumber/directory-groups", use: directoryGroups)
            .put(":idNumber/directory-groups", use: linkDirectoryGroups)
        return routes
    }

    struct DirectoryGroupLinks: Decodable {
        let directoryGroups: [String]
    }

    struct LinksResponse: ResponseCodable {
        let directoryGroups: [DirectoryGroupReference]
        /// What the last change did: users who joined, who left, who found no seat.
        let added: Int?
        let removed: Int?
        let assignmentErrors: Int?
    }

    /// The directory groups the group takes users from.
    @Sendable func directoryGroups(_ request: Request, context: RegistryRequestContext) async throws -> LinksResponse {
        let group = try await existingIDNumber(context)
        return LinksResponse(
            directoryGroups: try await registry.store.linkedDirectoryGroups(ofAccessGroup: group), added: nil, removed: nil, assignmentErrors: nil)
    }

    /// Links the group to exactly these directory groups; their members become its users, seats permitting.
    @Sendable func linkDirectoryGroups(_ request: Request, context: RegistryRequestContext) async throws -> LinksResponse {
        let group = try await existingIDNumber(context)
        let input = try await request.decodeJSON(as: DirectoryGroupLinks.self, context: context)
        let effect = try await registry.linkDirectoryGroups(input.directoryGroups, toAccessGroup: group, actor: context.actor)
        return LinksResponse(
            directoryGroups: try await registry.store.linkedDirectoryGroups(ofAccessGroup: group), added: effect.added, removed: effect.removed,
            assignmentErrors: effect.assignmentErrors)
    }

    func existingIDNumber(_ context: RegistryRequestContext) async throws -> String {
        let idNumber = try Self.idNumber(context)
        guard idNumber.count <= 50, let existing = try await registry.store.groupIDNumber(idNumber) else { throw unknownGroup(idNumber) }
        return existing
    }

    /// Every access group.
    @Sendable func list(_ request: Request, context: RegistryRequestContext) async throws -> ItemsResponse<AccessGroupResponse> {
        ItemsResponse(items: try await registry.store.groups().map(AccessGroupResponse.init))
    }

    /// Creates a group.
    @Sendable func create(_ request: Request, context: RegistryRequestContext) async throws -> EditedResponse<AccessGroupResponse> {
        let input = try await request.decodeJSON(as: AccessGroupInput.self, context: context)
        return EditedResponse(status: .created, response: AccessGroupResponse(try await registry.createGroup(input, actor: context.actor)))
    }

    /// One group.
    @Sendable func show(_ request: Request, context: RegistryRequestContext) async throws -> AccessGroupResponse {
        AccessGroupResponse(try await existingGroup(context))
    }

    /// Replaces a group's key, component, menus, name and state.
    @Sendable func update(_ request: Request, context: RegistryRequestContext) async throws -> AccessGroupResponse {
        let group = try await existingGroup(context)
        let input = try await request.decodeJSON(as: AccessGroupInput.self, context: context)
        return AccessGroupResponse(try await registry.updateGroup(group.idNumber, input, actor: context.actor))
    }

    /// Deletes a group, freeing its users' seats.
    @Sendable func delete(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        try await registry.deleteGroup(try await existingGroup(context).idNumber, actor: context.actor)
        return Response(status: .noContent)
    }

    /// Adds users to a group, all or none.
    @Sendable func addMembers(_ request: Request, context: RegistryRequestContext) async throws -> AccessGroupResponse {
        try await changeMembers(request, context: context, add: true)
    }

    /// Removes users from a group.
    @Sendable func removeMembers(_ request: Request, context: RegistryRequestContext) async throws -> AccessGroupResponse {
        try await changeMembers(request, context: context, add: false)
    }

    /// The group is looked up without its members: they are read once, with the change, for the answer.
    func changeMembers(_ request: Request, context: RegistryRequestContext, add: Bool) async throws -> AccessGroupResponse {
        let idNumber = try Self.idNumber(context)
        guard idNumber.count <= 50, let existing = try await registry.store.groupIDNumber(idNumber) else { throw unknownGroup(idNumber) }
        let input = try await request.decodeJSON(as: Logins.self, context: context)
        return AccessGroupResponse(try await registry.changeMembers(existing, add: add, logins: input.logins, actor: context.actor))
    }

    func existingGroup(_ context: RegistryRequestContext) async throws -> AccessGroupRecord {
        let idNumber = try Self.idNumber(context)
        guard idNumber.count <= 50, let group = try await registry.store.group(idNumber) else { throw unknownGroup(idNumber) }
        return group
    }

    /// The group's ID # from the path: an ID # with spaces or letters beyond ASCII arrives percent-encoded.
    static func idNumber(_ context: RegistryRequestContext) throws -> String {
        let raw = try context.parameters.require("idNumber")
        return raw.removingPercentEncoding ?? raw
    }

    func unknownGroup(_ idNumber: String) -> APIError {
        APIError(.notFound, code: "UNKNOWN_GROUP", message: "There is no access group \(idNumber.prefix(50)).")
    }
}
