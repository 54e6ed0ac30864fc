import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardWeb

/// The Access groups pages: list, create and edit (key, component, menus), the group's users with a picker that
/// searches, delete; and Migrate accesses from a key's data screen.
extension WebUI {
    /// The form's choices: every registered key; once a key is chosen, only its components and the menus its profile
    /// allows (the others stay in the page hidden and disabled, for the script to offer when another key is picked).
    func groupFormValues(_ values: inout [String: Any], group: AccessGroupRecord?, fields: FormFields?, request: Request) async throws {
        let keys = try await registry.store.keys()
        let selectedKey = fields?["keySerial"] ?? request.uri.queryParameters.get("keySerial") ?? group?.keySerial
        let chosen = keys.first { $0.serial == selectedKey }
        let granted = Set(fields.map { $0.all("menus") } ?? group?.menus ?? [])
        values["keys"] = keys.map { key in
            [
                "serial": key.serial,
                "label":
                    "\(key.idNumber)\(key.idNumber == key.serial ? "" : " (\(key.serial))") · \(key.license.profile.rawValue) · \(key.license.components.joined(separator: ", "))",
                "selected": key.serial == chosen?.serial, "componentCodes": key.license.components.joined(separator: " "),
                "profile": key.license.profile.rawValue,
            ]
        }
        values["keyChosen"] = chosen != nil
        if let chosen { values["keyProfile"] = chosen.license.profile.rawValue }
        let offered = Set(chosen?.license.components ?? [])
        let wanted = fields?["component"] ?? group?.component
        let selectedComponent = offered.contains(wanted ?? "") ? wanted : registry.catalog.components.first { offered.contains($0.code) }?.code
        values["components"] = registry.catalog.components.map { component in
            [
                "code": component.code, "name": component.name, "selected": component.code == selectedComponent,
                "offered": offered.contains(component.code),
                "menus": component.menus.map { menu in
                    [
                        "code": menu.code, "name": menu.name, "profile": menu.profile.rawValue, "checked": granted.contains(menu.code),
                        "allowed": chosen.map { $0.license.profile.includes(menu.profile) } ?? false,
                    ]
                },
            ]
        }
        values["idNumber"] = fields?["idNumber"] ?? group?.idNumber ?? ""
        values["name"] = fields?["name"] ?? group?.name ?? ""
        values["active"] = fields.map { $0["active"] == "on" } ?? group?.active ?? true
    }

    /// The create or edit form, with what was typed and the refusal, if any (`nil` when the error is not a refusal).
    func groupFormPage(
        _ session: WebSessions.Session, _ request: Request, editing group: AccessGroupRecord?, fields: FormFields?,
        error: (any Error)? = nil
    ) async throws -> Response? {
        var values = try await layout(session, request: request, nav: "groups")
        if let error, !Self.place(error, in: &values) { return nil }
        try await groupFormValues(&values, group: group, fields: fields, request: request)
        values["action"] = group.map { "/access-groups/\(Self.segment($0.idNumber))/edit" } ?? "/access-groups"
        values["editing"] = group != nil
        return page("group-form", values)
    }

    func groupInput(_ fields: FormFields) -> AccessGroupInput {
        AccessGroupInput(
            idNumber: fields["idNumber"] ?? "", name: fields["name"] ?? "", keySerial: fields["keySerial"] ?? "",
            component: fields["component"] ?? "",
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
    func memberValues(_ group: AccessGroupRecord, directoryOnly: Set<String> = []) -> [[String: Any]] {
        let snapshot = registry.access.snapshot
        return group.users.map {
            [
                "login": $0, "overLimit": snapshot.isOverLimit(login: $0, keySerial: group.keySerial),
                "fromDirectory": directoryOnly.contains(AccessModel.fold($0)),
            ]
        }
    }

    /// The directory groups an access group can be linked to, the linked ones ticked, and the members waiting for a seat.
    func directoryValues(_ group: AccessGroupRecord) async throws -> [String: Any] {
        let all = try await registry.store.directoryGroups(source: nil, members: false)
        let linked = Set(all.filter { $0.accessGroups.contains(group.idNumber) }.map(\.id))
        let errors = try await registry.store.assignmentErrors(accessGroup: group.idNumber)
        return [
            "hasDirectoryGroups": !all.isEmpty,
            "directoryGroups": all.map {
                [
                    "id": $0.id, "displayName": $0.displayName, "members": $0.memberCount, "linked": linked.contains($0.id),
                    "source": $0.source.rawValue.uppercased(),
                ]
            },
            "linkedCount": linked.count,
            "waiting": errors.map { ["login": $0.login, "message": $0.shortage] }, "hasWaiting": !errors.isEmpty, "waitingCount": errors.count,
        ]
    }

    /// What the "Add users" part of a group's page shows: a search, the page of results, and the ticks to keep.
    struct CandidateQuery {
        var search = ""
        var page = 1
        var selected: Set<String> = []

        static let pageSize = 50

        init(search: String = "", page: Int = 1, selected: Set<String> = []) {
            self.search = String(search.prefix(200)).trimmingCharacters(in: .whitespaces)
            self.page = max(1, min(page, 1_000_000))
            self.selected = selected
        }
    }

    func groupPage(
        _ session: WebSessions.Session, _ request: Request, _ group: AccessGroupRecord, query candidates: CandidateQuery? = nil,
        error: (any Error)? = nil, notice: String? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        var values = try await layout(session, request: request, nav: "groups")
        values.merge([
            "idNumber": group.idNumber, "path": Self.segment(group.idNumber), "name": group.name, "keySerial": group.keySerial,
            "component": group.component, "menus": group.menus,
            "state": group.active ? "active" : "inactive", "hasUsers": !group.users.isEmpty,
            "users": memberValues(group, directoryOnly: try await registry.store.directoryOnlyMembers(ofAccessGroup: group.idNumber)),
            "userCount": group.users.count,
        ]) { $1 }
        values.merge(try await directoryValues(group)) { $1 }
        if let key = try await registry.store.key(group.keySerial) {
            values["keyName"] = key.idNumber
            values["showSerial"] = key.idNumber != key.serial
            values["keyLabel"] = "\(key.license.useType.rawValue), \(key.license.users) users, \(key.license.profile.rawValue)"
        }
        let parameters = request.uri.queryParameters
        let query = candidates ?? CandidateQuery(search: parameters.get("search") ?? "", page: parameters.get("page").flatMap { Int($0) } ?? 1)
        values["search"] = query.search
        values["page"] = query.page
        if !query.search.isEmpty {
            let found = try await registry.store.usersPage(
                search: query.search, outsideGroup: group.idNumber,
                offset: (query.page - 1) * CandidateQuery.pageSize, limit: CandidateQuery.pageSize)
            let selected = Set(query.selected.map { $0.lowercased() })
            values["candidates"] = found.users.map {
                ["login": $0.login, "name": $0.name, "email": $0.email, "checked": selected.contains($0.login.lowercased())]
            }
            values["hasCandidates"] = !found.users.isEmpty
            values["searched"] = true
            values["matching"] = found.total
            values["manyMatch"] = found.total > found.users.count
            values.merge(
                Self.pager(
                    path: "/access-groups/\(Self.segment(group.idNumber))", parameters: ["search": query.search], page: query.page,
                    pageSize: CandidateQuery.pageSize, shown: found.users.count, total: found.total, noun: ("user", "users"))
            ) { $1 }
            values["allLabel"] = found.total == 1 ? "Add the 1 matching user" : "Add all \(found.total) matching users"
        }
        if let error { _ = Self.place(error, in: &values) }
        if let notice { values["formError"] = notice }
        if let message = values["loginsError"] { values["formError"] = message }
        return page("group", values, status: status)
    }

    /// An ID # as one URL path segment.
    static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? text
    }

    func existingGroup(_ context: RegistryRequestContext) async throws -> AccessGroupRecord {
        let idNumber = try context.parameters.require("idNumber").removingPercentEncoding ?? ""
        guard idNumber.count <= 50, let group = try await registry.store.group(idNumber) else { throw unknownGroup(idNumber) }
        return group
    }

    /// The group's ID # as it was written, without reading its members: a change of members reads them once, with
    /// the change, and a page that shows the group reads it after.
    func existingGroupIDNumber(_ context: RegistryRequestContext) async throws -> String {
        let idNumber = try context.parameters.require("idNumber").removingPercentEncoding ?? ""
        guard idNumber.count <= 50, let existing = try await registry.store.groupIDNumber(idNumber) else { throw unknownGroup(idNumber) }
        return existing
    }

    private func unknownGroup(_ idNumber: String) -> APIError {
        APIError(.notFound, code: "UNKNOWN_GROUP", message: "There is no access group \(idNumber.prefix(50)).")
    }
}

/// The Access groups pages, mounted at `/access-groups`.
struct AccessGroupPagesController: Sendable {
    let web: WebUI

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group().add(middleware: WebAuthorization(web: web, menu: ConfigurationMenu.accessGroup))
            .get(use: groupList)
            .get("new", use: newGroup)
            .post(use: createGroup)
            .get(":idNumber", use: showGroup)
            .get(":idNumber/edit", use: editGroup)
            .post(":idNumber/edit", use: updateGroup)
            .post(":idNumber/delete", use: deleteGroup)
            .post(":idNumber/users/add", use: addMembers)
            .post(":idNumber/users/remove", use: removeMembers)
            .post(":idNumber/directory-groups", use: linkDirectoryGroups)
        return routes
    }

    /// Every access group.
    @Sendable func groupList(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let groups = try await web.registry.store.groups()
        let names = KeyNames(try await web.registry.store.keys())
        var values = try await web.layout(session, request: request, nav: "groups")
        values["groups"] = groups.map {
            [
                "idNumber": $0.idNumber, "path": WebUI.segment($0.idNumber), "name": $0.name, "keySerial": $0.keySerial,
                "key": names.values($0.keySerial), "component": $0.component,
                "menuCount": $0.menus.count, "userCount": $0.users.count, "state": $0.active ? "active" : "inactive",
            ]
        }
        values["hasGroups"] = !groups.isEmpty
        return web.page("groups", values)
    }

    /// The form for a new group.
    @Sendable func newGroup(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        return try await web.groupFormPage(session, request, editing: nil, fields: nil)!
    }

    /// Creates a group, or shows the form again with the refusal.
    @Sendable func createGroup(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await web.form(request, context: context, session: session)
        // Without the script, choosing the key is a step of its own: the form comes back with its choices.
        if fields["step"] == "key" { return try await web.groupFormPage(session, request, editing: nil, fields: fields)! }
        do {
            let group = try await web.registry.createGroup(web.groupInput(fields), actor: "user:\(session.user.login)")
            return WebUI.redirect("/access-groups/\(WebUI.segment(group.idNumber))?flash=group-created")
        } catch {
            guard let page = try await web.groupFormPage(session, request, editing: nil, fields: fields, error: error) else { throw error }
            return page
        }
    }

    /// A group, its users and the picker to add more.
    @Sendable func showGroup(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        return try await web.groupPage(session, request, try await web.existingGroup(context))
    }

    /// The form to edit a group.
    @Sendable func editGroup(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        return try await web.groupFormPage(session, request, editing: try await web.existingGroup(context), fields: nil)!
    }

    /// Saves a group, or shows the form again with the refusal.
    @Sendable func updateGroup(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await web.form(request, context: context, session: session)
        let group = try await web.existingGroup(context)
        if fields["step"] == "key" { return try await web.groupFormPage(session, request, editing: group, fields: fields)! }
        do {
            let saved = try await web.registry.updateGroup(group.idNumber, web.groupInput(fields), actor: "user:\(session.user.login)")
            return WebUI.redirect("/access-groups/\(WebUI.segment(saved.idNumber))?flash=group-saved")
        } catch {
            guard let page = try await web.groupFormPage(session, request, editing: group, fields: fields, error: error) else { throw error }
            return page
        }
    }

    /// Deletes a group.
    @Sendable func deleteGroup(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        _ = try await web.form(request, context: context, session: session)
        try await web.registry.deleteGroup(try await web.existingGroup(context).idNumber, actor: "user:\(session.user.login)")
        return WebUI.redirect("/access-groups?flash=group-deleted")
    }

    /// Adds the ticked (or all matching) users to a group.
    @Sendable func addMembers(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await web.form(request, context: context, session: session)
        let idNumber = try await web.existingGroupIDNumber(context)
        let ticked = fields.all("logins")
        let query = WebUI.CandidateQuery(search: fields["search"] ?? "", page: fields["page"].flatMap { Int($0) } ?? 1, selected: Set(ticked))
        var logins = ticked
        if fields["scope"] == "all" {
            // Every user the search finds outside the group, on every page: one all-or-nothing change, so the seat
            // limit applies to the whole set.
            guard !query.search.isEmpty else {
                return try await web.groupPage(
                    session, request, try await web.existingGroup(context), query: query,
                    notice: "Search first: Add all adds every user the search finds.")
            }
            logins = try await web.registry.store.matchingLogins(search: query.search, outsideGroup: idNumber, limit: 10_001)
            if logins.count > 10_000 {
                return try await web.groupPage(
                    session, request, try await web.existingGroup(context), query: query,
                    notice: "More than 10,000 users match “\(query.search)”: at most 10,000 can be added at once. Narrow the search.")
            }
        }
        guard !logins.isEmpty else {
            return try await web.groupPage(
                session, request, try await web.existingGroup(context), query: query,
                notice: fields["scope"] == "all"
                    ? "No user outside the group matches “\(query.search)”: nothing was added."
                    : "No user was ticked, so nothing was added. Tick the users to add, or use Add all matching users.")
        }
        do {
            _ = try await web.registry.changeMembers(idNumber, add: true, logins: logins, actor: "user:\(session.user.login)")
            return WebUI.redirect("/access-groups/\(WebUI.segment(idNumber))?flash=users-added")
        } catch {
            guard WebUI.isRefusal(error) else { throw error }
            // The refusal keeps the search, the page and every tick, so changing the selection is one step.
            return try await web.groupPage(session, request, try await web.existingGroup(context), query: query, error: error)
        }
    }

    /// Links the group to exactly the ticked directory groups.
    @Sendable func linkDirectoryGroups(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await web.form(request, context: context, session: session)
        let idNumber = try await web.existingGroupIDNumber(context)
        do {
            let effect = try await web.registry.linkDirectoryGroups(
                fields.all("directoryGroups"), toAccessGroup: idNumber, actor: "user:\(session.user.login)")
            let flash = effect.assignmentErrors > 0 ? "directory-linked-short" : "directory-linked"
            return WebUI.redirect("/access-groups/\(WebUI.segment(idNumber))?flash=\(flash)")
        } catch {
            guard WebUI.isRefusal(error) else { throw error }
            return try await web.groupPage(session, request, try await web.existingGroup(context), error: error)
        }
    }

    /// Removes the ticked members from a group.
    @Sendable func removeMembers(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await web.form(request, context: context, session: session)
        let idNumber = try await web.existingGroupIDNumber(context)
        let logins = fields.all("logins")
        guard !logins.isEmpty else {
            return try await web.groupPage(
                session, request, try await web.existingGroup(context),
                notice: "No member was ticked, so nobody was removed. Tick the members to remove.")
        }
        do {
            _ = try await web.registry.changeMembers(idNumber, add: false, logins: logins, actor: "user:\(session.user.login)")
            return WebUI.redirect("/access-groups/\(WebUI.segment(idNumber))?flash=users-removed")
        } catch {
            guard WebUI.isRefusal(error) else { throw error }
            return try await web.groupPage(session, request, try await web.existingGroup(context), error: error)
        }
    }
}
