import KeywardAuthority
import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardStore

/// The catalog, the signing keys, and the audit log.
struct MetaController: Sendable {
    let authority: Authority

    struct SigningKeyResponse: Encodable, Sendable {
        let kid: String
        let hex: String
        let pem: String
        let active: Bool
        let createdAt: Date
    }

    /// Routes anyone may call, added before the token middleware so a stale token cannot break them.
    func addPublic(to router: Router<AuthorityRequestContext>) {
        router.get("/v1/signing-keys") { _, _ in
            // Public: anyone may check an access key.
            let keys = authority.keyring.entries.reversed().compactMap { entry -> SigningKeyResponse? in
                guard let key = authority.keyring.publicKeys.first(where: { $0.kid == entry.kid }) else { return nil }
                return SigningKeyResponse(kid: key.kid, hex: key.hex, pem: key.pem, active: entry.active, createdAt: entry.createdAt)
            }
            return ItemsResponse(items: keys)
        }
    }

    func add(to router: Router<AuthorityRequestContext>) {
        router.get("/v1/catalog") { _, context in
            try context.requireToken()
            return authority.catalog
        }
        router.get("/v1/catalog/signed") { _, context in
            try context.requireToken()
            return authority.signedCatalog
        }
        router.get("/v1/audit-events") { request, context in
            try context.requireOperator()
            return ItemsResponse(items: try await AuditLog(database: authority.store.database).list(try AuditQuery.from(request)))
        }
    }
}
