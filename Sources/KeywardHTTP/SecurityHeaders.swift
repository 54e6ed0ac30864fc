import HTTPTypes
import Hummingbird

/// Headers every answer of both services carries: browsers must not guess content types nor send this site's URLs
/// to others, and an answer that did not choose its own caching (API answers, refusals) is never stored.
public struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    static var contentTypeOptions: HTTPField.Name { HTTPField.Name("X-Content-Type-Options")! }
    static var referrerPolicy: HTTPField.Name { HTTPField.Name("Referrer-Policy")! }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            var response = try await next(request, context)
            Self.add(to: &response.headers)
            return response
        } catch let error as APIError {
            var error = error
            Self.add(to: &error.headers)
            throw error
        }
    }

    static func add(to headers: inout HTTPFields) {
        headers[contentTypeOptions] = "nosniff"
        headers[referrerPolicy] = "no-referrer"
        if headers[.cacheControl] == nil { headers[.cacheControl] = "no-store" }
    }
}

/// Whether the web UI's cookies carry `Secure`: `auto` sets it when the request came over HTTPS through a proxy
/// that says so (`X-Forwarded-Proto: https` or `Forwarded: proto=https`), which is how Keyward is deployed behind TLS.
public enum SecureCookies: String, Sendable, CaseIterable {
    case auto
    case always
    case never

    public func isSecure(_ request: Request) -> Bool {
        switch self {
        case .always: return true
        case .never: return false
        case .auto:
            if let proto = request.headers[HTTPField.Name("X-Forwarded-Proto")!], proto.lowercased().hasPrefix("https") { return true }
            if let forwarded = request.headers[HTTPField.Name("Forwarded")!], forwarded.lowercased().contains("proto=https") { return true }
            return false
        }
    }
}
