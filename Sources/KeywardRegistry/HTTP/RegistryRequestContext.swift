import Foundation
import Hummingbird
import KeywardHTTP
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

    /// A token of someone who may administer the registry: 401 without one, 403 with any other.
    @discardableResult
    public func requireAdministrator() throws -> TokenRecord {
        guard let token else { throw APIError.unauthenticated }
        guard token.kind == RegistryTokenKind.user, token.name == RegistryTokenKind.administratorRole else {
            throw APIError(.forbidden, code: "FORBIDDEN", message: "This needs an administrator of the registry.")
        }
        return token
    }
}

/// The kinds of token the registry issues.
public enum RegistryTokenKind {
    public static let user = "user"
    /// The token name of administrators' tokens (the built-in administrator's, for now).
    public static let administratorRole = "administrator"
}
