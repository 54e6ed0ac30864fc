import Foundation
import KeywardDomain
import KeywardStore

/// The registry as a SCIM 2.0 service provider (RFC 7643, RFC 7644): users and groups as an identity provider sends
/// them, stored as sent, and made into registry users and directory groups whose members the linked access groups
/// take. Every refusal is a ``SCIMProblem`` or a store error the SCIM layer answers in SCIM's error format.
public struct SCIMProvisioning: Sendable {
    public let registry: Registry
    /// The service's URL, `https://host/scim/v2`, for `meta.location` and `$ref`.
    public let base: String

    public init(registry: Registry, base: String) {
        self.registry = registry
        self.base = base
    }

    var store: RegistryStore { registry.store }
    var actor: String { "directory:scim" }

    /// A page of resources and how many match in all.
    public struct Page: Sendable {
        public var resources: [JSONValue]
        public var total: Int
        public var startIndex: Int
    }

    /// A resource and its weak ETag.
    public struct Versioned: Sendable {
        public var resource: JSONValue
        public var version: Int64
        public var etag: String { SCIMProvisioning.etag(version) }
    }

    public static func etag(_ version: Int64) -> String { "W/\"\(version)\"" }

    /// The version an `If-Match` header names (`W/"3"`, `"3"`); `nil` for `*` or no header. `412` for anything else.
    public static func version(ifMatch header: String?) throws(SCIMProblem) -> Int64? {
        guard let header = header?.trimmingCharacters(in: .whitespaces), !header.isEmpty, header != "*" else { return nil }
        let tag = header.hasPrefix("W/") ? String(header.dropFirst(2)) : header
        // Anything but one of our tags matches no version: the request is refused as stale.
        return Int64(tag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))) ?? -1
    }

    // MARK: Users

    public func user(id: String) async throws -> Versioned {
        guard let record = try await store.directoryUser(id: id), record.source == .scim else { throw Self.notFound("User", id) }
        return Versioned(resource: userResource(record), version: record.version)
    }

    public func createUser(_ body: JSONValue) async throws -> Versioned {
        let write = try userWrite(from: try Self.resource(body, shape: .user))
        let (record, effect) = try await store.createDirectoryUser(
            write, id: UUID().uuidString.lowercased(), source: .scim, actor: actor, now: registry.now(), notice: notice)
        try await applied(effect, deactivated: !write.active)
        return Versioned(resource: userResource(record), version: record.version)
    }

    public func replaceUser(id: String, _ body: JSONValue, ifVersion: Int64?) async throws -> Versioned {
        _ = try await user(id: id)
        let write = try userWrite(from: try Self.resource(body, shape: .user))
        return try await replace(id: id, with: write, ifVersion: ifVersion)
    }

    public func patchUser(id: String, _ body: JSONValue, ifVersion: Int64?) async throws -> Versioned {
        let operations = try SCIMPatch.operations(from: body)
        return try await Self.readModifyWrite(ifVersion: ifVersion) {
            guard let record = try await store.directoryUser(id: id), record.source == .scim else { throw Self.notFound("User", id) }
            try RegistryStore.requireVersion(ifVersion, record.version)
            let patched = try SCIMPatch.apply(operations, to: storedUser(record), shape: .user)
            return try await replace(id: id, with: try userWrite(from: patched), ifVersion: record.version)
        }
    }

    /// Runs a PATCH that reads a resource, changes it and writes it back only if it is still the version read. A
    /// request that named no version (no `If-Match`) is applied again to what another request wrote meanwhile,
    /// instead of being refused for a precondition it did not set.
    static func readModifyWrite(ifVersion: Int64?, _ attempt: () async throws -> Versioned) async throws -> Versioned {
        var tries = 0
        while true {
            do {
                return try await attempt()
            } catch let error as StoreError where error.code == "VERSION_MISMATCH" && ifVersion == nil && tries < 20 {
                tries += 1
            }
        }
    }

    private func replace(id: String, with write: DirectoryUserWrite, ifVersion: Int64?) async throws -> Versioned {
        let (record, effect) = try await store.replaceDirectoryUser(
            id: id, with: write, ifVersion: ifVersion, actor: actor, now: registry.now(), notice: notice)
        try await applied(effect, deactivated: !write.active)
        return Versioned(resource: userResource(record), version: record.version)
    }

    /// The directory removed the user: disabled, kept, no longer a SCIM resource.
    public func deleteUser(id: String, ifVersion: Int64?) async throws {
        _ = try await user(id: id)
        let effect = try await store.removeDirectoryUser(id: id, ifVersion: ifVersion, actor: actor, now: registry.now(), notice: notice)
        try await applied(effect, deactivated: true)
    }

    public func users(filter: SCIMFilter?, startIndex: Int, count: Int) async throws -> Page {
        let start = max(1, startIndex)
        guard let filter else {
            let (records, total) = try await store.directoryUsersPage(source: .scim, offset: start - 1, limit: count)
            return Page(resources: records.map(userResource), total: total, startIndex: start)
        }
        let candidates: [DirectoryUserRecord]
        if let (key, values) = Self.indexed(filter) {
            candidates = try await store.directoryUsers(source: .scim, where: key, in: values)
        } else {
            candidates = try await store.allDirectoryUsers(source: .scim)
        }
        let shape = SCIMResourceShape.user
        let matching = candidates.map(userResource).filter { filter.matches($0, coreSchema: SCIMSchema.userURI, caseExact: shape.caseExact) }
        return Page(resources: Array(matching.dropFirst(start - 1).prefix(count)), total: matching.count, startIndex: start)
    }

    /// The column a filter's equality on `userName`, `externalId` or `id` (alone, or and-ed with more) selects by.
    static func indexed(_ filter: SCIMFilter) -> (DirectoryUserKey, [String])? {
        switch filter {
        case .compare(let path, .eq, .string(let value)) where path.subAttribute == nil:
            switch path.name.lowercased() {
            case "username": return (.login, [value])
            case "externalid": return (.externalId, [value])
            case "id": return (.id, [value])
            default: return nil
            }
        case .and(let left, let right): return indexed(left) ?? indexed(right)
        case .or(let left, let right):
            guard let a = indexed(left), let b = indexed(right), a.0 == b.0 else { return nil }
            return (a.0, a.1 + b.1)
        default: return nil
        }
    }

    /// What the directory sent, as the PATCH operations start from: the stored attributes and the columns.
    func storedUser(_ record: DirectoryUserRecord) -> JSONValue {
        var members: [String: JSONValue] = if case .object(let stored) = record.attributes { stored } else { [:] }
        members["userName"] = .string(record.login)
        members["active"] = .bool(record.directoryActive)
        if let externalId = record.externalId { members["externalId"] = .string(externalId) }
        return .object(members)
    }

    func userResource(_ record: DirectoryUserRecord) -> JSONValue {
        guard case .object(var members) = storedUser(record) else { return .null }
        var schemas: [JSONValue] = [.string(SCIMSchema.userURI)]
        if members[SCIMSchema.enterpriseUserURI] != nil { schemas.append(.string(SCIMSchema.enterpriseUserURI)) }
        members["schemas"] = .array(schemas)
        members["id"] = .string(record.id)
        if !record.groups.isEmpty {
            members["groups"] = .array(
                record.groups.map {
                    .object(["value": .string($0.id), "display": .string($0.displayName), "$ref": .string("\(base)/Groups/\($0.id)")])
                })
        }
        members["meta"] = meta("User", id: record.id, created: record.createdAt, modified: record.modifiedAt, version: record.version)
        return .object(members)
    }

    /// A user's checked fields from a resource whose attributes are canonical (``resource(_:shape:)``).
    func userWrite(from resource: JSONValue) throws(SCIMProblem) -> DirectoryUserWrite {
        guard case .object(var members) = resource else { throw SCIMProblem(.invalidSyntax, "A user is a JSON object.") }
        members["schemas"] = nil
        guard case .string(let userName)? = members["userName"] else {
            throw SCIMProblem(.invalidValue, "userName is required: the user's login in the registry and the suite.")
        }
        let login: String
        do { login = try UserRules.login(userName) } catch {
            throw SCIMProblem(
                .invalidValue,
                "userName \(userName.prefix(80)) is not a login the suite takes: 1 to 64 letters or digits and . _ - @. Map another attribute to userName."
            )
        }
        var externalId: String?
        if let given = members["externalId"] {
            guard case .string(let text) = given, text.unicodeScalars.count <= 255 else {
                throw SCIMProblem(.invalidValue, "externalId is a string of at most 255 characters.")
            }
            externalId = text
        }
        var active = true
        if let given = members["active"] {
            guard case .bool(let flag) = given else { throw SCIMProblem(.invalidValue, "active is true or false.") }
            active = flag
        }
        let name: String
        do { name = try UserRules.name(Self.displayName(members) ?? login) } catch {
            throw SCIMProblem(.invalidValue, "displayName (or name) is 1 to 200 characters without control or formatting characters.")
        }
        let email = Self.email(members).flatMap { text in try? UserRules.email(text) } ?? ""
        for key in ["userName", "active", "externalId", "id", "meta", "groups", "password"] { members[key] = nil }
        return DirectoryUserWrite(login: login, name: name, email: email, externalId: externalId, active: active, attributes: .object(members))
    }

    /// The name the registry shows: `displayName`, else `name.formatted`, else the given and family names.
    static func displayName(_ members: [String: JSONValue]) -> String? {
        if case .string(let text)? = members["displayName"], !text.trimmingCharacters(in: .whitespaces).isEmpty { return text }
        guard case .object(let name)? = members["name"] else { return nil }
        if case .string(let text)? = name["formatted"], !text.trimmingCharacters(in: .whitespaces).isEmpty { return text }
        let parts = ["givenName", "middleName", "familyName"].compactMap { key -> String? in
            if case .string(let text)? = name[key], !text.isEmpty { return text }
            return nil
        }
        return parts.isEmpty ? nil : parts.joined(separator: " ")
    }

    /// The primary e-mail, else the work one, else the first.
    static func email(_ members: [String: JSONValue]) -> String? {
        guard case .array(let emails)? = members["emails"] else { return nil }
        let objects = emails.compactMap { value -> [String: JSONValue]? in if case .object(let o) = value { o } else { nil } }
        let chosen =
            objects.first { $0["primary"] == .bool(true) } ?? objects.first { $0["type"] == .string("work") } ?? objects.first
        if case .string(let text)? = chosen?["value"] { return text }
        return nil
    }

    // MARK: Groups

    public func group(id: String, members: Bool = true) async throws -> Versioned {
        guard let record = try await store.directoryGroup(id: id, members: members), record.source == .scim else {
            throw Self.notFound("Group", id)
        }
        return Versioned(resource: groupResource(record), version: record.version)
    }

    public func createGroup(_ body: JSONValue) async throws -> Versioned {
        let write = try groupWrite(from: try Self.resource(body, shape: .group))
        let (record, effect) = try await store.createDirectoryGroup(
            write, id: UUID().uuidString.lowercased(), source: .scim, actor: actor, now: registry.now(), notice: notice)
        try await applied(effect, deactivated: false)
        return Versioned(resource: groupResource(record), version: record.version)
    }

    public func replaceGroup(id: String, _ body: JSONValue, ifVersion: Int64?) async throws -> Versioned {
        _ = try await group(id: id, members: false)
        var write = try groupWrite(from: try Self.resource(body, shape: .group))
        if write.members == nil { write.members = [] }  // a PUT replaces the whole group: no members given is none
        return try await changeGroup(id: id, to: write, ifVersion: ifVersion)
    }

    public func patchGroup(id: String, _ body: JSONValue, ifVersion: Int64?) async throws -> Versioned {
        let operations = try SCIMPatch.operations(from: body)
        // The common case, members added and removed (up to 10,000 in a request), as set operations on the members.
        if let (adding, removing) = try Self.memberChanges(operations) {
            guard let record = try await store.directoryGroup(id: id, members: false), record.source == .scim else {
                throw Self.notFound("Group", id)
            }
            try RegistryStore.requireVersion(ifVersion, record.version)
            // Set operations: whatever another request changed meanwhile, these members join and leave.
            let (changed, effect) = try await store.changeDirectoryGroup(
                id: id, to: nil, adding: adding, removing: removing, ifVersion: ifVersion, actor: actor, now: registry.now(),
                guard: registry.removalGuard(actor: actor), notice: notice)
            try await applied(effect, deactivated: false)
            return Versioned(resource: groupResource(changed), version: changed.version)
        }
        return try await Self.readModifyWrite(ifVersion: ifVersion) {
            guard let record = try await store.directoryGroup(id: id, members: true), record.source == .scim else { throw Self.notFound("Group", id) }
            try RegistryStore.requireVersion(ifVersion, record.version)
            let patched = try SCIMPatch.apply(operations, to: storedGroup(record), shape: .group)
            var write = try groupWrite(from: patched)
            if write.members == nil { write.members = [] }
            return try await changeGroup(id: id, to: write, ifVersion: record.version)
        }
    }

    private func changeGroup(id: String, to write: DirectoryGroupWrite, ifVersion: Int64?) async throws -> Versioned {
        let (record, effect) = try await store.changeDirectoryGroup(
            id: id, to: write, ifVersion: ifVersion, actor: actor, now: registry.now(), guard: registry.removalGuard(actor: actor), notice: notice)
        try await applied(effect, deactivated: false)
        return Versioned(resource: groupResource(record), version: record.version)
    }

    public func deleteGroup(id: String, ifVersion: Int64?) async throws {
        _ = try await group(id: id, members: false)
        let effect = try await store.deleteDirectoryGroup(
            id: id, ifVersion: ifVersion, actor: actor, now: registry.now(), guard: registry.removalGuard(actor: actor), notice: notice)
        try await applied(effect, deactivated: false)
    }

    public func groups(filter: SCIMFilter?, startIndex: Int, count: Int, members: Bool) async throws -> Page {
        let start = max(1, startIndex)
        let needMembers = members || filter.map(Self.readsMembers) == true
        let records = try await store.directoryGroups(source: .scim, members: needMembers)
        let shape = SCIMResourceShape.group
        let matching = records.map(groupResource).filter { resource in
            filter.map { $0.matches(resource, coreSchema: SCIMSchema.groupURI, caseExact: shape.caseExact) } ?? true
        }
        return Page(resources: Array(matching.dropFirst(start - 1).prefix(count)), total: matching.count, startIndex: start)
    }

    static func readsMembers(_ filter: SCIMFilter) -> Bool {
        switch filter {
        case .and(let a, let b), .or(let a, let b): readsMembers(a) || readsMembers(b)
        case .not(let inner): readsMembers(inner)
        case .present(let path), .compare(let path, _, _), .valuePath(let path, _): path.name.lowercased() == "members"
        }
    }

    /// PATCH operations that only add members (`add` of `members`) or remove them (`remove` of `members` listing them,
    /// or of `members[value eq "id"]`): the member ids to add and to remove, in order; `nil` when any operation does
    /// something else.
    static func memberChanges(_ operations: [SCIMPatchOperation]) throws(SCIMProblem) -> (adding: [String], removing: [String])? {
        var adding: [String] = []
        var removing: [String] = []
        for operation in operations {
            guard let path = operation.path, path.attribute.name.lowercased() == "members", path.attribute.subAttribute == nil,
                path.subAttribute == nil, path.attribute.schema == nil || path.attribute.schema == SCIMSchema.groupURI.lowercased()
            else { return nil }
            switch (operation.op, path.filter) {
            case (.add, nil):
                adding += try memberIDs(operation.value)
            case (.remove, nil):
                guard let value = operation.value else { return nil }  // every member removed: the general path
                removing += try memberIDs(value)
            case (.remove, .compare(let valuePath, .eq, .string(let id))?)
            where valuePath.name.lowercased() == "value" && valuePath.subAttribute == nil:
                removing.append(id)
            default: return nil
            }
        }
        return (adding, removing)
    }

    static func memberIDs(_ value: JSONValue?) throws(SCIMProblem) -> [String] {
        let items: [JSONValue] =
            switch value {
            case .array(let list)?: list
            case let single?: [single]
            case nil: []
            }
        var ids: [String] = []
        for item in items {
            switch item {
            case .string(let id): ids.append(id)
            case .object(let fields):
                guard case .string(let id)? = SCIMPatch.member("value", of: fields) else {
                    throw SCIMProblem(.invalidValue, "Each member names a user by \"value\": the user's id.")
                }
                ids.append(id)
            default: throw SCIMProblem(.invalidValue, "Each member is an object {\"value\": \"<user id>\"}.")
            }
        }
        return ids
    }

    func storedGroup(_ record: DirectoryGroupRecord) -> JSONValue {
        var members: [String: JSONValue] = if case .object(let stored) = record.attributes { stored } else { [:] }
        members["displayName"] = .string(record.displayName)
        if let externalId = record.externalId { members["externalId"] = .string(externalId) }
        if !record.members.isEmpty { members["members"] = .array(record.members.map { .object(["value": .string($0.id)]) }) }
        return .object(members)
    }

    func groupResource(_ record: DirectoryGroupRecord) -> JSONValue {
        var members: [String: JSONValue] = if case .object(let stored) = record.attributes { stored } else { [:] }
        members["schemas"] = .array([.string(SCIMSchema.groupURI)])
        members["id"] = .string(record.id)
        members["displayName"] = .string(record.displayName)
        if let externalId = record.externalId { members["externalId"] = .string(externalId) }
        members["members"] = .array(
            record.members.map {
                .object(["value": .string($0.id), "display": .string($0.name), "type": "User", "$ref": .string("\(base)/Users/\($0.id)")])
            })
        members["meta"] = meta("Group", id: record.id, created: record.createdAt, modified: record.modifiedAt, version: record.version)
        return .object(members)
    }

    func groupWrite(from resource: JSONValue) throws(SCIMProblem) -> DirectoryGroupWrite {
        guard case .object(var members) = resource else { throw SCIMProblem(.invalidSyntax, "A group is a JSON object.") }
        members["schemas"] = nil
        guard case .string(let given)? = members["displayName"] else {
            throw SCIMProblem(.invalidValue, "displayName is required: the group's name, by which administrators link it to access groups.")
        }
        let displayName: String
        do { displayName = try UserRules.name(given) } catch {
            throw SCIMProblem(.invalidValue, "displayName is 1 to 200 characters without control or formatting characters.")
        }
        var externalId: String?
        if let value = members["externalId"] {
            guard case .string(let text) = value, text.unicodeScalars.count <= 255 else {
                throw SCIMProblem(.invalidValue, "externalId is a string of at most 255 characters.")
            }
            externalId = text
        }
        var memberIDs: [String]?
        if let value = members["members"] { memberIDs = try Self.memberIDs(value) }
        for key in ["displayName", "externalId", "members", "id", "meta"] { members[key] = nil }
        return DirectoryGroupWrite(displayName: displayName, externalId: externalId, attributes: .object(members), members: memberIDs)
    }

    // MARK: Common

    func meta(_ type: String, id: String, created: Date, modified: Date, version: Int64) -> JSONValue {
        .object([
            "resourceType": .string(type), "created": .string(Timestamp.format(created)), "lastModified": .string(Timestamp.format(modified)),
            "location": .string("\(base)/\(type)s/\(id)"), "version": .string(Self.etag(version)),
        ])
    }

    /// A POST or PUT body as its schema spells it: attribute names canonical, booleans as booleans (Entra's "True"),
    /// read-only attributes (`id`, `meta`, `groups`) left out as RFC 7644 section 3.3 says; an attribute the schema
    /// does not have is refused.
    static func resource(_ body: JSONValue, shape: SCIMResourceShape) throws(SCIMProblem) -> JSONValue {
        guard case .object(var members) = body else { throw SCIMProblem(.invalidSyntax, "The request body is a JSON object.") }
        for key in members.keys where ["id", "meta", "groups", "schemas"].contains(key.lowercased()) { members[key] = nil }
        if shape.core.id == SCIMSchema.groupURI {
            // Members' `display` and `$ref` are the service's to say; only `value` names a member.
            if let key = SCIMPatch.existingKey("members", in: members), case .array(let list)? = members[key] {
                members[key] = .array(
                    list.map { item in
                        guard case .object(let fields) = item, let value = SCIMPatch.member("value", of: fields) else { return item }
                        return .object(["value": value])
                    })
            }
        }
        return try SCIMPatch.apply([SCIMPatchOperation(op: .replace, value: .object(members))], to: .object([:]), shape: shape)
    }

    static func notFound(_ type: String, _ id: String) -> StoreError {
        StoreError(code: "UNKNOWN_RESOURCE", message: "There is no \(type) with the id \(id.prefix(80)).", kind: .notFound)
    }

    var notice: RegistryStore.Notice { registry.directoryNotice }

    /// Patches this instance's snapshot with what a directory write touched; a user who lost access loses their
    /// cached tokens too.
    func applied(_ effect: DirectoryEffect, deactivated: Bool) async throws {
        if deactivated { registry.tokenCache.removeAll() }
        guard !effect.change.isEmpty else { return }
        try await registry.access.apply(effect.change)
    }
}
