import Foundation
import KeywardDomain
import KeywardStore

/// `POST /api/v1/access-migrations`: move access groups (and their users' seats) from one key to another.
public struct AccessMigrationInput: Sendable, Hashable, Codable {
    public var from: String
    public var to: String
    /// Only these groups (by ID #); absent: every group on `from`.
    public var groups: [String]?
    public var dryRun: Bool?
    /// Drop menus the target's profile does not allow, rather than refusing.
    public var dropDisallowedMenus: Bool?

    public init(from: String, to: String, groups: [String]? = nil, dryRun: Bool? = nil, dropDisallowedMenus: Bool? = nil) {
        self.from = from
        self.to = to
        self.groups = groups
        self.dryRun = dryRun
        self.dropDisallowedMenus = dropDisallowedMenus
    }
}

/// What a migration does, or would do.
public struct AccessMigrationPlan: Sendable, Hashable, Codable {
    public struct Group: Sendable, Hashable, Codable {
        public let idNumber: String
        public let canMove: Bool
        public let reasons: [String]
        public let droppedMenus: [String]
        public let users: Int
    }

    /// Seats on a key before and after (nominative: assigned users; floating: `nil` counts, seats are taken at login).
    public struct Seats: Sendable, Hashable, Codable {
        public let keySerial: String
        public let useType: UseType
        public let limit: Int
        public let before: Int?
        public let after: Int?
    }

    public let from: Seats
    public let to: Seats
    public let groups: [Group]
    public let canMove: Bool
    public let reasons: [String]
    public let dryRun: Bool
    public let applied: Bool
}

extension Registry {
    public func migrateAccesses(_ input: AccessMigrationInput, actor: String) async throws -> AccessMigrationPlan {
        let (plan, chosen) = try await planAccessMigration(input)
        guard input.dryRun != true else { return plan }
        // Moving a group onto a valid key gives its menus back: a delegated manager moves only what they hold.
        for group in chosen { try requireHolds(group.menus, of: group.component, actor: actor) }
        guard plan.canMove else {
            let details = (try? JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(plan))).map { ["plan": $0] } ?? [:]
            throw RegistryError.refused(
                code: "MIGRATION_REFUSED", message: "The accesses cannot move: \(plan.reasons.joined(separator: "; ")).",
                kind: .conflict, details: details)
        }
        let moves = zip(chosen, plan.groups).map { group, planned in
            (idNumber: group.idNumber, menus: group.menus.filter { !planned.droppedMenus.contains($0) })
        }
        try await access.changing(AccessChange(groups: Set(moves.map(\.idNumber)))) {
            try await store.moveGroups(moves, to: plan.to.keySerial, from: plan.from.keySerial, actor: actor, now: now())
        }
        return AccessMigrationPlan(from: plan.from, to: plan.to, groups: plan.groups, canMove: true, reasons: [], dryRun: false, applied: true)
    }

    /// The plan, and the groups it moves in the plan's order.
    func planAccessMigration(_ input: AccessMigrationInput) async throws -> (AccessMigrationPlan, [AccessGroupRecord]) {
        func key(_ serial: String, field: String) async throws -> RegisteredKey {
            guard let key = try await store.key(serial.trimmingCharacters(in: .whitespaces)) else {
                throw RegistryError.invalid(FieldError(field: field, code: "UNKNOWN_KEY", message: "There is no registered key \(serial)."))
            }
            return key
        }
        let from = try await key(input.from, field: "from")
        let to = try await key(input.to, field: "to")
        guard from.serial != to.serial else {
            throw RegistryError.invalid(FieldError(field: "to", code: "SAME_KEY", message: "Choose another key to move the accesses to."))
        }
        let all = try await store.groups().filter { $0.keySerial == from.serial }
        var chosen = all
        if let names = input.groups {
            let folded = Set(names.map { $0.lowercased() })
            chosen = all.filter { folded.contains($0.idNumber.lowercased()) }
            let missing = names.filter { name in !all.contains { $0.idNumber.lowercased() == name.lowercased() } }
            guard missing.isEmpty else {
                throw RegistryError.refused(
                    code: "UNKNOWN_GROUP", message: "Key \(from.serial) has no access group \(missing.joined(separator: ", ")).", kind: .invalid,
                    details: ["field": "groups", "groups": .array(missing.map(JSONValue.string))])
            }
        }
        let drop = input.dropDisallowedMenus == true
        let groups = chosen.map { group -> AccessMigrationPlan.Group in
            var reasons: [String] = []
            var dropped: [String] = []
            if !to.license.components.contains(group.component) {
                reasons.append("COMPONENT_NOT_IN_KEY: \(to.serial) does not license \(group.component)")
            } else {
                let menus = catalog.component(group.component)?.menus ?? []
                let tooHigh = group.menus.filter { code in menus.first { $0.code == code }.map { !to.license.profile.includes($0.profile) } ?? false }
                if !tooHigh.isEmpty {
                    if drop {
                        dropped = tooHigh
                    } else {
                        reasons.append(
                            "MENU_NOT_ALLOWED_FOR_PROFILE: \(tooHigh.joined(separator: ", ")) need more than \(to.license.profile.rawValue)")
                    }
                }
                if drop, dropped.count == group.menus.count {
                    reasons.append("NO_MENUS_LEFT: every menu of the group is above \(to.license.profile.rawValue)")
                }
            }
            return AccessMigrationPlan.Group(
                idNumber: group.idNumber, canMove: reasons.isEmpty, reasons: reasons, droppedMenus: dropped, users: group.users.count)
        }
        // Seats before and after, by the same rules as everywhere: the model with the groups moved.
        var model = try await store.accessModel(catalog: catalog, covered: [], now: now())
        let before = SeatRules.nominativeHolders(model)
        let moving = Set(chosen.map(\.idNumber))
        for index in model.groups.indices where moving.contains(model.groups[index].idNumber) { model.groups[index].keySerial = to.serial }
        let after = SeatRules.nominativeHolders(model)
        func seats(_ key: RegisteredKey) -> AccessMigrationPlan.Seats {
            let nominative = key.license.useType == .nominative
            return AccessMigrationPlan.Seats(
                keySerial: key.serial, useType: key.license.useType, limit: key.license.users,
                before: nominative ? before[key.serial]?.count ?? 0 : nil, after: nominative ? after[key.serial]?.count ?? 0 : nil)
        }
        let toSeats = seats(to)
        var reasons = groups.flatMap { group in group.reasons.map { "\(group.idNumber): \($0)" } }
        if let needed = toSeats.after, let had = toSeats.before, needed > to.license.users, needed > had {
            reasons.append("SEAT_LIMIT_EXCEEDED: \(to.serial) has \(to.license.users) seats and would need \(needed)")
        }
        if all.isEmpty {
            reasons.append("NOTHING_TO_MOVE: no access group is bound to \(from.serial)")
        } else if chosen.isEmpty {
            reasons.append("NOTHING_TO_MOVE: no access group was chosen; tick at least one of the \(all.count) groups bound to \(from.serial)")
        }
        return (
            AccessMigrationPlan(
                from: seats(from), to: toSeats, groups: groups, canMove: reasons.isEmpty, reasons: reasons, dryRun: input.dryRun == true,
                applied: false), chosen
        )
    }
}
