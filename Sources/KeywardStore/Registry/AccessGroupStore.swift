import Foundation
import KeywardDomain
import SQLKit

extension RegistryStore {
    // MARK: Reading

    /// Every access group with its users, by ID #.
    public func groups() async throws -> [AccessGroupRecord] {
        try await database.read { sql in try await Self.groups(where: nil, on: sql) }
    }

    public func group(_ idNumber: String) async throws -> AccessGroupRecord? {
        try await database.read { sql in try await Self.groups(where: Self.fold(idNumber), on: sql).first }
    }

    /// Group `idNumber`'s ID # as it was written, without reading its members; `nil` when there is no such group.
    public func groupIDNumber(_ idNumber: String) async throws -> String? {
        try await database.read { sql in
            try await sql.select().column("id_number").from("access_groups").where("id_number_folded", .equal, Self.fold(idNumber)).first()?
                .decode(column: "id_number", as: String.self)
        }
    }

    /// What the groups that list `login` grant, active or not, by component: the menus the user holds or may hold
    /// again when a group is switched back on.
    public func menusGranted(to login: String) async throws -> [String: Set<String>] {
        try await database.read { sql in
            let rows = try await sql.select().column(SQLColumn("component", table: "g")).column(SQLColumn("menus", table: "g"))
                .from(SQLAlias(SQLIdentifier("access_groups"), as: SQLIdentifier("g")))
                .join(
                    SQLAlias(SQLIdentifier("group_members"), as: SQLIdentifier("m")), on: SQLColumn("group_id", table: "m"), .equal,
                    SQLColumn("id", table: "g")
                )
                .where(SQLColumn("login_folded", table: "m"), .equal, SQLBind(Self.fold(login)))
                .all(decoding: GrantRow.self, with: .columns)
            var granted: [String: Set<String>] = [:]
            for row in rows {
                granted[row.component, default: []].formUnion(try JSONDecoder().decode([String].self, from: Data(row.menus.utf8)))
            }
            return granted
        }
    }

    /// The key, component and menus of group `idNumber`, without its members; `nil` when there is no such group.
    public func grant(ofGroup idNumber: String) async throws -> (keySerial: String, component: String, menus: [String])? {
        try await database.read { sql in
            guard
                let row = try await sql.select().columns("key_serial", "component", "menus").from("access_groups")
                    .where("id_number_folded", .equal, Self.fold(idNumber)).first(decoding: GrantRow.self, with: .columns)
            else { return nil }
            return (row.keySerial ?? "", row.component, try JSONDecoder().decode([String].self, from: Data(row.menus.utf8)))
        }
    }

    static func groups(where folded: String?, on sql: any SQLDatabase) async throws -> [AccessGroupRecord] {
        var query = sql.select().columns("id", "id_number", "name", "key_serial", "component", "menus", "active").from("access_groups")
        if let folded { query = query.where("id_number_folded", .equal, folded) }
        let rows = try await query.orderBy("id_number_folded").all(decoding: GroupRow.self, with: .columns)
        var members: [Int64: [String]] = [:]
        var membersQuery = sql.select().column(SQLColumn("group_id", table: "m")).column(SQLColumn("login", table: "u")).from(
            SQLAlias(SQLIdentifier("group_members"), as: SQLIdentifier("m"))
        )
        .join(
            SQLAlias(SQLIdentifier("registry_users"), as: SQLIdentifier("u")), on: SQLColumn("login_folded", table: "u"), .equal,
            SQLColumn("login_folded", table: "m"))
        if folded != nil, let id = rows.first?.id { membersQuery = membersQuery.where(SQLColumn("group_id", table: "m"), .equal, SQLBind(id)) }
        if folded == nil || !rows.isEmpty {
            // Column by column: a group holds up to 10,000 members, read back after every change to it, and Codable row
            // decoding costs several times as much per row.
            for row in try await membersQuery.orderBy(SQLColumn("id", table: "m")).all() {
                members[try row.decode(column: "group_id", as: Int64.self), default: []].append(try row.decode(column: "login", as: String.self))
            }
        }
        return try rows.map { row in
            AccessGroupRecord(
                idNumber: row.idNumber, name: row.name, keySerial: row.keySerial, component: row.component,
                menus: try JSONDecoder().decode([String].self, from: Data(row.menus.utf8)), active: row.active, users: members[row.id] ?? [])
        }
    }

    // MARK: Writing

    /// Creates a group with its first users: all of them fit on the key, or nothing is written.
    public func createGroup(_ group: AccessGroupRecord, actor: String, now: Date) async throws -> AccessGroupRecord {
        let kind = database.kind
        return try await database.write { sql in
            guard try await Self.key(group.keySerial, on: sql) != nil else { throw Self.unknownKey(group.keySerial) }
            let logins = try await Self.existingLogins(group.users, on: sql)
            try await Self.requireSeats(on: group.keySerial, for: Set(logins.map { Self.fold($0) }), kind: kind, on: sql)
            let new = NewGroupRow(
                idNumber: group.idNumber, idNumberFolded: Self.fold(group.idNumber), name: group.name, keySerial: group.keySerial,
                component: group.component, menus: try Self.menusText(group.menus), active: group.active,
                createdAt: now.storedMilliseconds, updatedAt: now.storedMilliseconds)
            let row = try await sql.insert(into: "access_groups").model(new, with: .columns)
                .ignoringConflicts().returning("id").first()
            guard let id = try row?.decode(column: "id", as: Int64.self) else { throw Self.duplicateGroup(group.idNumber) }
            try await Self.addMembers(logins, to: id, now: now, on: sql)
            try await AuditLog.append(
                .init(
                    actor: actor, action: "access-group.created", target: "access-group:\(group.idNumber)",
                    details: ["keySerial": .string(group.keySerial), "component": .string(group.component), "users": .int(logins.count)]),
                at: now, on: sql)
            return try await Self.groups(where: Self.fold(group.idNumber), on: sql)[0]
        }
    }

    /// Replaces a group's fields (not its users). Binding it to another key needs a seat there for each of its users.
    public func updateGroup(_ idNumber: String, to group: AccessGroupRecord, actor: String, now: Date) async throws -> AccessGroupRecord {
        let kind = database.kind
        return try await database.write { sql in
            guard let current = try await Self.groups(where: Self.fold(idNumber), on: sql).first, let id = try await Self.groupID(idNumber, on: sql)
            else {
                throw StoreError.unknownGroup(idNumber)
            }
            if group.keySerial != current.keySerial {
                guard try await Self.key(group.keySerial, on: sql) != nil else { throw Self.unknownKey(group.keySerial) }
                try await Self.requireSeats(on: group.keySerial, for: Set(current.users.map { Self.fold($0) }), kind: kind, on: sql)
            }
            if Self.fold(group.idNumber) != Self.fold(idNumber), try await Self.groupID(group.idNumber, on: sql) != nil {
                throw Self.duplicateGroup(group.idNumber)
            }
            try await sql.update("access_groups").set("id_number", to: group.idNumber).set("id_number_folded", to: Self.fold(group.idNumber))
                .set("name", to: group.name).set("key_serial", to: group.keySerial).set("component", to: group.component)
                .set("menus", to: try Self.menusText(group.menus)).set("active", to: group.active).set("updated_at", to: now.storedMilliseconds)
                .where("id", .equal, id).run()
            try await AuditLog.append(
                .init(
                    actor: actor, action: "access-group.changed", target: "access-group:\(group.idNumber)",
                    details: ["keySerial": .string(group.keySerial), "active": .bool(group.active)]), at: now, on: sql)
            return try await Self.groups(where: Self.fold(group.idNumber), on: sql)[0]
        }
    }

    public func deleteGroup(_ idNumber: String, actor: String, now: Date) async throws {
        try await database.write { sql in
            guard let id = try await Self.groupID(idNumber, on: sql) else { throw StoreError.unknownGroup(idNumber) }
            try await sql.delete(from: "group_members").where("group_id", .equal, id).run()
            try await sql.delete(from: "access_groups").where("id", .equal, id).run()
            try await AuditLog.append(.init(actor: actor, action: "access-group.deleted", target: "access-group:\(idNumber)"), at: now, on: sql)
        }
    }

    /// Adds users to a group: every one exists and fits on the key, or nothing changes. Users already in it are left.
    public func addUsers(_ logins: [String], toGroup idNumber: String, actor: String, now: Date) async throws -> AccessGroupRecord {
        let kind = database.kind
        return try await database.write { sql in
            guard
                let group = try await sql.select().columns("id", "id_number", "key_serial").from("access_groups")
                    .where("id_number_folded", .equal, Self.fold(idNumber)).first()
            else {
                throw StoreError.unknownGroup(idNumber)
            }
            let id = try group.decode(column: "id", as: Int64.self)
            let existing = try await Self.existingLogins(logins, on: sql)
            // Only the given users are looked up among the members, not the whole group read.
            var present: Set<String> = []
            for batch in existing.map({ Self.fold($0) }).chunked(500) {
                for row in try await sql.select().column("login_folded").from("group_members").where("group_id", .equal, id)
                    .where("login_folded", .in, Array(batch)).all()
                {
                    present.insert(try row.decode(column: "login_folded", as: String.self))
                }
            }
            let new = existing.filter { !present.contains(Self.fold($0)) }
            try await Self.requireSeats(
                on: try group.decode(column: "key_serial", as: String.self), for: Set(new.map { Self.fold($0) }), kind: kind, on: sql)
            try await Self.addMembers(new, to: id, now: now, on: sql)
            // Users the group had through a directory group are now added directly too; those who waited for a seat
            // here have one now.
            for batch in existing.map({ Self.fold($0) }).chunked(500) {
                try await sql.update("group_members").set("direct", to: true).where("group_id", .equal, id).where("login_folded", .in, Array(batch))
                    .run()
                try await sql.delete(from: "assignment_errors").where("access_group_id", .equal, id).where("login_folded", .in, Array(batch)).run()
            }
            try await AuditLog.append(
                .init(
                    actor: actor, action: "access-group.users-added",
                    target: "access-group:\(try group.decode(column: "id_number", as: String.self))",
                    details: ["logins": .array(new.map(JSONValue.string))]), at: now, on: sql)
            return try await Self.groups(where: Self.fold(idNumber), on: sql)[0]
        }
    }

    /// Removes users from a group; each must exist. Users not in it are ignored.
    public func removeUsers(_ logins: [String], fromGroup idNumber: String, actor: String, now: Date) async throws -> AccessGroupRecord {
        let kind = database.kind
        return try await database.write { sql in
            guard let id = try await Self.groupID(idNumber, on: sql) else { throw StoreError.unknownGroup(idNumber) }
            let existing = try await Self.existingLogins(logins, on: sql)
            for batch in existing.map({ Self.fold($0) }).chunked(500) {
                // Users the group also takes from a linked directory group stay, no longer added directly.
                try await sql.update("group_members").set("direct", to: false).where("group_id", .equal, id).where("login_folded", .in, Array(batch))
                    .run()
                try await sql.delete(from: "assignment_errors").where("access_group_id", .equal, id).where("login_folded", .in, Array(batch))
                    .where("direct", .equal, true).run()
            }
            if !existing.isEmpty {
                _ = try await Self.reconcile(
                    accessGroups: [id], logins: Set(existing.map { Self.fold($0) }), kind: kind, now: now, on: sql)
            }
            try await AuditLog.append(
                .init(
                    actor: actor, action: "access-group.users-removed", target: "access-group:\(idNumber)",
                    details: ["logins": .array(existing.map(JSONValue.string))]), at: now, on: sql)
            return try await Self.groups(where: Self.fold(idNumber), on: sql)[0]
        }
    }

    // MARK: Seats

    /// Refuses with `SEAT_LIMIT_EXCEEDED` unless a nominative key has a seat for each of `logins` (folded) that does not
    /// hold one yet. Active users only: disabled ones hold none. On PostgreSQL the key's row is locked first, so two
    /// requests for the last seats take turns; on SQLite the single writer already serializes them.
    /// `enabling` counts the users as active: they are about to be.
    static func requireSeats(on serial: String, for logins: Set<String>, kind: DatabaseKind, enabling: Bool = false, on sql: any SQLDatabase)
        async throws
    {
        let lock = kind == .postgres ? " FOR UPDATE" : ""
        guard
            let key = try await sql.raw("SELECT use_type, users, id_number FROM registered_keys WHERE serial = \(bind: serial)\(unsafeRaw: lock)")
                .first()
        else {
            throw unknownKey(serial)
        }
        guard try key.decode(column: "use_type", as: String.self) == UseType.nominative.rawValue, !logins.isEmpty else { return }
        let limit = try key.decode(column: "users", as: Int.self)
        // Counted, and only the requested users looked up among the holders: a key's holders are not read row by row.
        let holders = """
            FROM group_members m JOIN access_groups g ON g.id = m.group_id JOIN registry_users u ON u.login_folded = m.login_folded
            WHERE g.key_serial = \(bind: serial) AND u.active = \(bind: true) AND u.builtin = \(bind: false)
            """ as SQLQueryString
        let inUse =
            try await sql.raw("SELECT COUNT(DISTINCT m.login_folded) AS n \(holders)").first()?.decode(column: "n", as: Int.self) ?? 0
        var holding: Set<String> = []
        for batch in Array(logins).chunked(500) {
            let named = SQLList(batch.map { SQLBind($0) })
            for row in try await sql.raw("SELECT DISTINCT m.login_folded AS login \(holders) AND m.login_folded IN (\(named))").all() {
                holding.insert(try row.decode(column: "login", as: String.self))
            }
        }
        let eligible = enabling ? logins : try await activeLogins(Array(logins), on: sql)
        let requested = eligible.subtracting(holding).count
        if requested > 0, SeatRules.adding(inUse, requested) > limit {
            throw StoreError.seatLimit(
                SeatShortage(
                    keySerial: serial, keyIdNumber: try key.decode(column: "id_number", as: String.self), limit: limit,
                    inUse: inUse, requested: requested))
        }
    }

    /// Of `logins` (folded), those of active, non-built-in users.
    static func activeLogins(_ logins: [String], on sql: any SQLDatabase) async throws -> Set<String> {
        var result: Set<String> = []
        for batch in stride(from: 0, to: logins.count, by: 500).map({ Array(logins[$0..<min($0 + 500, logins.count)]) }) {
            result.formUnion(
                try await sql.select().column("login_folded").from("registry_users").where("login_folded", .in, batch)
                    .where("active", .equal, true).where("builtin", .equal, false).all().map {
                        try $0.decode(column: "login_folded", as: String.self)
                    })
        }
        return result
    }

    /// The stored spelling of each login, in the order given, without repeats; `UNKNOWN_USER` naming any that do not exist
    /// (the built-in administrator is not a suite user).
    static func existingLogins(_ logins: [String], on sql: any SQLDatabase) async throws -> [String] {
        var seen: Set<String> = []
        let folded = logins.map { fold($0) }.filter { seen.insert($0).inserted }
        var found: [String: String] = [:]
        for batch in stride(from: 0, to: folded.count, by: 500).map({ Array(folded[$0..<min($0 + 500, folded.count)]) }) {
            for row in try await sql.select().columns("login_folded", "login").from("registry_users").where("login_folded", .in, batch)
                .where("builtin", .equal, false).all()
            {
                found[try row.decode(column: "login_folded", as: String.self)] = try row.decode(column: "login", as: String.self)
            }
        }
        let missing = folded.filter { found[$0] == nil }
        guard missing.isEmpty else { throw StoreError.unknownUsers(missing) }
        return folded.compactMap { found[$0] }
    }

    static func addMembers(_ logins: [String], to group: Int64, now: Date, on sql: any SQLDatabase) async throws {
        for batch in stride(from: 0, to: logins.count, by: 200).map({ logins[$0..<min($0 + 200, logins.count)] }) {
            var insert = sql.insert(into: "group_members").columns("group_id", "login_folded", "assigned_at")
            for login in batch { insert = insert.values(SQLBind(group), SQLBind(fold(login)), SQLBind(now.storedMilliseconds)) }
            try await insert.ignoringConflicts().run()
        }
    }

    static func groupID(_ idNumber: String, on sql: any SQLDatabase) async throws -> Int64? {
        try await sql.select().column("id").from("access_groups").where("id_number_folded", .equal, fold(idNumber)).first()?.decode(
            column: "id", as: Int64.self)
    }

    static func menusText(_ menus: [String]) throws -> String { String(decoding: try JSONEncoder().encode(menus), as: UTF8.self) }

    static func duplicateGroup(_ idNumber: String) -> StoreError {
        StoreError(
            code: "DUPLICATE_GROUP", message: "Another access group already has the ID # \"\(idNumber)\" (ignoring case). Choose another one.",
            kind: .conflict, details: ["field": "idNumber"])
    }

    /// `KEY_IN_USE` when access groups are bound to the key.
    static func requireUnused(_ serial: String, on sql: any SQLDatabase) async throws {
        let bound = try await sql.select().column("id_number").from("access_groups").where("key_serial", .equal, serial).orderBy("id_number_folded")
            .all()
            .map { try $0.decode(column: "id_number", as: String.self) }
        guard bound.isEmpty else {
            throw StoreError(
                code: "KEY_IN_USE",
                message:
                    "Access groups are bound to this key (\(bound.prefix(5).joined(separator: ", "))\(bound.count > 5 ? ", ..." : "")). Migrate their accesses to another key or delete them first.",
                kind: .conflict, details: ["groups": .array(bound.map(JSONValue.string))])
        }
    }
}

extension RegistryStore {
    /// Moves groups to another key in one transaction, with their (possibly trimmed) menus; the target must have a
    /// seat for every user it does not hold yet, checked here again under the key's lock.
    public func moveGroups(_ moves: [(idNumber: String, menus: [String])], to serial: String, from source: String, actor: String, now: Date)
        async throws
    {
        let kind = database.kind
        try await database.write { sql in
            var logins: Set<String> = []
            var ids: [Int64] = []
            for move in moves {
                guard let group = try await Self.groups(where: Self.fold(move.idNumber), on: sql).first, group.keySerial == source,
                    let id = try await Self.groupID(move.idNumber, on: sql)
                else { throw StoreError.unknownGroup(move.idNumber) }
                logins.formUnion(group.users.map { Self.fold($0) })
                ids.append(id)
            }
            try await Self.requireSeats(on: serial, for: logins, kind: kind, on: sql)
            for (move, id) in zip(moves, ids) {
                try await sql.update("access_groups").set("key_serial", to: serial).set("menus", to: try Self.menusText(move.menus))
                    .set("updated_at", to: now.storedMilliseconds).where("id", .equal, id).run()
            }
            try await AuditLog.append(
                .init(
                    actor: actor, action: "access.migrated", target: "license-key:\(serial)",
                    details: ["from": .string(source), "groups": .array(moves.map { .string($0.idNumber) })]), at: now, on: sql)
        }
    }
}

/// The columns of an `access_groups` row that make an `AccessGroupRecord`, without its users.
private struct GroupRow: Decodable {
    var id: Int64
    var idNumber: String
    var name: String
    var keySerial: String
    var component: String
    /// JSON array of menu codes.
    var menus: String
    var active: Bool
}

/// What an `access_groups` row grants: menus of a component, on a key (not read by `menusGranted`).
private struct GrantRow: Decodable {
    var keySerial: String?
    var component: String
    /// JSON array of menu codes.
    var menus: String
}

/// A new `access_groups` row; its id is the database's.
private struct NewGroupRow: Encodable {
    var idNumber: String
    var idNumberFolded: String
    var name: String
    var keySerial: String
    var component: String
    var menus: String
    var active: Bool
    var createdAt: Int64
    var updatedAt: Int64
}
