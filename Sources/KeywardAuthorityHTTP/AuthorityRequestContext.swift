import Foundation
import Hummingbird
import KeywardAuthority
import KeywardHTTP
import KeywardStore
import NIOCore

/// The request context of the authority's routes: the caller's token, a 1 MiB body limit, Keyward's JSON.
public struct AuthorityRequestContext: TokenAuthenticatedContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var token: TokenRecord?
    /// The operator an operator token belongs to (``OperatorMiddleware``); `nil` for an organization token and for an
    /// operator token made before operators had accounts, which acts as an admin.
    public var operatorAccount: OperatorRecord?
    /// The console's signed-in session, put here by the page group's `ConsoleAuthorization`.
    var consoleSession: ConsoleSession?
    public let remoteAddress: SocketAddress?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// The client address for rate limiting, without the port.
    public var clientAddress: String? { remoteAddress?.ipAddress }

    public var maxUploadSize: Int { 1 << 20 }
    public var requestDecoder: JSONDecoder { KeywardJSON.decoder }
    public var responseEncoder: JSONEncoder { KeywardJSON.encoder }

    /// The caller as the audit log names it.
    public var actor: String {
        guard let token else { return "anonymous" }
        if token.kind == TokenKind.operator { return operatorAccount?.actor ?? "operator:\(token.name)" }
        return "organization:\(token.subject ?? "?")/\(token.name)"
    }

    /// An operator token, or 401 without a token and 404 with an organization token (which must not learn what exists).
    @discardableResult
    func requireOperator() throws -> TokenRecord {
        guard let token else { throw APIError.unauthenticated }
        guard token.kind == TokenKind.operator else { throw APIError.notFound() }
        return token
    }

    /// The caller's role: their account's, or admin for an operator token made before operators had accounts.
    var role: OperatorRole { operatorAccount?.role ?? .admin }

    /// An operator whose role is one of `roles`; `403 ROLE_FORBIDDEN` for another operator.
    func requireRole(_ roles: Set<OperatorRole>, to what: String) throws {
        try requireOperator()
        guard roles.contains(role) else {
            throw APIError(
                .forbidden, code: "ROLE_FORBIDDEN",
                message:
                    "Your role (\(role.rawValue)) may not \(what). Ask an operator with the admin role\(roles.contains(.clerk) ? " or a clerk" : "").",
                details: ["role": .string(role.rawValue)])
        }
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
        case admin
        case organization(parameter: String)
    }

    let rule: Rule

    /// Any valid token, an operator's or an organization's.
    static let anyToken = AuthorityRole(rule: .anyToken)
    /// The vendor's operators: every role reads; changes need a clerk or an admin (an auditor changes nothing).
    static let `operator` = AuthorityRole(rule: .operator)
    /// Operators with the admin role: the operators themselves, their tokens, the signing keys.
    static let admin = AuthorityRole(rule: .admin)
    /// An operator, or the organization the path's `:id` names (any other organization gets 404).
    static let organization = AuthorityRole(rule: .organization(parameter: "id"))

    func authorize(_ request: Request, context: AuthorityRequestContext) throws {
        switch rule {
        case .anyToken: try context.requireToken()
        case .operator:
            if request.method == .get || request.method == .head {
                try context.requireOperator()
            } else {
                try context.requireRole([.admin, .clerk], to: "change anything: an auditor reads everything and changes nothing")
            }
        case .admin: try context.requireRole([.admin], to: "manage operators, their tokens or the signing keys")
        case .organization(let parameter): try context.requireAccess(to: try context.parameters.require(parameter))
        }
    }
}

/// The kinds of token the authority issues.
public enum TokenKind {
    public static let `operator` = "operator"
    public static let organization = "organization"
}

/// Puts the operator an operator token belongs to in the context (401 when they are disabled or gone), and writes
/// each refusal of a role to the audit log, which is the only trace it leaves.
struct OperatorMiddleware: RouterMiddleware {
    let store: AuthorityStore
    let now: @Sendable () -> Date

    func handle(_ request: Request, context: AuthorityRequestContext, next: (Request, AuthorityRequestContext) async throws -> Response) async throws
        -> Response
    {
        var context = context
        if let token = context.token, token.kind == TokenKind.operator, let login = token.subject {
            guard let account = try await store.operatorRecord(login), account.active else {
                throw APIError(.unauthorized, code: "OPERATOR_DISABLED", message: "The operator of this token is disabled. Ask an admin.")
            }
            context.operatorAccount = account
        }
        do {
            return try await next(request, context)
        } catch let error as APIError where error.code == "ROLE_FORBIDDEN" {
            _ = try await store.database.write { sql in
                try await AuditLog.append(
                    .init(
                        actor: context.actor, action: "operator.refused", target: "\(request.method.rawValue) \(request.uri.path)",
                        details: ["role": .string(context.role.rawValue)]), at: now(), on: sql)
            }
            throw error
        }
    }
}
