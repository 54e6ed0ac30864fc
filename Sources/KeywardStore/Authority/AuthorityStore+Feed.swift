import Foundation
import KeywardDomain
import SQLKit

/// The feed of an organization, read from one snapshot.
extension AuthorityStore {
    /// Everything the feed of an organization carries, read from one snapshot; `nil` if it does not exist.
    public func feedSnapshot(of organizationId: String) async throws -> FeedSnapshot? {
        try await database.snapshot { sql in
            guard let organization = try await Self.organization(organizationId, on: sql) else { return nil }
            struct Listed: Decodable {
                var serial: String
                var accessKey: String
                var revokedAt: Int64?
                var revocationReason: String?
            }
            let rows = try await sql.select().columns("serial", "access_key", "revoked_at", "revocation_reason").from("license_keys")
                .where("organization_id", .equal, organizationId).orderBy("serial").all(decoding: Listed.self, with: .columns)
            var keys: [(serial: String, accessKey: String)] = []
            var revoked: [(serial: String, revokedAt: Date, reason: String?)] = []
            keys.reserveCapacity(rows.count)
            for row in rows {
                if let revokedAt = row.revokedAt {
                    revoked.append((row.serial, Date(storedMilliseconds: revokedAt), row.revocationReason))
                } else {
                    keys.append((row.serial, row.accessKey))
                }
            }
            let production = try await sql.select().column("installation_id").from("installations")
                .where("organization_id", .equal, organizationId).where("environment", .equal, InstallationEnvironment.production.rawValue)
                .first()?.decode(column: "installation_id", as: String.self)
            return FeedSnapshot(organization: organization, keys: keys, revoked: revoked, productionInstallationId: production)
        }
    }
}
