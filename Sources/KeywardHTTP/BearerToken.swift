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

    /// The token of `Bearer <token>` (the scheme in any case, spaces around the token ignored), or `nil`. Written over
    /// bytes: every API call passes here, the entitlement check thousands of times a second.
    static func bearerToken(_ header: String) -> String? {
        let bytes = header.utf8
        guard bytes.count > 7 else { return nil }
        let scheme: [UInt8] = Array("bearer ".utf8)
        for (byte, expected) in zip(bytes.prefix(7), scheme) where byte | 0x20 != expected && !(byte == 0x20 && expected == 0x20) {
            return nil
        }
        let rest = bytes.dropFirst(7)
        guard let start = rest.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
            let end = rest.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })
        else { return nil }
        return String(Substring(header.utf8[start...end]))
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let header = request.headers[.authorization], let presented = Self.bearerToken(header) {
            let time = now()
            if let cached = cache?.record(for: presented, now: time) {
                context.token = cached
            } else {
                do {
                    context.token = try await tokens.authenticate(presented, now: time)
                    if let record = context.token { cache?.store(record, for: presented, now: time) }
                } catch let error as StoreError where error.kind == .unavailable {
                    // The database does not answer: a token authenticated here recently is still taken (TokenCache).
                    guard let recent = cache?.recentRecord(for: presented, now: time) else { throw error }
                    context.token = recent
                }
            }
            if context.token == nil {
                // A token was sent but is not valid: say so, rather than serving the route as anonymous.
                throw APIError.unauthenticated
            }
        }
        return try await next(request, context)
    }
}
