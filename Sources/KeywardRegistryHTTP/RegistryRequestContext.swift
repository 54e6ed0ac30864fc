import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardWeb
import NIOCore

/// The request context of the registry's routes: the caller's token, the client address, a 1 MiB body limit.
public struct RegistryRequestContext: TokenAuthenticatedContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var token: TokenRecord?
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    public var maxUploadSize: Int { 1 << 20 }
    public var requestDecoder: JSONDecoder { KeywardJSON.decoder }
    public var responseEncoder: JSONEncoder { KeywardJSON.encoder }

    /// The client address for rate limiting, without the port.
    public var clientAddress: String? { remoteAddress?.ipAddress }

    /// The caller as the audit log names it.
    public var actor: String {
        guard let token else { return "anonymous" }
        return token.kind == RegistryTokenKind.user ? "user:\(token.subject ?? "?")" : "\(token.kind):\(token.name)"
    }

    /// The web UI's logged-in session, put here by the page group's `WebAuthorization`.
    var webSession: WebSessions.Session?

    /// The session the page group's `WebAuthorization` admitted; only for pages behind one.
    var authorizedSession: WebSessions.Session {
        get throws {
            guard let webSession else { throw WebRedirect(location: "/login") }
            return webSession
        }
    }

    /// The token the route group's `RegistryRole` admitted; only for routes behind one.
    var authorizedToken: TokenRecord {
        get throws {
            guard let token else { throw APIError.unauthenticated }
            return token
        }
    }

    /// A user's token: 401 without a token, 403 with a service or directory token.
    @discardableResult
    func requireUser() throws -> (token: TokenRecord, login: String) {
        guard let token else { throw APIError.unauthenticated }
        guard token.kind == RegistryTokenKind.user, let login = token.subject else {
            throw APIError(.forbidden, code: "FORBIDDEN", message: "This needs a user's token (POST /api/v1/auth/token), not a \(token.kind) token.")
        }
        return (token, login)
    }

    /// A token of someone who may administer what `menu` (of the Configuration component) covers (see
    /// `AccessControl.mayAdminister`). 401 without a token, 403 else.
    @discardableResult
    func requireAdministrator(_ access: AccessControl, menu: String = ConfigurationMenu.licenseKey) throws -> TokenRecord {
        let (token, login) = try requireUser()
        guard access.mayAdminister(login, menu: menu) else {
            throw APIError(
                .forbidden, code: "FORBIDDEN",
                message: "This needs the built-in administrator, or access to the Configuration menu \(menu) through a manager key.")
        }
        return token
    }

    /// A service token (the suite's login), or a token of someone who administers `menu`.
    @discardableResult
    func requireService(_ access: AccessControl, menu: String = ConfigurationMenu.session) throws -> TokenRecord {
        guard let token else { throw APIError.unauthenticated }
        if token.kind == RegistryTokenKind.service { return token }
        return try requireAdministrator(access, menu: menu)
    }
}

/// The registry's roles, each put on a route group with `group(_:authorizedBy:)`.
struct RegistryRole: AuthorizationPolicy {
    enum Rule: Sendable {
        case user
        case administrator(menu: @Sendable (Request) -> String)
        case service(orAdministratorOf: String)
    }

    let access: AccessControl
    let rule: Rule

    /// Anyone logged in with a user's token.
    static func user(_ access: AccessControl) -> RegistryRole { RegistryRole(access: access, rule: .user) }

    /// Someone who administers `menu` of the Configuration component.
    static func administrator(_ access: AccessControl, menu: String = ConfigurationMenu.licenseKey) -> RegistryRole {
        RegistryRole(access: access, rule: .administrator(menu: { _ in menu }))
    }

    /// Someone who administers the menu the request names (e.g. the session history, by its query).
    static func administrator(_ access: AccessControl, menuOf menu: @escaping @Sendable (Request) -> String) -> RegistryRole {
        RegistryRole(access: access, rule: .administrator(menu: menu))
    }

    /// The suite's service token, or someone who administers `menu`.
    static func service(_ access: AccessControl, orAdministratorOf menu: String = ConfigurationMenu.session) -> RegistryRole {
        RegistryRole(access: access, rule: .service(orAdministratorOf: menu))
    }

    func authorize(_ request: Request, context: RegistryRequestContext) throws {
        switch rule {
        case .user: try context.requireUser()
        case .administrator(let menu): try context.requireAdministrator(access, menu: menu(request))
        case .service(let menu): try context.requireService(access, menu: menu)
        }
    }
}

/// The kinds of token the registry issues.
public enum RegistryTokenKind {
    public static let user = "user"
    /// The suite's own modules: open sessions and ask entitlement questions.
    public static let service = IntegrationTokenKind.service.rawValue
    /// An identity provider's SCIM provisioning: `/scim/v2` and nothing else.
    public static let directory = IntegrationTokenKind.directory.rawValue
    /// The token name of administrators' tokens (the built-in administrator's, for now).
    public static let administratorRole = "administrator"
}
