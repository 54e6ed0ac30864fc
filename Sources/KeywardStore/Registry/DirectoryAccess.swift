import Foundation
import KeywardDomain
import SQLKit

// How directory memberships become access (DESIGN.md section 10): an access group's member rows are its directly added
// users plus the members of its linked directory groups, kept in step inside each directory write's transaction. A
// member who finds no seat on a nominative key gets an assignment error instead of a row: the directory is never
// refused, and seats are never over-allocated (the key's row is locked on PostgreSQL; SQLite has one writer).

/// The seats of one key during one transaction: who holds one, how many are taken.
struct SeatLedger {
    let serial: String
    let idNumber: String
    let nominative: Bool
    let limit: Int
    var inUse: Int
    /// Users known to hold a seat on the key already (they need no other).
    var holders: Set<String> = []

    /// The key's seats, its row locked on PostgreSQL; `nil` when there is no such key.
    static func open(_ serial: String, kind: DatabaseKind, on sql: any SQLDatabase) async throws -> SeatLedger? {
        let lock = kind == .postgres ? " FOR UPDATE" : ""
        guard
            let key = try await sql.raw("SELECT use_type, users, id_number FROM registered_keys WHERE serial = \(bind: serial)\(unsafeRaw: lock)")
                .first()
        else { return nil }
        let nominative = try key.decode(column: "use_type", as: String.self) == UseType.nominative.rawValue
        var inUse = 0
        if nominative {
            inUse =
                try await sql.raw("SELECT COUNT(DISTINCT m.login_folded) AS n \(holdersClause(serial))").first()?.decode(column: "n", as: Int.self)
                ?? 0
        }
        return SeatLedger(
            serial: serial, idNumber: try key.decode(column: "id_number", as: String.self), nominative: nominative,
            limit: try key.decode(column: "users", as: Int.self), inUse: inUse)
    }

    static func holdersClause(_ serial: String) -> SQLQueryString {
        """
        FROM group_members m JOIN access_groups g ON g.id = m.group_id JOIN registry_users u ON u.login_folded = m.login_folded
        WHERE g.key_serial = \(bind: serial) AND u.active = \(bind: true) AND u.builtin = \(bind: false)
        """
    }

    /// Looks up which of `logins` (folded) hold a seat already, so ``admit(_:eligible:)`` knows.
    mutating func learnHolders(among logins: [String], on sql: any SQLDatabase) async throws {
        guard nominative else { return }
        for batch in logins.chunked(500) {
            let named = SQLList(batch.map { SQLBind($0) })
            for row in try await sql.raw("SELECT DISTINCT m.login_folded AS login \(Self.holdersClause(serial)) AND m.login_folded IN (\(named))")
                .all()
            {
                holders.insert(try row.decode(column: "login", as: String.self))
            }
        }
    }

    /// Whether `login` may be assigned on this key: it is floating, the user holds no seat (disabled), holds one
    /// already, or a seat is free (then taken).
    mutating func admit(_ login: String, eligible: Bool) -> Bool {
        guard nominative, eligible, !holders.contains(login) else { return true }
        guard inUse < limit else { return false }
        inUse += 1
        holders.insert(login)
        return true
    }
}

extension RegistryStore {
    /// Brings access groups' member rows in step with their linked directory groups: adds the members who are missing
    /// (the earliest memberships first, each needing a seat), removes those no longer in any linked group and not added
    /// directly, and clears assignment errors that no longer apply. `logins` (folded) limits the work to those users
    /// when only their memberships changed.
    static func reconcile(
        accessGroups ids: Set<Int64>, logins: Set<String>?, kind: DatabaseKind, now: Date, guard removalGuard: RemovalGuard? = nil,
        on sql: any SQLDatabase
    ) async throws -> DirectoryEffect {
        var effect = DirectoryEffect()
        for id in ids.sorted() {
            guard
                let group = try await sql.select().columns("id_number", "key_serial").from("access_groups").where("id", .equal, id).first()
            else { continue }
            let idNumber = try group.decode(column: "id_number", as: String.self)
            let serial = try group.decode(column: "key_serial", as: String.self)
            let scope = logins.map { Array($0).sorted() }
            // Who the linked directory groups hold, by earliest membership.
            var wanted: [(login: String, order: Int64)] = []
            var rows: [String: Bool] = [:]
            var errors: [String: Bool] = [:]
            let parts: [[String]?] = scope.map { $0.chunked(500).map { Optional(Array($0)) } } ?? [nil]
            for part in parts {
                let only = part.map { SQLQueryString(" AND m.login_folded IN (\(SQLList($0.map { SQLBind($0) })))") } ?? ""
                for row in try await sql.raw(
                    """
                    SELECT m.login_folded AS login, MIN(m.id) AS ord FROM directory_group_members m
                    JOIN access_group_links l ON l.directory_group_id = m.group_id
                    WHERE l.access_group_id = \(bind: id)\(only) GROUP BY m.login_folded
                    """
                ).all() {
                    wanted.append((try row.decode(column: "login", as: String.self), try row.decode(column: "ord", as: Int64.self)))
                }
                for row in try await sql.raw("SELECT m.login_folded AS login, m.direct FROM group_members m WHERE m.group_id = \(bind: id)\(only)")
                    .all()
                {
                    rows[try row.decode(column: "login", as: String.self)] = try row.decode(column: "direct", as: Bool.self)
                }
                for row in try await sql.raw(
                    "SELECT m.login_folded AS login, m.direct FROM assignment_errors m WHERE m.access_group_id = \(bind: id)\(only)"
                )
                .all() {
                    errors[try row.decode(column: "login", as: String.self)] = try row.decode(column: "direct", as: Bool.self)
                }
            }
            wanted.sort { ($0.order, $0.login) < ($1.order, $1.login) }
            let wantedSet = Set(wanted.map(\.login))
            var leaving = rows.filter { !$0.value && !wantedSet.contains($0.key) }.map(\.key).sorted()
            if let removalGuard, leaving.count >= removalGuard.minimum {
                let size =
                    try await sql.raw("SELECT COUNT(*) AS n FROM group_members WHERE group_id = \(bind: id)").first()?.decode(
                        column: "n", as: Int.self) ?? 0
                if removalGuard.holds(removing: leaving.count, of: size) {
                    try await holdRemoval(leaving, group: id, idNumber: idNumber, size: size, guard: removalGuard, now: now, on: sql)
                    effect.held += 1
                    leaving = []
                }
            }
            for batch in leaving.chunked(500) {
                try await sql.delete(from: "group_members").where("group_id", .equal, id).where("login_folded", .in, Array(batch)).run()
            }
            for login in leaving { effect.assigned(login, group: idNumber) }
            effect.removed += leaving.count
            let stale = errors.filter { !$0.value && !wantedSet.contains($0.key) }.map(\.key).sorted()
            for batch in stale.chunked(500) {
                try await sql.delete(from: "assignment_errors").where("access_group_id", .equal, id).where("login_folded", .in, Array(batch)).run()
            }
            var joining = wanted.filter { rows[$0.login] == nil && errors[$0.login] == nil }
            guard !joining.isEmpty else { continue }
            // Members already waiting for a seat in this group come first when their membership is older: the latest
            // membership is the first left out.
            var waiting: Set<String> = []
            for row in try await sql.raw(
                """
                SELECT e.login_folded AS login, MIN(m.id) AS ord FROM assignment_errors e
                JOIN directory_group_members m ON m.login_folded = e.login_folded
                JOIN access_group_links l ON l.directory_group_id = m.group_id AND l.access_group_id = e.access_group_id
                WHERE e.access_group_id = \(bind: id) AND e.direct = \(bind: false) GROUP BY e.login_folded
                """
            ).all() {
                let login = try row.decode(column: "login", as: String.self)
                waiting.insert(login)
                joining.append((login, try row.decode(column: "ord", as: Int64.self)))
            }
            joining.sort { ($0.order, $0.login) < ($1.order, $1.login) }
            let candidates = joining.map(\.login)
            guard var ledger = try await SeatLedger.open(serial, kind: kind, on: sql) else { continue }
            try await ledger.learnHolders(among: candidates, on: sql)
            let eligible = try await activeLogins(candidates, on: sql)
            var admitted: [String] = []
            var refused: [String] = []
            for login in candidates {
                if ledger.admit(login, eligible: eligible.contains(login)) {
                    admitted.append(login)
                } else if !waiting.contains(login) {
                    refused.append(login)
                }
            }
            let cleared = admitted.filter(waiting.contains)
            for batch in cleared.chunked(500) {
                try await sql.delete(from: "assignment_errors").where("access_group_id", .equal, id).where("login_folded", .in, Array(batch)).run()
            }
            effect.retried += cleared.count
            try await insertMembers(admitted, group: id, direct: false, now: now, on: sql)
            for login in admitted { effect.assigned(login, group: idNumber) }
            effect.added += admitted.count - cleared.count
            try await recordAssignmentErrors(refused, group: id, direct: false, ledger: ledger, now: now, on: sql)
            effect.assignmentErrors += refused.count
        }
        return effect
    }

    /// Records a held removal: the users keep their rows until an administrator decides.
    static func holdRemoval(
        _ logins: [String], group id: Int64, idNumber: String, size: Int, guard removalGuard: RemovalGuard, now: Date, on sql: any SQLDatabase
    ) async throws {
        let held = try await sql.insert(into: "held_changes")
            .columns("access_group_id", "source", "actor", "logins", "removed", "group_size", "status", "created_at")
            .values(
                SQLBind(id), SQLBind(removalGuard.actor.replacingOccurrences(of: "directory:", with: "")), SQLBind(removalGuard.actor),
                SQLBind(try jsonText(.array(logins.map(JSONValue.string)))), SQLBind(logins.count), SQLBind(size),
                SQLBind(HeldChangeRecord.Status.held.rawValue), SQLBind(now.storedMilliseconds)
            ).returning("id").first()?.decode(column: "id", as: Int64.self)
        try await AuditLog.append(
            .init(
                actor: removalGuard.actor, action: "directory.change-held", target: "access-group:\(idNumber)",
                details: [
                    "heldChange": .int(Int(held ?? 0)), "removed": .int(logins.count), "groupSize": .int(size),
                    "share": .double(removalGuard.share), "logins": .array(logins.prefix(100).map(JSONValue.string)),
                ]), at: now, on: sql)
    }

    /// Member rows for `logins` (folded) in group `id`; rows already there are left as they are.
    static func insertMembers(_ logins: [String], group id: Int64, direct: Bool, now: Date, on sql: any SQLDatabase) async throws {
        for batch in logins.chunked(200) {
            var insert = sql.insert(into: "group_members").columns("group_id", "login_folded", "assigned_at", "direct")
            for login in batch { insert = insert.values(SQLBind(id), SQLBind(login), SQLBind(now.storedMilliseconds), SQLBind(direct)) }
            try await insert.ignoringConflicts().run()
        }
    }

    /// Assignment errors for `logins` (folded), with the key's figures now: each was refused one seat.
    static func recordAssignmentErrors(_ logins: [String], group id: Int64, direct: Bool, ledger: SeatLedger, now: Date, on sql: any SQLDatabase)
        async throws
    {
        for batch in logins.chunked(100) {
            var insert = sql.insert(into: "assignment_errors").columns(
                "access_group_id", "login_folded", "direct", "key_serial", "seat_limit", "in_use", "requested", "created_at")
            for login in batch {
                insert = insert.values(
                    SQLBind(id), SQLBind(login), SQLBind(direct), SQLBind(ledger.serial), SQLBind(ledger.limit), SQLBind(ledger.inUse), SQLBind(1),
                    SQLBind(now.storedMilliseconds))
            }
            try await insert.ignoringConflicts().run()
        }
        if !logins.isEmpty {
            try await AuditLog.append(
                .init(
                    actor: "system", action: "access-group.assignment-errors", target: "license-key:\(ledger.serial)",
                    details: [
                        "logins": .array(logins.prefix(100).map { JSONValue.string($0) }), "count": .int(logins.count),
                        "limit": .int(ledger.limit), "inUse": .int(ledger.inUse),
                    ]), at: now, on: sql)
        }
    }

    /// Tries the assignment errors again, oldest first: those who find a seat now become members. Run after changes
    /// that free seats (a user disabled or removed from a group, a group deleted or moved) and on request.
    /// `serials`, when given, limits the retry to those keys (the ones a change freed seats on).
    static func retryAssignmentErrors(kind: DatabaseKind, now: Date, serials: Set<String>? = nil, on sql: any SQLDatabase) async throws
        -> DirectoryEffect
    {
        var effect = DirectoryEffect()
        let errors = try await sql.raw(
            """
            SELECT e.id, e.access_group_id, e.login_folded, e.direct, g.key_serial, g.id_number FROM assignment_errors e
            JOIN access_groups g ON g.id = e.access_group_id ORDER BY e.id LIMIT 100000
            """
        ).all()
        guard !errors.isEmpty else { return effect }
        var byKey: [String: [any SQLRow]] = [:]
        for row in errors {
            let serial = try row.decode(column: "key_serial", as: String.self)
            if serials?.contains(serial) ?? true { byKey[serial, default: []].append(row) }
        }
        for (serial, rows) in byKey.sorted(by: { $0.key < $1.key }) {
            guard var ledger = try await SeatLedger.open(serial, kind: kind, on: sql) else { continue }
            let logins = try rows.map { try $0.decode(column: "login_folded", as: String.self) }
            try await ledger.learnHolders(among: logins, on: sql)
            let eligible = try await activeLogins(logins, on: sql)
            var cleared: [Int64] = []
            for (row, login) in zip(rows, logins) {
                guard ledger.admit(login, eligible: eligible.contains(login)) else { continue }
                let group = try row.decode(column: "access_group_id", as: Int64.self)
                try await insertMembers([login], group: group, direct: try row.decode(column: "direct", as: Bool.self), now: now, on: sql)
                cleared.append(try row.decode(column: "id", as: Int64.self))
                effect.assigned(login, group: try row.decode(column: "id_number", as: String.self))
            }
            for batch in cleared.chunked(500) { try await sql.delete(from: "assignment_errors").where("id", .in, Array(batch)).run() }
            effect.retried += cleared.count
        }
        if effect.retried > 0 {
            try await AuditLog.append(
                .init(actor: "system", action: "access-group.assignment-errors-cleared", target: "users", details: ["count": .int(effect.retried)]),
                at: now, on: sql)
        }
        return effect
    }

    /// A user about to be enabled by the directory: on each nominative key with no seat for them, their member rows
    /// become assignment errors (the directory is not refused, and the key is not over-allocated).
    static func seatEnabledUser(_ login: String, kind: DatabaseKind, now: Date, on sql: any SQLDatabase) async throws -> DirectoryEffect {
        var effect = DirectoryEffect()
        let rows = try await sql.raw(
            """
            SELECT m.group_id, m.direct, g.key_serial, g.id_number FROM group_members m JOIN access_groups g ON g.id = m.group_id
            WHERE m.login_folded = \(bind: login) ORDER BY m.id
            """
        ).all()
        var byKey: [String: [any SQLRow]] = [:]
        for row in rows { byKey[try row.decode(column: "key_serial", as: String.self), default: []].append(row) }
        for (serial, rows) in byKey.sorted(by: { $0.key < $1.key }) {
            guard var ledger = try await SeatLedger.open(serial, kind: kind, on: sql), !ledger.admit(login, eligible: true) else { continue }
            for row in rows {
                let group = try row.decode(column: "group_id", as: Int64.self)
                try await sql.delete(from: "group_members").where("group_id", .equal, group).where("login_folded", .equal, login).run()
                try await recordAssignmentErrors(
                    [login], group: group, direct: try row.decode(column: "direct", as: Bool.self), ledger: ledger, now: now, on: sql)
                effect.assigned(login, group: try row.decode(column: "id_number", as: String.self))
                effect.assignmentErrors += 1
            }
        }
        return effect
    }

    /// The access groups linked to any of the directory groups `ids`.
    static func linkedAccessGroups(_ ids: [String], on sql: any SQLDatabase) async throws -> Set<Int64> {
        var result: Set<Int64> = []
        for batch in ids.chunked(500) {
            for row in try await sql.select().column("access_group_id").from("access_group_links").where("directory_group_id", .in, Array(batch))
                .all()
            {
                result.insert(try row.decode(column: "access_group_id", as: Int64.self))
            }
        }
        return result
    }
}

extension RegistryStore {
    // MARK: Assignment errors

    /// The assignment errors, oldest first; one user's when `login` is given, one access group's when `accessGroup` is.
    public func assignmentErrors(login: String? = nil, accessGroup: String? = nil, limit: Int = 1000) async throws -> [AssignmentErrorRecord] {
        try await database.read { sql in
            var only: SQLQueryString = " WHERE 1 = 1"
            if let login { only = only + " AND e.login_folded = \(bind: Self.fold(login))" }
            if let accessGroup { only = only + " AND g.id_number_folded = \(bind: Self.fold(accessGroup))" }
            return try await sql.raw(
                """
                SELECT e.id, u.login, g.id_number AS access_group, e.key_serial, k.id_number AS key_id_number, e.seat_limit, e.in_use,
                e.requested, e.created_at, e.retried_at FROM assignment_errors e
                JOIN registry_users u ON u.login_folded = e.login_folded JOIN access_groups g ON g.id = e.access_group_id
                LEFT JOIN registered_keys k ON k.serial = e.key_serial\(only) ORDER BY e.id LIMIT \(bind: limit)
                """
            ).all().map { row in
                AssignmentErrorRecord(
                    id: try row.decode(column: "id", as: Int64.self), login: try row.decode(column: "login", as: String.self),
                    accessGroup: try row.decode(column: "access_group", as: String.self),
                    keySerial: try row.decode(column: "key_serial", as: String.self),
                    keyIdNumber: try row.decode(column: "key_id_number", as: String?.self), limit: try row.decode(column: "seat_limit", as: Int.self),
                    inUse: try row.decode(column: "in_use", as: Int.self), requested: try row.decode(column: "requested", as: Int.self),
                    createdAt: Date(storedMilliseconds: try row.decode(column: "created_at", as: Int64.self)),
                    retriedAt: try row.decode(column: "retried_at", as: Int64?.self).map(Date.init(storedMilliseconds:)))
            }
        }
    }

    /// The members of access group `idNumber` who are in it only through a linked directory group (folded logins).
    public func directoryOnlyMembers(ofAccessGroup idNumber: String) async throws -> Set<String> {
        try await database.read { sql in
            Set(
                try await sql.raw(
                    """
                    SELECT m.login_folded FROM group_members m JOIN access_groups g ON g.id = m.group_id
                    WHERE g.id_number_folded = \(bind: Self.fold(idNumber)) AND m.direct = \(bind: false)
                    """
                ).all().map { try $0.decode(column: "login_folded", as: String.self) })
        }
    }

    /// How many assignment errors there are.
    public func assignmentErrorCount() async throws -> Int {
        try await database.read { sql in
            try await sql.raw("SELECT COUNT(*) AS n FROM assignment_errors").first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    /// Retries every assignment error now (the Reprocess action); the ones still without a seat are marked retried.
    public func reprocessAssignmentErrors(actor: String, now: Date, notice: @Sendable (AccessChange) -> KeywardDatabase.Notification?) async throws
        -> DirectoryEffect
    {
        let kind = database.kind
        return try await database.write { sql in
            let effect = try await Self.retryAssignmentErrors(kind: kind, now: now, on: sql)
            try await sql.update("assignment_errors").set("retried_at", to: now.storedMilliseconds).run()
            try await AuditLog.append(
                .init(actor: actor, action: "assignment-errors.reprocessed", target: "users", details: ["cleared": .int(effect.retried)]), at: now,
                on: sql)
            try await database.send(notice(effect.change), on: sql)
            return effect
        }
    }

    /// Retries the assignment errors when there are any, after a change that may have freed seats.
    public func retryAssignmentErrorsIfAny(now: Date, notice: @Sendable (AccessChange) -> KeywardDatabase.Notification?) async throws
        -> DirectoryEffect
    {
        guard try await database.read({ sql in try await sql.raw("SELECT 1 AS one FROM assignment_errors LIMIT 1").first() != nil }) else {
            return DirectoryEffect()
        }
        let kind = database.kind
        return try await database.write { sql in
            let effect = try await Self.retryAssignmentErrors(kind: kind, now: now, on: sql)
            if effect.retried > 0 { try await database.send(notice(effect.change), on: sql) }
            return effect
        }
    }
}

extension RegistryStore {
    // MARK: Held changes

    /// The held changes, newest first; only those still waiting unless `all`.
    public func heldChanges(all: Bool = false, limit: Int = 200) async throws -> [HeldChangeRecord] {
        try await database.read { sql in
            let only: SQLQueryString = all ? "" : " WHERE h.status = 'held'"
            return try await sql.raw(
                """
                SELECT h.*, g.id_number FROM held_changes h JOIN access_groups g ON g.id = h.access_group_id\(only)
                ORDER BY h.id DESC LIMIT \(bind: limit)
                """
            ).all().map(Self.heldChange)
        }
    }

    static func heldChange(_ row: any SQLRow) throws -> HeldChangeRecord {
        let logins: [String] =
            if case .array(let items) = try json(try row.decode(column: "logins", as: String.self)) {
                items.compactMap { if case .string(let login) = $0 { login } else { nil } }
            } else { [] }
        return HeldChangeRecord(
            id: try row.decode(column: "id", as: Int64.self), accessGroup: try row.decode(column: "id_number", as: String.self),
            actor: try row.decode(column: "actor", as: String.self), logins: logins, removed: try row.decode(column: "removed", as: Int.self),
            groupSize: try row.decode(column: "group_size", as: Int.self),
            status: HeldChangeRecord.Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .held,
            createdAt: Date(storedMilliseconds: try row.decode(column: "created_at", as: Int64.self)),
            decidedAt: try row.decode(column: "decided_at", as: Int64?.self).map(Date.init(storedMilliseconds:)),
            decidedBy: try row.decode(column: "decided_by", as: String?.self))
    }

    /// Confirms held change `id`: its users lose the access the directory no longer gives them (those it gives again
    /// meanwhile keep it), or discards it: they keep their access, as users added by hand. `HELD_CHANGE_DECIDED` when
    /// it was decided already.
    public func decideHeldChange(_ id: Int64, confirm: Bool, actor: String, now: Date, notice: Notice) async throws -> (
        HeldChangeRecord, DirectoryEffect
    ) {
        let kind = database.kind
        return try await database.write { sql in
            guard
                let row = try await sql.raw(
                    "SELECT h.*, g.id_number FROM held_changes h JOIN access_groups g ON g.id = h.access_group_id WHERE h.id = \(bind: id)"
                ).first()
            else {
                throw StoreError(code: "UNKNOWN_HELD_CHANGE", message: "There is no held change \(id).", kind: .notFound)
            }
            var held = try Self.heldChange(row)
            guard held.status == .held else {
                throw StoreError(
                    code: "HELD_CHANGE_DECIDED",
                    message: "Held change \(id) was \(held.status.rawValue) already\(held.decidedBy.map { " by \($0)" } ?? "").",
                    kind: .conflict)
            }
            let group = try row.decode(column: "access_group_id", as: Int64.self)
            var effect = DirectoryEffect()
            if confirm {
                effect = try await Self.reconcile(accessGroups: [group], logins: Set(held.logins), kind: kind, now: now, on: sql)
                // Users the directory no longer has, kept enabled only for this change, are disabled now.
                try await sql.update("held_changes").set("status", to: HeldChangeRecord.Status.confirmed.rawValue).where("id", .equal, id).run()
                let stillHeld = try await Self.heldLogins(on: sql)
                for batch in held.logins.filter({ !stillHeld.contains($0) }).chunked(500) {
                    for row in try await sql.raw(
                        """
                        SELECT login_folded, login FROM registry_users WHERE login_folded IN (\(SQLList(batch.map { SQLBind($0) })))
                        AND directory_id IS NOT NULL AND directory_active = \(bind: false) AND active = \(bind: true)
                        """
                    ).all() {
                        let login = try row.decode(column: "login_folded", as: String.self)
                        try await sql.update("registry_users").set("active", to: false).where("login_folded", .equal, login).run()
                        try await Self.signOut(login, now: now, on: sql)
                        _ = try await Self.endSessions(of: login, reason: .disconnected, now: now, on: sql)
                        effect.change.users.insert(try row.decode(column: "login", as: String.self))
                        effect.removed += 1
                    }
                }
                if effect.removed > 0 { effect.merge(try await Self.retryAssignmentErrors(kind: kind, now: now, on: sql)) }
            } else {
                for batch in held.logins.chunked(500) {
                    try await sql.update("group_members").set("direct", to: true).where("group_id", .equal, group)
                        .where("login_folded", .in, Array(batch)).run()
                }
            }
            held.status = confirm ? .confirmed : .discarded
            held.decidedAt = now
            held.decidedBy = actor
            try await sql.update("held_changes").set("status", to: held.status.rawValue).set("decided_at", to: now.storedMilliseconds)
                .set("decided_by", to: actor).where("id", .equal, id).run()
            try await AuditLog.append(
                .init(
                    actor: actor, action: confirm ? "directory.change-confirmed" : "directory.change-discarded",
                    target: "access-group:\(held.accessGroup)",
                    details: ["heldChange": .int(Int(id)), "removed": .int(effect.removed), "kept": .int(confirm ? 0 : held.logins.count)]),
                at: now, on: sql)
            try await database.send(notice(effect.change), on: sql)
            return (held, effect)
        }
    }
}
