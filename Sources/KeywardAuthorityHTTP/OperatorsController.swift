import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore

/// `/v1/operators`: the vendor's licensing staff, their roles and their API tokens. Every operator reads the list;
/// only an admin changes it.
struct OperatorsController: Sendable {
    let authority: Authority

    struct CreateOperator: Decodable {
        let login: String
        let name: String
        let role: String
        let password: String
    }

    var endpoints: RouteCollection<AuthorityRequestContext> {
        let routes = RouteCollection(context: AuthorityRequestContext.self)
        routes.group(authorizedBy: AuthorityRole.operator)
            .get("operators", use: list)
        routes.group(authorizedBy: AuthorityRole.admin)
            .post("operators", use: create)
            .post("operators/:login/disable", use: disable)
            .post("operators/:login/enable", use: enable)
            .post("operators/:login/tokens", use: createToken)
        return routes
    }

    /// Every operator, by login.
    @Sendable func list(_ request: Request, context: AuthorityRequestContext) async throws -> ItemsResponse<OperatorResponse> {
        ItemsResponse(items: try await authority.store.operators().map(OperatorResponse.init))
    }

    /// Makes an operator; every problem of every field is reported at once.
    @Sendable func create(_ request: Request, context: AuthorityRequestContext) async throws -> EditedResponse<OperatorResponse> {
        let input = try await request.decodeJSON(as: CreateOperator.self, context: context)
        return created(
            OperatorResponse(
                try await authority.createOperator(
                    login: input.login, name: input.name, role: input.role, password: input.password, actor: context.actor)))
    }

    /// Disables an operator: their tokens are revoked at once.
    @Sendable func disable(_ request: Request, context: AuthorityRequestContext) async throws -> OperatorResponse {
        try await setActive(false, request, context: context)
    }

    @Sendable func enable(_ request: Request, context: AuthorityRequestContext) async throws -> OperatorResponse {
        try await setActive(true, request, context: context)
    }

    func setActive(_ active: Bool, _ request: Request, context: AuthorityRequestContext) async throws -> OperatorResponse {
        let login = try context.parameters.require("login")
        guard context.operatorAccount.map({ AuthorityStore.sameLogin($0.login, login) }) != true || active else {
            throw APIError(
                .conflict, code: "OWN_ACCOUNT", message: "You cannot disable your own account: another admin can, so the authority keeps one.")
        }
        return OperatorResponse(try await authority.store.setOperatorActive(login, active, actor: context.actor, now: authority.now()))
    }

    /// Makes an operator a token: the only time its secret is shown.
    @Sendable func createToken(_ request: Request, context: AuthorityRequestContext) async throws -> EditedResponse<NewTokenResponse> {
        let login = try context.parameters.require("login")
        let input = try await request.decodeJSONIfPresent(as: OrganizationsController.CreateToken.self, context: context)
        let made = try await authority.store.createToken(
            kind: TokenKind.operator, name: input?.name ?? "api", subject: login, actor: context.actor, now: authority.now())
        return created(NewTokenResponse(made))
    }
}
