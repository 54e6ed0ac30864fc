import Foundation
import KeywardDomain
import SQLKit

/// The registry's repository: the installation, registered keys, the activation in force, users and web sessions.
public struct RegistryStore: Sendable {
    public let database: KeywardDatabase

    public init(database: KeywardDatabase) {
        self.database = database
    }

    // MARK: Installation

    public func installation() async throws -> RegistryInstallation? {
        try await database.read { sql in
            try await sql.select().columns("*").from("installation").first().map { row in
                RegistryInstallation(
                    installationId: try row.decode(column: "installation_id", as: String.self),
                    organization: Organization(id: try row.decode(column: "organization_id", as: String.self),
                                               legalName: try row.decode(column: "legal_name", as: String.self)),
                    environment: InstallationEnvironment(rawValue: try row.decode(column: "environment", as: String.self)) ?? .test,
                    createdAt: Date(storedMilliseconds: try row.decode(column: "created_at", as: Int64.self))
                )
            }
        }
    }

    /// Records this installation at first start; an existing one is kept and returned (`created` false).
    public func createInstallation(_ installation: RegistryInstallation) async throws -> (installation: RegistryInstallation, created: Bool) {
        let inserted = try await database.write { sql -> Bool in
            let row = try await sql.insert(into: "installation")
                .columns("singleton", "installation_id", "organization_id", "legal_name", "environment", "created_at")
                .values(SQLBind(1), SQLBind(installation.installationId), SQLBind(installation.organization.id),
                        SQLBind(installation.organization.legalName), SQLBind(installation.environment.rawValue),
                        SQLBind(installation.createdAt.storedMilliseconds))
                .ignoringConflicts()
                .returning("singleton").first()
            if row != nil {
                try await AuditLog.append(.init(actor: "system", action: "installation.created", target: "installation:\(installation.installationId)",
                                                details: ["organization": .string(installation.organization.id), "environment": .string(installation.environment.rawValue)]),
                                          at: installation.createdAt, on: sql)
            }
            return row != nil
        }
        return (try await self.installation() ?? installation, inserted)
    }

    // MARK: Keys

    /// Every registered key, by ID #.
    public func keys() async throws -> [RegisteredKey] {
        try await database.read { sql in
            try await sql.select().columns("*").from("registered_keys").orderBy("id_number_folded").all().map(Self.key)
        }
    }

    public func key(_ serial: String) async throws -> RegisteredKey? {
        try await database.read { try await Self.key(serial, on: $0) }
    }

    /// Registers a verified key; `DUPLICATE_KEY` or `DUPLICATE_ID_NUMBER` when either is taken, even by a concurrent request.
    public func register(_ key: RegisteredKey, actor: String, now: Date) async throws {
        try await database.write { sql in
            let license = key.license
            // ON CONFLICT DO NOTHING turns a race lost to a concurrent registration into "nothing inserted".
            let inserted = try await Self.insert(key, on: sql)
            guard inserted else {
                if try await Self.key(license.serial, on: sql) != nil {
                    throw StoreError(code: "DUPLICATE_KEY", message: "The key \(license.serial) is already registered.", kind: .conflict)
                }
                throw Self.duplicateIDNumber(key.idNumber)
            }
            try await AuditLog.append(.init(actor: actor, action: "license-key.registered", target: "license-key:\(license.serial)",
                                            details: ["idNumber": .string(key.idNumber), "source": .string(key.source.rawValue)]), at: now, on: sql)
        }
    }

    /// Changes a key's ID #, the only thing about a key an administrator may edit.
    public func rename(_ serial: String, to idNumber: String, actor: String, now: Date) async throws -> RegisteredKey {
        try await database.write { sql in
            guard var key = try await Self.key(serial, on: sql) else { throw Self.unknownKey(serial) }
            let taken = try await sql.select().column("serial").from("registered_keys")
                .where("id_number_folded", .equal, Self.fold(idNumber)).where("serial", .notEqual, serial).first()
            guard taken == nil else { throw Self.duplicateIDNumber(idNumber) }
            try await sql.update("registered_keys").set("id_number", to: idNumber).set("id_number_folded", to: Self.fold(idNumber))
                .where("serial", .equal, serial).run()
            try await AuditLog.append(.init(actor: actor, action: "license-key.renamed", target: "license-key:\(serial)",
                                            details: ["idNumber": .string(idNumber), "previousIdNumber": .string(key.idNumber)]), at: now, on: sql)
            key.idNumber = idNumber
            return key
        }
    }

    /// Removes a key from the registry.
    public func remove(_ serial: String, actor: String, now: Date) async throws -> RegisteredKey {
        try await database.write { sql in
            guard let key = try await Self.key(serial, on: sql) else { throw Self.unknownKey(serial) }
            try await Self.requireUnused(serial, on: sql)
            try await sql.delete(from: "registered_keys").where("serial", .equal, serial).run()
            try await AuditLog.append(.init(actor: actor, action: "license-key.removed", target: "license-key:\(serial)",
                                            details: ["idNumber": .string(key.idNumber), "source": .string(key.source.rawValue)]), at: now, on: sql)
            return key
        }
    }

    /// Inserts a key unless its serial or ID # is taken; `false` when nothing was inserted.
    static func insert(_ key: RegisteredKey, on sql: any SQLDatabase) async throws -> Bool {
        try await insertRows([key], on: sql).contains(key.serial)
    }

    /// Inserts new synchronized keys 200 rows a statement; a key whose ID # (its serial) is already some other key's
    /// ID # is filed as "<serial> (synchronized)". Returns how many were inserted.
    static func insertMany(_ keys: [RegisteredKey], on sql: any SQLDatabase) async throws -> Int {
        var inserted = 0
        for start in stride(from: 0, to: keys.count, by: 200) {
            let batch = Array(keys[start..<min(start + 200, keys.count)])
            let done = try await insertRows(batch, on: sql)
            inserted += done.count
            for var key in batch where !done.contains(key.serial) {
                key.idNumber = "\(key.serial) (synchronized)"
                guard try await insert(key, on: sql) else {
                    throw StoreError(code: "DUPLICATE_ID_NUMBER", message: "The ID # \(key.idNumber) is taken; rename that key and synchronize again.", kind: .conflict)
                }
                inserted += 1
            }
        }
        return inserted
    }

    /// One multi-row insert that skips rows whose serial or ID # is taken; returns the serials inserted.
    private static func insertRows(_ keys: [RegisteredKey], on sql: any SQLDatabase) async throws -> Set<String> {
        guard !keys.isEmpty else { return [] }
        var insert = sql.insert(into: "registered_keys")
            .columns("serial", "id_number", "id_number_folded", "source", "access_key", "kid", "organization_id", "legal_name", "profile", "use_type",
                     "users", "purchase_type", "suite_version", "components", "valid_from", "expires_at", "issued_at", "registered_at", "registered_by")
        for key in keys {
            let license = key.license
            insert = insert.values(
                SQLBind(license.serial), SQLBind(key.idNumber), SQLBind(fold(key.idNumber)), SQLBind(key.source.rawValue),
                SQLBind(key.accessKey), SQLBind(key.kid), SQLBind(license.organization.id), SQLBind(license.organization.legalName),
                SQLBind(license.profile.rawValue), SQLBind(license.useType.rawValue), SQLBind(Int64(license.users)),
                SQLBind(license.purchaseType.rawValue), SQLBind(license.suiteVersion), SQLBind(license.components.joined(separator: ",")),
                SQLBind(license.validFrom.storedMilliseconds), SQLBind(license.expiresAt?.storedMilliseconds),
                SQLBind(license.issuedAt.storedMilliseconds), SQLBind(key.registeredAt.storedMilliseconds), SQLBind(key.registeredBy))
        }
        return Set(try await insert.ignoringConflicts().returning("serial").all().map { try $0.decode(column: "serial", as: String.self) })
    }

    /// Replaces a synchronized key's license with the authority's newer one (a renewal); it is no longer revoked.
    static func replaceLicense(_ license: LicenseKey, accessKey: String, kid: String, on sql: any SQLDatabase) async throws {
        try await sql.update("registered_keys")
            .set("access_key", to: accessKey).set("kid", to: kid).set("legal_name", to: license.organization.legalName)
            .set("profile", to: license.profile.rawValue).set("use_type", to: license.useType.rawValue).set("users", to: Int64(license.users))
            .set("purchase_type", to: license.purchaseType.rawValue).set("suite_version", to: license.suiteVersion)
            .set("components", to: license.components.joined(separator: ",")).set("valid_from", to: license.validFrom.storedMilliseconds)
            .set("expires_at", to: license.expiresAt?.storedMilliseconds).set("issued_at", to: license.issuedAt.storedMilliseconds)
            .set("revoked_at", to: SQLLiteral.null).set("revocation_reason", to: SQLLiteral.null)
            .where("serial", .equal, license.serial).run()
    }

    // MARK: Activation

    /// The certificate in force, if the installation was ever activated.
    public func activation() async throws -> StoredActivation? {
        try await database.read { sql in
            guard let row = try await sql.select().columns("*").from("activation").first() else { return nil }
            let document = try JSONDecoder().decode(SignedDocument.self, from: Data(try row.decode(column: "certificate", as: String.self).utf8))
            let certificate = try JSONDecoder().decode(ActivationCertificate.self, from: Data(base64URL: document.payload) ?? Data())
            let covered = try JSONDecoder().decode([CoveredKey].self, from: Data(try row.decode(column: "covered_keys", as: String.self).utf8))
            return StoredActivation(
                document: document, certificate: certificate, covered: covered,
                installedAt: Date(storedMilliseconds: try row.decode(column: "installed_at", as: Int64.self)),
                method: StoredActivation.Method(rawValue: try row.decode(column: "method", as: String.self)) ?? .online
            )
        }
    }

    /// Installs a verified certificate, replacing the one in force; `CERTIFICATE_OUTDATED` when that one was issued
    /// later, even by a concurrent installation.
    public func install(_ activation: StoredActivation, actor: String) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(activation.document), as: UTF8.self)
        let covered = String(decoding: try encoder.encode(activation.covered), as: UTF8.self)
        let issuedAt = Timestamp.parse(activation.certificate.issuedAt) ?? activation.installedAt
        let lock = database.kind == .postgres ? " FOR UPDATE" : ""
        try await database.write { sql in
            if let row = try await sql.raw("SELECT issued_at FROM activation\(unsafeRaw: lock)").first() {
                let inForce = try row.decode(column: "issued_at", as: Int64.self)
                guard issuedAt.storedMilliseconds >= inForce else {
                    throw StoreError(code: "CERTIFICATE_OUTDATED",
                                     message: "This certificate was issued at \(activation.certificate.issuedAt), before the one in force (issued at \(Timestamp.format(Date(storedMilliseconds: inForce)))): it is out of date. Install the newest certificate the vendor sent, or activate again.",
                                     details: ["field": "certificate"])
                }
            }
            try await sql.delete(from: "activation").run()
            try await sql.insert(into: "activation")
                .columns("singleton", "certificate", "serials", "covered_keys", "environment", "issued_at", "installed_at", "method")
                .values(SQLBind(1), SQLBind(text), SQLBind(activation.certificate.serials.joined(separator: ",")), SQLBind(covered),
                        SQLBind(activation.certificate.environment.rawValue),
                        SQLBind(issuedAt.storedMilliseconds),
                        SQLBind(activation.installedAt.storedMilliseconds), SQLBind(activation.method.rawValue))
                .run()
            // The certificate names, signed, the requested keys the vendor revoked: whatever their source, they are
            // revoked here too, so an installation that never synchronizes learns it.
            let revoked = activation.certificate.revoked ?? []
            let marked = try await Self.markRevoked(revoked, now: activation.installedAt, on: sql)
            var details: [String: JSONValue] = [
                "method": .string(activation.method.rawValue), "environment": .string(activation.certificate.environment.rawValue),
                "keys": .int(activation.certificate.serials.count), "serials": .array(activation.certificate.serials.prefix(1_000).map(JSONValue.string)),
            ]
            if !revoked.isEmpty { details["revoked"] = .array(revoked.map { .string($0.serial) }) }
            try await AuditLog.append(.init(actor: actor, action: "installation.activated", target: "installation:\(activation.certificate.installationId)",
                                            details: details),
                                      at: activation.installedAt, on: sql)
            for serial in marked {
                try await AuditLog.append(.init(actor: actor, action: "license-key.revoked", target: "license-key:\(serial)",
                                                details: ["by": "activation certificate"]), at: activation.installedAt, on: sql)
            }
        }
    }

    /// Marks the registered keys among `revoked` as revoked by the authority, with its reason, whatever their source;
    /// returns the serials that were not revoked before.
    static func markRevoked(_ revoked: [FeedEnvelope.Revoked], now: Date, on sql: any SQLDatabase) async throws -> [String] {
        var marked: [String] = []
        for key in revoked {
            let at = Timestamp.parse(key.revokedAt) ?? now
            let changed = try await sql.update("registered_keys").set("revoked_at", to: at.storedMilliseconds)
                .set("revocation_reason", to: key.reason ?? "Revoked by the licensing authority.")
                .where("serial", .equal, key.serial).where("revoked_at", .is, SQLLiteral.null).returning("serial").first()
            if changed != nil { marked.append(key.serial) }
        }
        return marked
    }

    // MARK: Users and web sessions

    public func user(_ login: String) async throws -> RegistryUser? {
        try await database.read { sql in
            try await sql.select().columns("*").from("registry_users").where("login_folded", .equal, Self.fold(login)).first().map(Self.user)
        }
    }

    /// Creates the built-in administrator at first start; an existing one is left alone (`false`).
    public func createAdministrator(login: String, passwordHash: String, now: Date) async throws -> Bool {
        try await database.write { sql in
            let row = try await sql.insert(into: "registry_users")
                .columns("login_folded", "login", "name", "email", "password_hash", "active", "builtin", "created_at")
                .values(SQLBind(Self.fold(login)), SQLBind(login), SQLBind("Administrator"), SQLBind(""), SQLBind(passwordHash),
                        SQLBind(true), SQLBind(true), SQLBind(now.storedMilliseconds))
                .ignoringConflicts()
                .returning("login").first()
            if row != nil {
                try await AuditLog.append(.init(actor: "system", action: "user.created", target: "user:\(login)", details: ["builtin": true]), at: now, on: sql)
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

    /// Starts a web session; only the SHA-256 of its id is stored.
    public func createWebSession(idHash: String, login: String, csrfToken: String, now: Date, expiresAt: Date) async throws {
        try await database.write { sql in
            try await sql.insert(into: "web_sessions")
                .columns("id_hash", "login_folded", "csrf_token", "created_at", "expires_at")
                .values(SQLBind(idHash), SQLBind(Self.fold(login)), SQLBind(csrfToken), SQLBind(now.storedMilliseconds), SQLBind(expiresAt.storedMilliseconds))
                .run()
        }
    }

    /// The user and CSRF token of an unexpired web session.
    public func webSession(idHash: String, now: Date) async throws -> (user: RegistryUser, csrfToken: String)? {
        try await database.read { sql in
            guard let row = try await sql.select().columns("*").from("web_sessions").where("id_hash", .equal, idHash)
                .where("expires_at", .greaterThan, now.storedMilliseconds).first()
            else { return nil }
            guard let user = try await sql.select().columns("*").from("registry_users")
                .where("login_folded", .equal, try row.decode(column: "login_folded", as: String.self)).first().map(Self.user), user.active
            else { return nil }
            return (user, try row.decode(column: "csrf_token", as: String.self))
        }
    }

    public func deleteWebSession(idHash: String) async throws {
        try await database.write { try await $0.delete(from: "web_sessions").where("id_hash", .equal, idHash).run() }
    }

    // MARK: Helpers

    /// Logins and ID #s are unique ignoring case.
    /// How ID #s and logins are compared: in Unicode NFC (what the validators store), ignoring case.
    static func fold(_ text: String) -> String {
        text.utf8.allSatisfy { $0 < 0x80 } ? text.lowercased() : text.precomposedStringWithCanonicalMapping.lowercased()
    }

    static func unknownKey(_ serial: String) -> StoreError {
        StoreError(code: "UNKNOWN_KEY", message: "There is no registered key \(serial).", kind: .notFound)
    }

    static func duplicateIDNumber(_ idNumber: String) -> StoreError {
        StoreError(code: "DUPLICATE_ID_NUMBER", message: "Another key already has the ID # \"\(idNumber)\". Choose another one.",
                   kind: .conflict, details: ["field": "idNumber"])
    }

    static func key(_ serial: String, on sql: any SQLDatabase) async throws -> RegisteredKey? {
        try await sql.select().columns("*").from("registered_keys").where("serial", .equal, serial).first().map(key)
    }

    static func key(_ row: any SQLRow) throws -> RegisteredKey {
        func enumValue<T: RawRepresentable>(_ column: String, _: T.Type) throws -> T where T.RawValue == String {
            guard let value = T(rawValue: try row.decode(column: column, as: String.self)) else {
                throw StoreError(code: "STORE_CORRUPT", message: "registered_keys.\(column) holds an unknown value.")
            }
            return value
        }
        let accessKey = try row.decode(column: "access_key", as: String.self)
        let license = LicenseKey(
            serial: try row.decode(column: "serial", as: String.self),
            organization: Organization(id: try row.decode(column: "organization_id", as: String.self),
                                       legalName: try row.decode(column: "legal_name", as: String.self)),
            profile: try enumValue("profile", Profile.self), useType: try enumValue("use_type", UseType.self),
            users: Int(try row.decode(column: "users", as: Int64.self)), purchaseType: try enumValue("purchase_type", PurchaseType.self),
            suiteVersion: try row.decode(column: "suite_version", as: String.self),
            validFrom: Date(storedMilliseconds: try row.decode(column: "valid_from", as: Int64.self)),
            expiresAt: try row.decode(column: "expires_at", as: Int64?.self).map(Date.init(storedMilliseconds:)),
            components: try row.decode(column: "components", as: String.self).split(separator: ",").map(String.init),
            issuedAt: Date(storedMilliseconds: try row.decode(column: "issued_at", as: Int64.self))
        )
        return RegisteredKey(
            license: license, accessKey: accessKey, kid: try row.decode(column: "kid", as: String.self),
            idNumber: try row.decode(column: "id_number", as: String.self),
            source: try enumValue("source", KeySource.self),
            registeredAt: Date(storedMilliseconds: try row.decode(column: "registered_at", as: Int64.self)),
            registeredBy: try row.decode(column: "registered_by", as: String.self),
            revokedAt: try row.decode(column: "revoked_at", as: Int64?.self).map(Date.init(storedMilliseconds:)),
            revocationReason: try row.decode(column: "revocation_reason", as: String?.self)
        )
    }

    static func user(_ row: any SQLRow) throws -> RegistryUser {
        RegistryUser(
            login: try row.decode(column: "login", as: String.self), name: try row.decode(column: "name", as: String.self),
            email: try row.decode(column: "email", as: String.self), passwordHash: try row.decode(column: "password_hash", as: String?.self),
            active: try row.decode(column: "active", as: Bool.self), builtin: try row.decode(column: "builtin", as: Bool.self)
        )
    }
}

extension Data {
    /// Bytes of base64url text (padded or not), or `nil`.
    init?(base64URL text: String) {
        guard let bytes = Base64URL.decode(Array(text.utf8)) else { return nil }
        self.init(bytes)
    }
}
