import Foundation
import KeywardDomain
import SQLKit

/// Environment changes outside an activation: the vendor promoting an installation to production (the console, the
/// API, `keyward authority installation promote`). The rules are ``ActivationRules``, applied here and by activation
/// through the same helpers, so the two cannot drift apart.
extension AuthorityStore {
    /// Makes `installationId` the organization's production installation (the current one becomes test), with the
    /// activation's rules: at most ``ActivationRules/monthlyEnvironmentChanges`` changes a calendar month (UTC).
    /// Audited as `installation.promoted`; returns the changes made. The feed does not carry environments, so its
    /// revision stays: the installation's next activation certifies the new environment.
    public func promote(_ installationId: String, organizationId: String, reason: String, actor: String, now: Date) async throws
        -> [ActivationRules.Change]
    {
        defer { revisions.forgetAll() }  // after the commit: the feed's revision moved
        return try await database.write { sql in
            _ = try await Self.lockOrganization(organizationId, on: sql)
            guard
                let current = try await sql.select().columns("organization_id", "environment").from("installations")
                    .where("installation_id", .equal, installationId).first(),
                try current.decode(column: "organization_id", as: String.self) == organizationId
            else {
                throw StoreError(
                    code: "UNKNOWN_INSTALLATION",
                    message:
                        "Organization \(organizationId) has no installation \(installationId); an installation exists once it has been activated. Its installations: keyward authority installation list --organization \(organizationId).",
                    kind: .notFound)
            }
            guard try current.decode(column: "environment", as: String.self) != InstallationEnvironment.production.rawValue else {
                throw StoreError(
                    code: "ALREADY_PRODUCTION",
                    message: "Installation \(installationId) already is the production installation of \(organizationId).",
                    kind: .conflict)
            }
            let changes = try await Self.environmentChanges(
                activating: installationId, in: .production, promote: true, organizationId: organizationId, now: now, on: sql)
            try await Self.record(changes, organizationId: organizationId, reason: reason, now: now, on: sql)
            // A new production installation is a new feed revision (the feed names it).
            _ = try await Self.bumpRevision(organizationId, now: now, on: sql)
            try await AuditLog.append(
                .init(
                    actor: actor, action: "installation.promoted", target: "installation:\(installationId)",
                    details: [
                        "organization": .string(organizationId), "reason": .string(reason),
                        "demoted": .array(changes.filter { $0.installationId != installationId }.map { .string($0.installationId) }),
                    ]), at: now, on: sql)
            return changes
        }
    }

    /// How many environment changes the organization made in the calendar month (UTC) of `now`.
    public func environmentChangeCount(of organizationId: String, now: Date) async throws -> Int {
        try await database.read { sql in
            guard try await Self.organization(organizationId, on: sql) != nil else { throw Self.unknownOrganization(organizationId) }
            return try await Self.environmentChangeCount(of: organizationId, period: ActivationRules.period(of: now), on: sql)
        }
    }

    // MARK: Shared with activation

    /// Takes the organization's row, which serializes activations and promotions of one organization on PostgreSQL;
    /// returns its legal name.
    static func lockOrganization(_ organizationId: String, on sql: any SQLDatabase) async throws -> String {
        guard
            let organization = try await sql.update("organizations").set("updated_at", to: SQLColumn("updated_at"))
                .where("id", .equal, organizationId).returning("id", "legal_name").first()
        else { throw Self.unknownOrganization(organizationId) }
        return try organization.decode(column: "legal_name", as: String.self)
    }

    static func environmentChangeCount(of organizationId: String, period: String, on sql: any SQLDatabase) async throws -> Int {
        try await sql.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("environment_changes")
            .where("organization_id", .equal, organizationId).where("period", .equal, period).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    /// The changes putting `installationId` in `environment` makes, by ``ActivationRules``, from the organization's
    /// installations and this month's changes as stored; a refusal becomes a `409` store error, with when the next
    /// change is possible.
    static func environmentChanges(
        activating installationId: String, in environment: InstallationEnvironment, promote: Bool, organizationId: String, now: Date,
        on sql: any SQLDatabase
    ) async throws -> [ActivationRules.Change] {
        var installations: [String: InstallationEnvironment] = [:]
        for row in try await sql.select().columns("installation_id", "environment").from("installations")
            .where("organization_id", .equal, organizationId).all()
        {
            installations[try row.decode(column: "installation_id", as: String.self)] =
                InstallationEnvironment(rawValue: try row.decode(column: "environment", as: String.self))
        }
        let changesThisMonth = try await environmentChangeCount(of: organizationId, period: ActivationRules.period(of: now), on: sql)
        do {
            return try ActivationRules.changes(
                activating: installationId, in: environment, promote: promote, installations: installations,
                changesThisMonth: changesThisMonth, now: now)
        } catch {
            throw StoreError(
                code: error.code, message: error.message, kind: .conflict,
                details: error.nextChangeAt.map { ["nextChangeAt": .string(Timestamp.format($0))] } ?? [:])
        }
    }

    /// Writes `changes`: each installation's new environment and one `environment_changes` row a change.
    static func record(_ changes: [ActivationRules.Change], organizationId: String, reason: String?, now: Date, on sql: any SQLDatabase)
        async throws
    {
        let period = ActivationRules.period(of: now)
        for change in changes {
            try await sql.update("installations").set("environment", to: change.to.rawValue)
                .where("installation_id", .equal, change.installationId).run()
            let row = EnvironmentChangeRow(
                organizationId: organizationId, installationId: change.installationId, fromEnvironment: change.from.rawValue,
                toEnvironment: change.to.rawValue, period: period, changedAt: now.storedMilliseconds, reason: reason)
            try await sql.insert(into: "environment_changes").model(row, with: .columns).run()
        }
    }
}
