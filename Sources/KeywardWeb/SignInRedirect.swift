import Foundation
import Hummingbird
import KeywardHTTP

/// Where the provider sends the browser back: `oidc.redirectURI` when the configuration sets it (a site behind a
/// proxy that rewrites the host), else this site's address as the request reached it, with `/login/oidc/callback`.
public struct SignInRedirect: Sendable {
    public static let path = "/login/oidc/callback"

    public let configured: String?
    public let secureCookies: SecureCookies

    public init(configured: String? = nil, secureCookies: SecureCookies = .auto) {
        self.configured = configured
        self.secureCookies = secureCookies
    }

    public func base(for request: Request) -> String {
        if let configured, let url = URLComponents(string: configured), let scheme = url.scheme, let host = url.host {
            return "\(scheme)://\(host)\(url.port.map { ":\($0)" } ?? "")"
        }
        let host = request.head.authority ?? "localhost"
        return (secureCookies.isSecure(request) ? "https://" : "http://") + host
    }

    public func uri(for request: Request) -> String { configured ?? base(for: request) + Self.path }
}
