import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardWeb

/// `/organizations`: search by id or legal name, create; `/organizations/{id}`: its agreements, keys, installations,
/// tokens and environment history; edit its legal name; make and revoke its tokens.
struct OrganizationPages: Sendable {
    let console: AuthorityConsole

    static let pageSize = 50
    /// An organization's keys shown a page at a time: an organization may have 100,000.
    static let keyPageSize = 100

    var endpoints: RouteCollection<AuthorityRequestContext> {
        let routes = RouteCollection(context: AuthorityRequestContext.self)
        routes.group().add(middleware: ConsoleAuthorization(console: console))
            .get("", use: list)
            .post("", use: create)
            .get(":id", use: show)
            .post(":id", use: rename)
            .post(":id/tokens", use: createToken)
            .post(":id/tokens/:token/revoke", use: revokeToken)
            .post(":id/installations/:installation/promote", use: promote)
        return routes
    }

    /// The search, a page at a time, with the total.
    @Sendable func list(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        try await listPage(request, session: try context.authorizedSession)
    }

    func listPage(_ request: Request, session: ConsoleSession, typed: FormFields? = nil, errors: [String: String] = [:]) async throws -> Response {
        let query = String((request.uri.queryParameters.get("q") ?? "").prefix(200)).trimmingCharacters(in: .whitespaces)
        let offset = max(0, request.uri.queryParameters.get("offset").flatMap { Int($0) } ?? 0)
        let found = try await console.authority.store.searchOrganizations(query, limit: Self.pageSize, offset: offset)
        var values = console.layout(session, request: request, nav: "organizations")
        values["typedQuery"] = query
        if !query.isEmpty { values["q"] = query }
        values["total"] = found.total
        values["organizations"] = found.page.map {
            ["id": $0.id, "legalName": $0.legalName, "created": WebFormatting.day($0.createdAt)] as [String: Any]
        }
        values["hasOrganizations"] = !found.page.isEmpty
        values["shown"] = found.page.isEmpty ? "0" : "\(offset + 1)–\(offset + found.page.count)"
        let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        if offset > 0 { values["previous"] = "/organizations?q=\(encoded)&offset=\(max(0, offset - Self.pageSize))" }
        if offset + found.page.count < found.total { values["next"] = "/organizations?q=\(encoded)&offset=\(offset + Self.pageSize)" }
        values["newId"] = typed?["id"] ?? ""
        values["newLegalName"] = typed?["legalName"] ?? ""
        values["errors"] = errors
        values["rules"] = Authority.organizationRules
        return console.page("organizations", values)
    }

    /// Creates an organization; a refusal is shown beside its field, and nothing is written.
    @Sendable func create(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await console.form(request, context: context, session: session)
        do {
            let made = try await console.authority.createOrganization(
                id: fields["id"]?.trimmingCharacters(in: .whitespaces) ?? "", legalName: fields["legalName"] ?? "", actor: session.account.actor)
            return WebPages.redirect("/organizations/\(made.id)?flash=organization-created")
        } catch AuthorityError.invalid(let problems) {
            return try await listPage(request, session: session, typed: fields, errors: ConsoleValues.errors(problems))
        } catch let error as StoreError where error.kind == .conflict {
            return try await listPage(request, session: session, typed: fields, errors: ["id": error.message])
        }
    }

    /// An organization's page.
    @Sendable func show(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        try await organizationPage(request, session: try context.authorizedSession, id: try context.parameters.require("id"))
    }

    func organizationPage(
        _ request: Request, session: ConsoleSession, id: String, newToken: String? = nil, typedName: String? = nil, errors: [String: String] = [:]
    ) async throws -> Response {
        let authority = console.authority
        let organization = try await authority.requireOrganization(id)
        let now = authority.now()
        let keyOffset = max(0, request.uri.queryParameters.get("keys").flatMap { Int($0) } ?? 0)
        let keys = try await authority.store.keys(of: id, limit: Self.keyPageSize, offset: keyOffset)
        let agreements = try await authority.store.agreements(of: id)
        let installations = try await authority.store.installations(of: id)
        let tokens = try await TokenStore(database: authority.store.database).list(kinds: [TokenKind.organization], subject: id)
        let changes = try await authority.store.environmentChanges(of: id)
        let period = ActivationRules.period(of: now)
        var values = console.layout(session, request: request, nav: "organizations")
        values["id"] = organization.id
        values["organizationId"] = organization.id
        values["legalName"] = organization.legalName
        values["typedName"] = typedName ?? organization.legalName
        values["created"] = WebFormatting.day(organization.createdAt)
        values["errors"] = errors
        values["keys"] = keys.page.map { ConsoleValues.key($0, catalog: authority.catalog, now: now) }
        values["hasKeys"] = !keys.page.isEmpty
        values["keyTotal"] = keys.total
        values["keysShown"] = keys.page.isEmpty ? "0" : "\(keyOffset + 1)–\(keyOffset + keys.page.count)"
        if keyOffset > 0 { values["previousKeys"] = "/organizations/\(id)?keys=\(max(0, keyOffset - Self.keyPageSize))#keys" }
        if keyOffset + keys.page.count < keys.total { values["nextKeys"] = "/organizations/\(id)?keys=\(keyOffset + Self.keyPageSize)#keys" }
        values["agreements"] = agreements.map { agreement -> [String: Any] in
            var item: [String: Any] = [
                "id": agreement.id, "reference": agreement.reference, "keys": agreement.serials.count,
                "created": WebFormatting.day(agreement.createdAt),
            ]
            if let signed = agreement.signedOn { item["signedOn"] = WebFormatting.day(signed) }
            return item
        }
        values["hasAgreements"] = !agreements.isEmpty
        values["installations"] = installations.map { installation in
            var item: [String: Any] = [
                "installationId": installation.installationId, "environment": installation.environment.rawValue,
                "isProduction": installation.environment == .production, "activatedAt": WebFormatting.time(installation.activatedAt),
                "serials": installation.serials.joined(separator: ", "), "keyCount": installation.serials.count,
            ]
            if let error = errors["promote-\(installation.installationId)"] { item["promoteError"] = error }
            return item
        }
        values["hasInstallations"] = !installations.isEmpty
        values["tokens"] = tokens.map { token in
            var item: [String: Any] = [
                "id": token.id, "name": token.name, "created": WebFormatting.time(token.createdAt), "active": token.revokedAt == nil,
            ]
            if let revoked = token.revokedAt { item["revokedAt"] = WebFormatting.time(revoked) }
            return item
        }
        values["hasTokens"] = !tokens.isEmpty
        if let newToken { values["newToken"] = newToken }
        values["changes"] = changes.map(DashboardPage.change)
        values["hasChanges"] = !changes.isEmpty
        let used = changes.filter { ActivationRules.period(of: $0.changedAt) == period }.count
        values["changesLeft"] = max(0, ActivationRules.monthlyEnvironmentChanges - used)
        values["changesAllowed"] = ActivationRules.monthlyEnvironmentChanges
        return console.page("organization", values)
    }

    /// Changes the legal name: keys already issued keep the name they carry.
    @Sendable func rename(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let id = try context.parameters.require("id")
        let fields = try await console.form(request, context: context, session: session)
        do {
            _ = try await console.authority.updateOrganization(id: id, legalName: fields["legalName"] ?? "", actor: session.account.actor)
            return WebPages.redirect("/organizations/\(id)?flash=organization-saved")
        } catch AuthorityError.invalid(let problems) {
            return try await organizationPage(
                request, session: session, id: id, typedName: fields["legalName"], errors: ConsoleValues.errors(problems))
        }
    }

    /// Makes a token for the organization's registry, shown once on the page that answers.
    @Sendable func createToken(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let id = try context.parameters.require("id")
        let fields = try await console.form(request, context: context, session: session)
        _ = try await console.authority.requireOrganization(id)
        let name = (fields["name"] ?? "").trimmingCharacters(in: .whitespaces)
        guard (1...64).contains(name.count), !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return try await organizationPage(
                request, session: session, id: id,
                errors: ["tokenName": "Name the token by where it is used, 1 to 64 characters, e.g. production registry."])
        }
        let made = try await console.authority.store.createToken(
            kind: TokenKind.organization, name: name, subject: id, actor: session.account.actor, now: console.authority.now())
        return try await organizationPage(request, session: session, id: id, newToken: made.token.text)
    }

    /// Makes an installation the organization's production one, for a reason; the refusal (three changes this month
    /// already) says when the next change is possible.
    @Sendable func promote(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let id = try context.parameters.require("id")
        let installation = try context.parameters.require("installation")
        let fields = try await console.form(request, context: context, session: session)
        guard fields["confirm"] == "yes" else {
            return try await organizationPage(
                request, session: session, id: id,
                errors: ["promote-\(installation)": "Tick the box to confirm that \(installation) becomes production."])
        }
        do {
            _ = try await console.authority.promote(
                organizationId: id, installationId: installation, reason: fields["reason"] ?? "", actor: session.account.actor)
        } catch AuthorityError.invalid(let problems) {
            return try await organizationPage(request, session: session, id: id, errors: ["promote-\(installation)": problems.first?.message ?? ""])
        } catch let error as StoreError where error.kind == .conflict || error.kind == .invalid {
            return try await organizationPage(request, session: session, id: id, errors: ["promote-\(installation)": error.message])
        }
        return WebPages.redirect("/organizations/\(id)?flash=promoted")
    }

    /// Revokes one of the organization's tokens.
    @Sendable func revokeToken(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let id = try context.parameters.require("id")
        let tokenId = try context.parameters.require("token")
        _ = try await console.form(request, context: context, session: session)
        guard let token = try await TokenStore(database: console.authority.store.database).record(id: tokenId), token.kind == TokenKind.organization,
            token.subject == id
        else { throw APIError.notFound() }
        _ = try await console.authority.store.revokeToken(tokenId, actor: session.account.actor, now: console.authority.now())
        return WebPages.redirect("/organizations/\(id)?flash=token-revoked")
    }
}
