import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
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

    /// A user's token: 401 without a token, 403 with a service token.
    @discardableResult
    public func requireUser() throws -> (token: TokenRecord, login: String) {
        guard let token else { throw APIError.unauthenticated }
        guard token.kind == RegistryTokenKind.user, let login = token.subject else {
            throw APIError(.forbidden, code: "FORBIDDEN", message: "This needs a user's token, not a service token.")
        }
        return (token, login)
    }

    /// A token of someone who may administer what `menu` (of the Configuration component) covers: the built-in
    /// administrator, or a user whose access to that menu comes through a manager key. 401 without a token, 403 else.
    @discardableResult
    public func requireAdministrator(_ access: AccessControl, menu: String = ConfigurationMenu.licenseKey) throws -> TokenRecord {
        let (token, login) = try requireUser()
        let snapshot = access.snapshot
        if snapshot.isBuiltin(login) { return token }
        let decision = snapshot.check(login: login, component: ConfigurationMenu.component, menu: menu, at: access.now())
        guard decision.allowed, decision.profile == .manager else {
            throw APIError(.forbidden, code: "FORBIDDEN",
                           message: "This needs the built-in administrator, or access to the Configuration menu \(menu) through a manager key.")
        }
        return token
    }

    /// A service token (the suite's login), or a token of someone who administers sessions.
    @discardableResult
    public func requireService(_ access: AccessControl, menu: String = ConfigurationMenu.session) throws -> TokenRecord {
        guard let token else { throw APIError.unauthenticated }
        if token.kind == RegistryTokenKind.service { return token }
        return try requireAdministrator(access, menu: menu)
    }
}

/// The Configuration component's menus that guard the registry's own administration (see the catalog).
public enum ConfigurationMenu {
    public static let component = "CFG"
    public static let licenseKey = "CM009"
    public static let accessGroup = "CM010"
    public static let user = "CM011"
    public static let session = "CM012"
    public static let sessionHistory = "CM013"
}

/// The kinds of token the registry issues.
public enum RegistryTokenKind {
    public static let user = "user"
    /// The suite's own modules: open sessions and ask entitlement questions.
    public static let service = "service"
    /// The token name of administrators' tokens (the built-in administrator's, for now).
    public static let administratorRole = "administrator"
}
