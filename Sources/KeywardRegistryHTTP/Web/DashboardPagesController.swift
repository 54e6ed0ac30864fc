import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardWeb

/// The dashboard: seat use per key as bars, keys expiring within 30 days, sessions open now.
extension WebUI {
    /// One bar per key, drawn on the server: no script, no style attributes (the CSP forbids inline styles).
    static func seatChart(_ rows: [(label: String, used: Int, limit: Int, floating: Bool)]) -> String {
        let width = 820
        let barX = 300
        let barWidth = 320
        let rowHeight = 34
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(width) \(max(rows.count, 1) * rowHeight + 8)\" role=\"img\" aria-labelledby=\"seat-chart-title\" class=\"seat-chart\" id=\"seat-chart\">"
        svg += "<title id=\"seat-chart-title\">Seat use per key</title>"
        for (index, row) in rows.enumerated() {
            let y = index * rowHeight + 8
            let share = row.limit > 0 ? min(1, Double(row.used) / Double(row.limit)) : 0
            let color = row.used > row.limit ? "#b3261e" : share >= 0.9 ? "#b06000" : "#1a5fb4"
            let label = row.label.count > 38 ? row.label.prefix(37) + "…" : Substring(row.label)
            svg += "<text x=\"0\" y=\"\(y + 17)\" font-size=\"13\" fill=\"#1b2430\">\(HTML.escape(String(label)))</text>"
            svg += "<rect x=\"\(barX)\" y=\"\(y + 4)\" width=\"\(barWidth)\" height=\"18\" rx=\"4\" fill=\"#e7ebf1\"/>"
            svg += "<rect x=\"\(barX)\" y=\"\(y + 4)\" width=\"\(Int(share * Double(barWidth)))\" height=\"18\" rx=\"4\" fill=\"\(color)\"/>"
            svg +=
                "<text x=\"\(barX + barWidth + 10)\" y=\"\(y + 17)\" font-size=\"13\" fill=\"#1b2430\">\(row.used) / \(row.limit) \(row.floating ? "in session" : "assigned")</text>"
        }
        return svg + "</svg>"
    }

    func sessionValues(_ session: UserSession, names: KeyNames) -> [String: Any] {
        var values: [String: Any] = [
            "id": session.id, "login": session.login, "keySerial": session.keySerial, "key": names.values(session.keySerial),
            "useType": session.floating ? "floating" : "nominative",
            "startedAt": WebFormatting.time(session.startedAt), "leaseExpiresAt": WebFormatting.time(session.leaseExpiresAt),
        ]
        if let ip = session.ip { values["ip"] = ip }
        if let ended = session.endedAt {
            values["endedAt"] = WebFormatting.time(ended)
            let minutes = Int(ended.timeIntervalSince(session.startedAt) / 60)
            values["duration"] = minutes < 60 ? "\(minutes) min" : "\(minutes / 60) h \(minutes % 60) min"
        }
        if let reason = session.endReason { values["endReason"] = reason.rawValue }
        return values
    }
}

/// The dashboard, mounted at `/dashboard`.
struct DashboardPagesController: Sendable {
    let web: WebUI

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group().add(middleware: WebAuthorization(web: web, menu: ConfigurationMenu.licenseKey))
            .get(use: dashboard)
        return routes
    }

    /// `/assignment-errors`: the Reprocess button of the dashboard and of a group's page.
    var assignmentErrorEndpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group().add(middleware: WebAuthorization(web: web, menu: ConfigurationMenu.accessGroup))
            .post("reprocess", use: reprocess)
        return routes
    }

    /// `/held-changes`: the Confirm and Discard buttons of a held directory change, on the dashboard.
    var heldChangeEndpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group().add(middleware: WebAuthorization(web: web, menu: ConfigurationMenu.accessGroup))
            .post(":id/confirm", use: confirmHeldChange)
            .post(":id/discard", use: discardHeldChange)
        return routes
    }

    @Sendable func confirmHeldChange(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        try await decideHeldChange(request, context: context, confirm: true)
    }

    @Sendable func discardHeldChange(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        try await decideHeldChange(request, context: context, confirm: false)
    }

    func decideHeldChange(_ request: Request, context: RegistryRequestContext, confirm: Bool) async throws -> Response {
        let session = try context.authorizedSession
        _ = try await web.form(request, context: context, session: session)
        guard let id = Int64(try context.parameters.require("id")) else { throw APIError.notFound() }
        do {
            _ = try await web.registry.decideHeldChange(id, confirm: confirm, actor: "user:\(session.user.login)")
        } catch let error as StoreError where error.code == "HELD_CHANGE_DECIDED" {
            return WebUI.redirect("/dashboard?flash=held-change-decided")
        }
        return WebUI.redirect("/dashboard?flash=\(confirm ? "held-change-confirmed" : "held-change-discarded")")
    }

    /// Retries every assignment error, then goes back to the page the button was on (the dashboard or a group's).
    @Sendable func reprocess(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await web.form(request, context: context, session: session)
        _ = try await web.registry.reprocessAssignmentErrors(actor: "user:\(session.user.login)")
        // Only a path of this site: never another host (`//evil.example`), never a scheme.
        let back = fields["back"].flatMap { $0.hasPrefix("/") && !$0.hasPrefix("//") && !$0.contains("\\") ? $0 : nil } ?? "/"
        return WebUI.redirect(back + (back.contains("?") ? "&" : "?") + "flash=reprocessed")
    }

    /// Seat use per key, keys expiring soon, sessions open now.
    @Sendable func dashboard(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let now = web.registry.now()
        let keys = try await web.registry.store.keys()
        let activation = try await web.registry.store.activation()
        // From the snapshot in force and two counts, never the whole access model (100,000 users).
        let snapshot = web.registry.access.snapshot
        let sessions = try await web.registry.store.openSessionCounts(now: now)
        let usable = keys.filter { $0.status(at: now) == .valid }
        var values = try await web.layout(session, request: request, nav: "dashboard")
        values["hasKeys"] = !usable.isEmpty
        values["chart"] = WebUI.seatChart(
            usable.map { key in
                let floating = key.license.useType == .floating
                let seats = snapshot.seatCount(keySerial: key.serial)
                return (
                    "\(key.idNumber) (\(key.license.useType.rawValue))",
                    floating
                        ? sessions[key.serial] ?? 0 : seats.held + seats.over,
                    key.license.users, floating
                )
            })
        let expiring = keys.filter { key in key.status(at: now) == .valid && (key.license.expiresInDays(at: now).map { $0 <= 30 } ?? false) }
            .sorted { ($0.license.expiresAt ?? .distantFuture) < ($1.license.expiresAt ?? .distantFuture) }
        let covered = Set(activation?.certificate.serials ?? [])
        values["expiring"] = expiring.map { web.keyValues($0, covered: covered) }
        values["hasExpiring"] = !expiring.isEmpty
        let over = try await web.registry.overAllocation(in: snapshot, keys: keys)
        values["overAllocated"] = over.map {
            [
                "keySerial": $0.keySerial, "keyName": KeyNames(keys).idNumber($0.keySerial), "limit": $0.limit, "inUse": $0.inUse,
                "users": $0.overLimit.joined(separator: ", "),
            ]
        }
        values["held"] = try await web.registry.heldChanges().map { held in
            // In natural order (member2 before member10), as the users list shows them.
            let logins = held.logins.sorted { $0.localizedStandardCompare($1) == .orderedAscending }
            return [
                "id": held.id, "message": held.message, "accessGroup": held.accessGroup, "path": WebUI.segment(held.accessGroup), "actor": held.actor,
                "createdAt": WebFormatting.time(held.createdAt), "logins": logins.prefix(20).joined(separator: ", "),
                "more": logins.count > 20 ? "and \(logins.count - 20) more" : "",
            ]
        }
        let waiting = try await web.registry.store.assignmentErrors(limit: 20)
        values["waiting"] = waiting.map {
            ["login": $0.login, "accessGroup": $0.accessGroup, "path": WebUI.segment($0.accessGroup), "message": $0.shortage]
        }
        values["hasWaiting"] = !waiting.isEmpty
        values["waitingCount"] = waiting.count < 20 ? waiting.count : try await web.registry.store.assignmentErrorCount()
        let open = try await web.registry.store.sessions(open: true, limit: 50, now: now)
        values["openCount"] = sessions.values.reduce(0, +)
        let names = KeyNames(keys)
        values["sessions"] = open.map { web.sessionValues($0, names: names) }
        values["hasSessions"] = !open.isEmpty
        return web.page("dashboard", values)
    }
}
