import Foundation
import KeywardDomain
import SQLKit

// Read column by column, not with Codable row structs as the rest of the store: this load runs on every access change,
// over every user, group, member and session, and `scripts/bench-access` (the access change's end-to-end time) measures it.

/// Loads the access model the entitlement snapshot is compiled from, in one read snapshot.
extension RegistryStore {
    /// Everything the entitlement snapshot is compiled from. `covered` names the serials the activation in force covers,
    /// until `coveredUntil` when its certificate expires.
    public func accessModel(catalog: Catalog, covered: Set<String>, coveredUntil: Date? = nil, now: Date) async throws -> AccessModel {
        try await database.snapshot { sql in
            let users = try await sql.select().columns("login", "active", "builtin").from("registry_users").all().map {
                AccessModel.User(
                    login: try $0.decode(column: "login", as: String.self), active: try $0.decode(column: "active", as: Bool.self),
                    builtin: try $0.decode(column: "builtin", as: Bool.self))
            }
            var members: [Int64: [AccessModel.Member]] = [:]
            for row in try await sql.select().columns("id", "group_id", "login_folded").from("group_members").all() {
                members[try row.decode(column: "group_id", as: Int64.self), default: []].append(
                    AccessModel.Member(
                        login: try row.decode(column: "login_folded", as: String.self), order: try row.decode(column: "id", as: Int64.self)))
            }
            let groups = try await sql.select().columns("id", "id_number", "key_serial", "component", "menus", "active").from("access_groups")
                .orderBy("id").all()
                .map { row in
                    AccessModel.Group(
                        id: try row.decode(column: "id", as: Int64.self), idNumber: try row.decode(column: "id_number", as: String.self),
                        keySerial: try row.decode(column: "key_serial", as: String.self),
                        component: try row.decode(column: "component", as: String.self),
                        menus: try JSONDecoder().decode([String].self, from: Data(try row.decode(column: "menus", as: String.self).utf8)),
                        active: try row.decode(column: "active", as: Bool.self), members: members[try row.decode(column: "id", as: Int64.self)] ?? [])
                }
            let keys = try await Self.accessKeys(covered: covered, coveredUntil: coveredUntil, on: sql)
            let sessions = try await sql.raw(
                """
                SELECT s.id, s.key_serial, s.lease_expires_at, u.login FROM user_sessions s JOIN registry_users u ON u.login_folded = s.login_folded
                WHERE s.ended_at IS NULL AND s.lease_expires_at > \(bind: now.storedMilliseconds)
                """
            ).all().map { row in
                AccessModel.Session(
                    id: try row.decode(column: "id", as: String.self), login: try row.decode(column: "login", as: String.self),
                    keySerial: try row.decode(column: "key_serial", as: String.self),
                    leaseExpiresAt: Date(storedMilliseconds: try row.decode(column: "lease_expires_at", as: Int64.self)))
            }
            return AccessModel(users: users, groups: groups, keys: keys, sessions: sessions, catalog: catalog)
        }
    }

    static func accessKeys(covered: Set<String>, coveredUntil: Date?, on sql: any SQLDatabase) async throws -> [AccessModel.Key] {
        try await sql.select().columns("*").from("registered_keys").all().map(Self.key).map { key in
            AccessModel.Key(
                serial: key.serial, profile: key.license.profile, useType: key.license.useType, users: key.license.users,
                components: key.license.components, validFrom: key.license.validFrom, expiresAt: key.license.expiresAt,
                revoked: key.revokedAt != nil, covered: covered.contains(key.serial), coveredUntil: coveredUntil)
        }
    }

    /// What `change` touched, as it is now, in one read snapshot: the patch the entitlement snapshot applies instead of
    /// loading the whole model. Reads only the touched users, groups and assignments (and the keys, a few dozen rows).
    public func accessPatch(for change: AccessChange, covered: Set<String>, coveredUntil: Date?) async throws -> AccessPatch {
        try await database.snapshot { sql in
            var patch = AccessPatch()
            let logins = Array(Set(change.users.map(Self.fold)))
            for chunk in logins.chunked(500) {
                var memberships: [String: [AccessPatch.Assignment]] = [:]
                let binds = SQLList(chunk.map { SQLBind($0) })
                for row in try await sql.raw("SELECT id, group_id, login_folded FROM group_members WHERE login_folded IN (\(binds))").all() {
                    memberships[try row.decode(column: "login_folded", as: String.self), default: []].append(
                        AccessPatch.Assignment(
                            group: try row.decode(column: "group_id", as: Int64.self), order: try row.decode(column: "id", as: Int64.self)))
                }
                var found: Set<String> = []
                for row in try await sql.raw("SELECT login_folded, login, active, builtin FROM registry_users WHERE login_folded IN (\(binds))").all()
                {
                    let folded = try row.decode(column: "login_folded", as: String.self)
                    let user = AccessModel.User(
                        login: try row.decode(column: "login", as: String.self), active: try row.decode(column: "active", as: Bool.self),
                        builtin: try row.decode(column: "builtin", as: Bool.self))
                    found.insert(folded)
                    patch.users[AccessModel.fold(user.login)] = .some(AccessPatch.UserRow(user: user, memberships: memberships[folded] ?? []))
                }
                for login in chunk where !found.contains(login) { patch.users[AccessModel.fold(login)] = .some(nil) }
            }
            for idNumber in Set(change.groups.map(Self.fold)) {
                guard
                    let row = try await sql.select().columns("id", "id_number", "key_serial", "component", "menus", "active").from("access_groups")
                        .where("id_number_folded", .equal, idNumber).first()
                else {
                    patch.groups[idNumber] = .some(nil)
                    continue
                }
                let id = try row.decode(column: "id", as: Int64.self)
                let members = try await sql.select().columns("id", "login_folded").from("group_members").where("group_id", .equal, id).all().map {
                    AccessModel.Member(
                        login: try $0.decode(column: "login_folded", as: String.self), order: try $0.decode(column: "id", as: Int64.self))
                }
                patch.groups[idNumber] = AccessModel.Group(
                    id: id, idNumber: try row.decode(column: "id_number", as: String.self),
                    keySerial: try row.decode(column: "key_serial", as: String.self), component: try row.decode(column: "component", as: String.self),
                    menus: try JSONDecoder().decode([String].self, from: Data(try row.decode(column: "menus", as: String.self).utf8)),
                    active: try row.decode(column: "active", as: Bool.self), members: members)
            }
            for (idNumber, logins) in change.assignments {
                guard let id = try await Self.groupID(idNumber, on: sql) else { continue }
                for chunk in Array(Set(logins.map(Self.fold))).chunked(500) {
                    var orders: [String: Int64] = [:]
                    for row in try await sql.select().columns("id", "login_folded").from("group_members").where("group_id", .equal, id)
                        .where("login_folded", .in, Array(chunk)).all()
                    {
                        orders[try row.decode(column: "login_folded", as: String.self)] = try row.decode(column: "id", as: Int64.self)
                    }
                    for login in chunk { patch.assignments[AccessPatch.Pair(group: id, login: login)] = .some(orders[login]) }
                }
            }
            if change.keys { patch.keys = try await Self.accessKeys(covered: covered, coveredUntil: coveredUntil, on: sql) }
            return patch
        }
    }
}

/// What one access change touched, named by the registry's operations after they commit: the store reads these back
/// (``RegistryStore/accessPatch(for:covered:coveredUntil:)``) for the entitlement snapshot to patch itself with.
public struct AccessChange: Sendable, Hashable, Codable {
    /// Users whose row or groups changed (created, edited, disabled, enabled, imported).
    public var users: Set<String>
    /// Access groups whose row changed (created, edited, activated, deleted, migrated): by ID #, old and new on a rename.
    public var groups: Set<String>
    /// Users added to or removed from a group, by the group's ID #.
    public var assignments: [String: Set<String>]
    /// Whether keys changed (registered, renewed, revoked, removed) or the activation in force did.
    public var keys: Bool

    public init(users: Set<String> = [], groups: Set<String> = [], assignments: [String: Set<String>] = [:], keys: Bool = false) {
        self.users = users
        self.groups = groups
        self.assignments = assignments
        self.keys = keys
    }

    public static func users(_ logins: some Sequence<String>) -> AccessChange { AccessChange(users: Set(logins)) }
    public static func groups(_ idNumbers: String...) -> AccessChange { AccessChange(groups: Set(idNumbers)) }
    public static func assignments(_ logins: some Sequence<String>, group idNumber: String) -> AccessChange {
        AccessChange(assignments: [idNumber: Set(logins)])
    }
    public static let keys = AccessChange(keys: true)

    /// Whether the change touches nothing.
    public var isEmpty: Bool { users.isEmpty && groups.isEmpty && assignments.isEmpty && !keys }
}

/// What one registry instance tells the others on the same PostgreSQL database when it changes access (sent with the
/// change's transaction, see ``KeywardDatabase/notifying(_:_:)``), so they patch their snapshots at once instead of at
/// the next poll.
public struct AccessNotification: Sendable, Hashable, Codable {
    public static let channel = "keyward_access"
    /// PostgreSQL takes payloads under 8,000 bytes; a change too large to describe asks for a rebuild.
    static let largestPayload = 7_900

    public enum Message: Sendable, Hashable, Codable {
        /// Users, groups, assignments or keys changed: patch.
        case change(AccessChange)
        /// A session opened, renewed or ended (by id), or every session of a user changed (by login).
        case session(id: String)
        case renewed(ids: [String])
        case sessions(login: String)
        /// Many sessions ended (a disconnection of everyone).
        case allSessions
        /// Too much changed to say (a synchronization, a large import, a new catalog): rebuild.
        case rebuild
    }

    /// The instance that made the change, which ignores its own notifications.
    public var origin: String
    public var message: Message

    public init(origin: String, message: Message) {
        self.origin = origin
        self.message = message
    }

    /// The notification to send: this one, or a rebuild when it would not fit in a payload.
    public var notification: KeywardDatabase.Notification {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var text = (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        if text.utf8.count > Self.largestPayload || text.isEmpty {
            text = String(decoding: (try? encoder.encode(AccessNotification(origin: origin, message: .rebuild))) ?? Data(), as: UTF8.self)
        }
        return KeywardDatabase.Notification(channel: Self.channel, payload: text)
    }

    /// A received payload, or nil when it is not one of ours.
    public static func decode(_ payload: String) -> AccessNotification? {
        try? JSONDecoder().decode(AccessNotification.self, from: Data(payload.utf8))
    }
}

extension Array {
    /// The array in consecutive pieces of at most `size`.
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
