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
            return ListResponse(items: keys)
        }
    }

    func add(to router: Router<AuthorityRequestContext>) {
        router.get("/v1/catalog") { _, context in
            try context.requireToken()
            return authority.catalog
        }
        router.get("/v1/audit-events") { request, context in
            try context.requireOperator()
            let query = request.uri.queryParameters
            let limit: Int
            if let text = query.get("limit") {
                guard let value = Int(text), (1...AuditQuery.maximumLimit).contains(value) else {
                    throw APIError.invalidField(FieldError(field: "limit", code: "INVALID_LIMIT", message: "limit must be a whole number from 1 to \(AuditQuery.maximumLimit)."))
                }
                limit = value
            } else {
                limit = 50
            }
            var beforeID: Int64?
            if let text = query.get("before") {
                guard let value = Int64(text) else {
                    throw APIError.invalidField(FieldError(field: "before", code: "INVALID_CURSOR", message: "before must be the id of an audit event."))
                }
                beforeID = value
            }
            let events = try await AuditLog(database: authority.store.database).list(AuditQuery(
                actor: query.get("actor").flatMap { $0.isEmpty ? nil : $0 }, action: query.get("action").flatMap { $0.isEmpty ? nil : $0 },
                target: query.get("target").flatMap { $0.isEmpty ? nil : $0 }, beforeID: beforeID, limit: limit))
            return ListResponse(items: events)
        }
    }
}
