import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore

/// A service or directory token as the API lists it: never its secret.
public struct IntegrationTokenResponse: ResponseCodable, Sendable {
    public let id: String
    public let kind: String
    public let name: String
    public let createdAt: Date
    public let revokedAt: Date?
    /// The token itself, only in the answer that makes it: it is stored as a hash and never shown again.
    public let token: String?

    init(_ record: TokenRecord, token: APIToken? = nil) {
        id = record.id
        kind = record.kind
        name = record.name
        createdAt = record.createdAt
        revokedAt = record.revokedAt
        self.token = token?.text
    }
}

/// `/api/v1/tokens`: tokens for other systems, a service token for the suite's modules or a directory token for an
/// identity provider's SCIM provisioning; administered with the License key menu.
struct TokensController: Sendable {
    let registry: Registry

    struct NewToken: Decodable {
        let kind: String
        let name: String
    }

    struct TokenList: ResponseCodable {
        let items: [IntegrationTokenResponse]
    }

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group(authorizedBy: RegistryRole.administrator(registry.access))
            .get(use: list)
            .post(use: create)
            .delete(":id", use: revoke)
        return routes
    }

    /// Every service and directory token, newest first.
    @Sendable func list(_ request: Request, context: RegistryRequestContext) async throws -> TokenList {
        TokenList(items: try await registry.integrationTokens().map { IntegrationTokenResponse($0) })
    }

    /// Makes a token; the answer holds its secret, the only time it is shown.
    @Sendable func create(_ request: Request, context: RegistryRequestContext) async throws -> EditedResponse<IntegrationTokenResponse> {
        let input = try await request.decodeJSON(as: NewToken.self, context: context)
        let kind = try Registry.integrationTokenKind(input.kind)
        let made = try await registry.createIntegrationToken(kind: kind, name: input.name, actor: context.actor)
        return EditedResponse(status: .created, response: IntegrationTokenResponse(made.record, token: made.token))
    }

    /// Revokes a token for good.
    @Sendable func revoke(_ request: Request, context: RegistryRequestContext) async throws -> IntegrationTokenResponse {
        let id = try context.parameters.require("id")
        return IntegrationTokenResponse(try await registry.revokeIntegrationToken(id: String(id.prefix(64)), actor: context.actor))
    }
}
