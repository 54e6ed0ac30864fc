import Foundation
import KeywardDomain
import SQLKit

/// Which signing keys the authority's live keys depend on, so a key still in use is not retired by mistake.
extension AuthorityStore {
    /// How many live keys (neither revoked nor expired at `now`) each signing key signed, by kid; kids with none are absent.
    public func liveKeyCounts(now: Date) async throws -> [String: Int] {
        try await database.read { sql in
            struct Count: Decodable {
                var kid: String
                var n: Int
            }
            let rows = try await Self.liveKeys(sql.select().column("kid").column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n"), now: now)
                .groupBy("kid").all(decoding: Count.self)
            return Dictionary(uniqueKeysWithValues: rows.map { ($0.kid, $0.n) })
        }
    }

    /// The serials of up to `limit` live keys signed by `kid`, by serial.
    public func liveKeySerials(signedBy kid: String, now: Date, limit: Int = 20) async throws -> [String] {
        try await database.read { sql in
            try await Self.liveKeys(sql.select().column("serial"), now: now).where("kid", .equal, kid).orderBy("serial").limit(limit)
                .all(decodingColumn: "serial", as: String.self)
        }
    }

    private static func liveKeys(_ select: SQLSelectBuilder, now: Date) -> SQLSelectBuilder {
        select.from("license_keys").where("revoked_at", .is, SQLLiteral.null)
            .where { $0.where("expires_at", .is, SQLLiteral.null).orWhere("expires_at", .greaterThan, now.storedMilliseconds) }
    }
}
