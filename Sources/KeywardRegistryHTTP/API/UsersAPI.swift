import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore

/// A user as the API shows it: never the password, only whether there is one.
public struct UserResponse: ResponseEncodable, Sendable {
    public let login: String
    public let name: String
    public let email: String
    public let active: Bool
    public let hasPassword: Bool

    public init(_ user: RegistryUser) {
        login = user.login
        name = user.name
        email = user.email
        active = user.active
        hasPassword = user.passwordHash != nil
    }
}

/// `/api/v1/users`: the suite's users. A user's path is its login.
struct UsersAPI: Sendable {
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

    struct EntitlementsResponse: ResponseEncodable {
        struct Component: Encodable {
            let component: String
            let menus: [String]
        }
        let login: String
        let components: [Component]
    }

    func add(to router: Router<RegistryRequestContext>) {
        router.get("/api/v1/users") { request, context in
            try context.requireAdministrator(registry.access, menu: ConfigurationMenu.user)
            let query = request.uri.queryParameters
            let limit = query.get("limit").map { Int($0) ?? 0 } ?? 50
            guard (1...500).contains(limit) else {
                throw APIError.invalidField(FieldError(field: "limit", code: "INVALID_LIMIT", message: "limit must be a whole number from 1 to 500."))
            }
            let search = query.get("search").map { String($0.prefix(200)) }
            let users = try await registry.store.users(search: search, after: query.get("after"), limit: limit)
            return ItemsResponse(items: users.map(UserResponse.init))
        }
        router.post("/api/v1/users") { request, context in
            try context.requireAdministrator(registry.access, menu: ConfigurationMenu.user)
            let input = try await request.decodeJSON(as: UserInput.self, context: context)
            return EditedResponse(status: .created, response: UserResponse(try await registry.createUser(input, actor: context.actor)))
        }
        router.get("/api/v1/users/:login") { _, context in
            try context.requireAdministrator(registry.access, menu: ConfigurationMenu.user)
            return UserResponse(try await existingUser(context))
        }
        router.patch("/api/v1/users/:login") { request, context in
            try context.requireAdministrator(registry.access, menu: ConfigurationMenu.user)
            let user = try await existingUser(context)
            let patch = try await request.decodeJSON(as: Patch.self, context: context)
            return UserResponse(try await registry.updateUser(user.login, name: patch.name, email: patch.email, password: patch.password,
                                                              active: patch.active, actor: context.actor))
        }
        for (path, active) in [("disable", false), ("enable", true)] {
            router.post("/api/v1/users/:login/\(path)") { _, context in
                try context.requireAdministrator(registry.access, menu: ConfigurationMenu.user)
                let user = try await existingUser(context)
                return UserResponse(try await registry.updateUser(user.login, name: nil, email: nil, password: nil, active: active, actor: context.actor))
            }
        }
        router.get("/api/v1/users/:login/entitlements") { _, context in
            try context.requireService(registry.access, menu: ConfigurationMenu.user)
            let user = try await existingUser(context)
            let menus = registry.access.snapshot.entitlements(login: user.login, at: registry.now())
            return EntitlementsResponse(login: user.login, components: menus.sorted { $0.key < $1.key }.map { .init(component: $0.key, menus: $0.value) })
        }
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
