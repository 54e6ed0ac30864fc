import Foundation
import Hummingbird
import KeywardDomain
import KeywardStore

/// An audit event as both services' APIs list it.
public struct AuditEventResponse: ResponseEncodable, Sendable {
    public let id: Int64
    public let occurredAt: Date
    public let actor: String
    public let action: String
    public let target: String
    public let details: [String: JSONValue]

    public init(_ event: AuditEvent) {
        id = event.id
        occurredAt = event.occurredAt
        actor = event.actor
        action = event.action
        target = event.target
        details = event.details
    }
}

/// `/audit-events` of either service, newest first, for whoever `policy` admits.
public struct AuditEventsController<Policy: AuthorizationPolicy>: Sendable {
    let database: KeywardDatabase
    let policy: Policy

    public init(database: KeywardDatabase, policy: Policy) {
        self.database = database
        self.policy = policy
    }

    public var endpoints: RouteCollection<Policy.Context> {
        let routes = RouteCollection(context: Policy.Context.self)
        routes.group(authorizedBy: policy)
            .get(use: list)
        return routes
    }

    /// The events the query's filters and cursor select.
    @Sendable func list(_ request: Request, context: Policy.Context) async throws -> ItemsResponse<AuditEventResponse> {
        ItemsResponse(items: try await AuditLog(database: database).list(try AuditQuery.from(request)).map(AuditEventResponse.init))
    }
}
