import KeywardAuthority
import Foundation
import Hummingbird
import NIOCore
import KeywardDomain
import KeywardHTTP
import KeywardStore

/// `/v1/organizations` and their tokens, and `/v1/tokens`.
struct OrganizationsController: Sendable {
    let authority: Authority

    struct CreateOrganization: Decodable {
        let id: String
        let legalName: String
    }

    struct UpdateOrganization: Decodable {
        let legalName: String
    }

    struct CreateToken: Decodable {
        let name: String?
    }

    func add(to router: Router<AuthorityRequestContext>) {
        router.post("/v1/organizations") { request, context in
            try context.requireOperator()
            let input = try await request.decodeJSON(as: CreateOrganization.self, context: context)
            return created(try await authority.createOrganization(id: input.id, legalName: input.legalName, actor: context.actor))
        }
        router.get("/v1/organizations") { _, context in
            try context.requireOperator()
            return ItemsResponse(items: try await authority.store.organizations())
        }
        router.get("/v1/organizations/:id") { _, context in
            try context.requireOperator()
            return try await authority.requireOrganization(try context.parameters.require("id"))
        }
        router.patch("/v1/organizations/:id") { request, context in
            try context.requireOperator()
            let input = try await request.decodeJSON(as: UpdateOrganization.self, context: context)
            return try await authority.updateOrganization(id: try context.parameters.require("id"), legalName: input.legalName, actor: context.actor)
        }
        router.post("/v1/organizations/:id/tokens") { request, context in
            try context.requireOperator()
            let organizationId = try context.parameters.require("id")
            let input = try await request.decodeJSONIfPresent(as: CreateToken.self, context: context)
            let made = try await authority.store.createToken(kind: TokenKind.organization, name: input?.name ?? "registry", subject: organizationId,
                                                             actor: context.actor, now: authority.now())
            return created(NewTokenResponse(id: made.record.id, kind: made.record.kind, name: made.record.name, organizationId: organizationId,
                                            createdAt: made.record.createdAt, token: made.token.text))
        }
        router.get("/v1/tokens") { _, context in
            try context.requireOperator()
            return ItemsResponse(items: try await TokenStore(database: authority.store.database).list().map(TokenResponse.init))
        }
        router.delete("/v1/tokens/:id") { _, context in
            try context.requireOperator()
            return TokenResponse(try await authority.store.revokeToken(try context.parameters.require("id"), actor: context.actor, now: authority.now()))
        }
    }
}
