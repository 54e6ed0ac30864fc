import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardWeb

/// The Users pages: list with search and paging, create, edit, enable and disable, CSV import.
extension WebUI {
    func userValues(_ user: RegistryUser, groups: [AccessGroupRecord] = [], names: KeyNames = KeyNames([])) -> [String: Any] {
        [
            "login": user.login, "name": user.name, "email": user.email, "active": user.active, "hasPassword": user.passwordHash != nil,
            "state": user.active ? "active" : "disabled", "fromDirectory": user.fromDirectory, "source": user.source.uppercased(),
            "externalId": user.externalId ?? "", "hasExternalId": !(user.externalId ?? "").isEmpty,
            "removedFromDirectory": user.fromDirectory && !user.inDirectory,
            "directoryDisabled": user.fromDirectory && !user.directoryActive,
            "groups": groups.map {
                [
                    "idNumber": $0.idNumber, "path": Self.segment($0.idNumber), "keySerial": $0.keySerial, "key": names.values($0.keySerial),
                    "component": $0.component,
                ]
            },
        ]
    }

    func userForm(
        _ session: WebSessions.Session, _ request: Request, template: String, fields: FormFields?, user: RegistryUser?, error: RegistryError?
    ) async throws -> Response {
        var values = try await layout(session, request: request, nav: "users")
        if let user {
            let groups = try await registry.store.groups().filter { $0.users.contains { $0.lowercased() == user.login.lowercased() } }
            values.merge(userValues(user, groups: groups, names: KeyNames(try await registry.store.keys()))) { $1 }
            let errors = try await registry.store.assignmentErrors(login: user.login)
            values["assignmentErrors"] = errors.map { ["accessGroup": $0.accessGroup, "path": Self.segment($0.accessGroup), "message": $0.shortage] }
            values["hasAssignmentErrors"] = !errors.isEmpty
        }
        if let fields {
            for name in ["login", "name", "email"] { if let value = fields[name] { values[name] = value } }
        }
        if let error {
            if case .invalid(let problem) = error {
                values[problem.field + "Error"] = problem.message
            } else {
                values["formError"] = "\(error.code): \(error.message)"
            }
        }
        return page(template, values)
    }

    /// Previous and next links and "41–50 of 5,000 users" for a list paged by number.
    static func pager(
        path: String, parameters: [String: String], page: Int, pageSize: Int, shown: Int, total: Int,
        noun: (one: String, many: String)
    ) -> [String: Any] {
        func link(_ number: Int) -> String {
            let query = (parameters.filter { !$0.value.isEmpty }.sorted { $0.key < $1.key } + [("page", String(number))])
                .map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
            return path + "?" + query
        }
        func grouped(_ number: Int) -> String {
            var digits = String(number)
            var result = ""
            while digits.count > 3 {
                result = "," + digits.suffix(3) + result
                digits = String(digits.dropLast(3))
            }
            return digits + result
        }
        let first = (page - 1) * pageSize + 1
        var values: [String: Any] = [
            "total": total,
            "range": shown == 0
                ? "\(total) \(total == 1 ? noun.one : noun.many)"
                : total == 1 ? "1 \(noun.one)" : "\(first)–\(first + shown - 1) of \(grouped(total)) \(noun.many)",
        ]
        if page > 1 { values["previous"] = link(page - 1) }
        if first - 1 + shown < total { values["next"] = link(page + 1) }
        values["hasPages"] = values["previous"] != nil || values["next"] != nil
        return values
    }

    func existingUser(_ context: RegistryRequestContext) async throws -> RegistryUser {
        let login = try context.parameters.require("login")
        guard login.count <= 64, let user = try await registry.store.user(login), !user.builtin else {
            throw APIError(.notFound, code: "UNKNOWN_USER", message: "There is no user \(login.prefix(64)).")
        }
        return user
    }
}

/// The Users pages, mounted at `/users`.
struct UserPagesController: Sendable {
    let web: WebUI

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group().add(middleware: WebAuthorization(web: web, menu: ConfigurationMenu.user))
            .get(use: userList)
            .get("new", use: newUser)
            .post(use: createUser)
            .get("import", use: importForm)
            .post("import", use: importUsers)
            .get(":login", use: userPage)
            .post(":login", use: updateUser)
        return routes
    }

    /// The users, searched and paged.
    @Sendable func userList(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let query = request.uri.queryParameters
        let search = query.get("search").map { String($0.prefix(200)).trimmingCharacters(in: .whitespaces) } ?? ""
        let pageSize = 50
        let number = max(1, query.get("page").flatMap { Int($0) }.map { min($0, 1_000_000) } ?? 1)
        let found = try await web.registry.store.usersPage(search: search.isEmpty ? nil : search, offset: (number - 1) * pageSize, limit: pageSize)
        var values = try await web.layout(session, request: request, nav: "users")
        values["search"] = search
        values["hasSearch"] = !search.isEmpty
        values["users"] = found.users.map { web.userValues($0) }
        values["hasUsers"] = !found.users.isEmpty
        values.merge(
            WebUI.pager(
                path: "/users", parameters: ["search": search], page: number, pageSize: pageSize, shown: found.users.count, total: found.total,
                noun: ("user", "users"))
        ) { $1 }
        return web.page("users", values)
    }

    /// The form for a new user.
    @Sendable func newUser(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        return try await web.userForm(session, request, template: "user-new", fields: nil, user: nil, error: nil)
    }

    /// Creates a user, or shows the form again with the refusal.
    @Sendable func createUser(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await web.form(request, context: context, session: session)
        let password = fields["password"].flatMap { $0.isEmpty ? nil : $0 }
        do {
            let user = try await web.registry.createUser(
                UserInput(
                    login: fields["login"] ?? "", name: fields["name"] ?? "", email: fields["email"] ?? "",
                    password: password), actor: "user:\(session.user.login)")
            return WebUI.redirect("/users/\(user.login)?flash=user-created")
        } catch let error as RegistryError {
            return try await web.userForm(session, request, template: "user-new", fields: fields, user: nil, error: error)
        } catch let error as StoreError where error.code == "DUPLICATE_LOGIN" {
            return try await web.userForm(
                session, request, template: "user-new", fields: fields, user: nil,
                error: .invalid(FieldError(field: "login", code: error.code, message: error.message)))
        }
    }

    /// The CSV import form.
    @Sendable func importForm(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        return web.page("users-import", try await web.layout(session, request: request, nav: "users"))
    }

    /// Imports (or, as a dry run, checks) a CSV file of users.
    @Sendable func importUsers(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        // CSV files of 100,000 users run to several MiB.
        let body = Array(buffer: try await request.body.collect(upTo: 64 << 20))
        guard let parts = MultipartForm.parse(body, contentType: request.headers[.contentType] ?? ""),
            let token = parts["_csrf"].map({ String(decoding: $0.data, as: UTF8.self) }), token == session.csrf
        else { throw WebUI.csrfRefusal }
        var values = try await web.layout(session, request: request, nav: "users")
        guard let file = parts["file"], !file.data.isEmpty, let text = String(bytes: file.data, encoding: .utf8) else {
            values["fileError"] = "Choose a CSV file (UTF-8) with the header login,name,email[,active]."
            return web.page("users-import", values)
        }
        let dryRun = parts["dryRun"].map { String(decoding: $0.data, as: UTF8.self) } == "on"
        let report = try await web.registry.importUsers(csv: text, dryRun: dryRun, actor: "user:\(session.user.login)")
        values["report"] = [
            "imported": report.imported, "dryRun": dryRun, "refused": report.problems.count, "notes": report.notes,
            "problems": report.problems.prefix(500).map { ["line": $0.line, "reason": $0.reason] }, "hasProblems": !report.problems.isEmpty,
        ]
        return web.page("users-import", values)
    }

    /// A user and their groups.
    @Sendable func userPage(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        return try await web.userForm(session, request, template: "user", fields: nil, user: try await web.existingUser(context), error: nil)
    }

    /// Saves, enables, disables a user or removes their password.
    @Sendable func updateUser(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await web.form(request, context: context, session: session)
        let user = try await web.existingUser(context)
        let actor = "user:\(session.user.login)"
        do {
            switch fields["action"] {
            case "disable", "enable":
                _ = try await web.registry.updateUser(
                    user.login, name: nil, email: nil, password: nil, active: fields["action"] == "enable", actor: actor)
            case "remove-password":
                _ = try await web.registry.updateUser(user.login, name: nil, email: nil, password: .some(nil), active: nil, actor: actor)
            default:
                let password = fields["password"].flatMap { $0.isEmpty ? nil : $0 }
                _ = try await web.registry.updateUser(
                    user.login, name: fields["name"] ?? "", email: fields["email"] ?? "",
                    password: password.map { .some($0) }, active: nil, actor: actor)
            }
            return WebUI.redirect("/users/\(user.login)?flash=user-saved")
        } catch let error as RegistryError {
            return try await web.userForm(session, request, template: "user", fields: fields, user: user, error: error)
        } catch let error as StoreError where error.kind == .conflict {
            return try await web.userForm(
                session, request, template: "user", fields: fields, user: user,
                error: .refused(code: error.code, message: error.message, kind: .conflict))
        }
    }
}
