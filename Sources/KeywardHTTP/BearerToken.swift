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

    public init(tokens: TokenStore, now: @escaping @Sendable () -> Date) {
        self.tokens = tokens
        self.now = now
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let header = request.headers[.authorization], header.count > 7, header.prefix(7).lowercased() == "bearer " {
            context.token = try await tokens.authenticate(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces), now: now())
            if context.token == nil {
                // A token was sent but is not valid: say so, rather than serving the route as anonymous.
                throw APIError.unauthenticated
            }
        }
        return try await next(request, context)
    }
}
