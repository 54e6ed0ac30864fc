import HTTPTypes
import Hummingbird

/// Header names made once: every answer sets two of them, the entitlement check's too.
enum HeaderNames {
    static let contentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    static let forwarded = HTTPField.Name("Forwarded")!
}

/// Headers every answer of both services carries: browsers must not guess content types nor send this site's URLs
/// to others, and an answer that did not choose its own caching (API answers, refusals) is never stored.
public struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

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
        headers[HeaderNames.contentTypeOptions] = "nosniff"
        headers[HeaderNames.referrerPolicy] = "no-referrer"
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
            if let proto = request.headers[HeaderNames.forwardedProto], proto.lowercased().hasPrefix("https") { return true }
            if let forwarded = request.headers[HeaderNames.forwarded], forwarded.lowercased().contains("proto=https") { return true }
            return false
        }
    }
}
