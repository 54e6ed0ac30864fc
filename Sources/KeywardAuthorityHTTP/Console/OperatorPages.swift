import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardWeb

/// `/operators`: the vendor's staff and their roles; admins make operators (the generated password shown once) and
/// disable or enable them.
struct OperatorPages: Sendable {
    let console: AuthorityConsole

    var endpoints: RouteCollection<AuthorityRequestContext> {
        let routes = RouteCollection(context: AuthorityRequestContext.self)
        routes.group().add(middleware: ConsoleAuthorization(console: console, change: [.admin]))
            .get("", use: list)
            .post("", use: create)
            .post(":login/disable", use: disable)
            .post(":login/enable", use: enable)
        return routes
    }

    @Sendable func list(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        try await listPage(request, session: try context.authorizedSession)
    }

    func listPage(
        _ request: Request, session: ConsoleSession, typed: FormFields? = nil, errors: [String: String] = [:], made: (String, String)? = nil
    ) async throws -> Response {
        var values = console.layout(session, request: request, nav: "operators")
        values["operators"] = try await console.authority.store.operators().map { account in
            [
                "login": account.login, "name": account.name, "role": account.role.rawValue, "active": account.active,
                "isSelf": account.login == session.account.login,
            ] as [String: Any]
        }
        values["typedLogin"] = typed?["login"] ?? ""
        values["typedName"] = typed?["name"] ?? ""
        values["roles"] = OperatorRole.allCases.map { ["name": $0.rawValue, "selected": typed?["role"] == $0.rawValue] as [String: Any] }
        values["errors"] = errors
        if let made { values["made"] = ["login": made.0, "password": made.1] }
        return console.page("operators", values)
    }

    /// Makes an operator with a generated password, shown on the answer only.
    @Sendable func create(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await console.form(request, context: context, session: session)
        let password = Authority.generatedPassword()
        do {
            let made = try await console.authority.createOperator(
                login: fields["login"] ?? "", name: fields["name"] ?? "", role: fields["role"] ?? "", password: password, actor: session.account.actor
            )
            return try await listPage(request, session: session, made: (made.login, password))
        } catch AuthorityError.invalid(let problems) {
            return try await listPage(request, session: session, typed: fields, errors: ConsoleValues.errors(problems))
        } catch let error as StoreError where error.kind == .conflict {
            return try await listPage(request, session: session, typed: fields, errors: ["login": error.message])
        }
    }

    @Sendable func disable(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        try await setActive(request, context: context, false)
    }

    @Sendable func enable(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        try await setActive(request, context: context, true)
    }

    func setActive(_ request: Request, context: AuthorityRequestContext, _ active: Bool) async throws -> Response {
        let session = try context.authorizedSession
        let login = try context.parameters.require("login")
        _ = try await console.form(request, context: context, session: session)
        guard active || login.lowercased() != session.account.login.lowercased() else {
            throw APIError(.conflict, code: "OWN_ACCOUNT", message: "You cannot disable your own account: ask another admin.")
        }
        _ = try await console.authority.store.setOperatorActive(login, active, actor: session.account.actor, now: console.authority.now())
        return WebPages.redirect("/operators?flash=\(active ? "operator-enabled" : "operator-disabled")")
    }
}
