import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardStore
import KeywardWeb

/// `/`: organizations, keys by status, keys expiring in the next 30 days (with Renew), the latest activations and
/// this month's environment changes.
struct DashboardPage: Sendable {
    let console: AuthorityConsole

    var endpoints: RouteCollection<AuthorityRequestContext> {
        let routes = RouteCollection(context: AuthorityRequestContext.self)
        routes.group().add(middleware: ConsoleAuthorization(console: console)).get("/", use: show)
        return routes
    }

    @Sendable func show(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let now = console.authority.now()
        let summary = try await console.authority.store.consoleSummary(now: now)
        var values = console.layout(session, request: request, nav: "dashboard")
        values["organizations"] = summary.organizations
        values["validKeys"] = summary.validKeys
        values["revokedKeys"] = summary.revokedKeys
        values["expiredKeys"] = summary.expiredKeys
        values["expiring"] = summary.expiringSoon.map { key -> [String: Any] in
            var item = ConsoleValues.key(key, catalog: console.authority.catalog, now: now)
            let days = Int(((key.license.expiresAt ?? now).timeIntervalSince(now) / 86400).rounded(.up))
            item["days"] = days == 1 ? "1 day" : "\(days) days"
            return item
        }
        values["hasExpiring"] = !summary.expiringSoon.isEmpty
        values["activations"] = summary.latestActivations.map { installation in
            [
                "installationId": installation.installationId, "organizationId": installation.organizationId,
                "environment": installation.environment.rawValue, "activatedAt": WebFormatting.time(installation.activatedAt),
                "keys": installation.serials.count,
            ] as [String: Any]
        }
        values["hasActivations"] = !summary.latestActivations.isEmpty
        values["changes"] = summary.environmentChanges.map(Self.change)
        values["hasChanges"] = !summary.environmentChanges.isEmpty
        values["period"] = ActivationRules.period(of: now)
        return console.page("dashboard", values)
    }

    static func change(_ change: AuthorityStore.EnvironmentChange) -> [String: Any] {
        var values: [String: Any] = [
            "organizationId": change.organizationId, "installationId": change.installationId, "from": change.from, "to": change.to,
            "changedAt": WebFormatting.time(change.changedAt),
        ]
        if let reason = change.reason { values["reason"] = reason }
        return values
    }
}
