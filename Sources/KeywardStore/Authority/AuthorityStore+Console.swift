import Foundation
import KeywardDomain
import SQLKit

/// What the console's pages read beyond the API's: searches, counts and the latest of each kind, each in one query.
extension AuthorityStore {
    /// Organizations whose id or legal name contains `text` (any case), by id, a page at a time, with the total.
    public func searchOrganizations(_ text: String, limit: Int, offset: Int) async throws -> (total: Int, page: [OrganizationRecord]) {
        try await database.snapshot { sql in
            let pattern = "%" + Self.likeEscaped(text.lowercased()) + "%"
            func matching(_ select: SQLSelectBuilder) -> SQLSelectBuilder {
                guard !text.isEmpty else { return select }
                let condition: SQLQueryString =
                    "(LOWER(id) LIKE \(bind: pattern) ESCAPE '\\' OR LOWER(legal_name) LIKE \(bind: pattern) ESCAPE '\\')"
                return select.where(condition)
            }
            let total =
                try await matching(sql.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("organizations")).first()?
                .decode(column: "n", as: Int.self) ?? 0
            let page = try await matching(sql.select().columns("*").from("organizations")).orderBy("id").limit(limit).offset(offset)
                .all(decoding: OrganizationRow.self, with: .columns).map(\.record)
            return (total, page)
        }
    }

    /// `text` with LIKE's wildcards and its escape character escaped.
    static func likeEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
    }

    /// The dashboard's figures at `now`.
    public struct ConsoleSummary: Sendable {
        public var organizations: Int
        public var validKeys: Int
        public var revokedKeys: Int
        public var expiredKeys: Int
        /// Valid keys that expire within 30 days, soonest first (at most 50).
        public var expiringSoon: [IssuedKeyRecord]
        /// The latest activations (at most 10), newest first.
        public var latestActivations: [InstallationRecord]
        /// This month's environment changes, newest first.
        public var environmentChanges: [EnvironmentChange]
    }

    /// A change of an installation's environment, counted against its organization's month.
    public struct EnvironmentChange: Sendable, Hashable {
        public var organizationId: String
        public var installationId: String
        public var from: String
        public var to: String
        public var changedAt: Date
        public var reason: String?
    }

    public func consoleSummary(now: Date) async throws -> ConsoleSummary {
        let at = now.storedMilliseconds
        let soon = now.addingTimeInterval(30 * 86400).storedMilliseconds
        return try await database.snapshot { sql in
            func count(_ condition: String) async throws -> Int {
                try await sql.raw("SELECT COUNT(*) AS n FROM license_keys WHERE \(unsafeRaw: condition)").first()?.decode(column: "n", as: Int.self)
                    ?? 0
            }
            let organizations =
                try await sql.raw("SELECT COUNT(*) AS n FROM organizations").first()?.decode(column: "n", as: Int.self) ?? 0
            let valid = try await count("revoked_at IS NULL AND (expires_at IS NULL OR expires_at > \(at))")
            let revoked = try await count("revoked_at IS NOT NULL")
            let expired = try await count("revoked_at IS NULL AND expires_at IS NOT NULL AND expires_at <= \(at)")
            let expiring = try await sql.select().columns("*").from("license_keys").where("revoked_at", .is, SQLLiteral.null)
                .where("expires_at", .greaterThan, at).where("expires_at", .lessThanOrEqual, soon).orderBy("expires_at").limit(50).all()
                .map(Self.keyRecord)
            let activations = try await sql.select().columns("*").from("installations").orderBy("activated_at", .descending).limit(10)
                .all(decoding: InstallationRow.self, with: .columns).map(\.record)
            let changes = try await Self.environmentChanges(
                sql.select().columns("*").from("environment_changes").where("period", .equal, ActivationRules.period(of: now)), on: sql)
            return ConsoleSummary(
                organizations: organizations, validKeys: valid, revokedKeys: revoked, expiredKeys: expired, expiringSoon: expiring,
                latestActivations: activations, environmentChanges: changes)
        }
    }

    /// Every environment change of an organization, newest first.
    public func environmentChanges(of organizationId: String) async throws -> [EnvironmentChange] {
        try await database.read { sql in
            try await Self.environmentChanges(
                sql.select().columns("*").from("environment_changes").where("organization_id", .equal, organizationId), on: sql)
        }
    }

    static func environmentChanges(_ select: SQLSelectBuilder, on sql: any SQLDatabase) async throws -> [EnvironmentChange] {
        try await select.orderBy("id", .descending).limit(500).all().map { row in
            EnvironmentChange(
                organizationId: try row.decode(column: "organization_id", as: String.self),
                installationId: try row.decode(column: "installation_id", as: String.self),
                from: try row.decode(column: "from_environment", as: String.self), to: try row.decode(column: "to_environment", as: String.self),
                changedAt: Date(storedMilliseconds: try row.decode(column: "changed_at", as: Int64.self)),
                reason: try row.decode(column: "reason", as: String?.self))
        }
    }
}

extension AuthorityStore {
    /// The audit events about organization `id` matching `query`: its own, and its keys', agreements',
    /// installations' and organization tokens', chosen in SQL, so an organization with 100,000 keys costs one query.
    public func auditEvents(ofOrganization id: String, _ query: AuditQuery) async throws -> [AuditEvent] {
        let condition: SQLQueryString = """
            (target = \(bind: "organization:" + id) \
            OR target IN (SELECT 'license-key:' || serial FROM license_keys WHERE organization_id = \(bind: id)) \
            OR target IN (SELECT 'agreement:' || id FROM agreements WHERE organization_id = \(bind: id)) \
            OR target IN (SELECT 'installation:' || installation_id FROM installations WHERE organization_id = \(bind: id)) \
            OR target IN (SELECT 'token:' || id FROM api_tokens WHERE kind = 'organization' AND subject = \(bind: id)))
            """
        return try await AuditLog(database: database).list(query, matching: condition)
    }

    /// A page of an organization's keys, by serial, with their number; `UNKNOWN_ORGANIZATION` if there is none.
    public func keys(of organizationId: String, limit: Int, offset: Int) async throws -> (total: Int, page: [IssuedKeyRecord]) {
        try await database.snapshot { sql in
            guard try await Self.organization(organizationId, on: sql) != nil else { throw Self.unknownOrganization(organizationId) }
            let total =
                try await sql.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("license_keys")
                .where("organization_id", .equal, organizationId).first()?.decode(column: "n", as: Int.self) ?? 0
            let page = try await sql.select().columns("*").from("license_keys").where("organization_id", .equal, organizationId)
                .orderBy("serial").limit(limit).offset(offset).all().map(Self.keyRecord)
            return (total, page)
        }
    }
}

extension InstallationRow {
    var record: InstallationRecord {
        InstallationRecord(
            installationId: installationId, organizationId: organizationId, environment: InstallationEnvironment(rawValue: environment) ?? .test,
            serials: serials.split(separator: ",").map(String.init), activatedAt: Date(storedMilliseconds: activatedAt))
    }
}
