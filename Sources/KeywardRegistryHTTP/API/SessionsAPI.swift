import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore

extension UserSession: ResponseEncodable {}

/// `/api/v1/sessions`: the suite's logins (floating and nominative seats), heartbeats, logouts, disconnections and
/// the session history.
struct SessionsAPI: Sendable {
    let registry: Registry

    struct Open: Decodable {
        let login: String
        let ip: String?
    }

    struct Opened: ResponseEncodable {
        let sessionId: String
        let keySerial: String
        let leaseExpiresAt: Date
    }

    struct Disconnect: Decodable {
        /// One user's sessions; absent: everyone's.
        let login: String?
    }

    struct Disconnected: ResponseEncodable {
        let disconnected: Int
    }

    func add(to router: Router<RegistryRequestContext>) {
        router.post("/api/v1/sessions") { request, context in
            try context.requireService(registry.access)
            let input = try await request.decodeJSON(as: Open.self, context: context)
            let session = try await registry.openSession(login: input.login, ip: input.ip, actor: context.actor)
            return EditedResponse(status: .created, response: Opened(sessionId: session.id, keySerial: session.keySerial, leaseExpiresAt: session.leaseExpiresAt))
        }
        router.post("/api/v1/sessions/:id/heartbeat") { _, context in
            try context.requireService(registry.access)
            let session = try await registry.heartbeat(try context.parameters.require("id"))
            return Opened(sessionId: session.id, keySerial: session.keySerial, leaseExpiresAt: session.leaseExpiresAt)
        }
        router.delete("/api/v1/sessions/:id") { _, context in
            let token = try context.requireService(registry.access)
            // The suite's logout is a logout; an administrator ending someone's session disconnects them.
            let reason: UserSession.EndReason = token.kind == RegistryTokenKind.service ? .logout : .disconnected
            return try await registry.endSession(try context.parameters.require("id"), reason: reason, actor: context.actor)
        }
        router.post("/api/v1/sessions/disconnect") { request, context in
            try context.requireAdministrator(registry.access, menu: ConfigurationMenu.session)
            let input = try await request.decodeJSON(as: Disconnect.self, context: context)
            return Disconnected(disconnected: try await registry.disconnect(login: input.login, actor: context.actor))
        }
        router.get("/api/v1/sessions") { request, context in
            let query = request.uri.queryParameters
            let history = query.get("state") == "all"
            try context.requireAdministrator(registry.access, menu: history ? ConfigurationMenu.sessionHistory : ConfigurationMenu.session)
            guard ["open", "all", nil].contains(query.get("state")) else {
                throw APIError.invalidField(FieldError(field: "state", code: "INVALID_STATE", message: "state must be open or all."))
            }
            let limit = query.get("limit").map { Int($0) ?? 0 } ?? 100
            guard (1...1000).contains(limit) else {
                throw APIError.invalidField(FieldError(field: "limit", code: "INVALID_LIMIT", message: "limit must be a whole number from 1 to 1000."))
            }
            var before: Date?
            if let text = query.get("before") {
                guard let date = Timestamp.parse(text) else {
                    throw APIError.invalidField(FieldError(field: "before", code: "INVALID_CURSOR", message: "before must be a start time such as 2026-11-29T10:15:00Z."))
                }
                before = date
            }
            let sessions = try await registry.store.sessions(open: !history, login: query.get("login"), before: before, limit: limit, now: registry.now())
            return ItemsResponse(items: sessions)
        }
    }
}
