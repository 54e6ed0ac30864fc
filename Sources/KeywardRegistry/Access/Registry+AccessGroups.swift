import Foundation
import KeywardDomain
import KeywardStore

/// An access group as the API takes it: `{idNumber, name, keySerial, component, menus, active, users?}`.
public struct AccessGroupInput: Sendable, Hashable, Codable {
    public var idNumber: String
    public var name: String
    public var keySerial: String
    public var component: String
    public var menus: [String]
    public var active: Bool?
    public var users: [String]?

    public init(idNumber: String, name: String, keySerial: String, component: String, menus: [String], active: Bool? = nil, users: [String]? = nil) {
        self.idNumber = idNumber
        self.name = name
        self.keySerial = keySerial
        self.component = component
        self.menus = menus
        self.active = active
        self.users = users
    }
}

extension Registry {
    /// Checks a group against its key and the catalog: the component is in the key, every menu is the component's,
    /// and none is above the key's profile.
    func validGroup(_ input: AccessGroupInput, boundTo current: String? = nil) async throws -> AccessGroupRecord {
        let idNumber = try Self.validIDNumber(input.idNumber)
        let name = try UserRules.name(input.name)
        guard let key = try await store.key(input.keySerial.trimmingCharacters(in: .whitespaces)) else {
            throw RegistryError.invalid(
                FieldError(
                    field: "keySerial", code: "UNKNOWN_KEY",
                    message: "There is no registered key \(input.keySerial). Pick one from the License key list."))
        }
        // A revoked key grants nothing: binding a group to it would leave its users without access and say nothing.
        // A group already on it may still be edited (and its accesses migrated).
        if key.revokedAt != nil, key.serial != current {
            throw RegistryError.refused(
                code: "KEY_REVOKED",
                message:
                    "Key \(key.name) was revoked by the vendor\(key.revocationReason.map { " (\($0))" } ?? ""); it grants nothing. Choose another key.",
                kind: .conflict, details: ["field": "keySerial", "keySerial": .string(key.serial)])
        }
        let component = input.component.trimmingCharacters(in: .whitespaces)
        guard key.license.components.contains(component) else {
            throw RegistryError.refused(
                code: "COMPONENT_NOT_IN_KEY",
                message: "Key \(key.name) does not license the component \(component); it has \(key.license.components.joined(separator: ", ")).",
                kind: .invalid, details: ["field": "component", "keyComponents": .array(key.license.components.map(JSONValue.string))])
        }
        var seen: Set<String> = []
        let menus = input.menus.map { $0.trimmingCharacters(in: .whitespaces) }.filter { seen.insert($0).inserted }
        guard !menus.isEmpty, menus.count <= 500 else {
            throw RegistryError.invalid(FieldError(field: "menus", code: "INVALID_MENUS", message: "Choose at least one menu the group grants."))
        }
        let catalogMenus = catalog.component(component)?.menus ?? []
        let unknown = menus.filter { code in !catalogMenus.contains { $0.code == code } }
        guard unknown.isEmpty else {
            throw RegistryError.refused(
                code: "UNKNOWN_MENU", message: "The component \(component) has no menu \(unknown.prefix(10).joined(separator: ", ")).",
                kind: .invalid, details: ["field": "menus", "menus": .array(unknown.map(JSONValue.string))])
        }
        let tooHigh = menus.filter { code in catalogMenus.first { $0.code == code }.map { !key.license.profile.includes($0.profile) } ?? false }
        guard tooHigh.isEmpty else {
            throw RegistryError.refused(
                code: "MENU_NOT_ALLOWED_FOR_PROFILE",
                message:
                    "Key \(key.name) is a \(key.license.profile.rawValue) key; these menus need a higher profile: \(tooHigh.joined(separator: ", ")).",
                kind: .invalid,
                details: ["field": "menus", "menus": .array(tooHigh.map(JSONValue.string)), "profile": .string(key.license.profile.rawValue)])
        }
        let users = try (input.users ?? []).map { text throws(RegistryError) in try UserRules.login(text) }
        return AccessGroupRecord(
            idNumber: idNumber, name: name, keySerial: key.serial, component: component, menus: menus, active: input.active ?? true, users: users)
    }

    public func createGroup(_ input: AccessGroupInput, actor: String) async throws -> AccessGroupRecord {
        let record = try await validGroup(input)
        try requireHolds(record.menus, of: record.component, actor: actor)
        return try await access.changing(.groups(record.idNumber)) { try await store.createGroup(record, actor: actor, now: now()) }
    }

    /// Replaces a group's fields; its users stay (they move with it to another key, seats permitting).
    public func updateGroup(_ idNumber: String, _ input: AccessGroupInput, actor: String) async throws -> AccessGroupRecord {
        var record = try await validGroup(
            AccessGroupInput(
                idNumber: input.idNumber, name: input.name, keySerial: input.keySerial, component: input.component,
                menus: input.menus, active: input.active),
            boundTo: try await store.grant(ofGroup: idNumber)?.keySerial)
        record.users = []
        try await requireMayChange(group: idNumber, actor: actor)
        try requireHolds(record.menus, of: record.component, actor: actor)
        let updated = try await access.changing(.groups(idNumber, record.idNumber)) {
            try await store.updateGroup(idNumber, to: record, actor: actor, now: now())
        }
        await retryAssignmentErrorsAfterChange()
        return updated
    }

    public func deleteGroup(_ idNumber: String, actor: String) async throws {
        try await requireMayChange(group: idNumber, actor: actor)
        try await access.changing(.groups(idNumber)) { try await store.deleteGroup(idNumber, actor: actor, now: now()) }
        await retryAssignmentErrorsAfterChange()
    }

    /// Adds or removes many users at once: all of them, or none.
    public func changeMembers(_ idNumber: String, add: Bool, logins: [String], actor: String) async throws -> AccessGroupRecord {
        guard !logins.isEmpty, logins.count <= 10_000 else {
            throw RegistryError.invalid(FieldError(field: "logins", code: "INVALID_LOGINS", message: "Give 1 to 10,000 logins."))
        }
        let valid = try logins.map { text throws(RegistryError) in try UserRules.login(text) }
        try await requireMayChange(group: idNumber, actor: actor)
        let group = try await access.changing(.assignments(valid, group: idNumber)) {
            add
                ? try await store.addUsers(valid, toGroup: idNumber, actor: actor, now: now())
                : try await store.removeUsers(valid, fromGroup: idNumber, actor: actor, now: now())
        }
        if !add { await retryAssignmentErrorsAfterChange() }
        return group
    }
}
