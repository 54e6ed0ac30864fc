import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import NIOCore

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

    var endpoints: RouteCollection<AuthorityRequestContext> {
        let routes = RouteCollection(context: AuthorityRequestContext.self)
        routes.group(authorizedBy: AuthorityRole.operator)
            .post("organizations", use: create)
            .get("organizations", use: list)
            .get("organizations/:id", use: show)
            .patch("organizations/:id", use: update)
            .post("organizations/:id/tokens", use: createToken)
            .get("tokens", use: tokens)
            .delete("tokens/:id", use: revokeToken)
        return routes
    }

    /// Creates an organization.
    @Sendable func create(_ request: Request, context: AuthorityRequestContext) async throws -> EditedResponse<OrganizationResponse> {
        let input = try await request.decodeJSON(as: CreateOrganization.self, context: context)
        return created(OrganizationResponse(try await authority.createOrganization(id: input.id, legalName: input.legalName, actor: context.actor)))
    }

    /// Every organization.
    @Sendable func list(_ request: Request, context: AuthorityRequestContext) async throws -> ItemsResponse<OrganizationResponse> {
        ItemsResponse(items: try await authority.store.organizations().map(OrganizationResponse.init))
    }

    /// One organization.
    @Sendable func show(_ request: Request, context: AuthorityRequestContext) async throws -> OrganizationResponse {
        OrganizationResponse(try await authority.requireOrganization(try context.parameters.require("id")))
    }

    /// Changes an organization's legal name.
    @Sendable func update(_ request: Request, context: AuthorityRequestContext) async throws -> OrganizationResponse {
        let input = try await request.decodeJSON(as: UpdateOrganization.self, context: context)
        return OrganizationResponse(
            try await authority.updateOrganization(
                id: try context.parameters.require("id"), legalName: input.legalName,
                actor: context.actor))
    }

    /// Makes an organization token, for its registry: the only time its secret is shown.
    @Sendable func createToken(_ request: Request, context: AuthorityRequestContext) async throws -> EditedResponse<NewTokenResponse> {
        let organizationId = try context.parameters.require("id")
        let input = try await request.decodeJSONIfPresent(as: CreateToken.self, context: context)
        let made = try await authority.store.createToken(
            kind: TokenKind.organization, name: input?.name ?? "registry", subject: organizationId,
            actor: context.actor, now: authority.now())
        return created(NewTokenResponse(made))
    }

    /// Every token, without its secret.
    @Sendable func tokens(_ request: Request, context: AuthorityRequestContext) async throws -> ItemsResponse<TokenResponse> {
        ItemsResponse(items: try await TokenStore(database: authority.store.database).list().map(TokenResponse.init))
    }

    /// Revokes a token.
    @Sendable func revokeToken(_ request: Request, context: AuthorityRequestContext) async throws -> TokenResponse {
        let id = try context.parameters.require("id")
        // An organization's token is a clerk's daily work; an operator's token is an admin's.
        if try await TokenStore(database: authority.store.database).record(id: id)?.kind == TokenKind.operator {
            try context.requireRole([.admin], to: "revoke an operator's token")
        }
        return TokenResponse(try await authority.store.revokeToken(id, actor: context.actor, now: authority.now()))
    }
}
