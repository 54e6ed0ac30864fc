import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore

/// A user as the API shows it: never the password, only whether there is one.
public struct UserResponse: ResponseCodable, Sendable {
    public let login: String
    public let name: String
    public let email: String
    public let active: Bool
    public let hasPassword: Bool
    /// `local`, `scim` or `ldap`: a directory user is edited in the directory, and only disabled here.
    public let source: String
    public let externalId: String?
    /// Whether the directory still holds the user (directory users only).
    public let inDirectory: Bool?
    /// The access groups the directory put the user in without a seat for them (in the answer for one user).
    public let assignmentErrors: [AssignmentErrorResponse]?

    public init(_ user: RegistryUser, assignmentErrors: [AssignmentErrorRecord]? = nil) {
        login = user.login
        name = user.name
        email = user.email
        active = user.active
        hasPassword = user.passwordHash != nil
        source = user.source
        externalId = user.externalId
        inDirectory = user.fromDirectory ? user.inDirectory : nil
        self.assignmentErrors = assignmentErrors?.map(AssignmentErrorResponse.init)
    }
}

/// `/api/v1/users`: the suite's users. A user's path is its login.
struct UsersController: Sendable {
    let registry: Registry

    /// Changes to a user: absent fields stay; `"password": null` removes the password.
    struct Patch: Decodable {
        let name: String?
        let email: String?
        let password: String??
        let active: Bool?

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decodeIfPresent(String.self, forKey: .name)
            email = try container.decodeIfPresent(String.self, forKey: .email)
            password = container.contains(.password) ? .some(try container.decodeIfPresent(String.self, forKey: .password)) : nil
            active = try container.decodeIfPresent(Bool.self, forKey: .active)
        }

        enum CodingKeys: String, CodingKey { case name, email, password, active }
    }

    struct EntitlementsResponse: ResponseCodable {
        struct Component: Codable {
            let component: String
            let menus: [String]
        }
        let login: String
        let components: [Component]
    }

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group(authorizedBy: RegistryRole.administrator(registry.access, menu: ConfigurationMenu.user))
            .get(use: list)
            .post(use: create)
            .get(":login", use: show)
            .patch(":login", use: update)
            .post(":login/disable", use: disable)
            .post(":login/enable", use: enable)
        routes.group(authorizedBy: RegistryRole.service(registry.access, orAdministratorOf: ConfigurationMenu.user))
            .get(":login/entitlements", use: entitlements)
        return routes
    }

    /// The users, searched and paged by login.
    @Sendable func list(_ request: Request, context: RegistryRequestContext) async throws -> ItemsResponse<UserResponse> {
        let query = request.uri.queryParameters
        let limit = query.get("limit").map { Int($0) ?? 0 } ?? 50
        guard (1...500).contains(limit) else {
            throw APIError.invalidField(FieldError(field: "limit", code: "INVALID_LIMIT", message: "limit must be a whole number from 1 to 500."))
        }
        let search = query.get("search").map { String($0.prefix(200)) }
        let users = try await registry.store.users(search: search, after: query.get("after"), limit: limit)
        return ItemsResponse(items: users.map { UserResponse($0) })
    }

    /// Creates a user.
    @Sendable func create(_ request: Request, context: RegistryRequestContext) async throws -> EditedResponse<UserResponse> {
        let input = try await request.decodeJSON(as: UserInput.self, context: context)
        return EditedResponse(status: .created, response: UserResponse(try await registry.createUser(input, actor: context.actor)))
    }

    /// One user.
    @Sendable func show(_ request: Request, context: RegistryRequestContext) async throws -> UserResponse {
        let user = try await existingUser(context)
        return UserResponse(user, assignmentErrors: try await registry.store.assignmentErrors(login: user.login))
    }

    /// Changes the fields a patch names.
    @Sendable func update(_ request: Request, context: RegistryRequestContext) async throws -> UserResponse {
        let user = try await existingUser(context)
        let patch = try await request.decodeJSON(as: Patch.self, context: context)
        return UserResponse(
            try await registry.updateUser(
                user.login, name: patch.name, email: patch.email, password: patch.password,
                active: patch.active, actor: context.actor))
    }

    /// Disables a user: no new session, no token.
    @Sendable func disable(_ request: Request, context: RegistryRequestContext) async throws -> UserResponse {
        try await setActive(false, context: context)
    }

    /// Enables a disabled user.
    @Sendable func enable(_ request: Request, context: RegistryRequestContext) async throws -> UserResponse {
        try await setActive(true, context: context)
    }

    func setActive(_ active: Bool, context: RegistryRequestContext) async throws -> UserResponse {
        let user = try await existingUser(context)
        return UserResponse(try await registry.updateUser(user.login, name: nil, email: nil, password: nil, active: active, actor: context.actor))
    }

    /// The menus a user may open now, by component.
    @Sendable func entitlements(_ request: Request, context: RegistryRequestContext) async throws -> EntitlementsResponse {
        let user = try await existingUser(context)
        let menus = registry.access.snapshot.entitlements(login: user.login, at: registry.now())
        return EntitlementsResponse(login: user.login, components: menus.sorted { $0.key < $1.key }.map { .init(component: $0.key, menus: $0.value) })
    }

    func existingUser(_ context: RegistryRequestContext) async throws -> RegistryUser {
        // A login of letters beyond ASCII arrives percent-encoded in the path.
        let raw = try context.parameters.require("login")
        let login = raw.removingPercentEncoding ?? raw
        guard login.count <= 64, let user = try await registry.store.user(login), !user.builtin else {
            throw APIError(.notFound, code: "UNKNOWN_USER", message: "There is no user \(login.prefix(64)).")
        }
        return user
    }
}
