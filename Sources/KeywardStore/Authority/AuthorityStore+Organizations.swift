import Foundation
import KeywardDomain
import SQLKit

/// Organizations: created, renamed, and the revision their feed is at.
extension AuthorityStore {
    /// Creates an organization; `ORGANIZATION_EXISTS` if the id is taken.
    public func createOrganization(_ organization: Organization, actor: String, now: Date) async throws -> OrganizationRecord {
        try await database.write { sql in
            if try await Self.organization(organization.id, on: sql) != nil {
                throw StoreError(code: "ORGANIZATION_EXISTS", message: "An organization with id \(organization.id) already exists.", kind: .conflict)
            }
            let row = OrganizationRow(
                id: organization.id, legalName: organization.legalName, revision: 0, createdAt: now.storedMilliseconds,
                updatedAt: now.storedMilliseconds)
            try await sql.insert(into: "organizations").model(row, with: .columns).run()
            try await AuditLog.append(
                .init(
                    actor: actor, action: "organization.created", target: "organization:\(organization.id)",
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
        defer { revisions.forgetAll() }
        return try await database.write { sql in
            guard var record = try await Self.organization(id, on: sql) else { throw Self.unknownOrganization(id) }
            // The legal name is in the feed, so a rename is a change registries must see: the revision rises.
            record.revision = try await Self.bumpRevision(id, now: now, on: sql)
            try await sql.update("organizations").set("legal_name", to: legalName).where("id", .equal, id).run()
            try await AuditLog.append(
                .init(
                    actor: actor, action: "organization.updated", target: "organization:\(id)",
                    details: ["legalName": .string(legalName), "previousLegalName": .string(record.legalName)]), at: now, on: sql)
            record.legalName = legalName
            record.updatedAt = now
            return record
        }
    }

    /// The current revision of an organization's feed, or `nil` if it does not exist: the cheap path of a `304`.
    public func revision(of id: String) async throws -> Int64? {
        let now = ContinuousClock.now
        let cached = revisions.lookup(id, now: now)
        if let revision = cached.revision { return revision }
        let revision = try await database.read { sql in
            try await sql.select().column("revision").from("organizations").where("id", .equal, id).first()?
                .decode(column: "revision", as: Int64.self)
        }
        if let revision { revisions.store(revision, of: id, readAt: now, generation: cached.generation) }
        return revision
    }
}
