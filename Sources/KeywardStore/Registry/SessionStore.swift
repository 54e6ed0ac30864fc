import Foundation
import KeywardDomain
import SQLKit

// Sessions are read and written column by column, not with Codable row structs as the rest of the store: opening and
// ending them is the suite's hot path, which `scripts/bench-access` (a logout's time) measures.

extension RegistryStore {
    /// Opens a session on the first candidate key with room: a nominative key the user holds a seat on needs no more
    /// room; a floating key has room while its open, unexpired sessions are fewer than its users. `NO_SEAT_AVAILABLE`
    /// when every floating candidate is full. On PostgreSQL each floating key's row is locked while it is counted.
    public func openSession(login: String, candidates: [SessionCandidate], ip: String?, lease: TimeInterval, now: Date) async throws -> UserSession {
        let kind = database.kind
        return try await database.write { sql in
            let folded = Self.fold(login)
            guard
                let user = try await sql.select().columns("login", "active").from("registry_users").where("login_folded", .equal, folded)
                    .where("builtin", .equal, false).first()
            else { throw StoreError.unknownUser(login) }
            guard try user.decode(column: "active", as: Bool.self) else {
                throw StoreError(code: "USER_DISABLED", message: "The user \(login) is disabled. An administrator can enable them.", kind: .conflict)
            }
            for candidate in candidates {
                if candidate.floating {
                    let lock = kind == .postgres ? " FOR UPDATE" : ""
                    guard
                        try await sql.raw("SELECT serial FROM registered_keys WHERE serial = \(bind: candidate.serial)\(unsafeRaw: lock)").first()
                            != nil
                    else { continue }
                    let open = try await sql.raw(
                        """
                        SELECT COUNT(*) AS n FROM user_sessions
                        WHERE key_serial = \(bind: candidate.serial) AND ended_at IS NULL AND lease_expires_at > \(bind: now.storedMilliseconds)
                        """
                    ).first()!.decode(column: "n", as: Int.self)
                    guard open < candidate.users else { continue }
                }
                let session = UserSession(
                    id: "ses_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""),
                    login: try user.decode(column: "login", as: String.self), keySerial: candidate.serial, floating: candidate.floating,
                    ip: ip, startedAt: now, leaseExpiresAt: now.addingTimeInterval(lease))
                try await sql.insert(into: "user_sessions")
                    .columns("id", "login_folded", "key_serial", "floating", "ip", "started_at", "lease_expires_at")
                    .values(
                        SQLBind(session.id), SQLBind(folded), SQLBind(session.keySerial), SQLBind(session.floating), SQLBind(ip),
                        SQLBind(now.storedMilliseconds), SQLBind(session.leaseExpiresAt.storedMilliseconds)
                    ).run()
                return session
            }
            throw StoreError(
                code: "NO_SEAT_AVAILABLE", message: "Every seat of the keys that give \(login) access is taken. Try again when someone logs out.",
                kind: .conflict, details: ["keys": .array(candidates.map { .string($0.serial) })])
        }
    }

    /// Renews an open session's lease; `SESSION_ENDED` when it has ended or its lease ran out.
    public func renewSession(_ id: String, lease: TimeInterval, now: Date) async throws -> UserSession {
        guard let result = try await renewSessions([id], lease: lease, now: now)[id] else { throw Self.unknownSession(id) }
        return try result.get()
    }

    /// Renews many sessions at once (a group commit of heartbeats), in one statement per 500 of them: each id gets its
    /// renewed session, or the refusal `renewSession(_:lease:now:)` would give it. A session counts as renewed only once
    /// its statement committed.
    public func renewSessions(_ ids: [String], lease: TimeInterval, now: Date) async throws -> [String: Result<UserSession, StoreError>] {
        let expires = now.addingTimeInterval(lease).storedMilliseconds
        var results: [String: Result<UserSession, StoreError>] = [:]
        // One statement per 500 sessions renews the open ones among them and returns them as renewed.
        for chunk in Array(Set(ids)).chunked(500) {
            let rows = try await database.writeStatement { sql in
                try await sql.raw(
                    """
                    UPDATE user_sessions SET lease_expires_at = \(bind: expires)
                    WHERE id IN \(SQLBind.group(Array(chunk))) AND ended_at IS NULL AND lease_expires_at > \(bind: now.storedMilliseconds)
                    RETURNING *, (SELECT login FROM registry_users u WHERE u.login_folded = user_sessions.login_folded) AS login
                    """
                ).all()
            }
            for row in rows {
                let session = try Self.session(row)
                results[session.id] = .success(session)
            }
        }
        // The rest were ended, ran out, or never existed: read only to say which.
        let refused = Array(Set(ids.filter { results[$0] == nil }))
        if !refused.isEmpty {
            let known = try await database.read { sql in
                var known: Set<String> = []
                for chunk in refused.chunked(500) {
                    for row in try await sql.select().column("id").from("user_sessions").where("id", .in, Array(chunk)).all() {
                        known.insert(try row.decode(column: "id", as: String.self))
                    }
                }
                return known
            }
            for id in refused {
                results[id] =
                    known.contains(id)
                    ? .failure(StoreError(code: "SESSION_ENDED", message: "This session has ended; log in again.", kind: .conflict))
                    : .failure(Self.unknownSession(id))
            }
        }
        return results
    }

    /// Open sessions among `ids`, as they are now.
    public func openSessions(_ ids: [String], now: Date) async throws -> [UserSession] {
        try await database.read { sql in
            var sessions: [UserSession] = []
            for chunk in Array(Set(ids)).chunked(500) {
                for row in try await Self.selectSessions(on: sql).where(SQLColumn("id", table: "s"), .in, SQLBind.group(Array(chunk))).where(
                    SQLColumn("ended_at", table: "s"), .is, SQLLiteral.null
                ).all() {
                    let session = try Self.session(row)
                    if session.leaseExpiresAt > now { sessions.append(session) }
                }
            }
            return sessions
        }
    }

    /// Ends one session (logout or disconnection); ending an ended one changes nothing.
    public func endSession(_ id: String, reason: UserSession.EndReason, actor: String, now: Date) async throws -> UserSession {
        try await database.write { sql in
            guard var session = try await Self.session(id, on: sql) else { throw Self.unknownSession(id) }
            guard session.endedAt == nil else { return session }
            let end = min(now, session.leaseExpiresAt)
            let why: UserSession.EndReason = session.leaseExpiresAt <= now ? .expired : reason
            try await sql.update("user_sessions").set("ended_at", to: end.storedMilliseconds).set("end_reason", to: why.rawValue).where(
                "id", .equal, id
            ).run()
            if why == .disconnected {
                try await AuditLog.append(
                    .init(actor: actor, action: "session.disconnected", target: "user:\(session.login)", details: ["session": .string(id)]),
                    at: now, on: sql)
            }
            session.endedAt = end
            session.endReason = why
            return session
        }
    }

    /// Disconnects every open session of one user, or of everyone; returns how many ended.
    @discardableResult
    public func disconnect(login: String?, actor: String, now: Date) async throws -> Int {
        try await database.write { sql in
            let count = try await Self.endSessions(of: login.map { Self.fold($0) }, reason: .disconnected, now: now, on: sql)
            try await AuditLog.append(
                .init(
                    actor: actor, action: "session.disconnected", target: login.map { "user:\($0)" } ?? "sessions",
                    details: ["sessions": .int(count)]), at: now, on: sql)
            return count
        }
    }

    /// Closes the sessions whose lease ran out, as `expired`, at their lease's end; returns how many.
    @discardableResult
    public func expireSessions(now: Date) async throws -> Int {
        try await database.write { sql in
            let rows = try await sql.raw(
                """
                UPDATE user_sessions SET ended_at = lease_expires_at, end_reason = 'expired'
                WHERE ended_at IS NULL AND lease_expires_at <= \(bind: now.storedMilliseconds) RETURNING id
                """
            ).all()
            return rows.count
        }
    }

    /// Ends open sessions (of one user when `login` is given): expired ones as `expired`, the others as `reason`.
    @discardableResult
    static func endSessions(of login: String?, reason: UserSession.EndReason, now: Date, on sql: any SQLDatabase) async throws -> Int {
        let user = login.map { SQLQueryString(" AND login_folded = \(bind: $0)") } ?? SQLQueryString("")
        _ = try await sql.raw(
            """
            UPDATE user_sessions SET ended_at = lease_expires_at, end_reason = 'expired'
            WHERE ended_at IS NULL AND lease_expires_at <= \(bind: now.storedMilliseconds)\(user)
            """
        ).run()
        return try await sql.raw(
            """
            UPDATE user_sessions SET ended_at = \(bind: now.storedMilliseconds), end_reason = \(bind: reason.rawValue)
            WHERE ended_at IS NULL\(user) RETURNING id
            """
        ).all().count
    }

    /// Sessions, newest first: the open ones (lease not run out), or the history; optionally one user's; `before` pages.
    public func sessions(open: Bool, login: String? = nil, before: Date? = nil, limit: Int = 100, now: Date) async throws -> [UserSession] {
        try await database.read { sql in
            var query = sql.select().column(SQLColumn(SQLLiteral.all, table: SQLIdentifier("s"))).column(SQLColumn("login", table: "u")).from(
                SQLAlias(SQLIdentifier("user_sessions"), as: SQLIdentifier("s"))
            )
            .join(
                SQLAlias(SQLIdentifier("registry_users"), as: SQLIdentifier("u")), on: SQLColumn("login_folded", table: "u"), .equal,
                SQLColumn("login_folded", table: "s"))
            if open {
                query = query.where(SQLColumn("ended_at", table: "s"), .is, SQLLiteral.null)
                    .where(SQLColumn("lease_expires_at", table: "s"), .greaterThan, SQLBind(now.storedMilliseconds))
            }
            if let login { query = query.where(SQLColumn("login_folded", table: "s"), .equal, SQLBind(Self.fold(login))) }
            if let before { query = query.where(SQLColumn("started_at", table: "s"), .lessThan, SQLBind(before.storedMilliseconds)) }
            return try await query.orderBy(SQLColumn("started_at", table: "s"), SQLDirection.descending).limit(limit).all().map(Self.session)
        }
    }

    /// Open sessions for the entitlement snapshot.
    /// One session, open or ended.
    public func session(_ id: String) async throws -> UserSession? {
        try await database.read { sql in try await Self.session(id, on: sql) }
    }

    /// The latest lease among `login`'s open sessions on `keySerial` that have not run out, or nil when none is left:
    /// what the entitlement snapshot keeps for that user and key after one of those sessions ended.
    public func openLease(login: String, keySerial: String, now: Date) async throws -> Date? {
        try await database.read { sql in
            try await sql.raw(
                """
                SELECT MAX(lease_expires_at) AS lease FROM user_sessions
                WHERE login_folded = \(bind: Self.fold(login)) AND key_serial = \(bind: keySerial)
                  AND ended_at IS NULL AND lease_expires_at > \(bind: now.storedMilliseconds)
                """
            ).first()?.decode(column: "lease", as: Int64?.self).map(Date.init(storedMilliseconds:))
        }
    }

    /// The latest lease of `login`'s open sessions on each key at `now`.
    public func openLeases(login: String, now: Date) async throws -> [String: Date] {
        try await database.read { sql in
            var leases: [String: Date] = [:]
            for row in try await sql.raw(
                """
                SELECT key_serial, MAX(lease_expires_at) AS lease FROM user_sessions
                WHERE login_folded = \(bind: Self.fold(login)) AND ended_at IS NULL AND lease_expires_at > \(bind: now.storedMilliseconds)
                GROUP BY key_serial
                """
            ).all() {
                leases[try row.decode(column: "key_serial", as: String.self)] = Date(
                    storedMilliseconds: try row.decode(column: "lease", as: Int64.self))
            }
            return leases
        }
    }

    /// How many sessions are open on each key at `now`, counted by the database.
    public func openSessionCounts(now: Date) async throws -> [String: Int] {
        try await database.read { sql in
            var counts: [String: Int] = [:]
            for row in try await sql.raw(
                """
                SELECT key_serial, COUNT(*) AS n FROM user_sessions WHERE ended_at IS NULL AND lease_expires_at > \(bind: now.storedMilliseconds)
                GROUP BY key_serial
                """
            ).all() {
                counts[try row.decode(column: "key_serial", as: String.self)] = try row.decode(column: "n", as: Int.self)
            }
            return counts
        }
    }

    public func openSessions(now: Date) async throws -> [AccessModel.Session] {
        try await sessions(open: true, limit: 1_000_000, now: now).map {
            AccessModel.Session($0)
        }
    }

    /// Sessions (`s`) with their user's login as typed (`u.login`), for ``session(_:)`` to map.
    static func selectSessions(on sql: any SQLDatabase) -> SQLSelectBuilder {
        sql.select().column(SQLColumn(SQLLiteral.all, table: SQLIdentifier("s"))).column(SQLColumn("login", table: "u"))
            .from(SQLAlias(SQLIdentifier("user_sessions"), as: SQLIdentifier("s")))
            .join(
                SQLAlias(SQLIdentifier("registry_users"), as: SQLIdentifier("u")), on: SQLColumn("login_folded", table: "u"), .equal,
                SQLColumn("login_folded", table: "s")
            )
    }

    static func session(_ id: String, on sql: any SQLDatabase) async throws -> UserSession? {
        try await selectSessions(on: sql).where(SQLColumn("id", table: "s"), .equal, SQLBind(id)).first().map(Self.session)
    }

    static func session(_ row: any SQLRow) throws -> UserSession {
        UserSession(
            id: try row.decode(column: "id", as: String.self), login: try row.decode(column: "login", as: String.self),
            keySerial: try row.decode(column: "key_serial", as: String.self), floating: try row.decode(column: "floating", as: Bool.self),
            ip: try row.decode(column: "ip", as: String?.self),
            startedAt: Date(storedMilliseconds: try row.decode(column: "started_at", as: Int64.self)),
            leaseExpiresAt: Date(storedMilliseconds: try row.decode(column: "lease_expires_at", as: Int64.self)),
            endedAt: try row.decode(column: "ended_at", as: Int64?.self).map(Date.init(storedMilliseconds:)),
            endReason: try row.decode(column: "end_reason", as: String?.self).flatMap(UserSession.EndReason.init(rawValue:)))
    }

    static func unknownSession(_ id: String) -> StoreError {
        StoreError(code: "UNKNOWN_SESSION", message: "There is no session \(id).", kind: .notFound)
    }
}
