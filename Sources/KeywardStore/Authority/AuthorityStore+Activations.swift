import Foundation
import KeywardDomain
import SQLKit

/// Activations of installations and the environment changes they make.
extension AuthorityStore {
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
        defer { revisions.forgetAll() }  // after the commit: a change of production moves the feed's revision
        return try await database.write { sql in
            let legalName = try await Self.lockOrganization(organizationId, on: sql)

            let requested = Array(Set(request.serials)).sorted()
            struct Requested: Decodable {
                var serial: String
                var organizationId: String
                var revokedAt: Int64?
                var revocationReason: String?
            }
            var found: [String: (organization: String, revokedAt: Int64?, reason: String?)] = [:]
            // In batches: an installation may name 100,000 keys, more than a statement may bind.
            for batch in stride(from: 0, to: requested.count, by: 1_000).map({ Array(requested[$0..<min($0 + 1_000, requested.count)]) }) {
                for row in try await sql.select().columns("serial", "organization_id", "revoked_at", "revocation_reason").from("license_keys")
                    .where("serial", .in, batch).all(decoding: Requested.self, with: .columns)
                {
                    found[row.serial] = (row.organizationId, row.revokedAt, row.revocationReason)
                }
            }
            let unknown = requested.filter { found[$0]?.organization != organizationId }
            guard unknown.isEmpty else {
                throw StoreError(
                    code: "UNKNOWN_KEY",
                    message:
                        "These keys are not keys of organization \(organizationId): \(unknown.prefix(20).joined(separator: ", "))\(unknown.count > 20 ? " and \(unknown.count - 20) more" : "").",
                    kind: .invalid, details: ["serials": .array(unknown.map(JSONValue.string))])
            }
            // Revoked keys are not refused: the certificate covers the others and carries these, signed, so the
            // registry learns of the revocation even without synchronizing.
            let revoked = requested.compactMap { serial -> FeedEnvelope.Revoked? in
                guard let at = found[serial]?.revokedAt else { return nil }
                return FeedEnvelope.Revoked(
                    serial: serial, revokedAt: Date(storedMilliseconds: at), reason: found[serial]?.reason ?? "Revoked by the licensing authority.")
            }
            let revokedSerials = Set(revoked.map(\.serial))
            let serials = requested.filter { !revokedSerials.contains($0) }

            let owner = try await sql.select().column("organization_id").from("installations")
                .where("installation_id", .equal, request.installationId).first()?.decode(column: "organization_id", as: String.self)
            if let owner, owner != organizationId {
                throw StoreError(
                    code: "INSTALLATION_CONFLICT", message: "Installation id \(request.installationId) is registered to another organization.",
                    kind: .conflict)
            }
            let changes = try await Self.environmentChanges(
                activating: request.installationId, in: request.environment, promote: request.promote, organizationId: organizationId,
                now: now, on: sql)

            let serialsText = serials.joined(separator: ",")
            if owner == nil {
                let row = InstallationRow(
                    installationId: request.installationId, organizationId: organizationId,
                    environment: request.environment.rawValue, serials: serialsText, activatedAt: now.storedMilliseconds)
                try await sql.insert(into: "installations").model(row, with: .columns).run()
            } else {
                try await sql.update("installations").set("environment", to: request.environment.rawValue).set("serials", to: serialsText)
                    .set("activated_at", to: now.storedMilliseconds).where("installation_id", .equal, request.installationId).run()
            }
            try await Self.record(changes, organizationId: organizationId, reason: request.reason, now: now, on: sql)
            // The feed names the production installation: a change of it (a promotion, a demotion, a first production
            // installation) is a new revision, so every registry of the organization reads it at its next synchronization.
            if !changes.isEmpty || (owner == nil && request.environment == .production) {
                _ = try await Self.bumpRevision(organizationId, now: now, on: sql)
            }
            var details: [String: JSONValue] = [
                "organization": .string(organizationId), "environment": .string(request.environment.rawValue), "keys": .int(serials.count),
                // The serials themselves up to 1,000: an audit event is not the place for an installation's 100,000.
                "serials": .array(serials.prefix(1_000).map(JSONValue.string)),
                "demoted": .array(changes.filter { $0.installationId != request.installationId }.map { .string($0.installationId) }),
            ]
            if !revoked.isEmpty { details["revoked"] = .array(revoked.map { .string($0.serial) }) }
            if let reason = request.reason { details["reason"] = .string(reason) }
            try await AuditLog.append(
                .init(actor: actor, action: "installation.activated", target: "installation:\(request.installationId)", details: details),
                at: now, on: sql)
            return (sign(Organization(id: organizationId, legalName: legalName), serials, revoked), changes, revoked)
        }
    }

    /// The installations of an organization, by id.
    public func installations(of organizationId: String) async throws -> [InstallationRecord] {
        try await database.snapshot { sql in
            guard try await Self.organization(organizationId, on: sql) != nil else { throw Self.unknownOrganization(organizationId) }
            return try await sql.select().columns("*").from("installations").where("organization_id", .equal, organizationId)
                .orderBy("installation_id").all(decoding: InstallationRow.self, with: .columns).map(\.record)
        }
    }
}
