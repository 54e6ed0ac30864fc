import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore

/// `/v1/signing-keys` (public) and `/v1/catalog`.
struct MetaController: Sendable {
    let authority: Authority

    struct SigningKeyResponse: Codable, Sendable {
        let kid: String
        let hex: String
        let pem: String
        let active: Bool
        let createdAt: Date
    }

    /// Routes anyone may call, mounted before the token middleware so a stale token cannot break them.
    var publicEndpoints: RouteCollection<AuthorityRequestContext> {
        let routes = RouteCollection(context: AuthorityRequestContext.self)
        routes.get("signing-keys", use: signingKeys)
        return routes
    }

    var endpoints: RouteCollection<AuthorityRequestContext> {
        let routes = RouteCollection(context: AuthorityRequestContext.self)
        routes.group(authorizedBy: AuthorityRole.anyToken)
            .get("catalog", use: catalog)
            .get("catalog/signed", use: signedCatalog)
        return routes
    }

    /// The public keys access keys are signed with: anyone may check an access key.
    @Sendable func signingKeys(_ request: Request, context: AuthorityRequestContext) async throws -> ItemsResponse<SigningKeyResponse> {
        let keys = authority.keyring.entries.reversed().compactMap { entry -> SigningKeyResponse? in
            guard let key = authority.keyring.publicKeys.first(where: { $0.kid == entry.kid }) else { return nil }
            return SigningKeyResponse(kid: key.kid, hex: key.hex, pem: key.pem, active: entry.active, createdAt: entry.createdAt)
        }
        return ItemsResponse(items: keys)
    }

    /// The catalog of components and menus.
    @Sendable func catalog(_ request: Request, context: AuthorityRequestContext) async throws -> Catalog {
        authority.catalog
    }

    /// The catalog, signed.
    @Sendable func signedCatalog(_ request: Request, context: AuthorityRequestContext) async throws -> SignedDocument {
        authority.signedCatalog
    }
}
