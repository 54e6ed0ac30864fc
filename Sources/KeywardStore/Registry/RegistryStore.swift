import Foundation
import KeywardDomain
import SQLKit

/// The registry's repository: the installation, registered keys and the activation in force here; users, sessions,
/// access groups, settings and synchronizations in the files named after them.
public struct RegistryStore: Sendable {
    public let database: KeywardDatabase

    public init(database: KeywardDatabase) {
        self.database = database
    }

    // MARK: Installation

    public func installation() async throws -> RegistryInstallation? {
        try await database.read { sql in
            try await sql.select().columns("*").from("installation").first(decoding: RegistryInstallationRow.self, with: .columns)?.installation
        }
    }

    /// Records this installation at first start; an existing one is kept and returned (`created` false).
    public func createInstallation(_ installation: RegistryInstallation) async throws -> (installation: RegistryInstallation, created: Bool) {
        let inserted = try await database.write { sql -> Bool in
            let row = try await sql.insert(into: "installation").model(RegistryInstallationRow(installation), with: .columns)
                .ignoringConflicts()
                .returning("singleton").first()
            if row != nil {
                try await AuditLog.append(
                    .init(
                        actor: "system", action: "installation.created", target: "installation:\(installation.installationId)",
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
            try await AuditLog.append(
                .init(
                    actor: actor, action: "license-key.registered", target: "license-key:\(license.serial)",
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
            try await AuditLog.append(
                .init(
                    actor: actor, action: "license-key.renamed", target: "license-key:\(serial)",
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
            try await AuditLog.append(
                .init(
                    actor: actor, action: "license-key.removed", target: "license-key:\(serial)",
                    details: ["idNumber": .string(key.idNumber), "source": .string(key.source.rawValue)]), at: now, on: sql)
            return key
        }
    }

    /// Inserts a key unless its serial or ID # is taken; `false` when nothing was inserted.
    static func insert(_ key: RegisteredKey, on sql: any SQLDatabase) async throws -> Bool {
        try await insertRows([key], on: sql).contains(key.serial)
    }

    /// Inserts new synchronized keys 200 rows a statement; a key whose ID # was taken since the plan was made (by a
    /// concurrent registration) is filed under `FeedDiff.fallbackIDNumber(for:)`. Returns how many were inserted.
    static func insertMany(_ keys: [RegisteredKey], on sql: any SQLDatabase) async throws -> Int {
        var inserted = 0
        for start in stride(from: 0, to: keys.count, by: 200) {
            let batch = Array(keys[start..<min(start + 200, keys.count)])
            let done = try await insertRows(batch, on: sql)
            inserted += done.count
            for var key in batch where !done.contains(key.serial) {
                key.idNumber = FeedDiff.fallbackIDNumber(for: key.serial)
                guard try await insert(key, on: sql) else { throw feedIDNumberTaken(key.idNumber) }
                inserted += 1
            }
        }
        return inserted
    }

    /// One multi-row insert that skips rows whose serial or ID # is taken; returns the serials inserted.
    private static func insertRows(_ keys: [RegisteredKey], on sql: any SQLDatabase) async throws -> Set<String> {
        guard !keys.isEmpty else { return [] }
        let insert = try sql.insert(into: "registered_keys").models(keys.map(NewKeyRow.init), with: .columns)
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
            guard let row = try await sql.select().columns("*").from("activation").first(decoding: ActivationRow.self, with: .columns) else {
                return nil
            }
            let document = try JSONDecoder().decode(SignedDocument.self, from: Data(row.certificate.utf8))
            let certificate = try JSONDecoder().decode(ActivationCertificate.self, from: Data(base64URL: document.payload) ?? Data())
            let covered = try JSONDecoder().decode([CoveredKey].self, from: Data(row.coveredKeys.utf8))
            return StoredActivation(
                document: document, certificate: certificate, covered: covered, installedAt: Date(storedMilliseconds: row.installedAt),
                method: StoredActivation.Method(rawValue: row.method) ?? .online
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
                    throw StoreError(
                        code: "CERTIFICATE_OUTDATED",
                        message:
                            "This certificate was issued at \(activation.certificate.issuedAt), before the one in force (issued at \(Timestamp.format(Date(storedMilliseconds: inForce)))): it is out of date. Install the newest certificate the vendor sent, or activate again.",
                        details: ["field": "certificate"])
                }
            }
            try await sql.delete(from: "activation").run()
            let row = ActivationRow(
                certificate: text, serials: activation.certificate.serials.joined(separator: ","), coveredKeys: covered,
                environment: activation.certificate.environment.rawValue, issuedAt: issuedAt.storedMilliseconds,
                installedAt: activation.installedAt.storedMilliseconds, method: activation.method.rawValue)
            try await sql.insert(into: "activation").model(row, with: .columns).run()
            // The certificate names, signed, the requested keys the vendor revoked: whatever their source, they are
            // revoked here too, so an installation that never synchronizes learns it.
            let revoked = activation.certificate.revoked ?? []
            let marked = try await Self.markRevoked(revoked, now: activation.installedAt, on: sql)
            var details: [String: JSONValue] = [
                "method": .string(activation.method.rawValue), "environment": .string(activation.certificate.environment.rawValue),
                "keys": .int(activation.certificate.serials.count),
                "serials": .array(activation.certificate.serials.prefix(1_000).map(JSONValue.string)),
            ]
            if !revoked.isEmpty { details["revoked"] = .array(revoked.map { .string($0.serial) }) }
            try await AuditLog.append(
                .init(
                    actor: actor, action: "installation.activated", target: "installation:\(activation.certificate.installationId)",
                    details: details),
                at: activation.installedAt, on: sql)
            for serial in marked {
                try await AuditLog.append(
                    .init(
                        actor: actor, action: "license-key.revoked", target: "license-key:\(serial)",
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
                .set("revocation_reason", to: key.reason ?? FeedDiff.revokedReason)
                .where("serial", .equal, key.serial).where("revoked_at", .is, SQLLiteral.null).returning("serial").first()
            if changed != nil { marked.append(key.serial) }
        }
        return marked
    }

    // MARK: Helpers

    /// Logins and ID #s are unique ignoring case (`IDNumber.folded`).
    static func fold(_ text: String) -> String {
        IDNumber.folded(text)
    }

    static func unknownKey(_ serial: String) -> StoreError {
        StoreError(code: "UNKNOWN_KEY", message: "There is no registered key \(serial).", kind: .notFound)
    }

    static func duplicateIDNumber(_ idNumber: String) -> StoreError {
        StoreError(
            code: "DUPLICATE_ID_NUMBER", message: "Another key already has the ID # \"\(idNumber)\". Choose another one.",
            kind: .conflict, details: ["field": "idNumber"])
    }

    /// A new synchronized key's ID # and its fallback are both taken.
    static func feedIDNumberTaken(_ idNumber: String) -> StoreError {
        StoreError(code: "DUPLICATE_ID_NUMBER", message: "The ID # \(idNumber) is taken; rename that key and synchronize again.", kind: .conflict)
    }

    static func key(_ serial: String, on sql: any SQLDatabase) async throws -> RegisteredKey? {
        try await sql.select().columns("*").from("registered_keys").where("serial", .equal, serial).first().map(key)
    }

    static func key(_ row: any SQLRow) throws -> RegisteredKey {
        try row.decode(model: KeyRow.self, with: .columns).key()
    }
}

extension Data {
    /// Bytes of base64url text (padded or not), or `nil`.
    init?(base64URL text: String) {
        guard let bytes = Base64URL.decode(Array(text.utf8)) else { return nil }
        self.init(bytes)
    }
}

/// The `installation` row.
private struct RegistryInstallationRow: Codable {
    var singleton = 1
    var installationId: String
    var organizationId: String
    var legalName: String
    var environment: String
    var createdAt: Int64

    init(_ installation: RegistryInstallation) {
        installationId = installation.installationId
        organizationId = installation.organization.id
        legalName = installation.organization.legalName
        environment = installation.environment.rawValue
        createdAt = installation.createdAt.storedMilliseconds
    }

    var installation: RegistryInstallation {
        RegistryInstallation(
            installationId: installationId, organization: Organization(id: organizationId, legalName: legalName),
            environment: InstallationEnvironment(rawValue: environment) ?? .test, createdAt: Date(storedMilliseconds: createdAt))
    }
}

/// The columns of a `registered_keys` row that a key's license and registration make; a new key is not revoked.
private struct NewKeyRow: Encodable {
    var serial: String
    var idNumber: String
    var idNumberFolded: String
    var source: String
    var accessKey: String
    var kid: String
    var organizationId: String
    var legalName: String
    var profile: String
    var useType: String
    var users: Int64
    var purchaseType: String
    var suiteVersion: String
    /// Comma-separated component codes.
    var components: String
    var validFrom: Int64
    var expiresAt: Int64?
    var issuedAt: Int64
    var registeredAt: Int64
    var registeredBy: String

    init(_ key: RegisteredKey) {
        let license = key.license
        serial = license.serial
        idNumber = key.idNumber
        idNumberFolded = RegistryStore.fold(key.idNumber)
        source = key.source.rawValue
        accessKey = key.accessKey
        kid = key.kid
        organizationId = license.organization.id
        legalName = license.organization.legalName
        profile = license.profile.rawValue
        useType = license.useType.rawValue
        users = Int64(license.users)
        purchaseType = license.purchaseType.rawValue
        suiteVersion = license.suiteVersion
        components = license.components.joined(separator: ",")
        validFrom = license.validFrom.storedMilliseconds
        expiresAt = license.expiresAt?.storedMilliseconds
        issuedAt = license.issuedAt.storedMilliseconds
        registeredAt = key.registeredAt.storedMilliseconds
        registeredBy = key.registeredBy
    }
}

/// A `registered_keys` row.
private struct KeyRow: Decodable, LicenseKeyColumns {
    var serial: String
    var idNumber: String
    var source: String
    var accessKey: String
    var kid: String
    var organizationId: String
    var legalName: String
    var profile: String
    var useType: String
    var users: Int64
    var purchaseType: String
    var suiteVersion: String
    var components: String
    var validFrom: Int64
    var expiresAt: Int64?
    var issuedAt: Int64
    var registeredAt: Int64
    var registeredBy: String
    var revokedAt: Int64?
    var revocationReason: String?

    func key() throws -> RegisteredKey {
        let license = try license(table: "registered_keys")
        return RegisteredKey(
            license: license, accessKey: accessKey, kid: kid, idNumber: idNumber,
            source: try storedValue(source, table: "registered_keys", column: "source"),
            registeredAt: Date(storedMilliseconds: registeredAt), registeredBy: registeredBy,
            revokedAt: revokedAt.map(Date.init(storedMilliseconds:)), revocationReason: revocationReason
        )
    }
}

/// The `activation` row: the certificate in force, as its signed JSON, and what it covered.
private struct ActivationRow: Codable {
    var singleton = 1
    var certificate: String
    /// Comma-separated serials.
    var serials: String
    /// JSON array of `CoveredKey`.
    var coveredKeys: String
    var environment: String
    var issuedAt: Int64
    var installedAt: Int64
    var method: String
}
