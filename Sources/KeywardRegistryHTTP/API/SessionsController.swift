import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore

/// `/api/v1/sessions`: the suite's logins (floating and nominative seats), heartbeats, logouts, disconnections and
/// the session history.
struct SessionsController: Sendable {
    let registry: Registry

    /// A login named by a service token, or the user's own ID token (verified here: a module cannot open a session for
    /// someone else with it).
    struct Open: Decodable {
        let login: String?
        let idToken: String?
        let ip: String?
    }

    struct Opened: ResponseCodable {
        let sessionId: String
        let keySerial: String
        let leaseExpiresAt: Date
    }

    struct Disconnect: Decodable {
        /// One user's sessions; absent: everyone's.
        let login: String?
    }

    struct Disconnected: ResponseCodable {
        let disconnected: Int
    }

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group(authorizedBy: RegistryRole.service(registry.access))
            .post(use: open)
            .post(":id/heartbeat", use: heartbeat)
            .delete(":id", use: end)
        routes.group(authorizedBy: RegistryRole.administrator(registry.access, menu: ConfigurationMenu.session))
            .post("disconnect", use: disconnect)
        // The open sessions are the Session menu's; all of them, the Session history menu's.
        routes.group(
            authorizedBy: RegistryRole.administrator(
                registry.access,
                menuOf: { request in
                    request.uri.queryParameters.get("state") == "all" ? ConfigurationMenu.sessionHistory : ConfigurationMenu.session
                })
        )
        .get(use: list)
        return routes
    }

    /// Opens a session: a seat on the user's key.
    @Sendable func open(_ request: Request, context: RegistryRequestContext) async throws -> EditedResponse<Opened> {
        let input = try await request.decodeJSON(as: Open.self, context: context)
        let session: UserSession
        switch (input.login, input.idToken) {
        case (let login?, nil):
            session = try await registry.openSession(login: login, ip: input.ip, actor: context.actor)
        case (nil, let idToken?):
            session = try await registry.openSession(idToken: idToken, ip: input.ip, actor: context.actor)
        default:
            throw APIError(
                .unprocessableContent, code: "INVALID_REQUEST",
                message: "Name the user with login (as this service token's module signed them in) or idToken (their ID token), not both.",
                details: ["field": .string(input.login == nil ? "login" : "idToken")])
        }
        return EditedResponse(
            status: .created, response: Opened(sessionId: session.id, keySerial: session.keySerial, leaseExpiresAt: session.leaseExpiresAt))
    }

    /// Extends a session's lease.
    @Sendable func heartbeat(_ request: Request, context: RegistryRequestContext) async throws -> Opened {
        let session = try await registry.heartbeat(try context.parameters.require("id"))
        return Opened(sessionId: session.id, keySerial: session.keySerial, leaseExpiresAt: session.leaseExpiresAt)
    }

    /// Ends a session: the suite's logout, or an administrator's disconnection.
    @Sendable func end(_ request: Request, context: RegistryRequestContext) async throws -> UserSessionResponse {
        let token = try context.authorizedToken
        // The suite's logout is a logout; an administrator ending someone's session disconnects them.
        let reason: UserSession.EndReason = token.kind == RegistryTokenKind.service ? .logout : .disconnected
        return UserSessionResponse(try await registry.endSession(try context.parameters.require("id"), reason: reason, actor: context.actor))
    }

    /// Ends one user's sessions, or everyone's.
    @Sendable func disconnect(_ request: Request, context: RegistryRequestContext) async throws -> Disconnected {
        let input = try await request.decodeJSON(as: Disconnect.self, context: context)
        return Disconnected(disconnected: try await registry.disconnect(login: input.login, actor: context.actor))
    }

    /// The open sessions, or (`?state=all`) the history, newest first.
    @Sendable func list(_ request: Request, context: RegistryRequestContext) async throws -> ItemsResponse<UserSessionResponse> {
        let query = request.uri.queryParameters
        let history = query.get("state") == "all"
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
                throw APIError.invalidField(
                    FieldError(field: "before", code: "INVALID_CURSOR", message: "before must be a start time such as 2026-11-29T10:15:00Z."))
            }
            before = date
        }
        let sessions = try await registry.store.sessions(open: !history, login: query.get("login"), before: before, limit: limit, now: registry.now())
        return ItemsResponse(items: sessions.map(UserSessionResponse.init))
    }
}
