import Foundation
import Hummingbird
import KeywardAuthority
import KeywardHTTP
import KeywardStore

/// The request context of the authority's routes: the caller's token, a 1 MiB body limit, Keyward's JSON.
public struct AuthorityRequestContext: TokenAuthenticatedContext {
    public var coreContext: CoreRequestContextStorage
    public var token: TokenRecord?

    public init(source: Source) {
        self.coreContext = .init(source: source)
    }

    public var maxUploadSize: Int { 1 << 20 }
    public var requestDecoder: JSONDecoder { KeywardJSON.decoder }
    public var responseEncoder: JSONEncoder { KeywardJSON.encoder }

    /// The caller as the audit log names it.
    public var actor: String {
        guard let token else { return "anonymous" }
        return token.kind == TokenKind.operator ? "operator:\(token.name)" : "organization:\(token.subject ?? "?")/\(token.name)"
    }

    /// An operator token, or 401 without a token and 404 with an organization token (which must not learn what exists).
    @discardableResult
    func requireOperator() throws -> TokenRecord {
        guard let token else { throw APIError.unauthenticated }
        guard token.kind == TokenKind.operator else { throw APIError.notFound() }
        return token
    }

    /// An operator token, or the token of organization `id` itself; 404 for any other organization.
    @discardableResult
    func requireAccess(to organizationId: String) throws -> TokenRecord {
        guard let token else { throw APIError.unauthenticated }
        guard token.kind == TokenKind.operator || (token.kind == TokenKind.organization && token.subject == organizationId) else {
            throw APIError.notFound()
        }
        return token
    }

    /// Any valid token.
    @discardableResult
    func requireToken() throws -> TokenRecord {
        guard let token else { throw APIError.unauthenticated }
        return token
    }
}

/// The authority's roles, each put on a route group with `group(_:authorizedBy:)`.
struct AuthorityRole: AuthorizationPolicy {
    enum Rule: Sendable {
        case anyToken
        case `operator`
        case organization(parameter: String)
    }

    let rule: Rule

    /// Any valid token, an operator's or an organization's.
    static let anyToken = AuthorityRole(rule: .anyToken)
    /// The vendor's operators.
    static let `operator` = AuthorityRole(rule: .operator)
    /// An operator, or the organization the path's `:id` names (any other organization gets 404).
    static let organization = AuthorityRole(rule: .organization(parameter: "id"))

    func authorize(_ request: Request, context: AuthorityRequestContext) throws {
        switch rule {
        case .anyToken: try context.requireToken()
        case .operator: try context.requireOperator()
        case .organization(let parameter): try context.requireAccess(to: try context.parameters.require(parameter))
        }
    }
}

/// The kinds of token the authority issues.
public enum TokenKind {
    public static let `operator` = "operator"
    public static let organization = "organization"
}
