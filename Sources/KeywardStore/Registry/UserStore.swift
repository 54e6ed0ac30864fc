import Foundation
import KeywardDomain
import SQLKit

/// A user to create or the changes to one; `nil` leaves a field as it is.
public struct UserChanges: Sendable, Hashable {
    public var name: String?
    public var email: String?
    /// `.some(nil)` removes the password.
    public var passwordHash: String??
    public var active: Bool?

    public init(name: String? = nil, email: String? = nil, passwordHash: String?? = nil, active: Bool? = nil) {
        self.name = name
        self.email = email
        self.passwordHash = passwordHash
        self.active = active
    }
}

extension RegistryStore {
    /// Users by login, case ignored, with an optional search of login, name and e-mail; `after` pages by login.
    public func users(search: String? = nil, after: String? = nil, limit: Int = 50) async throws -> [RegistryUser] {
        try await database.read { sql in
            var query = sql.select().columns("*").from("registry_users").where("builtin", .equal, false)
            if let search, !search.isEmpty {
                let pattern = "%" + Self.escapeLike(search.lowercased()) + "%"
                query = query.where(
                    SQLQueryString(
                        """
                        (login_folded LIKE \(bind: pattern) ESCAPE '!' OR lower(name) LIKE \(bind: pattern) ESCAPE '!'
                         OR lower(email) LIKE \(bind: pattern) ESCAPE '!')
                        """))
            }
            if let after { query = query.where("login_folded", .greaterThan, Self.fold(after)) }
            return try await query.orderBy("login_folded").limit(limit).all().map(Self.user)
        }
    }

    /// A page of users in natural order (`user2` before `user10`: a trailing number by its value), with how many match
    /// in all; `outsideGroup` leaves out the members of that access group (by ID #). For pages, which page by offset.
    public func usersPage(search: String? = nil, outsideGroup: String? = nil, offset: Int = 0, limit: Int = 50) async throws
        -> (users: [RegistryUser], total: Int)
    {
        let filter = Self.userFilter(search: search, outsideGroup: outsideGroup)
        return try await database.read { sql in
            let total = try await sql.raw("SELECT COUNT(*) AS n FROM registry_users WHERE " + filter).first()?.decode(column: "n", as: Int.self) ?? 0
            // The name without its trailing digits, then its length (a longer run of digits is a larger number), then the name.
            let rows = try await sql.raw(
                "SELECT * FROM registry_users WHERE " + filter + """
                     ORDER BY rtrim(login_folded, '0123456789'), length(login_folded), login_folded LIMIT \(bind: max(0, limit)) OFFSET \(bind: max(0, offset))
                    """
            ).all()
            return (try rows.map(Self.user), total)
        }
    }

    /// Every login that `usersPage` would list on all its pages, in the same order (at most `limit`).
    public func matchingLogins(search: String? = nil, outsideGroup: String? = nil, limit: Int = 100_000) async throws -> [String] {
        let filter = Self.userFilter(search: search, outsideGroup: outsideGroup)
        return try await database.read { sql in
            try await sql.raw(
                "SELECT login FROM registry_users WHERE " + filter + """
                     ORDER BY rtrim(login_folded, '0123456789'), length(login_folded), login_folded LIMIT \(bind: limit)
                    """
            ).all().map { try $0.decode(column: "login", as: String.self) }
        }
    }

    static func userFilter(search: String?, outsideGroup: String?) -> SQLQueryString {
        var filter: SQLQueryString = "builtin = \(bind: false)"
        if let search, !search.isEmpty {
            let pattern = "%" + escapeLike(search.lowercased()) + "%"
            filter += """
                 AND (login_folded LIKE \(bind: pattern) ESCAPE '!' OR lower(name) LIKE \(bind: pattern) ESCAPE '!' OR lower(email) LIKE \(bind: pattern) ESCAPE '!')
                """
        }
        if let outsideGroup {
            filter += """
                 AND NOT EXISTS (SELECT 1 FROM group_members m JOIN access_groups g ON g.id = m.group_id
                 WHERE g.id_number_folded = \(bind: fold(outsideGroup)) AND m.login_folded = registry_users.login_folded)
                """
        }
        return filter
    }

    /// A search text as a LIKE pattern's literal part: `%` and `_` match themselves (escaped with `!`).
    static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "!", with: "!!").replacingOccurrences(of: "%", with: "!%").replacingOccurrences(of: "_", with: "!_")
    }

    /// Creates a user; `DUPLICATE_LOGIN` when the login is taken, ignoring case.
    public func createUser(login: String, name: String, email: String, passwordHash: String?, active: Bool, actor: String, now: Date) async throws
        -> RegistryUser
    {
        try await database.write { sql in
            let row = try await sql.insert(into: "registry_users")
                .columns("login_folded", "login", "name", "email", "password_hash", "active", "builtin", "created_at")
                .values(
                    SQLBind(Self.fold(login)), SQLBind(login), SQLBind(name), SQLBind(email), SQLBind(passwordHash), SQLBind(active), SQLBind(false),
                    SQLBind(now.storedMilliseconds)
                )
                .ignoringConflicts()
                .returning("login").first()
            guard row != nil else {
                throw StoreError(
                    code: "DUPLICATE_LOGIN", message: "The login \(login) is taken (logins ignore case). Choose another one.", kind: .conflict,
                    details: ["field": "login"])
            }
            try await AuditLog.append(.init(actor: actor, action: "user.created", target: "user:\(login)"), at: now, on: sql)
            return RegistryUser(login: login, name: name, email: email, passwordHash: passwordHash, active: active, builtin: false)
        }
    }

    /// Creates many users in one transaction, skipping taken logins; returns the logins skipped.
    /// Binds its rows column by column: `scripts/bench-access` measures an import of 100,000 users.
    public func importUsers(_ users: [(login: String, name: String, email: String, active: Bool)], actor: String, now: Date) async throws -> [String]
    {
        try await database.write { sql in
            var skipped: [String] = []
            for batch in stride(from: 0, to: users.count, by: 200).map({ users[$0..<min($0 + 200, users.count)] }) {
                var insert = sql.insert(into: "registry_users").columns(
                    "login_folded", "login", "name", "email", "password_hash", "active", "builtin", "created_at")
                for user in batch {
                    insert = insert.values(
                        SQLBind(Self.fold(user.login)), SQLBind(user.login), SQLBind(user.name), SQLBind(user.email), SQLBind(String?.none),
                        SQLBind(user.active), SQLBind(false), SQLBind(now.storedMilliseconds))
                }
                let inserted = Set(
                    try await insert.ignoringConflicts().returning("login_folded").all().map {
                        try $0.decode(column: "login_folded", as: String.self)
                    })
                skipped += batch.filter { !inserted.contains(Self.fold($0.login)) }.map(\.login)
            }
            try await AuditLog.append(
                .init(
                    actor: actor, action: "user.imported", target: "users",
                    details: ["imported": .int(users.count - skipped.count), "skipped": .int(skipped.count)]), at: now, on: sql)
            return skipped
        }
    }

    /// Changes a user. Enabling one gives them back their seats, so it is refused with `SEAT_LIMIT_EXCEEDED` when a
    /// nominative key has none left; disabling one frees their seats and ends their sessions.
    public func updateUser(_ login: String, _ changes: UserChanges, actor: String, now: Date) async throws -> RegistryUser {
        let kind = database.kind
        return try await database.write { sql in
            guard
                var user = try await sql.select().columns("*").from("registry_users").where("login_folded", .equal, Self.fold(login)).first().map(
                    Self.user)
            else {
                throw StoreError.unknownUser(login)
            }
            guard !user.builtin else {
                throw StoreError(
                    code: "LOGIN_RESERVED", message: "The built-in administrator is changed with keyward admin password, not here.", kind: .conflict)
            }
            if user.fromDirectory {
                guard changes.name == nil, changes.email == nil, changes.passwordHash == nil else {
                    throw StoreError(
                        code: "DIRECTORY_USER",
                        message:
                            "\(user.login) comes from the directory (\(user.source.uppercased())): change their name and e-mail there. Here they can only be disabled, or enabled again.",
                        kind: .conflict, details: ["source": .string(user.source)])
                }
                if changes.active == true, !user.directoryActive {
                    throw StoreError(
                        code: "DIRECTORY_DISABLED",
                        message: "The directory disabled \(user.login)\(user.inDirectory ? "" : " (they are no longer in it)"); enable them there.",
                        kind: .conflict)
                }
            }
            if changes.active == true, !user.active {
                for serial in try await Self.keysOf(user: login, on: sql) {
                    try await Self.requireSeats(on: serial, for: [Self.fold(login)], kind: kind, enabling: true, on: sql)
                }
            }
            var update = sql.update("registry_users")
            var fields: [String] = []
            if let name = changes.name {
                update = update.set("name", to: name)
                user.name = name
                fields.append("name")
            }
            if let email = changes.email {
                update = update.set("email", to: email)
                user.email = email
                fields.append("email")
            }
            if let hash = changes.passwordHash {
                update = update.set("password_hash", to: SQLBind(hash))
                user.passwordHash = hash
                fields.append("password")
            }
            if let active = changes.active {
                update = update.set("active", to: active).set("locally_disabled", to: !active)
                user.active = active
                fields.append("active")
            }
            guard !fields.isEmpty else { return user }
            try await update.where("login_folded", .equal, Self.fold(login)).run()
            if changes.active == false || changes.passwordHash != nil { try await Self.signOut(Self.fold(login), now: now, on: sql) }
            if changes.active == false {
                try await Self.endSessions(of: Self.fold(login), reason: .disconnected, now: now, on: sql)
            }
            var details: [String: JSONValue] = ["fields": .array(fields.map(JSONValue.string))]
            if let active = changes.active { details["active"] = .bool(active) }
            try await AuditLog.append(.init(actor: actor, action: "user.changed", target: "user:\(user.login)", details: details), at: now, on: sql)
            return user
        }
    }

    /// Ends every sign-in of the user (folded login): web sessions and user tokens.
    static func signOut(_ login: String, now: Date, on sql: any SQLDatabase) async throws {
        try await sql.delete(from: "web_sessions").where("login_folded", .equal, login).run()
        try await sql.update("api_tokens").set("revoked_at", to: now.storedMilliseconds)
            .where("kind", .equal, "user").where("subject", .equal, login).where("revoked_at", .is, SQLLiteral.null).run()
    }

    /// The keys on which a user is assigned (through any group).
    static func keysOf(user login: String, on sql: any SQLDatabase) async throws -> [String] {
        try await sql.raw(
            """
            SELECT DISTINCT g.key_serial AS serial FROM group_members m JOIN access_groups g ON g.id = m.group_id
            WHERE m.login_folded = \(bind: fold(login)) ORDER BY g.key_serial
            """
        ).all().map { try $0.decode(column: "serial", as: String.self) }
    }
}

extension RegistryStore {
    /// Of `logins`, those already taken (ignoring case).
    public func takenLogins(_ logins: [String]) async throws -> [String] {
        try await database.read { sql in
            var taken: [String] = []
            for batch in stride(from: 0, to: logins.count, by: 500).map({ Array(logins[$0..<min($0 + 500, logins.count)]) }) {
                let folded = Set(
                    try await sql.select().column("login_folded").from("registry_users").where("login_folded", .in, batch.map { Self.fold($0) })
                        .all().map { try $0.decode(column: "login_folded", as: String.self) })
                taken += batch.filter { folded.contains(Self.fold($0)) }
            }
            return taken
        }
    }
}

/// The registry's logins: a user by login, the built-in administrator made at first start, and passwords.
extension RegistryStore {
    /// The logins as typed of users named by folded login (``AccessModel/fold(_:)``), for pages that list a few.
    public func typedLogins(_ folded: [String]) async throws -> [String: String] {
        try await database.read { sql in
            var typed: [String: String] = [:]
            for chunk in folded.chunked(500) {
                for row in try await sql.select().columns("login").from("registry_users").where("login_folded", .in, chunk.map(Self.fold)).all() {
                    let login = try row.decode(column: "login", as: String.self)
                    typed[AccessModel.fold(login)] = login
                }
            }
            return typed
        }
    }

    public func user(_ login: String) async throws -> RegistryUser? {
        try await database.read { sql in
            try await sql.select().columns("*").from("registry_users").where("login_folded", .equal, Self.fold(login)).first().map(Self.user)
        }
    }

    /// Creates the built-in administrator at first start; an existing one is left alone (`false`).
    public func createAdministrator(login: String, passwordHash: String, now: Date) async throws -> Bool {
        try await database.write { sql in
            let administrator = NewUserRow(
                loginFolded: Self.fold(login), login: login, name: "Administrator", email: "", passwordHash: passwordHash,
                active: true, builtin: true, createdAt: now.storedMilliseconds)
            let row = try await sql.insert(into: "registry_users").model(administrator, with: .columns)
                .ignoringConflicts()
                .returning("login").first()
            if row != nil {
                try await AuditLog.append(
                    .init(actor: "system", action: "user.created", target: "user:\(login)", details: ["builtin": true]), at: now, on: sql)
            }
            return row != nil
        }
    }

    /// Replaces a user's password hash and ends their web sessions and API tokens.
    public func setPassword(_ login: String, hash: String, actor: String, now: Date) async throws {
        try await database.write { sql in
            guard try await sql.select().column("login").from("registry_users").where("login_folded", .equal, Self.fold(login)).first() != nil else {
                throw StoreError(code: "UNKNOWN_USER", message: "There is no user \(login).", kind: .notFound)
            }
            try await sql.update("registry_users").set("password_hash", to: hash).where("login_folded", .equal, Self.fold(login)).run()
            try await sql.delete(from: "web_sessions").where("login_folded", .equal, Self.fold(login)).run()
            try await sql.update("api_tokens").set("revoked_at", to: now.storedMilliseconds)
                .where("kind", .equal, "user").where("subject", .equal, Self.fold(login)).where("revoked_at", .is, SQLLiteral.null).run()
            try await AuditLog.append(.init(actor: actor, action: "user.password-changed", target: "user:\(login)"), at: now, on: sql)
        }
    }

    static func user(_ row: any SQLRow) throws -> RegistryUser {
        let user = try row.decode(model: UserRow.self, with: .columns)
        return RegistryUser(
            login: user.login, name: user.name, email: user.email, passwordHash: user.passwordHash, active: user.active, builtin: user.builtin,
            source: user.source, externalId: user.externalId, directoryActive: user.directoryActive, inDirectory: user.directoryId != nil)
    }
}

/// The columns of a `registry_users` row that make a `RegistryUser`.
private struct UserRow: Decodable {
    var login: String
    var name: String
    var email: String
    var passwordHash: String?
    var active: Bool
    var builtin: Bool
    var source: String
    var externalId: String?
    var directoryActive: Bool
    var directoryId: String?
}

/// A new `registry_users` row.
private struct NewUserRow: Encodable {
    var loginFolded: String
    var login: String
    var name: String
    var email: String
    var passwordHash: String?
    var active: Bool
    var builtin: Bool
    var createdAt: Int64
}
