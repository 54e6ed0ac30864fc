import Foundation
import Hummingbird

/// Who may call a group of routes: each service states its roles as one of these, and the group checks it with an
/// ``AuthorizationMiddleware`` before any of its handlers runs.
public protocol AuthorizationPolicy<Context>: Sendable {
    associatedtype Context: RequestContext
    /// Returns when the caller of `request` may go on; throws the service's refusal otherwise.
    func authorize(_ request: Request, context: Context) throws
}

/// Puts an ``AuthorizationPolicy`` on a route group, so no handler of the group starts with a check of its own.
public struct AuthorizationMiddleware<Policy: AuthorizationPolicy>: RouterMiddleware {
    public typealias Context = Policy.Context
    let policy: Policy

    public init(_ policy: Policy) {
        self.policy = policy
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try policy.authorize(request, context: context)
        return try await next(request, context)
    }
}

extension RouterMethods {
    /// A group of this router's routes that only callers `policy` admits reach.
    public func group<Policy: AuthorizationPolicy>(_ path: RouterPath = "", authorizedBy policy: Policy) -> RouterGroup<Context>
    where Policy.Context == Context {
        group(path).add(middleware: AuthorizationMiddleware(policy))
    }
}
