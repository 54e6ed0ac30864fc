import Foundation
import KeywardDomain
import NIOConcurrencyHelpers
import SQLKit

/// Everything a directory holds that the registry takes, read in one go (an LDAP synchronization): its users and its
/// groups with their members. Applied as a whole: what is no longer in it is taken away.
public struct DirectorySnapshot: Sendable, Hashable {
    /// A user, kept compact: a synchronization holds 100,000 of them at once.
    public struct User: Sendable, Hashable {
        /// The registry's id of the user, stable across renames (`ldap:` and the entry's `entryUUID`).
        public var id: String
        public var login: String
        public var name: String
        public var email: String
        public var externalId: String?
        /// The directory's attributes as stored: a JSON object's text.
        public var attributes: String
        /// The entry's DN, which groups name their members by.
        public var dn: String?

        public init(id: String, login: String, name: String, email: String, externalId: String?, attributes: String, dn: String? = nil) {
            self.id = id
            self.login = login
            self.name = name
            self.email = email
            self.externalId = externalId
            self.attributes = attributes
            self.dn = dn
        }

        /// What a synchronization compares with the stored row: equal when nothing it writes changed.
        var fingerprint: Int {
            var hasher = Hasher()
            hasher.combine(login)
            hasher.combine(name)
            hasher.combine(email)
            hasher.combine(externalId)
            hasher.combine(attributes)
            return hasher.finalize()
        }
    }

    public struct Group: Sendable, Hashable {
        public var id: String
        public var displayName: String
        public var externalId: String?
        public var attributes: JSONValue
        /// The members' user ids (``User/id``), in the directory's order; ids of no user in the snapshot are ignored.
        public var members: [String]

        public init(id: String, displayName: String, externalId: String?, attributes: JSONValue, members: [String]) {
            self.id = id
            self.displayName = displayName
            self.externalId = externalId
            self.attributes = attributes
            self.members = members
        }
    }

    public var users: [User]
    public var groups: [Group]
    /// Entries the registry could not take (no login, a login it refuses), in words, for the history.
    public var skipped: [String]

    public init(users: [User], groups: [Group], skipped: [String] = []) {
        self.users = users
        self.groups = groups
        self.skipped = skipped
    }
}

/// What a directory synchronization changed, as its history shows it.
public struct DirectorySyncCounts: Codable, Sendable, Hashable {
    public var usersAdded = 0
    public var usersUpdated = 0
    public var usersDisabled = 0
    public var usersUnchanged = 0
    public var usersSkipped = 0
    public var groupsAdded = 0
    public var groupsUpdated = 0
    public var groupsRemoved = 0
    public var membershipsAdded = 0
    public var membershipsRemoved = 0
    /// Access the linked access groups gained and lost through it.
    public var accessAdded = 0
    public var accessRemoved = 0
    public var assignmentErrors = 0
    /// Removals held by the mass-removal guard (one per access group).
    public var held = 0
    /// Why entries were skipped: the first few, in words.
    public var skipped: [String] = []

    public init() {}

    public var changedAnything: Bool {
        usersAdded + usersUpdated + usersDisabled + groupsAdded + groupsUpdated + groupsRemoved + membershipsAdded + membershipsRemoved + held > 0
    }

    mutating func skip(_ reason: String) {
        usersSkipped += 1
        if skipped.count < 20 { skipped.append(reason) }
    }
}

/// One directory synchronization, as the directory page's history lists it.
public struct DirectorySyncRun: Sendable, Hashable {
    public var id: Int64
    public var trigger: SynchronizationRun.Trigger
    public var actor: String
    public var startedAt: Date
    public var finishedAt: Date?
    public var outcome: SynchronizationRun.Outcome?
    public var counts: DirectorySyncCounts
    public var errorCode: String?
    public var errorMessage: String?

    public init(
        id: Int64, trigger: SynchronizationRun.Trigger, actor: String, startedAt: Date, finishedAt: Date? = nil,
        outcome: SynchronizationRun.Outcome?, counts: DirectorySyncCounts = DirectorySyncCounts(), errorCode: String? = nil,
        errorMessage: String? = nil
    ) {
        self.id = id
        self.trigger = trigger
        self.actor = actor
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
        self.counts = counts
        self.errorCode = errorCode
        self.errorMessage = errorMessage
    }
}

extension RegistryStore {
    // MARK: History

    /// Records the start of a directory synchronization and returns its id.
    public func startDirectorySync(trigger: SynchronizationRun.Trigger, actor: String, now: Date) async throws -> Int64 {
        try await database.write { sql in
            guard
                let row = try await sql.insert(into: "directory_synchronizations").columns("trigger", "actor", "started_at")
                    .values(SQLBind(trigger.rawValue), SQLBind(actor), SQLBind(now.storedMilliseconds)).returning("id").first()
            else { throw StoreError(code: "STORE_FAILURE", message: "The directory synchronization could not be recorded.") }
            return try row.decode(column: "id", as: Int64.self)
        }
    }

    /// Records how a directory synchronization ended.
    public func finishDirectorySync(
        _ id: Int64, outcome: SynchronizationRun.Outcome, counts: DirectorySyncCounts, error: (code: String, message: String)?, now: Date
    ) async throws {
        try await database.write { sql in
            try await sql.update("directory_synchronizations").set("finished_at", to: now.storedMilliseconds).set("outcome", to: outcome.rawValue)
                .set("counts", to: String(decoding: try JSONEncoder().encode(counts), as: UTF8.self))
                .set("error_code", to: error?.code).set("error_message", to: error?.message).where("id", .equal, id).run()
        }
    }

    /// Directory synchronizations newest first, `trigger`'s or all, a page at a time.
    public func directorySyncs(trigger: SynchronizationRun.Trigger? = nil, beforeID: Int64? = nil, limit: Int = 50) async throws
        -> [DirectorySyncRun]
    {
        try await database.read { sql in
            var select = sql.select().columns("*").from("directory_synchronizations")
            if let trigger { select = select.where("trigger", .equal, trigger.rawValue) }
            if let beforeID { select = select.where("id", .lessThan, beforeID) }
            return try await select.orderBy("id", .descending).limit(limit).all().map { row in
                DirectorySyncRun(
                    id: try row.decode(column: "id", as: Int64.self),
                    trigger: SynchronizationRun.Trigger(rawValue: try row.decode(column: "trigger", as: String.self)) ?? .manual,
                    actor: try row.decode(column: "actor", as: String.self),
                    startedAt: Date(storedMilliseconds: try row.decode(column: "started_at", as: Int64.self)),
                    finishedAt: try row.decode(column: "finished_at", as: Int64?.self).map(Date.init(storedMilliseconds:)),
                    outcome: try row.decode(column: "outcome", as: String?.self).flatMap(SynchronizationRun.Outcome.init(rawValue:)),
                    counts: (try? JSONDecoder().decode(DirectorySyncCounts.self, from: Data(try row.decode(column: "counts", as: String.self).utf8)))
                        ?? DirectorySyncCounts(),
                    errorCode: try row.decode(column: "error_code", as: String?.self),
                    errorMessage: try row.decode(column: "error_message", as: String?.self))
            }
        }
    }

    // MARK: Applying a snapshot

    /// A registry user as a synchronization compares them: what it writes is summed up in `fingerprint`.
    private struct CurrentUser: Sendable {
        var folded: String
        var login: String
        var fingerprint: Int
        var builtin: Bool
        var source: String
        var directoryId: String?
        var directoryActive: Bool
        var active: Bool
        var locallyDisabled: Bool
    }

    /// Applies everything `source`'s directory holds in one transaction, so a failure changes nothing: its users are
    /// added, updated (rows that did not change are not written), matched by login to users made by hand, and the
    /// ones no longer in it are disabled, never deleted; its groups and memberships follow, and the access groups
    /// linked to them are brought in step, guarded by `removalGuard`. A user whose access the guard holds stays
    /// enabled until an administrator decides.
    public func applyDirectorySnapshot(
        _ snapshot: DirectorySnapshot, source: DirectorySource, actor: String, now: Date, guard removalGuard: RemovalGuard?, notice: Notice
    ) async throws -> (counts: DirectorySyncCounts, effect: DirectoryEffect) {
        let kind = database.kind
        return try await database.write { sql in
            var counts = DirectorySyncCounts()
            for reason in snapshot.skipped { counts.skip(reason) }
            var effect = DirectoryEffect()
            let current = try await Self.currentUsers(on: sql)
            var byID: [String: Int] = [:]
            var byLogin: [String: Int] = [:]
            for (index, user) in current.enumerated() {
                byLogin[user.folded] = index
                if let id = user.directoryId, user.source == source.rawValue { byID[id] = index }
            }
            // Users: the snapshot's id → folded login, for the members of its groups.
            var stored: [String: String] = [:]
            var seenLogins: Set<String> = []
            var inserts: [DirectorySnapshot.User] = []
            var enabled: [(login: String, from: Bool)] = []
            let stamp = now.storedMilliseconds
            for user in snapshot.users {
                let entry = user
                let folded = Self.fold(user.login)
                guard stored[entry.id] == nil else { continue }
                guard seenLogins.insert(folded).inserted else {
                    counts.skip("\(user.login): two directory entries have this login; the second was skipped.")
                    continue
                }
                let attributes = user.attributes
                if let index = byID[entry.id] {
                    let old = current[index]
                    guard old.folded == folded else {
                        counts.skip("\(user.login): the entry that was \(old.login) changed its login; the login is the user's key in the suite.")
                        stored[entry.id] = old.folded
                        continue
                    }
                    stored[entry.id] = folded
                    if old.fingerprint == user.fingerprint, old.directoryActive {
                        counts.usersUnchanged += 1
                        continue
                    }
                    let active = old.directoryActive ? old.active : !old.locallyDisabled
                    try await sql.update("registry_users").set("login", to: user.login).set("name", to: user.name).set("email", to: user.email)
                        .set("external_id", to: SQLBind(user.externalId)).set("directory_attributes", to: attributes)
                        .set("directory_active", to: true).set("active", to: active).set("modified_at", to: stamp)
                        .set(SQLIdentifier("version"), to: SQLRaw("version + 1")).where("login_folded", .equal, folded).run()
                    if active && !old.active { enabled.append((folded, old.active)) }
                    counts.usersUpdated += 1
                    effect.change.users.insert(user.login)
                } else if let index = byLogin[folded] {
                    let old = current[index]
                    if old.builtin {
                        counts.skip("\(user.login): the login belongs to the registry's built-in administrator.")
                        continue
                    }
                    if old.directoryId != nil {
                        counts.skip(
                            "\(user.login): a user of the same login comes from \(old.source == source.rawValue ? "another entry" : old.source).")
                        continue
                    }
                    // A user made by hand, matched to the directory's by login.
                    try await sql.update("registry_users").set("login", to: user.login).set("name", to: user.name).set("email", to: user.email)
                        .set("source", to: source.rawValue).set("directory_id", to: entry.id).set("external_id", to: SQLBind(user.externalId))
                        .set("directory_attributes", to: attributes).set("directory_active", to: true).set("locally_disabled", to: false)
                        .set("active", to: true).set("modified_at", to: stamp).set(SQLIdentifier("version"), to: SQLRaw("version + 1"))
                        .where("login_folded", .equal, folded).run()
                    if !old.active { enabled.append((folded, false)) }
                    stored[entry.id] = folded
                    counts.usersAdded += 1
                    effect.change.users.insert(user.login)
                    try await AuditLog.append(
                        .init(
                            actor: actor, action: "user.matched-to-directory", target: "user:\(user.login)",
                            details: ["source": .string(source.rawValue), "id": .string(entry.id)]), at: now, on: sql)
                } else {
                    inserts.append(user)
                    stored[entry.id] = folded
                    counts.usersAdded += 1
                    effect.change.users.insert(user.login)
                }
            }
            for batch in inserts.chunked(100) {
                var insert = sql.insert(into: "registry_users").columns(
                    "login_folded", "login", "name", "email", "password_hash", "active", "builtin", "created_at", "source", "directory_id",
                    "external_id", "directory_attributes", "directory_active", "locally_disabled", "modified_at", "version")
                for user in batch {
                    insert = insert.values(
                        SQLBind(Self.fold(user.login)), SQLBind(user.login), SQLBind(user.name), SQLBind(user.email), SQLBind(String?.none),
                        SQLBind(true), SQLBind(false), SQLBind(stamp), SQLBind(source.rawValue), SQLBind(user.id), SQLBind(user.externalId),
                        SQLBind(user.attributes), SQLBind(true), SQLBind(false), SQLBind(stamp), SQLBind(1))
                }
                try await insert.run()
            }
            // Users no longer in the directory: marked so now; disabled once the guard has had its say.
            let missing = current.filter {
                $0.source == source.rawValue && $0.directoryId != nil && $0.directoryActive && stored[$0.directoryId!] == nil
            }
            for batch in missing.map(\.folded).chunked(500) {
                try await sql.update("registry_users").set("directory_active", to: false).set("modified_at", to: stamp)
                    .set(SQLIdentifier("version"), to: SQLRaw("version + 1")).where("login_folded", .in, Array(batch)).run()
            }
            counts.usersDisabled = missing.count
            for user in missing { effect.change.users.insert(user.login) }

            // Groups and their members.
            let groups = try await Self.syncGroups(snapshot.groups, users: stored, source: source, now: now, counts: &counts, on: sql)
            for login in groups.touched { if let index = byLogin[login] { effect.change.users.insert(current[index].login) } }
            var access = try await Self.reconcile(
                accessGroups: groups.linked, logins: groups.touched.union(missing.map(\.folded)), kind: kind, now: now, guard: removalGuard, on: sql)
            counts.accessAdded = access.added
            counts.accessRemoved = access.removed
            counts.assignmentErrors = access.assignmentErrors
            counts.held = access.held

            // Disabled now: the missing users whose access no held change keeps.
            let held = try await Self.heldLogins(on: sql)
            for user in missing where user.active && !held.contains(user.folded) {
                try await sql.update("registry_users").set("active", to: false).where("login_folded", .equal, user.folded).run()
                try await Self.signOut(user.folded, now: now, on: sql)
                _ = try await Self.endSessions(of: user.folded, reason: .disconnected, now: now, on: sql)
            }
            for user in enabled { access.merge(try await Self.activeChanged(user.login, from: user.from, to: true, kind: kind, now: now, on: sql)) }
            if !missing.isEmpty || access.removed > 0 { access.merge(try await Self.retryAssignmentErrors(kind: kind, now: now, on: sql)) }
            counts.assignmentErrors = access.assignmentErrors
            effect.merge(access)
            try await AuditLog.append(
                .init(
                    actor: actor, action: "directory.synchronized", target: "directory:\(source.rawValue)",
                    details: [
                        "usersAdded": .int(counts.usersAdded), "usersUpdated": .int(counts.usersUpdated), "usersDisabled": .int(counts.usersDisabled),
                        "usersSkipped": .int(counts.usersSkipped), "groupsAdded": .int(counts.groupsAdded),
                        "groupsUpdated": .int(counts.groupsUpdated),
                        "groupsRemoved": .int(counts.groupsRemoved), "membershipsAdded": .int(counts.membershipsAdded),
                        "membershipsRemoved": .int(counts.membershipsRemoved), "assignmentErrors": .int(counts.assignmentErrors),
                        "held": .int(counts.held),
                        "disabled": .array(missing.prefix(100).map { JSONValue.string($0.login) }),
                    ]), at: now, on: sql)
            try await database.send(notice(effect.change), on: sql)
            return (counts, effect)
        }
    }

    private static func currentUsers(on sql: any SQLDatabase) async throws -> [CurrentUser] {
        try await eachRow(
            """
            SELECT login_folded, login, name, email, builtin, source, directory_id, external_id, directory_attributes, directory_active, active,
            locally_disabled FROM registry_users
            """, on: sql
        ) { row in
            let login = try row.decode(column: "login", as: String.self)
            let stored = DirectorySnapshot.User(
                id: "", login: login, name: try row.decode(column: "name", as: String.self), email: try row.decode(column: "email", as: String.self),
                externalId: try row.decode(column: "external_id", as: String?.self),
                attributes: try row.decode(column: "directory_attributes", as: String?.self) ?? "")
            return CurrentUser(
                folded: try row.decode(column: "login_folded", as: String.self), login: login, fingerprint: stored.fingerprint,
                builtin: try row.decode(column: "builtin", as: Bool.self), source: try row.decode(column: "source", as: String.self),
                directoryId: try row.decode(column: "directory_id", as: String?.self),
                directoryActive: try row.decode(column: "directory_active", as: Bool.self), active: try row.decode(column: "active", as: Bool.self),
                locallyDisabled: try row.decode(column: "locally_disabled", as: Bool.self))
        }
    }

    /// Every row of `query`, decoded one at a time as the database hands them over: a synchronization reads every
    /// user, and holding all their rows at once would take several times the memory of what is decoded from them.
    static func eachRow<T: Sendable>(_ query: SQLQueryString, on sql: any SQLDatabase, _ decode: @escaping @Sendable (any SQLRow) throws -> T)
        async throws -> [T]
    {
        let box = NIOLockedValueBox<(rows: [T], error: (any Error)?)>(([], nil))
        try await sql.raw(query).run { row in
            box.withLockedValue { state in
                guard state.error == nil else { return }
                do { state.rows.append(try decode(row)) } catch { state.error = error }
            }
        }
        let result = box.withLockedValue { $0 }
        if let error = result.error { throw error }
        return result.rows
    }

    /// Brings `source`'s groups and memberships to `groups` (members by snapshot user id, `users` mapping them to logins):
    /// the access groups linked to groups whose members changed (or that are gone), and the logins that joined or left.
    private static func syncGroups(
        _ groups: [DirectorySnapshot.Group], users: [String: String], source: DirectorySource, now: Date, counts: inout DirectorySyncCounts,
        on sql: any SQLDatabase
    ) async throws -> (linked: Set<Int64>, touched: Set<String>) {
        struct Current {
            var name: String
            var externalId: String?
            var attributes: String
        }
        var current: [String: Current] = [:]
        for row in try await sql.select().columns("id", "display_name", "external_id", "attributes").from("directory_groups")
            .where("source", .equal, source.rawValue).all()
        {
            current[try row.decode(column: "id", as: String.self)] = Current(
                name: try row.decode(column: "display_name", as: String.self), externalId: try row.decode(column: "external_id", as: String?.self),
                attributes: try row.decode(column: "attributes", as: String.self))
        }
        var members: [String: Set<String>] = [:]
        for (group, login) in try await eachRow(
            """
            SELECT m.group_id, m.login_folded FROM directory_group_members m JOIN directory_groups g ON g.id = m.group_id
            WHERE g.source = \(bind: source.rawValue)
            """, on: sql, { (try $0.decode(column: "group_id", as: String.self), try $0.decode(column: "login_folded", as: String.self)) })
        {
            members[group, default: []].insert(login)
        }
        var changedGroups: [String] = []
        var touched: Set<String> = []
        var seen: Set<String> = []
        let stamp = now.storedMilliseconds
        for group in groups where seen.insert(group.id).inserted {
            var unique: Set<String> = []
            let wanted = group.members.compactMap { users[$0] }.filter { unique.insert($0).inserted }
            let attributes = try jsonText(group.attributes)
            let present = members[group.id] ?? []
            if let old = current[group.id] {
                if old.name != group.displayName || old.externalId != group.externalId || old.attributes != attributes {
                    try await sql.update("directory_groups").set("display_name", to: group.displayName)
                        .set("display_name_folded", to: fold(group.displayName)).set("external_id", to: SQLBind(group.externalId))
                        .set("attributes", to: attributes).set("modified_at", to: stamp).set(SQLIdentifier("version"), to: SQLRaw("version + 1"))
                        .where("id", .equal, group.id).run()
                    counts.groupsUpdated += 1
                }
            } else {
                try await sql.insert(into: "directory_groups")
                    .columns(
                        "id", "source", "external_id", "display_name", "display_name_folded", "attributes", "created_at", "modified_at", "version"
                    )
                    .values(
                        SQLBind(group.id), SQLBind(source.rawValue), SQLBind(group.externalId), SQLBind(group.displayName),
                        SQLBind(fold(group.displayName)), SQLBind(attributes), SQLBind(stamp), SQLBind(stamp), SQLBind(1)
                    ).run()
                counts.groupsAdded += 1
            }
            let joining = wanted.filter { !present.contains($0) }
            let leaving = present.subtracting(wanted)
            for batch in Array(leaving).sorted().chunked(500) {
                try await sql.delete(from: "directory_group_members").where("group_id", .equal, group.id).where("login_folded", .in, Array(batch))
                    .run()
            }
            try await insertDirectoryMembers(joining, group: group.id, now: now, on: sql)
            counts.membershipsAdded += joining.count
            counts.membershipsRemoved += leaving.count
            if !joining.isEmpty || !leaving.isEmpty {
                changedGroups.append(group.id)
                touched.formUnion(joining)
                touched.formUnion(leaving)
            }
        }
        var linked = try await linkedAccessGroups(changedGroups, on: sql)
        // Groups no longer in the directory: deleted, and the access groups linked to them lose what they gave.
        let gone = current.keys.filter { !seen.contains($0) }.sorted()
        if !gone.isEmpty {
            linked.formUnion(try await linkedAccessGroups(gone, on: sql))
            for id in gone {
                let left = members[id] ?? []
                touched.formUnion(left)
                counts.membershipsRemoved += left.count
                try await sql.delete(from: "directory_group_members").where("group_id", .equal, id).run()
                try await sql.delete(from: "access_group_links").where("directory_group_id", .equal, id).run()
                try await sql.delete(from: "directory_groups").where("id", .equal, id).run()
            }
            counts.groupsRemoved = gone.count
        }
        return (linked, touched)
    }

    /// The users whose access a held change keeps for now (folded logins).
    static func heldLogins(on sql: any SQLDatabase) async throws -> Set<String> {
        var logins: Set<String> = []
        for row in try await sql.raw("SELECT logins FROM held_changes WHERE status = 'held'").all() {
            if case .array(let items) = try json(try row.decode(column: "logins", as: String.self)) {
                for case .string(let login) in items { logins.insert(login) }
            }
        }
        return logins
    }
}
