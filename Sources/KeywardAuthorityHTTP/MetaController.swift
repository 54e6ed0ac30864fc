import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore

/// `/v1/signing-keys` (public; rotated and retired by admins) and `/v1/catalog`.
struct MetaController: Sendable {
    let authority: Authority

    struct SigningKeyResponse: ResponseCodable {
        let kid: String
        let hex: String
        let pem: String
        let active: Bool
        let createdAt: Date

        init(_ entry: AuthorityKeyring.Entry, key: AuthorityPublicKey) {
            kid = key.kid
            hex = key.hex
            pem = key.pem
            active = entry.active
            createdAt = entry.createdAt
        }
    }

    /// A key just retired: no longer among the keys registries trust.
    struct RetiredSigningKeyResponse: ResponseCodable {
        let kid: String
        let createdAt: Date
        let retiredAt: Date
    }

    /// `{"force": true}`; `force` absent is `false`, and `null` is refused as not a boolean.
    struct Retire: Decodable {
        /// Retire even though live keys are signed with it (a compromised key).
        let force: Bool

        enum CodingKeys: String, CodingKey { case force }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            force = container.contains(.force) ? try container.decode(Bool.self, forKey: .force) : false
        }
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
        routes.group(authorizedBy: AuthorityRole.admin)
            .post("signing-keys/rotate", use: rotate)
            .post("signing-keys/:kid/retire", use: retire)
        return routes
    }

    /// The public keys access keys are signed with: anyone may check an access key.
    @Sendable func signingKeys(_ request: Request, context: AuthorityRequestContext) async throws -> ItemsResponse<SigningKeyResponse> {
        let keyring = authority.keyring
        let keys = keyring.entries.reversed().compactMap { entry -> SigningKeyResponse? in
            guard let key = keyring.publicKeys.first(where: { $0.kid == entry.kid }) else { return nil }
            return SigningKeyResponse(entry, key: key)
        }
        return ItemsResponse(items: keys)
    }

    /// Adds a new active signing key; the old ones stay trusted. Admins only.
    @Sendable func rotate(_ request: Request, context: AuthorityRequestContext) async throws -> EditedResponse<SigningKeyResponse> {
        let entry = try await authority.rotateSigningKey(actor: context.actor)
        return created(SigningKeyResponse(entry, key: authority.keyring.activeKey.publicKey))
    }

    /// Retires an old signing key (refused for the active key, and for one that signs live keys unless `force`). Admins only.
    @Sendable func retire(_ request: Request, context: AuthorityRequestContext) async throws -> RetiredSigningKeyResponse {
        let input = try await request.decodeJSONIfPresent(as: Retire.self, context: context)
        let entry = try await authority.retireSigningKey(
            kid: try context.parameters.require("kid"), force: input?.force ?? false, actor: context.actor)
        return RetiredSigningKeyResponse(kid: entry.kid, createdAt: entry.createdAt, retiredAt: entry.retiredAt ?? authority.now())
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
