import Foundation
import KeywardDomain
import NIOConcurrencyHelpers
import SQLKit

/// The authority's repository: organizations, their keys and agreements, feeds and activations.
///
/// Every change is one transaction that also bumps the organization's revision (when keys change) and
/// appends to the audit log, so the feed, the keys and the history always agree.
public struct AuthorityStore: Sendable {
    public let database: KeywardDatabase
    /// Authenticated tokens, so a registry's feed check or catalog fetch costs no database read; emptied when this
    /// process revokes a token (a revocation by the CLI or another instance takes effect within the cache's lifetime).
    public let tokenCache: TokenCache
    /// Organizations' feed revisions, so an unchanged feed's `304` costs no database read.
    let revisions: RevisionCache

    /// `cacheLifetime`: how long a token or a feed revision read is trusted before it is read again, which is how
    /// soon a change made by another process (the CLI, another instance) is seen; this process's own changes are seen
    /// at once.
    public init(database: KeywardDatabase, cacheLifetime: Duration = .seconds(1)) {
        self.database = database
        self.tokenCache = TokenCache(lifetime: max(10, TimeInterval(cacheLifetime.components.seconds)))
        self.revisions = RevisionCache(lifetime: cacheLifetime)
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
        guard
            let row = try await sql.update("organizations")
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
            throw StoreError(
                code: "KEY_REVOKED",
                message: "Key \(serial) is revoked\(record.replacedBy.map { " (replaced by \($0))" } ?? ""); it cannot be changed.", kind: .conflict)
        }
        return record
    }

    static func insert(_ key: NewIssuedKey, organizationId: String, agreementId: String?, line: Int?, revision: Int64, on sql: any SQLDatabase)
        async throws
    {
        let row = IssuedKeyRow(
            license: key.license, organizationId: organizationId, agreementId: agreementId, line: line, kid: key.kid,
            accessKey: key.accessKey, revision: revision)
        try await sql.insert(into: "license_keys").model(row, with: .columns).run()
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
        try row.decode(model: OrganizationRow.self, with: .columns).record
    }

    /// A key row, with the legal name it was issued under.
    static func keyRecord(_ row: any SQLRow) throws -> IssuedKeyRecord {
        try row.decode(model: IssuedKeyRow.self, with: .columns).record()
    }

    static func agreementRecord(_ row: any SQLRow, on sql: any SQLDatabase) async throws -> AgreementRecord {
        let agreement = try row.decode(model: AgreementRow.self, with: .columns)
        let serials = try await sql.select().column("serial").from("license_keys").where("agreement_id", .equal, agreement.id)
            .orderBy("line").orderBy("serial").all(decodingColumn: "serial", as: String.self)
        return AgreementRecord(
            id: agreement.id, organizationId: agreement.organizationId, reference: agreement.reference,
            signedOn: agreement.signedOn.map(Date.init(storedMilliseconds:)), createdAt: Date(storedMilliseconds: agreement.createdAt),
            serials: serials
        )
    }
}

/// Organizations' feed revisions read recently. This process forgets them all whenever it changes one (after the
/// transaction commits); a change made by another process (the CLI, another instance) is seen within `lifetime`.
/// A read that started before a change is not kept after it (the generation moved on), so a stale revision is never
/// cached past a local change.
final class RevisionCache: Sendable {
    struct State {
        var revisions: [String: (revision: Int64, at: ContinuousClock.Instant)] = [:]
        var generation = 0
    }

    private let state = NIOLockedValueBox(State())
    let lifetime: Duration

    init(lifetime: Duration = .seconds(1)) {
        self.lifetime = lifetime
    }

    /// The cached revision of `organization` and the generation to store a fresh read under.
    func lookup(_ organization: String, now: ContinuousClock.Instant) -> (revision: Int64?, generation: Int) {
        state.withLockedValue { state in
            guard let entry = state.revisions[organization], now - entry.at < lifetime else { return (nil, state.generation) }
            return (entry.revision, state.generation)
        }
    }

    func store(_ revision: Int64, of organization: String, readAt: ContinuousClock.Instant, generation: Int) {
        state.withLockedValue { state in
            guard state.generation == generation else { return }
            if state.revisions.count >= 100_000 { state.revisions.removeAll(keepingCapacity: true) }
            state.revisions[organization] = (revision, readAt)
        }
    }

    func forgetAll() {
        state.withLockedValue { state in
            state.generation += 1
            state.revisions.removeAll(keepingCapacity: true)
        }
    }
}
