import Foundation
import KeywardDomain
import SQLKit

/// The feed of an organization, read from one snapshot.
extension AuthorityStore {
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
}
