import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardWeb

/// The Sessions pages: who is logged in now (Disconnect, Disconnect all, each confirmed on a page of its own, so it
/// asks without JavaScript too) and the session history.
extension WebUI {
    /// The cookie that carries what the last disconnection did to the page it redirects to: `count` or `count:login`.
    static let noticeCookie = "keyward_notice"

    /// The sentence for the `disconnected` flash, from the notice cookie; `nil` without one.
    static func disconnectedText(_ notice: String?) -> String? {
        guard let notice, !notice.isEmpty else { return nil }
        let parts = notice.split(separator: ":", maxSplits: 1).map(String.init)
        guard let count = Int(parts[0]) else { return nil }
        if parts.count == 2, let login = parts[1].removingPercentEncoding, (try? UserRules.login(login)) != nil {
            return count == 0 ? "User \(login) had no open session: nothing was disconnected." : "User \(login) was disconnected."
        }
        return count == 0
            ? "No session was open: nothing was disconnected." : count == 1 ? "1 session was disconnected." : "\(count) sessions were disconnected."
    }
}

/// The Sessions pages, mounted at `/sessions`.
struct SessionPagesController: Sendable {
    let web: WebUI

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group().add(middleware: WebAuthorization(web: web, menu: ConfigurationMenu.session))
            .get(use: openSessions)
            .get("disconnect", use: confirmDisconnection)
            .post("disconnect", use: disconnect)
        routes.group().add(middleware: WebAuthorization(web: web, menu: ConfigurationMenu.sessionHistory))
            .get("history", use: sessionHistory)
        return routes
    }

    /// Who is logged in now.
    @Sendable func openSessions(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let open = try await web.registry.store.sessions(open: true, limit: 500, now: web.registry.now())
        let names = KeyNames(try await web.registry.store.keys())
        var values = try await web.layout(session, request: request, nav: "sessions")
        values["sessions"] = open.map { web.sessionValues($0, names: names) }
        values["hasSessions"] = !open.isEmpty
        return web.page("sessions", values)
    }

    /// Asks before disconnecting one user or everyone.
    @Sendable func confirmDisconnection(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let login = request.uri.queryParameters.get("login").flatMap { $0.isEmpty ? nil : String($0.prefix(64)) }
        let open = try await web.registry.store.sessions(open: true, limit: 500, now: web.registry.now())
        var values = try await web.layout(session, request: request, nav: "sessions")
        if let login {
            let count = open.filter { $0.login.lowercased() == login.lowercased() }.count
            values["login"] = login
            values["question"] = "Disconnect user \(login)?"
            values["consequence"] =
                count == 1
                ? "Their session ends now; on a floating key its seat is free for someone else."
                : "Their \(count) sessions end now; on a floating key their seats are free for someone else."
        } else {
            values["question"] = open.count == 1 ? "Disconnect the 1 open session?" : "Disconnect all \(open.count) open sessions?"
            values["consequence"] = "Everyone logged in through the registry is logged out now, and has to log in again."
        }
        return web.page("disconnect", values)
    }

    /// Disconnects one session, one user or everyone.
    @Sendable func disconnect(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await web.form(request, context: context, session: session)
        let actor = "user:\(session.user.login)"
        let notice: String
        if let id = fields["session"], !id.isEmpty {
            let ended = try await web.registry.endSession(id, reason: .disconnected, actor: actor)
            notice = "1:" + (ended.login.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        } else {
            let login = fields["login"].flatMap { $0.isEmpty ? nil : $0 }
            let count = try await web.registry.disconnect(login: login, actor: actor)
            notice = "\(count)" + (login.map { ":" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") } ?? "")
        }
        return WebUI.redirect(
            "/sessions?flash=disconnected", cookies: [web.sessions.cookies.cookie(WebUI.noticeCookie, notice, maxAge: 60, request: request)])
    }

    /// Ended sessions, newest first.
    @Sendable func sessionHistory(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let query = request.uri.queryParameters
        let login = query.get("login").flatMap { $0.isEmpty ? nil : String($0.prefix(64)) }
        let before = query.get("before").flatMap(Timestamp.parse)
        let history = try await web.registry.store.sessions(open: false, login: login, before: before, limit: 101, now: web.registry.now())
        let names = KeyNames(try await web.registry.store.keys())
        var values = try await web.layout(session, request: request, nav: "sessions")
        values["sessions"] = history.prefix(100).map { web.sessionValues($0, names: names) }
        values["hasSessions"] = !history.isEmpty
        if let login { values["login"] = login }
        if history.count > 100, let last = history.prefix(100).last {
            values["next"] =
                "/sessions/history?before=\(Timestamp.format(last.startedAt))&login=\(login?.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
        }
        return web.page("session-history", values)
    }
}
