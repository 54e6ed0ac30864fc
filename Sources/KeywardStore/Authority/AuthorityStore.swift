import Foundation
import KeywardDomain
import SQLKit

/// The authority's repository: organizations, their keys and agreements, feeds and activations.
///
/// Every change is one transaction that also bumps the organization's revision (when keys change) and
/// appends to the audit log, so the feed, the keys and the history always agree.
public struct AuthorityStore: Sendable {
    public let database: KeywardDatabase

    public init(database: KeywardDatabase) {
        self.database = database
    }

    // MARK: Organizations

    /// Creates an organization; `ORGANIZATION_EXISTS` if the id is taken.
    public func createOrganization(_ organization: Organization, actor: String, now: Date) async throws -> OrganizationRecord {
        try await database.write { sql in
            if try await Self.organization(organization.id, on: sql) != nil {
                throw StoreError(code: "ORGANIZATION_EXISTS", message: "An organization with id \(organization.id) already exists.", kind: .conflict)
            }
            try await sql.insert(into: "organizations")
                .columns("id", "legal_name", "revision", "created_at", "updated_at")
                .values(SQLBind(organization.id), SQLBind(organization.legalName), SQLBind(Int64(0)),
                        SQLBind(now.storedMilliseconds), SQLBind(now.storedMilliseconds))
                .run()
            try await AuditLog.append(.init(actor: actor, action: "organization.created", target: "organization:\(organization.id)",
                                            details: ["legalName": .string(organization.legalName)]), at: now, on: sql)
            return OrganizationRecord(id: organization.id, legalName: organization.legalName, revision: 0, createdAt: now, updatedAt: now)
        }
    }

    /// Every organization, by id.
    public func organizations() async throws -> [OrganizationRecord] {
        try await database.read { sql in
            try await sql.select().columns("*").from("organizations").orderBy("id").all().map(Self.organizationRecord)
        }
    }

    /// The organization `id`, if it exists.
    public func organization(_ id: String) async throws -> OrganizationRecord? {
        try await database.read { try await Self.organization(id, on: $0) }
    }

    /// Renames an organization (its legal name; the id never changes).
    public func updateOrganization(_ id: String, legalName: String, actor: String, now: Date) async throws -> OrganizationRecord {
        try await database.write { sql in
            guard var record = try await Self.organization(id, on: sql) else { throw Self.unknownOrganization(id) }
            // The legal name is in the feed, so a rename is a change registries must see: the revision rises.
            record.revision = try await Self.bumpRevision(id, now: now, on: sql)
            try await sql.update("organizations").set("legal_name", to: legalName).where("id", .equal, id).run()
            try await AuditLog.append(.init(actor: actor, action: "organization.updated", target: "organization:\(id)",
                                            details: ["legalName": .string(legalName), "previousLegalName": .string(record.legalName)]), at: now, on: sql)
            record.legalName = legalName
            record.updatedAt = now
            return record
        }
    }

    /// The current revision of an organization's feed, or `nil` if it does not exist: the cheap path of a `304`.
    public func revision(of id: String) async throws -> Int64? {
        try await database.read { sql in
            try await sql.select().column("revision").from("organizations").where("id", .equal, id).first()?
                .decode(column: "revision", as: Int64.self)
        }
    }

    // MARK: Tokens

    /// Makes a token of `kind` for `subject` (an organization id, or `nil` for operators), recorded in the audit log.
    public func createToken(kind: String, name: String, subject: String?, actor: String, now: Date) async throws -> (token: APIToken, record: TokenRecord) {
        try await database.write { sql in
            if let subject, kind == "organization", try await Self.organization(subject, on: sql) == nil {
                throw Self.unknownOrganization(subject)
            }
            let created = try await TokenStore.create(kind: kind, name: name, subject: subject, now: now, on: sql)
            try await AuditLog.append(.init(actor: actor, action: "token.created", target: "token:\(created.token.id)",
                                            details: ["kind": .string(kind), "name": .string(created.record.name), "subject": subject.map(JSONValue.string) ?? .null]),
                                      at: now, on: sql)
            return created
        }
    }

    /// Revokes a token for good.
    public func revokeToken(_ id: String, actor: String, now: Date) async throws -> TokenRecord {
        try await database.write { sql in
            let record = try await TokenStore.revoke(id: id, now: now, on: sql)
            try await AuditLog.append(.init(actor: actor, action: "token.revoked", target: "token:\(id)"), at: now, on: sql)
            return record
        }
    }

    // MARK: Keys and agreements

    /// Stores freshly signed keys for an organization, with their agreement when they come from one,
    /// in one transaction that raises the organization's revision once. Returns the new revision.
    @discardableResult
    public func storeIssuedKeys(
        _ keys: [NewIssuedKey], organizationId: String, agreement: (id: String, reference: String, signedOn: Date?)? = nil,
        actor: String, now: Date
    ) async throws -> Int64 {
        try await database.write { sql in
            let revision = try await Self.bumpRevision(organizationId, now: now, on: sql)
            if let agreement {
                let taken = try await sql.select().column("id").from("agreements")
                    .where("organization_id", .equal, organizationId).where("reference", .equal, agreement.reference).first()
                guard taken == nil else {
                    throw StoreError(code: "AGREEMENT_EXISTS", message: "Organization \(organizationId) already has an agreement with reference \(agreement.reference).", kind: .conflict)
                }
                try await sql.insert(into: "agreements")
                    .columns("id", "organization_id", "reference", "signed_on", "created_at")
                    .values(SQLBind(agreement.id), SQLBind(organizationId), SQLBind(agreement.reference),
                            SQLBind(agreement.signedOn?.storedMilliseconds), SQLBind(now.storedMilliseconds))
                    .run()
                try await AuditLog.append(.init(actor: actor, action: "agreement.created", target: "agreement:\(agreement.id)",
                                                details: ["reference": .string(agreement.reference), "organization": .string(organizationId),
                                                          "lines": .int(keys.count)]), at: now, on: sql)
            }
            for (index, key) in keys.enumerated() {
                try await Self.insert(key, organizationId: organizationId, agreementId: agreement?.id, line: agreement == nil ? nil : index + 1,
                                      revision: revision, on: sql)
                try await AuditLog.append(.init(actor: actor, action: "license-key.issued", target: "license-key:\(key.license.serial)",
                                                details: Self.auditDetails(key.license)), at: now, on: sql)
            }
            return revision
        }
    }

    /// Revokes a key; `KEY_REVOKED` if it already is.
    public func revokeKey(_ serial: String, reason: String, actor: String, now: Date) async throws -> IssuedKeyRecord {
        try await database.write { sql in
            var record = try await Self.activeKey(serial, on: sql)
            let revision = try await Self.bumpRevision(record.license.organization.id, now: now, on: sql)
            try await sql.update("license_keys")
                .set("revoked_at", to: now.storedMilliseconds).set("revocation_reason", to: reason).set("revision", to: revision)
                .where("serial", .equal, serial).run()
            try await AuditLog.append(.init(actor: actor, action: "license-key.revoked", target: "license-key:\(serial)",
                                            details: ["reason": .string(reason)]), at: now, on: sql)
            record.revokedAt = now
            record.revocationReason = reason
            record.revision = revision
            return record
        }
    }

    /// Replaces a key's license and access key with a re-signed one (same serial): a renewal.
    public func replaceKey(_ key: NewIssuedKey, actor: String, now: Date) async throws -> IssuedKeyRecord {
        try await database.write { sql in
            var record = try await Self.activeKey(key.license.serial, on: sql)
            let revision = try await Self.bumpRevision(record.license.organization.id, now: now, on: sql)
            try await sql.update("license_keys")
                .set("expires_at", to: key.license.expiresAt?.storedMilliseconds)
                .set("issued_at", to: key.license.issuedAt.storedMilliseconds)
                .set("kid", to: key.kid).set("access_key", to: key.accessKey).set("revision", to: revision)
                .set("legal_name", to: key.license.organization.legalName)
                .where("serial", .equal, key.license.serial).run()
            try await AuditLog.append(.init(actor: actor, action: "license-key.renewed", target: "license-key:\(key.license.serial)",
                                            details: ["expiresAt": key.license.expiresAt.map { .string(Timestamp.format($0)) } ?? .null,
                                                      "previousExpiresAt": record.license.expiresAt.map { .string(Timestamp.format($0)) } ?? .null]),
                                      at: now, on: sql)
            record.license = key.license
            record.accessKey = key.accessKey
            record.kid = key.kid
            record.revision = revision
            return record
        }
    }

    /// Switches a key for a new one: issues `replacement` and revokes `serial` in one transaction.
    public func switchKey(_ serial: String, to replacement: NewIssuedKey, actor: String, now: Date) async throws -> (revoked: IssuedKeyRecord, issued: IssuedKeyRecord) {
        try await database.write { sql in
            var old = try await Self.activeKey(serial, on: sql)
            let organizationId = old.license.organization.id
            let revision = try await Self.bumpRevision(organizationId, now: now, on: sql)
            try await Self.insert(replacement, organizationId: organizationId, agreementId: old.agreementId, line: old.line, revision: revision, on: sql)
            let reason = "switched to \(replacement.license.serial)"
            try await sql.update("license_keys")
                .set("revoked_at", to: now.storedMilliseconds).set("revocation_reason", to: reason)
                .set("replaced_by", to: replacement.license.serial).set("revision", to: revision)
                .where("serial", .equal, serial).run()
            try await AuditLog.append(.init(actor: actor, action: "license-key.issued", target: "license-key:\(replacement.license.serial)",
                                            details: Self.auditDetails(replacement.license).merging(["replaces": .string(serial)]) { a, _ in a }),
                                      at: now, on: sql)
            try await AuditLog.append(.init(actor: actor, action: "license-key.switched", target: "license-key:\(serial)",
                                            details: ["replacement": .string(replacement.license.serial)].merging(Self.auditDetails(replacement.license)) { a, _ in a }),
                                      at: now, on: sql)
            old.revokedAt = now
            old.revocationReason = reason
            old.replacedBy = replacement.license.serial
            old.revision = revision
            let issued = IssuedKeyRecord(license: replacement.license, accessKey: replacement.accessKey, kid: replacement.kid,
                                         agreementId: old.agreementId, line: old.line, revision: revision)
            return (old, issued)
        }
    }

    /// The key `serial`, if the authority issued it.
    public func key(_ serial: String) async throws -> IssuedKeyRecord? {
        try await database.read { sql in
            try await sql.select().columns("*").from("license_keys").where("serial", .equal, serial).first().map(Self.keyRecord)
        }
    }

    /// Every key of an organization, by serial; `UNKNOWN_ORGANIZATION` if there is none.
    public func keys(of organizationId: String) async throws -> [IssuedKeyRecord] {
        try await database.snapshot { sql in
            guard try await Self.organization(organizationId, on: sql) != nil else { throw Self.unknownOrganization(organizationId) }
            return try await sql.select().columns("*").from("license_keys").where("organization_id", .equal, organizationId)
                .orderBy("serial").all().map(Self.keyRecord)
        }
    }

    /// The agreements of an organization, oldest first.
    public func agreements(of organizationId: String) async throws -> [AgreementRecord] {
        try await database.snapshot { sql in
            guard try await Self.organization(organizationId, on: sql) != nil else { throw Self.unknownOrganization(organizationId) }
            let rows = try await sql.select().columns("*").from("agreements").where("organization_id", .equal, organizationId)
                .orderBy("created_at").orderBy("id").all()
            var result: [AgreementRecord] = []
            for row in rows { result.append(try await Self.agreementRecord(row, on: sql)) }
            return result
        }
    }

    /// The agreement `id`, if it exists.
    public func agreement(_ id: String) async throws -> AgreementRecord? {
        try await database.snapshot { sql in
            guard let row = try await sql.select().columns("*").from("agreements").where("id", .equal, id).first() else { return nil }
            return try await Self.agreementRecord(row, on: sql)
        }
    }

    // MARK: Feed

    /// Everything the feed of an organization carries, read from one snapshot; `nil` if it does not exist.
    public func feedSnapshot(of organizationId: String) async throws -> FeedSnapshot? {
        try await database.snapshot { sql in
            guard let organization = try await Self.organization(organizationId, on: sql) else { return nil }
            let rows = try await sql.select().columns("serial", "access_key", "revoked_at", "revocation_reason").from("license_keys")
                .where("organization_id", .equal, organizationId).orderBy("serial").all()
            var keys: [(serial: String, accessKey: String)] = []
            var revoked: [(serial: String, revokedAt: Date, reason: String?)] = []
            keys.reserveCapacity(rows.count)
            for row in rows {
                let serial = try row.decode(column: "serial", as: String.self)
                if let revokedAt = try row.decode(column: "revoked_at", as: Int64?.self) {
                    revoked.append((serial, Date(storedMilliseconds: revokedAt), try row.decode(column: "revocation_reason", as: String?.self)))
                } else {
                    keys.append((serial, try row.decode(column: "access_key", as: String.self)))
                }
            }
            return FeedSnapshot(organization: organization, keys: keys, revoked: revoked)
        }
    }

    // MARK: Activations

    /// An activation request, online or from a file.
    public struct ActivationRequest: Sendable, Hashable {
        public var installationId: String
        public var environment: InstallationEnvironment
        public var serials: [String]
        public var promote: Bool
        /// Why the environment changes (a promotion), kept with the change and in the audit log.
        public var reason: String?

        public init(installationId: String, environment: InstallationEnvironment, serials: [String], promote: Bool, reason: String? = nil) {
            self.installationId = installationId
            self.environment = environment
            self.serials = serials
            self.promote = promote
            self.reason = reason
        }
    }

    /// Activates an installation: checks its keys and the environment rules, records it, and returns the
    /// certificate `sign` makes, all in one transaction serialized per organization.
    public func activate(
        _ request: ActivationRequest, organizationId: String, actor: String, now: Date,
        sign: @Sendable (_ organization: Organization, _ valid: [String], _ revoked: [FeedEnvelope.Revoked]) -> SignedDocument
    ) async throws -> (certificate: SignedDocument, changes: [ActivationRules.Change], revoked: [FeedEnvelope.Revoked]) {
        try await database.write { sql in
            // Taking the organization row first serializes activations of one organization on PostgreSQL.
            guard let organization = try await sql.update("organizations").set("updated_at", to: SQLColumn("updated_at"))
                .where("id", .equal, organizationId).returning("id", "legal_name").first()
            else { throw Self.unknownOrganization(organizationId) }
            let legalName = try organization.decode(column: "legal_name", as: String.self)

            let requested = Array(Set(request.serials)).sorted()
            var found: [String: (organization: String, revokedAt: Int64?, reason: String?)] = [:]
            // In batches: an installation may name 100,000 keys, more than a statement may bind.
            for batch in stride(from: 0, to: requested.count, by: 1_000).map({ Array(requested[$0..<min($0 + 1_000, requested.count)]) }) {
                for row in try await sql.select().columns("serial", "organization_id", "revoked_at", "revocation_reason").from("license_keys")
                    .where("serial", .in, batch).all() {
                    found[try row.decode(column: "serial", as: String.self)] =
                        (try row.decode(column: "organization_id", as: String.self), try row.decode(column: "revoked_at", as: Int64?.self),
                         try row.decode(column: "revocation_reason", as: String?.self))
                }
            }
            let unknown = requested.filter { found[$0]?.organization != organizationId }
            guard unknown.isEmpty else {
                throw StoreError(code: "UNKNOWN_KEY", message: "These keys are not keys of organization \(organizationId): \(unknown.prefix(20).joined(separator: ", "))\(unknown.count > 20 ? " and \(unknown.count - 20) more" : "").",
                                 kind: .invalid, details: ["serials": .array(unknown.map(JSONValue.string))])
            }
            // Revoked keys are not refused: the certificate covers the others and carries these, signed, so the
            // registry learns of the revocation even without synchronizing.
            let revoked = requested.compactMap { serial -> FeedEnvelope.Revoked? in
                guard let at = found[serial]?.revokedAt else { return nil }
                return FeedEnvelope.Revoked(serial: serial, revokedAt: Date(storedMilliseconds: at), reason: found[serial]?.reason ?? "Revoked by the licensing authority.")
            }
            let revokedSerials = Set(revoked.map(\.serial))
            let serials = requested.filter { !revokedSerials.contains($0) }

            if let owner = try await sql.select().column("organization_id").from("installations")
                .where("installation_id", .equal, request.installationId).first()?.decode(column: "organization_id", as: String.self),
               owner != organizationId {
                throw StoreError(code: "INSTALLATION_CONFLICT", message: "Installation id \(request.installationId) is registered to another organization.", kind: .conflict)
            }
            var installations: [String: InstallationEnvironment] = [:]
            for row in try await sql.select().columns("installation_id", "environment").from("installations")
                .where("organization_id", .equal, organizationId).all() {
                installations[try row.decode(column: "installation_id", as: String.self)] =
                    InstallationEnvironment(rawValue: try row.decode(column: "environment", as: String.self))
            }
            let period = ActivationRules.period(of: now)
            let changesThisMonth = try await sql.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("environment_changes")
                .where("organization_id", .equal, organizationId).where("period", .equal, period).first()?.decode(column: "n", as: Int.self) ?? 0
            let changes: [ActivationRules.Change]
            do {
                changes = try ActivationRules.changes(activating: request.installationId, in: request.environment, promote: request.promote,
                                                      installations: installations, changesThisMonth: changesThisMonth)
            } catch let error as ActivationRules.Refusal {
                throw StoreError(code: error.code, message: error.message, kind: .conflict)
            }

            let serialsText = serials.joined(separator: ",")
            if installations[request.installationId] == nil {
                try await sql.insert(into: "installations")
                    .columns("installation_id", "organization_id", "environment", "serials", "activated_at")
                    .values(SQLBind(request.installationId), SQLBind(organizationId), SQLBind(request.environment.rawValue),
                            SQLBind(serialsText), SQLBind(now.storedMilliseconds))
                    .run()
            } else {
                try await sql.update("installations").set("environment", to: request.environment.rawValue).set("serials", to: serialsText)
                    .set("activated_at", to: now.storedMilliseconds).where("installation_id", .equal, request.installationId).run()
            }
            for change in changes {
                if change.installationId != request.installationId {
                    try await sql.update("installations").set("environment", to: change.to.rawValue)
                        .where("installation_id", .equal, change.installationId).run()
                }
                try await sql.insert(into: "environment_changes")
                    .columns("organization_id", "installation_id", "from_environment", "to_environment", "period", "changed_at", "reason")
                    .values(SQLBind(organizationId), SQLBind(change.installationId), SQLBind(change.from.rawValue), SQLBind(change.to.rawValue),
                            SQLBind(period), SQLBind(now.storedMilliseconds), SQLBind(request.reason))
                    .run()
            }
            var details: [String: JSONValue] = [
                "organization": .string(organizationId), "environment": .string(request.environment.rawValue), "keys": .int(serials.count),
                // The serials themselves up to 1,000: an audit event is not the place for an installation's 100,000.
                "serials": .array(serials.prefix(1_000).map(JSONValue.string)),
                "demoted": .array(changes.filter { $0.installationId != request.installationId }.map { .string($0.installationId) }),
            ]
            if !revoked.isEmpty { details["revoked"] = .array(revoked.map { .string($0.serial) }) }
            if let reason = request.reason { details["reason"] = .string(reason) }
            try await AuditLog.append(.init(actor: actor, action: "installation.activated", target: "installation:\(request.installationId)", details: details),
                                      at: now, on: sql)
            return (sign(Organization(id: organizationId, legalName: legalName), serials, revoked), changes, revoked)
        }
    }

    /// The installations of an organization, by id.
    public func installations(of organizationId: String) async throws -> [InstallationRecord] {
        try await database.snapshot { sql in
            guard try await Self.organization(organizationId, on: sql) != nil else { throw Self.unknownOrganization(organizationId) }
            return try await sql.select().columns("*").from("installations").where("organization_id", .equal, organizationId)
                .orderBy("installation_id").all().map { row in
                    InstallationRecord(
                        installationId: try row.decode(column: "installation_id", as: String.self),
                        organizationId: organizationId,
                        environment: InstallationEnvironment(rawValue: try row.decode(column: "environment", as: String.self)) ?? .test,
                        serials: try row.decode(column: "serials", as: String.self).split(separator: ",").map(String.init),
                        activatedAt: Date(storedMilliseconds: try row.decode(column: "activated_at", as: Int64.self))
                    )
                }
        }
    }

    // MARK: Helpers

    static func unknownOrganization(_ id: String) -> StoreError {
        StoreError(code: "UNKNOWN_ORGANIZATION", message: "There is no organization \(id).", kind: .notFound)
    }

    static func organization(_ id: String, on sql: any SQLDatabase) async throws -> OrganizationRecord? {
        try await sql.select().columns("*").from("organizations").where("id", .equal, id).first().map(organizationRecord)
    }

    /// Raises an organization's revision; the row update also locks it until the transaction ends.
    static func bumpRevision(_ organizationId: String, now: Date, on sql: any SQLDatabase) async throws -> Int64 {
        guard let row = try await sql.update("organizations")
            .set("revision", to: SQLBinaryExpression(SQLColumn("revision"), .add, SQLLiteral.numeric("1")))
            .set("updated_at", to: now.storedMilliseconds)
            .where("id", .equal, organizationId)
            .returning("revision").first()
        else { throw unknownOrganization(organizationId) }
        return try row.decode(column: "revision", as: Int64.self)
    }

    /// The key `serial`, which must exist and not be revoked.
    static func activeKey(_ serial: String, on sql: any SQLDatabase) async throws -> IssuedKeyRecord {
        guard let record = try await sql.select().columns("*").from("license_keys").where("serial", .equal, serial).first().map(keyRecord) else {
            throw StoreError(code: "UNKNOWN_KEY", message: "There is no key \(serial).", kind: .notFound)
        }
        guard !record.isRevoked else {
            throw StoreError(code: "KEY_REVOKED", message: "Key \(serial) is revoked\(record.replacedBy.map { " (replaced by \($0))" } ?? ""); it cannot be changed.", kind: .conflict)
        }
        return record
    }

    static func insert(_ key: NewIssuedKey, organizationId: String, agreementId: String?, line: Int?, revision: Int64, on sql: any SQLDatabase) async throws {
        let license = key.license
        try await sql.insert(into: "license_keys")
            .columns("serial", "organization_id", "legal_name", "agreement_id", "line", "profile", "use_type", "users", "purchase_type", "suite_version",
                     "components", "valid_from", "expires_at", "issued_at", "kid", "access_key", "revision")
            .values(SQLBind(license.serial), SQLBind(organizationId), SQLBind(license.organization.legalName), SQLBind(agreementId), SQLBind(line.map(Int64.init)),
                    SQLBind(license.profile.rawValue), SQLBind(license.useType.rawValue), SQLBind(Int64(license.users)),
                    SQLBind(license.purchaseType.rawValue), SQLBind(license.suiteVersion), SQLBind(license.components.joined(separator: ",")),
                    SQLBind(license.validFrom.storedMilliseconds), SQLBind(license.expiresAt?.storedMilliseconds),
                    SQLBind(license.issuedAt.storedMilliseconds), SQLBind(key.kid), SQLBind(key.accessKey), SQLBind(revision))
            .run()
    }

    static func auditDetails(_ license: LicenseKey) -> [String: JSONValue] {
        [
            "organization": .string(license.organization.id), "profile": .string(license.profile.rawValue),
            "useType": .string(license.useType.rawValue), "users": .int(license.users),
            "purchaseType": .string(license.purchaseType.rawValue), "components": .array(license.components.map(JSONValue.string)),
            "expiresAt": license.expiresAt.map { .string(Timestamp.format($0)) } ?? .null,
        ]
    }

    static func organizationRecord(_ row: any SQLRow) throws -> OrganizationRecord {
        OrganizationRecord(
            id: try row.decode(column: "id", as: String.self),
            legalName: try row.decode(column: "legal_name", as: String.self),
            revision: try row.decode(column: "revision", as: Int64.self),
            createdAt: Date(storedMilliseconds: try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Date(storedMilliseconds: try row.decode(column: "updated_at", as: Int64.self))
        )
    }

    /// A key row, with the legal name it was issued under.
    static func keyRecord(_ row: any SQLRow) throws -> IssuedKeyRecord {
        let organizationId = try row.decode(column: "organization_id", as: String.self)
        let accessKey = try row.decode(column: "access_key", as: String.self)
        let issuedName = try row.decode(column: "legal_name", as: String.self)
        func enumValue<T: RawRepresentable>(_ column: String, _: T.Type) throws -> T where T.RawValue == String {
            guard let value = T(rawValue: try row.decode(column: column, as: String.self)) else {
                throw StoreError(code: "STORE_CORRUPT", message: "license_keys.\(column) holds an unknown value.")
            }
            return value
        }
        let license = LicenseKey(
            serial: try row.decode(column: "serial", as: String.self),
            organization: Organization(id: organizationId, legalName: issuedName),
            profile: try enumValue("profile", Profile.self),
            useType: try enumValue("use_type", UseType.self),
            users: Int(try row.decode(column: "users", as: Int64.self)),
            purchaseType: try enumValue("purchase_type", PurchaseType.self),
            suiteVersion: try row.decode(column: "suite_version", as: String.self),
            validFrom: Date(storedMilliseconds: try row.decode(column: "valid_from", as: Int64.self)),
            expiresAt: try row.decode(column: "expires_at", as: Int64?.self).map(Date.init(storedMilliseconds:)),
            components: try row.decode(column: "components", as: String.self).split(separator: ",").map(String.init),
            issuedAt: Date(storedMilliseconds: try row.decode(column: "issued_at", as: Int64.self))
        )
        return IssuedKeyRecord(
            license: license, accessKey: accessKey, kid: try row.decode(column: "kid", as: String.self),
            agreementId: try row.decode(column: "agreement_id", as: String?.self),
            line: try row.decode(column: "line", as: Int64?.self).map(Int.init),
            revision: try row.decode(column: "revision", as: Int64.self),
            revokedAt: try row.decode(column: "revoked_at", as: Int64?.self).map(Date.init(storedMilliseconds:)),
            revocationReason: try row.decode(column: "revocation_reason", as: String?.self),
            replacedBy: try row.decode(column: "replaced_by", as: String?.self)
        )
    }

    static func agreementRecord(_ row: any SQLRow, on sql: any SQLDatabase) async throws -> AgreementRecord {
        let id = try row.decode(column: "id", as: String.self)
        let serials = try await sql.select().column("serial").from("license_keys").where("agreement_id", .equal, id)
            .orderBy("line").orderBy("serial").all().map { try $0.decode(column: "serial", as: String.self) }
        return AgreementRecord(
            id: id,
            organizationId: try row.decode(column: "organization_id", as: String.self),
            reference: try row.decode(column: "reference", as: String.self),
            signedOn: try row.decode(column: "signed_on", as: Int64?.self).map(Date.init(storedMilliseconds:)),
            createdAt: Date(storedMilliseconds: try row.decode(column: "created_at", as: Int64.self)),
            serials: serials
        )
    }
}
