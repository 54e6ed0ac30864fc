import Foundation
import KeywardDomain
import SQLKit

/// Directory users and groups (from SCIM or LDAP), stored as the directory sent them, and the access they give. Every
/// write is one transaction that also brings the linked access groups' members in step (``reconcile``) and tells the
/// other instances what it touched (`notice`, sent within the transaction).
extension RegistryStore {
    public typealias Notice = @Sendable (AccessChange) -> KeywardDatabase.Notification?

    // MARK: Reading users

    /// One directory user by their directory id.
    public func directoryUser(id: String) async throws -> DirectoryUserRecord? {
        try await database.read { sql in try await Self.directoryUsers(where: "directory_id", in: [id], on: sql).first }
    }

    /// Directory users whose `column` (`directory_id`, `login_folded` or `external_id`) is one of `values`.
    public func directoryUsers(source: DirectorySource, where column: DirectoryUserKey, in values: [String]) async throws -> [DirectoryUserRecord] {
        try await database.read { sql in
            let values = column == .login ? values.map(Self.fold) : values
            return try await Self.directoryUsers(where: column.rawValue, in: values, on: sql).filter { $0.source == source }
        }
    }

    /// A page of a source's directory users in the order they were made, and how many there are.
    public func directoryUsersPage(source: DirectorySource, offset: Int, limit: Int) async throws -> (users: [DirectoryUserRecord], total: Int) {
        try await database.read { sql in
            let total =
                try await sql.raw(
                    "SELECT COUNT(*) AS n FROM registry_users WHERE directory_id IS NOT NULL AND source = \(bind: source.rawValue)"
                ).first()?.decode(column: "n", as: Int.self) ?? 0
            let logins = try await sql.raw(
                """
                SELECT login_folded FROM registry_users WHERE directory_id IS NOT NULL AND source = \(bind: source.rawValue)
                ORDER BY created_at, login_folded LIMIT \(bind: max(0, limit)) OFFSET \(bind: max(0, offset))
                """
            ).all().map { try $0.decode(column: "login_folded", as: String.self) }
            let users = try await Self.directoryUsers(where: "login_folded", in: logins, on: sql)
            let byLogin = Dictionary(users.map { (Self.fold($0.login), $0) }) { a, _ in a }
            return (logins.compactMap { byLogin[$0] }, total)
        }
    }

    /// Every directory user of a source, in the order they were made: for filters no index answers.
    public func allDirectoryUsers(source: DirectorySource) async throws -> [DirectoryUserRecord] {
        try await database.read { sql in
            try await Self.directoryUsers(where: nil, in: [], source: source, on: sql)
        }
    }

    static func directoryUsers(where column: String?, in values: [String], source: DirectorySource? = nil, on sql: any SQLDatabase) async throws
        -> [DirectoryUserRecord]
    {
        var rows: [any SQLRow] = []
        let select = """
            SELECT login_folded, login, name, email, source, directory_id, external_id, directory_active, locally_disabled,
            directory_attributes, created_at, modified_at, version FROM registry_users WHERE directory_id IS NOT NULL
            """
        if let column {
            for batch in values.chunked(500) {
                rows += try await sql.raw("\(unsafeRaw: select) AND \(ident: column) IN (\(SQLList(batch.map { SQLBind($0) })))").all()
            }
        } else {
            rows = try await sql.raw("\(unsafeRaw: select) AND source = \(bind: source?.rawValue ?? "scim") ORDER BY created_at, login_folded").all()
        }
        guard !rows.isEmpty else { return [] }
        let logins = try rows.map { try $0.decode(column: "login_folded", as: String.self) }
        var groups: [String: [DirectoryGroupReference]] = [:]
        let everyone = column == nil
        for batch in (everyone ? [[]] : logins.chunked(500).map(Array.init)) {
            let only = everyone ? "" : SQLQueryString(" WHERE m.login_folded IN (\(SQLList(batch.map { SQLBind($0) })))")
            for row in try await sql.raw(
                "SELECT m.login_folded, g.id, g.display_name FROM directory_group_members m JOIN directory_groups g ON g.id = m.group_id\(only) ORDER BY m.id"
            ).all() {
                groups[try row.decode(column: "login_folded", as: String.self), default: []].append(
                    DirectoryGroupReference(
                        id: try row.decode(column: "id", as: String.self), displayName: try row.decode(column: "display_name", as: String.self)))
            }
        }
        return try zip(rows, logins).map { row, folded in
            DirectoryUserRecord(
                id: try row.decode(column: "directory_id", as: String.self),
                source: DirectorySource(rawValue: try row.decode(column: "source", as: String.self)) ?? .scim,
                login: try row.decode(column: "login", as: String.self), name: try row.decode(column: "name", as: String.self),
                email: try row.decode(column: "email", as: String.self), externalId: try row.decode(column: "external_id", as: String?.self),
                directoryActive: try row.decode(column: "directory_active", as: Bool.self),
                locallyDisabled: try row.decode(column: "locally_disabled", as: Bool.self),
                attributes: try Self.json(try row.decode(column: "directory_attributes", as: String?.self)),
                createdAt: Date(storedMilliseconds: try row.decode(column: "created_at", as: Int64.self)),
                modifiedAt: Date(
                    storedMilliseconds: try row.decode(column: "modified_at", as: Int64?.self) ?? row.decode(column: "created_at", as: Int64.self)),
                version: try row.decode(column: "version", as: Int64.self), groups: groups[folded] ?? [])
        }
    }

    // MARK: Writing users

    /// Creates a directory user, or takes over the registry user who has that login (a user made by hand is matched to
    /// the directory's by login). `DUPLICATE_LOGIN` when another directory user has it, `DUPLICATE_EXTERNAL_ID` when
    /// another has the external id.
    public func createDirectoryUser(_ user: DirectoryUserWrite, id: String, source: DirectorySource, actor: String, now: Date, notice: Notice)
        async throws -> (user: DirectoryUserRecord, effect: DirectoryEffect)
    {
        let kind = database.kind
        return try await database.write { sql in
            let folded = Self.fold(user.login)
            let existing = try await sql.select().columns("builtin", "directory_id", "active", "source").from("registry_users")
                .where("login_folded", .equal, folded).first()
            try await Self.requireUniqueExternalID(user.externalId, source: source, except: folded, on: sql)
            var effect = DirectoryEffect()
            if let existing {
                if try existing.decode(column: "builtin", as: Bool.self) {
                    throw StoreError(
                        code: "LOGIN_RESERVED", message: "The login \(user.login) belongs to the registry's built-in administrator.", kind: .conflict,
                        details: ["field": "userName"])
                }
                if try existing.decode(column: "directory_id", as: String?.self) != nil {
                    throw Self.duplicateDirectoryLogin(user.login)
                }
                let wasActive = try existing.decode(column: "active", as: Bool.self)
                try await sql.update("registry_users").set("login", to: user.login).set("name", to: user.name).set("email", to: user.email)
                    .set("source", to: source.rawValue).set("directory_id", to: id).set("external_id", to: SQLBind(user.externalId))
                    .set("directory_attributes", to: try Self.jsonText(user.attributes)).set("directory_active", to: user.active)
                    .set("locally_disabled", to: false).set("active", to: user.active).set("modified_at", to: now.storedMilliseconds)
                    .set(SQLIdentifier("version"), to: SQLRaw("version + 1")).where("login_folded", .equal, folded).run()
                effect.merge(try await Self.activeChanged(folded, from: wasActive, to: user.active, kind: kind, now: now, on: sql))
                try await AuditLog.append(
                    .init(
                        actor: actor, action: "user.matched-to-directory", target: "user:\(user.login)",
                        details: ["source": .string(source.rawValue), "id": .string(id)]), at: now, on: sql)
            } else {
                try await sql.insert(into: "registry_users")
                    .columns(
                        "login_folded", "login", "name", "email", "password_hash", "active", "builtin", "created_at", "source", "directory_id",
                        "external_id", "directory_attributes", "directory_active", "locally_disabled", "modified_at", "version"
                    )
                    .values(
                        SQLBind(folded), SQLBind(user.login), SQLBind(user.name), SQLBind(user.email), SQLBind(String?.none), SQLBind(user.active),
                        SQLBind(false), SQLBind(now.storedMilliseconds), SQLBind(source.rawValue), SQLBind(id), SQLBind(user.externalId),
                        SQLBind(try Self.jsonText(user.attributes)), SQLBind(user.active), SQLBind(false), SQLBind(now.storedMilliseconds), SQLBind(1)
                    ).run()
                try await AuditLog.append(
                    .init(actor: actor, action: "user.created", target: "user:\(user.login)", details: ["source": .string(source.rawValue)]), at: now,
                    on: sql)
            }
            effect.change.users.insert(user.login)
            try await database.send(notice(effect.change), on: sql)
            return (try await Self.directoryUsers(where: "login_folded", in: [folded], on: sql)[0], effect)
        }
    }

    /// Replaces what the directory says of user `id` (a PUT, or a PATCH applied to what was stored). `ifVersion`, when
    /// given, must be the stored version (`VERSION_MISMATCH` else). The login may change only in case: it is the key the
    /// suite knows the user by (`LOGIN_IMMUTABLE`).
    public func replaceDirectoryUser(id: String, with user: DirectoryUserWrite, ifVersion: Int64?, actor: String, now: Date, notice: Notice)
        async throws -> (user: DirectoryUserRecord, effect: DirectoryEffect)
    {
        let kind = database.kind
        return try await database.write { sql in
            let current = try await Self.lockedDirectoryUser(id, ifVersion: ifVersion, on: sql)
            let folded = Self.fold(current.login)
            guard Self.fold(user.login) == folded else {
                throw StoreError(
                    code: "LOGIN_IMMUTABLE",
                    message:
                        "userName cannot change from \(current.login) to \(user.login): it is the user's login in the suite. Remove the user and provision a new one.",
                    kind: .conflict, details: ["field": "userName"])
            }
            try await Self.requireUniqueExternalID(user.externalId, source: current.source, except: folded, on: sql)
            let active = user.active && !current.locallyDisabled
            try await sql.update("registry_users").set("login", to: user.login).set("name", to: user.name).set("email", to: user.email)
                .set("external_id", to: SQLBind(user.externalId)).set("directory_attributes", to: try Self.jsonText(user.attributes))
                .set("directory_active", to: user.active).set("active", to: active).set("modified_at", to: now.storedMilliseconds)
                .set(SQLIdentifier("version"), to: SQLRaw("version + 1")).where("login_folded", .equal, folded).run()
            var effect = try await Self.activeChanged(folded, from: current.active, to: active, kind: kind, now: now, on: sql)
            effect.change.users.insert(user.login)
            var details: [String: JSONValue] = ["source": .string(current.source.rawValue)]
            if current.directoryActive != user.active { details["active"] = .bool(user.active) }
            try await AuditLog.append(.init(actor: actor, action: "user.changed", target: "user:\(user.login)", details: details), at: now, on: sql)
            try await database.send(notice(effect.change), on: sql)
            return (try await Self.directoryUsers(where: "login_folded", in: [folded], on: sql)[0], effect)
        }
    }

    /// The directory removed user `id`: disabled, never deleted (their history, sessions and audit keep their name),
    /// out of every directory group, and no longer the directory's (a later create with the same login takes them
    /// back). Their nominative seats are freed and their sessions end.
    public func removeDirectoryUser(id: String, ifVersion: Int64?, actor: String, now: Date, notice: Notice) async throws -> DirectoryEffect {
        let kind = database.kind
        return try await database.write { sql in
            let current = try await Self.lockedDirectoryUser(id, ifVersion: ifVersion, on: sql)
            let folded = Self.fold(current.login)
            let groups = current.groups.map(\.id)
            let serials = try await Self.assignedSerials(folded, on: sql)
            try await sql.delete(from: "directory_group_members").where("login_folded", .equal, folded).run()
            try await sql.update("registry_users").set("directory_id", to: SQLLiteral.null).set("external_id", to: SQLLiteral.null)
                .set("directory_active", to: false).set("active", to: false).set("modified_at", to: now.storedMilliseconds)
                .set(SQLIdentifier("version"), to: SQLRaw("version + 1")).where("login_folded", .equal, folded).run()
            var effect = try await Self.reconcile(
                accessGroups: try await Self.linkedAccessGroups(groups, on: sql), logins: [folded], kind: kind, now: now, on: sql)
            effect.merge(try await Self.activeChanged(folded, from: current.active, to: false, kind: kind, now: now, on: sql))
            // The seats their directory groups gave them are free too (activeChanged saw only the rows left).
            if current.active, effect.removed > 0 {
                effect.merge(try await Self.retryAssignmentErrors(kind: kind, now: now, serials: serials, on: sql))
            }
            effect.change.users.insert(current.login)
            try await AuditLog.append(
                .init(
                    actor: actor, action: "user.removed-from-directory", target: "user:\(current.login)",
                    details: ["source": .string(current.source.rawValue)]), at: now, on: sql)
            try await database.send(notice(effect.change), on: sql)
            return effect
        }
    }

    /// What follows a user's access turning on or off: off ends their sign-ins and sessions and frees their seats (so
    /// assignment errors are retried); on needs a seat on each nominative key they are assigned on, or those
    /// assignments become assignment errors.
    static func activeChanged(_ login: String, from old: Bool, to new: Bool, kind: DatabaseKind, now: Date, on sql: any SQLDatabase) async throws
        -> DirectoryEffect
    {
        guard old != new else { return DirectoryEffect() }
        if new {
            // The row says active already (written just before); the ledger must not count them as holding a seat.
            try await sql.update("registry_users").set("active", to: false).where("login_folded", .equal, login).run()
            let effect = try await seatEnabledUser(login, kind: kind, now: now, on: sql)
            try await sql.update("registry_users").set("active", to: true).where("login_folded", .equal, login).run()
            return effect
        }
        try await signOut(login, now: now, on: sql)
        _ = try await endSessions(of: login, reason: .disconnected, now: now, on: sql)
        // Seats free up only on the keys the user was assigned on.
        let serials = try await assignedSerials(login, on: sql)
        guard !serials.isEmpty else { return DirectoryEffect() }
        return try await retryAssignmentErrors(kind: kind, now: now, serials: serials, on: sql)
    }

    /// The keys of the access groups `login` (folded) is a member of.
    static func assignedSerials(_ login: String, on sql: any SQLDatabase) async throws -> Set<String> {
        Set(
            try await sql.raw(
                "SELECT DISTINCT g.key_serial FROM group_members m JOIN access_groups g ON g.id = m.group_id WHERE m.login_folded = \(bind: login)"
            ).all().map { try $0.decode(column: "key_serial", as: String.self) })
    }

    static func lockedDirectoryUser(_ id: String, ifVersion: Int64?, on sql: any SQLDatabase) async throws -> DirectoryUserRecord {
        guard let current = try await directoryUsers(where: "directory_id", in: [id], on: sql).first else {
            throw StoreError(code: "UNKNOWN_DIRECTORY_USER", message: "There is no directory user \(id).", kind: .notFound)
        }
        try requireVersion(ifVersion, current.version)
        return current
    }

    /// `VERSION_MISMATCH` unless `expected` (an `If-Match`) is `nil` or the stored version.
    public static func requireVersion(_ expected: Int64?, _ stored: Int64) throws(StoreError) {
        guard let expected, expected != stored else { return }
        throw StoreError(
            code: "VERSION_MISMATCH",
            message: "The resource changed since you read it (it is at W/\"\(stored)\", not W/\"\(expected)\"). Read it again and retry.",
            kind: .conflict, details: ["version": .int(Int(stored))])
    }

    static func requireUniqueExternalID(_ externalId: String?, source: DirectorySource, except login: String, on sql: any SQLDatabase) async throws {
        guard let externalId,
            try await sql.select().column("login").from("registry_users").where("source", .equal, source.rawValue)
                .where("external_id", .equal, externalId).where("login_folded", .notEqual, login).first() != nil
        else { return }
        throw StoreError(
            code: "DUPLICATE_EXTERNAL_ID", message: "Another directory user already has the externalId \(externalId).", kind: .conflict,
            details: ["field": "externalId"])
    }

    static func duplicateDirectoryLogin(_ login: String) -> StoreError {
        StoreError(
            code: "DUPLICATE_LOGIN", message: "A directory user with the userName \(login) exists already (userName ignores case).", kind: .conflict,
            details: ["field": "userName"])
    }

    // MARK: Groups

    public func directoryGroup(id: String, members: Bool = true) async throws -> DirectoryGroupRecord? {
        try await database.read { sql in try await Self.directoryGroups(ids: [id], source: nil, members: members, on: sql).first }
    }

    /// Every directory group of a source, by name; with their members when `members`.
    public func directoryGroups(source: DirectorySource?, members: Bool) async throws -> [DirectoryGroupRecord] {
        try await database.read { sql in try await Self.directoryGroups(ids: nil, source: source, members: members, on: sql) }
    }

    static func directoryGroups(ids: [String]?, source: DirectorySource?, members: Bool, on sql: any SQLDatabase) async throws
        -> [DirectoryGroupRecord]
    {
        var query = sql.select().columns("id", "source", "external_id", "display_name", "attributes", "created_at", "modified_at", "version")
            .from("directory_groups")
        if let ids { query = query.where("id", .in, ids) }
        if let source { query = query.where("source", .equal, source.rawValue) }
        let rows = try await query.orderBy("display_name_folded").orderBy("id").all()
        guard !rows.isEmpty else { return [] }
        let single = ids?.count == 1 ? ids?.first : nil
        var memberLists: [String: [DirectoryMember]] = [:]
        if members {
            let only = single.map { SQLQueryString(" WHERE m.group_id = \(bind: $0)") } ?? ""
            for row in try await sql.raw(
                """
                SELECT m.group_id, u.directory_id, u.login, u.name FROM directory_group_members m
                JOIN registry_users u ON u.login_folded = m.login_folded\(only) ORDER BY m.id
                """
            ).all() {
                memberLists[try row.decode(column: "group_id", as: String.self), default: []].append(
                    DirectoryMember(
                        id: try row.decode(column: "directory_id", as: String?.self) ?? "", login: try row.decode(column: "login", as: String.self),
                        name: try row.decode(column: "name", as: String.self)))
            }
        }
        var counts: [String: Int] = [:]
        if members {
            for (id, list) in memberLists { counts[id] = list.count }
        } else {
            let only = single.map { SQLQueryString(" WHERE group_id = \(bind: $0)") } ?? ""
            for row in try await sql.raw("SELECT group_id, COUNT(*) AS n FROM directory_group_members\(only) GROUP BY group_id").all() {
                counts[try row.decode(column: "group_id", as: String.self)] = try row.decode(column: "n", as: Int.self)
            }
        }
        var links: [String: [String]] = [:]
        let onlyLinks = single.map { SQLQueryString(" WHERE l.directory_group_id = \(bind: $0)") } ?? ""
        for row in try await sql.raw(
            "SELECT l.directory_group_id, g.id_number FROM access_group_links l JOIN access_groups g ON g.id = l.access_group_id\(onlyLinks) ORDER BY g.id_number_folded"
        ).all() {
            links[try row.decode(column: "directory_group_id", as: String.self), default: []].append(
                try row.decode(column: "id_number", as: String.self))
        }
        return try rows.map { row in
            let id = try row.decode(column: "id", as: String.self)
            return DirectoryGroupRecord(
                id: id, source: DirectorySource(rawValue: try row.decode(column: "source", as: String.self)) ?? .scim,
                displayName: try row.decode(column: "display_name", as: String.self),
                externalId: try row.decode(column: "external_id", as: String?.self),
                attributes: try json(try row.decode(column: "attributes", as: String.self)),
                createdAt: Date(storedMilliseconds: try row.decode(column: "created_at", as: Int64.self)),
                modifiedAt: Date(storedMilliseconds: try row.decode(column: "modified_at", as: Int64.self)),
                version: try row.decode(column: "version", as: Int64.self), members: memberLists[id] ?? [], memberCount: counts[id] ?? 0,
                accessGroups: links[id] ?? [])
        }
    }

    /// Creates a directory group with its members (directory user ids; `UNKNOWN_MEMBER` naming any that is not one).
    public func createDirectoryGroup(_ group: DirectoryGroupWrite, id: String, source: DirectorySource, actor: String, now: Date, notice: Notice)
        async throws -> (group: DirectoryGroupRecord, effect: DirectoryEffect)
    {
        try await database.write { sql in
            try await Self.requireUniqueGroupExternalID(group.externalId, source: source, except: id, on: sql)
            try await sql.insert(into: "directory_groups")
                .columns("id", "source", "external_id", "display_name", "display_name_folded", "attributes", "created_at", "modified_at", "version")
                .values(
                    SQLBind(id), SQLBind(source.rawValue), SQLBind(group.externalId), SQLBind(group.displayName),
                    SQLBind(Self.fold(group.displayName)),
                    SQLBind(try Self.jsonText(group.attributes)), SQLBind(now.storedMilliseconds), SQLBind(now.storedMilliseconds), SQLBind(1)
                ).run()
            let logins = try await Self.memberLogins(group.members ?? [], on: sql)
            try await Self.insertDirectoryMembers(logins, group: id, now: now, on: sql)
            try await AuditLog.append(
                .init(
                    actor: actor, action: "directory-group.created", target: "directory-group:\(group.displayName)",
                    details: ["id": .string(id), "members": .int(logins.count)]), at: now, on: sql)
            // A new group is linked to no access group yet: no access changes.
            return (try await Self.directoryGroups(ids: [id], source: nil, members: true, on: sql)[0], DirectoryEffect())
        }
    }

    /// Replaces group `id`'s name, attributes and (when given) members, or adds and removes members (by directory user
    /// id), then brings its linked access groups in step: members who joined need seats, members who left lose the
    /// access they had only through it.
    public func changeDirectoryGroup(
        id: String, to group: DirectoryGroupWrite?, adding: [String] = [], removing: [String] = [], ifVersion: Int64?, actor: String, now: Date,
        guard removalGuard: RemovalGuard? = nil, notice: Notice
    ) async throws -> (group: DirectoryGroupRecord, effect: DirectoryEffect) {
        let kind = database.kind
        return try await database.write { sql in
            guard let current = try await Self.directoryGroups(ids: [id], source: nil, members: false, on: sql).first else {
                throw StoreError(code: "UNKNOWN_DIRECTORY_GROUP", message: "There is no directory group \(id).", kind: .notFound)
            }
            try Self.requireVersion(ifVersion, current.version)
            let present = Set(
                try await sql.select().column("login_folded").from("directory_group_members").where("group_id", .equal, id).all().map {
                    try $0.decode(column: "login_folded", as: String.self)
                })
            var joining: [String] = []
            var leaving: Set<String> = []
            if let members = group?.members {
                let wanted = try await Self.memberLogins(members, on: sql)
                joining = wanted.filter { !present.contains($0) }
                leaving = present.subtracting(wanted)
            }
            let added = try await Self.memberLogins(adding, on: sql).filter { !present.contains($0) }
            joining += added.filter { !joining.contains($0) }
            leaving.formUnion(try await Self.memberLogins(removing, on: sql).filter { present.contains($0) })
            var update = sql.update("directory_groups").set("modified_at", to: now.storedMilliseconds)
                .set(SQLIdentifier("version"), to: SQLRaw("version + 1"))
            if let group {
                try await Self.requireUniqueGroupExternalID(group.externalId, source: current.source, except: id, on: sql)
                update = update.set("display_name", to: group.displayName).set("display_name_folded", to: Self.fold(group.displayName))
                    .set("external_id", to: SQLBind(group.externalId)).set("attributes", to: try Self.jsonText(group.attributes))
            }
            try await update.where("id", .equal, id).run()
            for batch in Array(leaving).chunked(500) {
                try await sql.delete(from: "directory_group_members").where("group_id", .equal, id).where("login_folded", .in, Array(batch)).run()
            }
            try await Self.insertDirectoryMembers(joining, group: id, now: now, on: sql)
            let touched = Set(joining).union(leaving)
            var effect = DirectoryEffect()
            if !touched.isEmpty {
                let linked = try await Self.linkedAccessGroups([id], on: sql)
                effect = try await Self.reconcile(accessGroups: linked, logins: touched, kind: kind, now: now, guard: removalGuard, on: sql)
                if effect.removed > 0 { effect.merge(try await Self.retryAssignmentErrors(kind: kind, now: now, on: sql)) }
            }
            try await AuditLog.append(
                .init(
                    actor: actor, action: "directory-group.changed", target: "directory-group:\(group?.displayName ?? current.displayName)",
                    details: ["id": .string(id), "joined": .int(joining.count), "left": .int(leaving.count)]), at: now, on: sql)
            try await database.send(notice(effect.change), on: sql)
            return (try await Self.directoryGroups(ids: [id], source: nil, members: true, on: sql)[0], effect)
        }
    }

    /// Deletes directory group `id`: the access groups linked to it lose the users they had only through it.
    public func deleteDirectoryGroup(id: String, ifVersion: Int64?, actor: String, now: Date, guard removalGuard: RemovalGuard? = nil, notice: Notice)
        async throws -> DirectoryEffect
    {
        let kind = database.kind
        return try await database.write { sql in
            guard let current = try await Self.directoryGroups(ids: [id], source: nil, members: false, on: sql).first else {
                throw StoreError(code: "UNKNOWN_DIRECTORY_GROUP", message: "There is no directory group \(id).", kind: .notFound)
            }
            try Self.requireVersion(ifVersion, current.version)
            let linked = try await Self.linkedAccessGroups([id], on: sql)
            let members = Set(
                try await sql.select().column("login_folded").from("directory_group_members").where("group_id", .equal, id).all().map {
                    try $0.decode(column: "login_folded", as: String.self)
                })
            try await sql.delete(from: "directory_group_members").where("group_id", .equal, id).run()
            try await sql.delete(from: "access_group_links").where("directory_group_id", .equal, id).run()
            try await sql.delete(from: "directory_groups").where("id", .equal, id).run()
            var effect = try await Self.reconcile(accessGroups: linked, logins: members, kind: kind, now: now, guard: removalGuard, on: sql)
            if effect.removed > 0 { effect.merge(try await Self.retryAssignmentErrors(kind: kind, now: now, on: sql)) }
            try await AuditLog.append(
                .init(
                    actor: actor, action: "directory-group.deleted", target: "directory-group:\(current.displayName)",
                    details: ["id": .string(id), "accessGroups": .int(linked.count)]), at: now, on: sql)
            try await database.send(notice(effect.change), on: sql)
            return effect
        }
    }

    /// Links access group `idNumber` to exactly the directory groups `ids` and brings its members in step.
    public func linkDirectoryGroups(_ ids: [String], toAccessGroup idNumber: String, actor: String, now: Date, notice: Notice) async throws
        -> DirectoryEffect
    {
        let kind = database.kind
        return try await database.write { sql in
            guard let group = try await Self.groupID(idNumber, on: sql) else { throw StoreError.unknownGroup(idNumber) }
            var known: Set<String> = []
            for batch in ids.chunked(500) {
                for row in try await sql.select().column("id").from("directory_groups").where("id", .in, Array(batch)).all() {
                    known.insert(try row.decode(column: "id", as: String.self))
                }
            }
            let unknown = ids.filter { !known.contains($0) }
            guard unknown.isEmpty else {
                throw StoreError(
                    code: "UNKNOWN_DIRECTORY_GROUP", message: "There is no directory group \(unknown.prefix(5).joined(separator: ", ")).",
                    kind: .invalid, details: ["field": "directoryGroups", "unknown": .array(unknown.map(JSONValue.string))])
            }
            try await sql.delete(from: "access_group_links").where("access_group_id", .equal, group).run()
            for id in Set(ids).sorted() {
                try await sql.insert(into: "access_group_links").columns("access_group_id", "directory_group_id", "linked_at")
                    .values(SQLBind(group), SQLBind(id), SQLBind(now.storedMilliseconds)).run()
            }
            var effect = try await Self.reconcile(accessGroups: [group], logins: nil, kind: kind, now: now, on: sql)
            if effect.removed > 0 { effect.merge(try await Self.retryAssignmentErrors(kind: kind, now: now, on: sql)) }
            try await AuditLog.append(
                .init(
                    actor: actor, action: "access-group.directory-groups-linked", target: "access-group:\(idNumber)",
                    details: [
                        "directoryGroups": .array(Set(ids).sorted().map(JSONValue.string)), "added": .int(effect.added),
                        "removed": .int(effect.removed),
                        "assignmentErrors": .int(effect.assignmentErrors),
                    ]), at: now, on: sql)
            try await database.send(notice(effect.change), on: sql)
            return effect
        }
    }

    /// The directory groups linked to access group `idNumber`.
    public func linkedDirectoryGroups(ofAccessGroup idNumber: String) async throws -> [DirectoryGroupReference] {
        try await database.read { sql in
            try await sql.raw(
                """
                SELECT d.id, d.display_name FROM access_group_links l JOIN access_groups g ON g.id = l.access_group_id
                JOIN directory_groups d ON d.id = l.directory_group_id WHERE g.id_number_folded = \(bind: Self.fold(idNumber))
                ORDER BY d.display_name_folded
                """
            ).all().map {
                DirectoryGroupReference(
                    id: try $0.decode(column: "id", as: String.self), displayName: try $0.decode(column: "display_name", as: String.self))
            }
        }
    }

    /// The folded logins of directory users `ids`, in order without repeats; `UNKNOWN_MEMBER` naming any that is none.
    static func memberLogins(_ ids: [String], on sql: any SQLDatabase) async throws -> [String] {
        var seen: Set<String> = []
        let unique = ids.filter { seen.insert($0).inserted }
        var found: [String: String] = [:]
        for batch in unique.chunked(500) {
            for row in try await sql.select().columns("directory_id", "login_folded").from("registry_users").where("directory_id", .in, Array(batch))
                .all()
            {
                found[try row.decode(column: "directory_id", as: String.self)] = try row.decode(column: "login_folded", as: String.self)
            }
        }
        let missing = unique.filter { found[$0] == nil }
        guard missing.isEmpty else {
            throw StoreError(
                code: "UNKNOWN_MEMBER",
                message: "No directory user has the id \(missing.prefix(5).joined(separator: ", ")): provision the users first.",
                kind: .invalid, details: ["field": "members", "unknown": .array(missing.prefix(100).map(JSONValue.string))])
        }
        return unique.compactMap { found[$0] }
    }

    static func insertDirectoryMembers(_ logins: [String], group id: String, now: Date, on sql: any SQLDatabase) async throws {
        for batch in logins.chunked(200) {
            var insert = sql.insert(into: "directory_group_members").columns("group_id", "login_folded", "added_at")
            for login in batch { insert = insert.values(SQLBind(id), SQLBind(login), SQLBind(now.storedMilliseconds)) }
            try await insert.ignoringConflicts().run()
        }
    }

    static func requireUniqueGroupExternalID(_ externalId: String?, source: DirectorySource, except id: String, on sql: any SQLDatabase) async throws
    {
        guard let externalId,
            try await sql.select().column("id").from("directory_groups").where("source", .equal, source.rawValue)
                .where("external_id", .equal, externalId).where("id", .notEqual, id).first() != nil
        else { return }
        throw StoreError(
            code: "DUPLICATE_EXTERNAL_ID", message: "Another directory group already has the externalId \(externalId).", kind: .conflict,
            details: ["field": "externalId"])
    }

    static func jsonText(_ value: JSONValue) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func json(_ text: String?) throws -> JSONValue {
        guard let text else { return .object([:]) }
        return try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }
}

/// The columns a directory user is looked up by.
public enum DirectoryUserKey: String, Sendable {
    case id = "directory_id"
    case login = "login_folded"
    case externalId = "external_id"
}
