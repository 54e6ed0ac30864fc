import Foundation
import KeywardDomain
import SQLKit

/// Issued keys and the agreements they come from: issuing, revoking, replacing and switching.
extension AuthorityStore {
    /// Stores freshly signed keys for an organization, with their agreement when they come from one,
    /// in one transaction that raises the organization's revision once. Returns the new revision.
    @discardableResult
    public func storeIssuedKeys(
        _ keys: [NewIssuedKey], organizationId: String, agreement: (id: String, reference: String, signedOn: Date?)? = nil,
        actor: String, now: Date
    ) async throws -> Int64 {
        defer { revisions.forgetAll() }  // after the commit: the feed's revision moved
        return try await database.write { sql in
            let revision = try await Self.bumpRevision(organizationId, now: now, on: sql)
            if let agreement {
                let taken = try await sql.select().column("id").from("agreements")
                    .where("organization_id", .equal, organizationId).where("reference", .equal, agreement.reference).first()
                guard taken == nil else {
                    throw StoreError(
                        code: "AGREEMENT_EXISTS",
                        message: "Organization \(organizationId) already has an agreement with reference \(agreement.reference).", kind: .conflict)
                }
                let row = AgreementRow(
                    id: agreement.id, organizationId: organizationId, reference: agreement.reference,
                    signedOn: agreement.signedOn?.storedMilliseconds, createdAt: now.storedMilliseconds)
                try await sql.insert(into: "agreements").model(row, with: .columns).run()
                try await AuditLog.append(
                    .init(
                        actor: actor, action: "agreement.created", target: "agreement:\(agreement.id)",
                        details: [
                            "reference": .string(agreement.reference), "organization": .string(organizationId),
                            "lines": .int(keys.count),
                        ]), at: now, on: sql)
            }
            for (index, key) in keys.enumerated() {
                try await Self.insert(
                    key, organizationId: organizationId, agreementId: agreement?.id, line: agreement == nil ? nil : index + 1,
                    revision: revision, on: sql)
                try await AuditLog.append(
                    .init(
                        actor: actor, action: "license-key.issued", target: "license-key:\(key.license.serial)",
                        details: Self.auditDetails(key.license)), at: now, on: sql)
            }
            return revision
        }
    }

    /// Revokes a key; `KEY_REVOKED` if it already is.
    public func revokeKey(_ serial: String, reason: String, actor: String, now: Date) async throws -> IssuedKeyRecord {
        defer { revisions.forgetAll() }  // after the commit: the feed's revision moved
        return try await database.write { sql in
            var record = try await Self.activeKey(serial, on: sql)
            let revision = try await Self.bumpRevision(record.license.organization.id, now: now, on: sql)
            try await sql.update("license_keys")
                .set("revoked_at", to: now.storedMilliseconds).set("revocation_reason", to: reason).set("revision", to: revision)
                .where("serial", .equal, serial).run()
            try await AuditLog.append(
                .init(
                    actor: actor, action: "license-key.revoked", target: "license-key:\(serial)",
                    details: ["reason": .string(reason)]), at: now, on: sql)
            record.revokedAt = now
            record.revocationReason = reason
            record.revision = revision
            return record
        }
    }

    /// Replaces a key's license and access key with a re-signed one (same serial): a renewal.
    public func replaceKey(_ key: NewIssuedKey, actor: String, now: Date) async throws -> IssuedKeyRecord {
        defer { revisions.forgetAll() }  // after the commit: the feed's revision moved
        return try await database.write { sql in
            var record = try await Self.activeKey(key.license.serial, on: sql)
            let revision = try await Self.bumpRevision(record.license.organization.id, now: now, on: sql)
            try await sql.update("license_keys")
                .set("expires_at", to: key.license.expiresAt?.storedMilliseconds)
                .set("issued_at", to: key.license.issuedAt.storedMilliseconds)
                .set("kid", to: key.kid).set("access_key", to: key.accessKey).set("revision", to: revision)
                .set("legal_name", to: key.license.organization.legalName)
                .where("serial", .equal, key.license.serial).run()
            try await AuditLog.append(
                .init(
                    actor: actor, action: "license-key.renewed", target: "license-key:\(key.license.serial)",
                    details: [
                        "expiresAt": key.license.expiresAt.map { .string(Timestamp.format($0)) } ?? .null,
                        "previousExpiresAt": record.license.expiresAt.map { .string(Timestamp.format($0)) } ?? .null,
                    ]),
                at: now, on: sql)
            record.license = key.license
            record.accessKey = key.accessKey
            record.kid = key.kid
            record.revision = revision
            return record
        }
    }

    /// Switches a key for a new one: issues `replacement` and revokes `serial` in one transaction.
    public func switchKey(_ serial: String, to replacement: NewIssuedKey, actor: String, now: Date) async throws -> (
        revoked: IssuedKeyRecord, issued: IssuedKeyRecord
    ) {
        defer { revisions.forgetAll() }  // after the commit: the feed's revision moved
        return try await database.write { sql in
            var old = try await Self.activeKey(serial, on: sql)
            let organizationId = old.license.organization.id
            let revision = try await Self.bumpRevision(organizationId, now: now, on: sql)
            try await Self.insert(
                replacement, organizationId: organizationId, agreementId: old.agreementId, line: old.line, revision: revision, on: sql)
            let reason = "switched to \(replacement.license.serial)"
            try await sql.update("license_keys")
                .set("revoked_at", to: now.storedMilliseconds).set("revocation_reason", to: reason)
                .set("replaced_by", to: replacement.license.serial).set("revision", to: revision)
                .where("serial", .equal, serial).run()
            try await AuditLog.append(
                .init(
                    actor: actor, action: "license-key.issued", target: "license-key:\(replacement.license.serial)",
                    details: Self.auditDetails(replacement.license).merging(["replaces": .string(serial)]) { a, _ in a }),
                at: now, on: sql)
            try await AuditLog.append(
                .init(
                    actor: actor, action: "license-key.switched", target: "license-key:\(serial)",
                    details: ["replacement": .string(replacement.license.serial)].merging(Self.auditDetails(replacement.license)) { a, _ in a }),
                at: now, on: sql)
            old.revokedAt = now
            old.revocationReason = reason
            old.replacedBy = replacement.license.serial
            old.revision = revision
            let issued = IssuedKeyRecord(
                license: replacement.license, accessKey: replacement.accessKey, kid: replacement.kid,
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
}
