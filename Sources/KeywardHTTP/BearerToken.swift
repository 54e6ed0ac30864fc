import Foundation
import Hummingbird
import KeywardStore

/// A request context that carries the authenticated bearer token, if any.
public protocol TokenAuthenticatedContext: RequestContext {
    var token: TokenRecord? { get set }
}

/// Reads `Authorization: Bearer <token>` and, when the token is valid, puts its record in the context.
///
/// It never refuses by itself: routes say what they need, so public routes stay public.
public struct BearerTokenMiddleware<Context: TokenAuthenticatedContext>: RouterMiddleware {
    let tokens: TokenStore
    let now: @Sendable () -> Date
    let cache: TokenCache?

    public init(tokens: TokenStore, now: @escaping @Sendable () -> Date, cache: TokenCache? = nil) {
        self.tokens = tokens
        self.now = now
        self.cache = cache
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let header = request.headers[.authorization], header.count > 7, header.prefix(7).lowercased() == "bearer " {
            let presented = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            let time = now()
            if let cached = cache?.record(for: presented, now: time) {
                context.token = cached
            } else {
                context.token = try await tokens.authenticate(presented, now: time)
                if let record = context.token { cache?.store(record, for: presented, now: time) }
            }
            if context.token == nil {
                // A token was sent but is not valid: say so, rather than serving the route as anonymous.
                throw APIError.unauthenticated
            }
        }
        return try await next(request, context)
    }
}
