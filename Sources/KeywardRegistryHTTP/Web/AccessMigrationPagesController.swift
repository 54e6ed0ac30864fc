import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardWeb

/// Migrate accesses, from a key's data screen: preview (dry run), then migrate.
extension WebUI {
    func migrationPage(
        _ session: WebSessions.Session, _ request: Request, key: RegisteredKey, fields: FormFields?, plan: AccessMigrationPlan?, error: (any Error)?
    ) async throws -> Response {
        var values = try await layout(session, request: request, nav: "keys")
        values["serial"] = key.serial
        values["idNumber"] = key.idNumber
        values["showSerial"] = key.idNumber != key.serial
        let chosen = Set(fields?.all("groups") ?? [])
        let groups = try await registry.store.groups().filter { $0.keySerial == key.serial }
        values["groups"] = groups.map {
            ["idNumber": $0.idNumber, "users": $0.users.count, "checked": fields == nil || chosen.contains($0.idNumber)]
        }
        values["hasGroups"] = !groups.isEmpty
        values["targets"] = try await registry.store.keys().filter { $0.serial != key.serial }.map { target in
            [
                "serial": target.serial,
                "label":
                    "\(target.idNumber)\(target.idNumber == target.serial ? "" : " (\(target.serial))") · \(target.license.profile.rawValue), \(target.license.users) \(target.license.useType.rawValue)",
                "selected": fields?["to"] == target.serial,
            ]
        }
        values["dropDisallowedMenus"] = fields?["dropDisallowedMenus"] == "on"
        if let plan {
            let names = KeyNames(try await registry.store.keys())
            values["plan"] = [
                "canMove": plan.canMove, "applied": plan.applied, "reasons": plan.reasons,
                "from":
                    "\(names.idNumber(plan.from.keySerial)): \(plan.from.before.map(String.init) ?? "–") → \(plan.from.after.map(String.init) ?? "–") of \(plan.from.limit) seats",
                "to":
                    "\(names.idNumber(plan.to.keySerial)): \(plan.to.before.map(String.init) ?? "–") → \(plan.to.after.map(String.init) ?? "–") of \(plan.to.limit) seats",
                "groups": plan.groups.map {
                    [
                        "idNumber": $0.idNumber, "canMove": $0.canMove, "reasons": $0.reasons.joined(separator: "; "),
                        "dropped": $0.droppedMenus.joined(separator: ", "),
                    ]
                },
            ]
        }
        if let error { _ = Self.place(error, in: &values) }
        return page("migrate", values)
    }
}

/// Migrate accesses, mounted at `/license-keys`.
struct AccessMigrationPagesController: Sendable {
    let web: WebUI

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group().add(middleware: WebAuthorization(web: web, menu: ConfigurationMenu.accessGroup))
            .get(":serial/migrate", use: migrationForm)
            .post(":serial/migrate", use: migrateAccesses)
        return routes
    }

    /// The Migrate accesses form of a key.
    @Sendable func migrationForm(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        return try await web.migrationPage(session, request, key: try await web.existingKey(context), fields: nil, plan: nil, error: nil)
    }

    /// Previews or applies a migration of accesses.
    @Sendable func migrateAccesses(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await web.form(request, context: context, session: session)
        let key = try await web.existingKey(context)
        let input = AccessMigrationInput(
            from: key.serial, to: fields["to"] ?? "", groups: fields.all("groups"), dryRun: fields["action"] != "migrate",
            dropDisallowedMenus: fields["dropDisallowedMenus"] == "on")
        do {
            let plan = try await web.registry.migrateAccesses(input, actor: "user:\(session.user.login)")
            if plan.applied { return WebUI.redirect("/license-keys/\(key.serial)?flash=migrated") }
            return try await web.migrationPage(session, request, key: key, fields: fields, plan: plan, error: nil)
        } catch {
            guard WebUI.isRefusal(error) else { throw error }
            let plan = try? await web.registry.migrateAccesses(
                AccessMigrationInput(
                    from: input.from, to: input.to, groups: input.groups, dryRun: true,
                    dropDisallowedMenus: input.dropDisallowedMenus), actor: "")
            return try await web.migrationPage(session, request, key: key, fields: fields, plan: plan, error: error)
        }
    }
}
