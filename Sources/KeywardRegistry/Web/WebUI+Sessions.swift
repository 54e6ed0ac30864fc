import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardStore

/// The Sessions pages: who is logged in now (Disconnect, Disconnect all) and the session history.
extension WebUI {
    func addSessions(to router: Router<RegistryRequestContext>) {
        router.get("/sessions") { request, _ in
            let session = try await requireSession(request, menu: ConfigurationMenu.session)
            let open = try await registry.store.sessions(open: true, limit: 500, now: registry.now())
            var values = try await layout(session, request: request, nav: "sessions")
            values["sessions"] = open.map(sessionValues)
            values["hasSessions"] = !open.isEmpty
            return page("sessions", values)
        }
        router.post("/sessions/disconnect") { request, context in
            let session = try await requireSession(request, menu: ConfigurationMenu.session)
            let fields = try await form(request, context: context, session: session)
            let actor = "user:\(session.user.login)"
            if let id = fields["session"], !id.isEmpty {
                _ = try await registry.endSession(id, reason: .disconnected, actor: actor)
            } else {
                _ = try await registry.disconnect(login: fields["login"].flatMap { $0.isEmpty ? nil : $0 }, actor: actor)
            }
            return Self.redirect("/sessions?flash=disconnected")
        }
        router.get("/sessions/history") { request, _ in
            let session = try await requireSession(request, menu: ConfigurationMenu.sessionHistory)
            let query = request.uri.queryParameters
            let login = query.get("login").flatMap { $0.isEmpty ? nil : String($0.prefix(64)) }
            let before = query.get("before").flatMap(Timestamp.parse)
            let history = try await registry.store.sessions(open: false, login: login, before: before, limit: 101, now: registry.now())
            var values = try await layout(session, request: request, nav: "sessions")
            values["sessions"] = history.prefix(100).map(sessionValues)
            values["hasSessions"] = !history.isEmpty
            if let login { values["login"] = login }
            if history.count > 100, let last = history.prefix(100).last {
                values["next"] = "/sessions/history?before=\(Timestamp.format(last.startedAt))&login=\(login ?? "")"
            }
            return page("session-history", values)
        }
    }
}
