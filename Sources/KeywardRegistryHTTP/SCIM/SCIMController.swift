import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import NIOCore

/// `/scim/v2`: the registry as a SCIM 2.0 service provider for an identity provider's user provisioning (Entra ID,
/// Okta, ...), with a directory token. Discovery (`ServiceProviderConfig`, `ResourceTypes`, `Schemas`), `Users` and
/// `Groups`; errors in SCIM's format.
struct SCIMController: Sendable {
    let registry: Registry

    static let listSchema = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    /// The most resources one page returns (`filter.maxResults`).
    static let maximumCount = 1000
    static let defaultCount = 100

    /// This service's OpenAPI description, served without a token at `/scim/v2/openapi.yaml` (as `/openapi.yaml` is).
    static let openAPIDescription: String =
        Bundle.module.url(forResource: "scim", withExtension: "yaml").flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? ""

    func add(to router: Router<RegistryRequestContext>) {
        router.get("/scim/v2/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: Self.openAPIDescription)))
        }
        // Errors are answered in SCIM's format by SCIMErrorMiddleware, which the router puts before the token check.
        let scim = router.group("/scim/v2").add(middleware: AuthorizationMiddleware(DirectoryTokenPolicy()))
        scim.get("ServiceProviderConfig", use: serviceProviderConfig)
        scim.get("ResourceTypes", use: resourceTypes)
        scim.get("ResourceTypes/:name", use: resourceType)
        scim.get("Schemas", use: schemas)
        scim.get("Schemas/:id", use: schema)
        scim.get("Users", use: listUsers)
        scim.post("Users", use: createUser)
        scim.get("Users/:id", use: getUser)
        scim.put("Users/:id", use: replaceUser)
        scim.patch("Users/:id", use: patchUser)
        scim.delete("Users/:id", use: deleteUser)
        scim.get("Groups", use: listGroups)
        scim.post("Groups", use: createGroup)
        scim.get("Groups/:id", use: getGroup)
        scim.put("Groups/:id", use: replaceGroup)
        scim.patch("Groups/:id", use: patchGroup)
        scim.delete("Groups/:id", use: deleteGroup)
    }

    /// The service's URL as the caller reached it (behind a TLS proxy that says so, `https`).
    static func base(_ request: Request) -> String {
        let secure = SecureCookies.auto.isSecure(request)
        let host = request.head.authority ?? "localhost"
        return "\(secure ? "https" : "http")://\(host)/scim/v2"
    }

    func provisioning(_ request: Request) -> SCIMProvisioning { SCIMProvisioning(registry: registry, base: Self.base(request)) }

    // MARK: Discovery

    @Sendable func serviceProviderConfig(_ request: Request, context: RegistryRequestContext) async throws -> SCIMResponse {
        let base = Self.base(request)
        return SCIMResponse(
            body: .object([
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
                "documentationUri": "https://github.com/keyward/keyward#directory-provisioning-scim",
                "patch": ["supported": true], "bulk": ["supported": false, "maxOperations": 0, "maxPayloadSize": 0],
                "filter": ["supported": true, "maxResults": .int(Self.maximumCount)], "changePassword": ["supported": false],
                "sort": ["supported": false], "etag": ["supported": true],
                "authenticationSchemes": [
                    [
                        "type": "oauthbearertoken", "name": "Directory token", "primary": true,
                        "description":
                            "A directory token made with keyward tokens create --directory NAME (or Settings > Tokens for other systems), sent as Authorization: Bearer kw_...",
                    ]
                ],
                "meta": ["resourceType": "ServiceProviderConfig", "location": .string("\(base)/ServiceProviderConfig")],
            ]))
    }

    func resourceTypeRepresentation(_ name: String, base: String) -> JSONValue? {
        switch name.lowercased() {
        case "user":
            return .object([
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "User", "name": "User", "endpoint": "/Users",
                "description": "A person who may use the suite: a registry user from the directory.", "schema": .string(SCIMSchema.userURI),
                "schemaExtensions": [["schema": .string(SCIMSchema.enterpriseUserURI), "required": false]],
                "meta": ["resourceType": "ResourceType", "location": .string("\(base)/ResourceTypes/User")],
            ])
        case "group":
            return .object([
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "Group", "name": "Group", "endpoint": "/Groups",
                "description": "A directory group, which access groups may take their users from.", "schema": .string(SCIMSchema.groupURI),
                "meta": ["resourceType": "ResourceType", "location": .string("\(base)/ResourceTypes/Group")],
            ])
        default: return nil
        }
    }

    @Sendable func resourceTypes(_ request: Request, context: RegistryRequestContext) async throws -> SCIMResponse {
        let base = Self.base(request)
        return Self.list(["User", "Group"].compactMap { resourceTypeRepresentation($0, base: base) }, total: 2, startIndex: 1)
    }

    @Sendable func resourceType(_ request: Request, context: RegistryRequestContext) async throws -> SCIMResponse {
        let name = try context.parameters.require("name")
        guard let found = resourceTypeRepresentation(name, base: Self.base(request)) else {
            throw StoreError(
                code: "UNKNOWN_RESOURCE", message: "There is no resource type \(name.prefix(60)): there are User and Group.", kind: .notFound)
        }
        return SCIMResponse(body: found)
    }

    static let published: [SCIMSchema] = [.user, .enterpriseUser, .group]

    @Sendable func schemas(_ request: Request, context: RegistryRequestContext) async throws -> SCIMResponse {
        let base = Self.base(request)
        return Self.list(Self.published.map { $0.representation(base: base) }, total: Self.published.count, startIndex: 1)
    }

    @Sendable func schema(_ request: Request, context: RegistryRequestContext) async throws -> SCIMResponse {
        let id = try context.parameters.require("id")
        guard let found = Self.published.first(where: { $0.id.lowercased() == id.lowercased() }) else {
            throw StoreError(code: "UNKNOWN_RESOURCE", message: "There is no schema \(id.prefix(100)).", kind: .notFound)
        }
        return SCIMResponse(body: found.representation(base: Self.base(request)))
    }

    // MARK: Users

    @Sendable func listUsers(_ request: Request, context: RegistryRequestContext) async throws -> SCIMResponse {
        let query = try ListQuery(request)
        let page = try await provisioning(request).users(filter: query.filter, startIndex: query.startIndex, count: query.count)
        return Self.list(
            page.resources.map { query.projection.apply(to: $0, coreSchema: SCIMSchema.userURI) }, total: page.total, startIndex: page.startIndex)
    }

    @Sendable func createUser(_ request: Request, context: RegistryRequestContext) async throws -> SCIMResponse {
        let made = try await provisioning(request).createUser(try await request.scimJSON(context: context))
        return try Self.answer(made, request: request, status: .created, coreSchema: SCIMSchema.userURI)
    }

    @Sendable func getUser(_ request: Request, context: RegistryRequestContext) async throws -> SCIMResponse {
        let found = try await provisioning(request).user(id: try context.parameters.require("id"))
        return try Self.answer(found, request: request, coreSchema: SCIMSchema.userURI)
    }

    @Sendable func replaceUser(_ request: Request, context: RegistryRequestContext) async throws -> SCIMResponse {
        try await change(request, context, coreSchema: SCIMSchema.userURI) { try await $0.replaceUser(id: $1, $2, ifVersion: $3) }
    }

    @Sendable func patchUser(_ request: Request, context: RegistryRequestContext) async throws -> SCIMResponse {
        try await change(request, context, coreSchema: SCIMSchema.userURI) { try await $0.patchUser(id: $1, $2, ifVersion: $3) }
    }

    @Sendable func deleteUser(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        try await delete(request, context) { try await $0.deleteUser(id: $1, ifVersion: $2) }
    }

    // MARK: Groups

    @Sendable func listGroups(_ request: Request, context: RegistryRequestContext) async throws -> SCIMResponse {
        let query = try ListQuery(request)
        let page = try await provisioning(request).groups(
            filter: query.filter, startIndex: query.startIndex, count: query.count, members: !query.projection.excludes("members"))
        return Self.list(
            page.resources.map { query.projection.apply(to: $0, coreSchema: SCIMSchema.groupURI) }, total: page.total, startIndex: page.startIndex)
    }

    @Sendable func createGroup(_ request: Request, context: RegistryRequestContext) async throws -> SCIMResponse {
        let made = try await provisioning(request).createGroup(try await request.scimJSON(context: context))
        return try Self.answer(made, request: request, status: .created, coreSchema: SCIMSchema.groupURI)
    }

    @Sendable func getGroup(_ request: Request, context: RegistryRequestContext) async throws -> SCIMResponse {
        let projection = try ListQuery.projection(request)
        let found = try await provisioning(request).group(id: try context.parameters.require("id"), members: !projection.excludes("members"))
        return try Self.answer(found, request: request, coreSchema: SCIMSchema.groupURI)
    }

    @Sendable func replaceGroup(_ request: Request, context: RegistryRequestContext) async throws -> SCIMResponse {
        try await change(request, context, coreSchema: SCIMSchema.groupURI) { try await $0.replaceGroup(id: $1, $2, ifVersion: $3) }
    }

    @Sendable func patchGroup(_ request: Request, context: RegistryRequestContext) async throws -> SCIMResponse {
        try await change(request, context, coreSchema: SCIMSchema.groupURI) { try await $0.patchGroup(id: $1, $2, ifVersion: $3) }
    }

    @Sendable func deleteGroup(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        try await delete(request, context) { try await $0.deleteGroup(id: $1, ifVersion: $2) }
    }

    /// A `PUT` or `PATCH` of the resource the path names: its body, the `If-Match` version, the answer with its ETag.
    func change(
        _ request: Request, _ context: RegistryRequestContext, coreSchema: String,
        _ write: (SCIMProvisioning, String, JSONValue, Int64?) async throws -> SCIMProvisioning.Versioned
    ) async throws -> SCIMResponse {
        let version = try SCIMProvisioning.version(ifMatch: request.headers[.ifMatch])
        let body = try await request.scimJSON(context: context)
        let changed = try await write(provisioning(request), try context.parameters.require("id"), body, version)
        return try Self.answer(changed, request: request, coreSchema: coreSchema)
    }

    /// A `DELETE` of the resource the path names, with its `If-Match` version: `204`.
    func delete(_ request: Request, _ context: RegistryRequestContext, _ remove: (SCIMProvisioning, String, Int64?) async throws -> Void)
        async throws -> Response
    {
        let version = try SCIMProvisioning.version(ifMatch: request.headers[.ifMatch])
        try await remove(provisioning(request), try context.parameters.require("id"), version)
        return Response(status: .noContent)
    }

    // MARK: Answers

    static func list(_ resources: [JSONValue], total: Int, startIndex: Int) -> SCIMResponse {
        SCIMResponse(
            body: .object([
                "schemas": .array([.string(listSchema)]), "totalResults": .int(total), "startIndex": .int(startIndex),
                "itemsPerPage": .int(resources.count), "Resources": .array(resources),
            ]))
    }

    /// One resource with its ETag (and `Location` when made), projected as the query asks.
    static func answer(_ versioned: SCIMProvisioning.Versioned, request: Request, status: HTTPResponse.Status = .ok, coreSchema: String) throws
        -> SCIMResponse
    {
        let projection = try ListQuery.projection(request)
        var location: String?
        if status == .created, case .object(let members) = versioned.resource, case .object(let meta)? = members["meta"],
            case .string(let url)? = meta["location"]
        {
            location = url
        }
        return SCIMResponse(
            status: status, body: projection.apply(to: versioned.resource, coreSchema: coreSchema), etag: versioned.etag, location: location)
    }
}

/// A list request's query: `filter`, `startIndex`, `count`, `attributes`, `excludedAttributes`.
struct ListQuery {
    var filter: SCIMFilter?
    var startIndex: Int
    var count: Int
    var projection: SCIMProjection

    init(_ request: Request) throws {
        let query = Self.parameters(request)
        if let text = query["filter"], !text.trimmingCharacters(in: .whitespaces).isEmpty {
            do {
                filter = try SCIMFilter.parse(text)
            } catch {
                throw SCIMProblem(.invalidFilter, "The filter \(text.prefix(100)) cannot be read: \(error.message)")
            }
        }
        startIndex = try Self.integer(query["startIndex"], "startIndex").map { max(1, $0) } ?? 1
        count = try Self.integer(query["count"], "count").map { min(max(0, $0), SCIMController.maximumCount) } ?? SCIMController.defaultCount
        projection = try Self.projection(request)
    }

    static func integer(_ text: String?, _ name: String) throws(SCIMProblem) -> Int? {
        guard let text else { return nil }
        // `count=` with nothing after it is no number either (found by schemathesis).
        guard let value = Int(text) else { throw SCIMProblem(.invalidValue, "\(name) is a whole number, not \"\(text.prefix(40))\".") }
        return value
    }

    static func projection(_ request: Request) throws -> SCIMProjection {
        let query = parameters(request)
        return try SCIMProjection.parse(attributes: query["attributes"], excluded: query["excludedAttributes"])
    }

    /// The query's parameters as a form encodes them: `+` is a space (identity providers and HTTP libraries encode the
    /// spaces of a filter so), `%2B` a plus. The first of a repeated name counts.
    static func parameters(_ request: Request) -> [String: String] {
        let target = request.uri.description
        guard let mark = target.firstIndex(of: "?") else { return [:] }
        var result: [String: String] = [:]
        for pair in target[target.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            let key = decoded(parts[0])
            if result[key] == nil { result[key] = parts.count > 1 ? decoded(parts[1]) : "" }
        }
        return result
    }
}
