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
            let groups = try await sql.select().columns("id", "id_number", "key_serial", "component", "menus", "active").from("access_groups").all()
                .map { row in
                    AccessModel.Group(
                        idNumber: try row.decode(column: "id_number", as: String.self),
                        keySerial: try row.decode(column: "key_serial", as: String.self),
                        component: try row.decode(column: "component", as: String.self),
                        menus: try JSONDecoder().decode([String].self, from: Data(try row.decode(column: "menus", as: String.self).utf8)),
                        active: try row.decode(column: "active", as: Bool.self), members: members[try row.decode(column: "id", as: Int64.self)] ?? [])
                }
            let keys = try await sql.select().columns("*").from("registered_keys").all().map(Self.key).map { key in
                AccessModel.Key(
                    serial: key.serial, profile: key.license.profile, useType: key.license.useType, users: key.license.users,
                    components: key.license.components, validFrom: key.license.validFrom, expiresAt: key.license.expiresAt,
                    revoked: key.revokedAt != nil, covered: covered.contains(key.serial), coveredUntil: coveredUntil)
            }
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
}
