import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardStore

/// The Access groups pages: list, create and edit (key, component, menus), the group's users with a picker that
/// searches, delete; and Migrate accesses from a key's data screen.
extension WebUI {
    /// The form's choices: every registered key, and every catalog menu by component, checked when granted.
    func groupFormValues(_ values: inout [String: Any], group: AccessGroupRecord?, fields: FormFields?) async throws {
        let keys = try await registry.store.keys()
        let selectedKey = fields?["keySerial"] ?? group?.keySerial
        let selectedComponent = fields?["component"] ?? group?.component
        let granted = Set(fields.map { $0.all("menus") } ?? group?.menus ?? [])
        values["keys"] = keys.map { key in
            ["serial": key.serial, "label": "\(key.idNumber) · \(key.serial) · \(key.license.profile.rawValue) · \(key.license.components.joined(separator: ", "))",
             "selected": key.serial == selectedKey]
        }
        values["components"] = registry.catalog.components.map { component in
            ["code": component.code, "name": component.name, "selected": component.code == selectedComponent,
             "menus": component.menus.map { ["code": $0.code, "name": $0.name, "profile": $0.profile.rawValue, "checked": granted.contains($0.code)] }]
        }
        values["idNumber"] = fields?["idNumber"] ?? group?.idNumber ?? ""
        values["name"] = fields?["name"] ?? group?.name ?? ""
        values["active"] = fields.map { $0["active"] == "on" } ?? group?.active ?? true
    }

    /// The create or edit form, with what was typed and the refusal, if any (`nil` when the error is not a refusal).
    func groupFormPage(_ session: WebSessions.Session, _ request: Request, editing group: AccessGroupRecord?, fields: FormFields?,
                       error: (any Error)? = nil) async throws -> Response? {
        var values = try await layout(session, request: request, nav: "groups")
        if let error, !Self.place(error, in: &values) { return nil }
        try await groupFormValues(&values, group: group, fields: fields)
        values["action"] = group.map { "/access-groups/\(Self.segment($0.idNumber))/edit" } ?? "/access-groups"
        values["editing"] = group != nil
        return page("group-form", values)
    }

    func groupInput(_ fields: FormFields) -> GroupInput {
        GroupInput(idNumber: fields["idNumber"] ?? "", name: fields["name"] ?? "", keySerial: fields["keySerial"] ?? "", component: fields["component"] ?? "",
                   menus: fields.all("menus"), active: fields["active"] == "on")
    }

    /// Whether a form shows `error` in words (a refusal of the rules) rather than as an error page.
    static func isRefusal(_ error: any Error) -> Bool {
        switch error {
        case is RegistryError: true
        case let error as StoreError: error.kind != .notFound || error.code == "UNKNOWN_KEY"
        default: false
        }
    }

    /// A refusal as the form shows it: beside the field when it names one, else above the form; `false` when `error`
    /// is not a refusal.
    static func place(_ error: any Error, in values: inout [String: Any]) -> Bool {
        guard isRefusal(error) else { return false }
        if case .invalid(let problem) = error as? RegistryError {
            values[problem.field + "Error"] = problem.message
        } else if let error = error as? any APIErrorConvertible {
            values["formError"] = "\(error.apiError.code): \(error.apiError.message)"
        } else if let error = error as? StoreError {
            values["formError"] = "\(error.code): \(error.message)"
        }
        return true
    }

    /// The group's users, each marked when a forced activation left them over the key's limit (no access until a
    /// seat frees up).
    func memberValues(_ group: AccessGroupRecord) -> [[String: Any]] {
        let snapshot = registry.access.snapshot
        return group.users.map { ["login": $0, "overLimit": snapshot.isOverLimit(login: $0, keySerial: group.keySerial)] }
    }

    func groupPage(_ session: WebSessions.Session, _ request: Request, _ group: AccessGroupRecord, error: (any Error)? = nil) async throws -> Response {
        var values = try await layout(session, request: request, nav: "groups")
        values.merge(["idNumber": group.idNumber, "path": Self.segment(group.idNumber), "name": group.name, "keySerial": group.keySerial, "component": group.component, "menus": group.menus,
                      "state": group.active ? "active" : "inactive", "hasUsers": !group.users.isEmpty,
                      "users": memberValues(group),
                      "userCount": group.users.count]) { $1 }
        if let key = try await registry.store.key(group.keySerial) {
            values["keyLabel"] = "\(key.idNumber) (\(key.license.useType.rawValue), \(key.license.users) users, \(key.license.profile.rawValue))"
        }
        let search = request.uri.queryParameters.get("search").map { String($0.prefix(200)) } ?? ""
        values["search"] = search
        if !search.isEmpty {
            let members = Set(group.users.map { $0.lowercased() })
            let found = try await registry.store.users(search: search, limit: 50).filter { !members.contains($0.login.lowercased()) }
            values["candidates"] = found.map { ["login": $0.login, "name": $0.name, "email": $0.email] }
            values["hasCandidates"] = !found.isEmpty
            values["searched"] = true
        }
        if let error { _ = Self.place(error, in: &values) }
        return page("group", values)
    }

    /// An ID # as one URL path segment.
    static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? text
    }

    func addGroups(to router: Router<RegistryRequestContext>) {
        router.get("/access-groups") { request, _ in
            let session = try await requireSession(request, menu: ConfigurationMenu.accessGroup)
            let groups = try await registry.store.groups()
            var values = try await layout(session, request: request, nav: "groups")
            values["groups"] = groups.map { ["idNumber": $0.idNumber, "path": Self.segment($0.idNumber), "name": $0.name, "keySerial": $0.keySerial, "component": $0.component,
                                             "menuCount": $0.menus.count, "userCount": $0.users.count, "state": $0.active ? "active" : "inactive"] }
            values["hasGroups"] = !groups.isEmpty
            return page("groups", values)
        }
        router.get("/access-groups/new") { request, _ in
            let session = try await requireSession(request, menu: ConfigurationMenu.accessGroup)
            return try await groupFormPage(session, request, editing: nil, fields: nil)!
        }
        router.post("/access-groups") { request, context in
            let session = try await requireSession(request, menu: ConfigurationMenu.accessGroup)
            let fields = try await form(request, context: context, session: session)
            do {
                let group = try await registry.createGroup(groupInput(fields), actor: "user:\(session.user.login)")
                return Self.redirect("/access-groups/\(Self.segment(group.idNumber))?flash=group-created")
            } catch {
                guard let page = try await groupFormPage(session, request, editing: nil, fields: fields, error: error) else { throw error }
                return page
            }
        }
        router.get("/access-groups/:idNumber") { request, context in
            let session = try await requireSession(request, menu: ConfigurationMenu.accessGroup)
            return try await groupPage(session, request, try await existingGroup(context))
        }
        router.get("/access-groups/:idNumber/edit") { request, context in
            let session = try await requireSession(request, menu: ConfigurationMenu.accessGroup)
            return try await groupFormPage(session, request, editing: try await existingGroup(context), fields: nil)!
        }
        router.post("/access-groups/:idNumber/edit") { request, context in
            let session = try await requireSession(request, menu: ConfigurationMenu.accessGroup)
            let fields = try await form(request, context: context, session: session)
            let group = try await existingGroup(context)
            do {
                let saved = try await registry.updateGroup(group.idNumber, groupInput(fields), actor: "user:\(session.user.login)")
                return Self.redirect("/access-groups/\(Self.segment(saved.idNumber))?flash=group-saved")
            } catch {
                guard let page = try await groupFormPage(session, request, editing: group, fields: fields, error: error) else { throw error }
                return page
            }
        }
        router.post("/access-groups/:idNumber/delete") { request, context in
            let session = try await requireSession(request, menu: ConfigurationMenu.accessGroup)
            _ = try await form(request, context: context, session: session)
            try await registry.deleteGroup(try await existingGroup(context).idNumber, actor: "user:\(session.user.login)")
            return Self.redirect("/access-groups?flash=group-deleted")
        }
        for (path, add) in [("add", true), ("remove", false)] {
            router.post("/access-groups/:idNumber/users/\(path)") { request, context in
                let session = try await requireSession(request, menu: ConfigurationMenu.accessGroup)
                let fields = try await form(request, context: context, session: session)
                let group = try await existingGroup(context)
                do {
                    _ = try await registry.changeMembers(group.idNumber, add: add, logins: fields.all("logins"), actor: "user:\(session.user.login)")
                    return Self.redirect("/access-groups/\(Self.segment(group.idNumber))?flash=users-\(add ? "added" : "removed")")
                } catch {
                    guard Self.isRefusal(error) else { throw error }
                    return try await groupPage(session, request, group, error: error)
                }
            }
        }
    }

    func existingGroup(_ context: RegistryRequestContext) async throws -> AccessGroupRecord {
        let idNumber = try context.parameters.require("idNumber").removingPercentEncoding ?? ""
        guard idNumber.count <= 50, let group = try await registry.store.group(idNumber) else {
            throw APIError(.notFound, code: "UNKNOWN_GROUP", message: "There is no access group \(idNumber.prefix(50)).")
        }
        return group
    }
}
