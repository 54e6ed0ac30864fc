import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardWeb

/// `/organizations/{id}/agreements/new`: an agreement of several lines (profile, use type, users, purchase type,
/// validity, components from the catalog with the menus each opens), every problem of every line shown beside its
/// field at once; `/organizations/{id}/agreements/{agreement}`: the agreement and the keys it made.
struct AgreementPages: Sendable {
    let console: AuthorityConsole

    /// The most lines the form adds (the service takes up to 100; more are sent as a file through the CLI or the API).
    static let maximumFormLines = 20

    var endpoints: RouteCollection<AuthorityRequestContext> {
        let routes = RouteCollection(context: AuthorityRequestContext.self)
        routes.group().add(middleware: ConsoleAuthorization(console: console))
            .get(":id/agreements/new", use: newForm)
            .post(":id/agreements/new", use: create)
            .get(":id/agreements/:agreement", use: show)
        return routes
    }

    @Sendable func newForm(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        guard session.account.role.mayChangeLicensing else {
            throw APIError(
                .forbidden, code: "ROLE_FORBIDDEN", message: "Your role (auditor) reads everything and changes nothing: ask a clerk or an admin.")
        }
        let lines = min(Self.maximumFormLines, max(1, request.uri.queryParameters.get("lines").flatMap { Int($0) } ?? 1))
        return try await formPage(request, session: session, id: try context.parameters.require("id"), lineCount: lines)
    }

    /// The form with `lineCount` lines, showing what was typed and each line's problems beside its fields.
    func formPage(
        _ request: Request, session: ConsoleSession, id: String, lineCount: Int, typed: FormFields? = nil, problems: [FieldError] = []
    ) async throws -> Response {
        let organization = try await console.authority.requireOrganization(id)
        var values = console.layout(session, request: request, nav: "organizations")
        values["organizationId"] = organization.id
        values["legalName"] = organization.legalName
        values["reference"] = typed?["reference"] ?? ""
        values["signedOn"] = typed?["signedOn"] ?? ""
        let errors = ConsoleValues.errors(problems)
        values["errors"] = errors
        values["lines"] = (0..<lineCount).map { index -> [String: Any] in
            let prefix = "lines[\(index)]."
            var line = typed.map { ConsoleValues.typed($0, prefix: prefix) } ?? ["users": "1"]
            line["prefix"] = prefix
            line["number"] = index + 1
            line["index"] = index
            line["removable"] = lineCount > 1
            line["componentChoices"] = ConsoleValues.components(console.authority.catalog, chosen: Set(typed?.all(prefix + "components") ?? []))
            var lineErrors: [String: String] = [:]
            for (field, message) in errors where field.hasPrefix(prefix) { lineErrors[String(field.dropFirst(prefix.count))] = message }
            line["errors"] = lineErrors
            line["hasErrors"] = !lineErrors.isEmpty
            return line
        }
        values["lineCount"] = lineCount
        values["mayAddLine"] = lineCount < Self.maximumFormLines
        values["problemCount"] = problems.count
        return console.page("agreement-new", values)
    }

    /// Records the agreement and issues one key per line, all or none; or, for "Add a line", shows the form again
    /// with one more line and nothing written.
    @Sendable func create(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let id = try context.parameters.require("id")
        let fields = try await console.form(request, context: context, session: session)
        let count = min(Self.maximumFormLines, max(1, Int(fields["lineCount"] ?? "") ?? 1))
        switch fields["action"] {
        case "add-line":
            return try await formPage(request, session: session, id: id, lineCount: min(Self.maximumFormLines, count + 1), typed: fields)
        case let action? where action.hasPrefix("remove-"):
            let removed = Int(action.dropFirst("remove-".count)) ?? -1
            return try await formPage(
                request, session: session, id: id, lineCount: max(1, count - 1), typed: Self.removing(line: removed, from: fields, count: count))
        default: break
        }
        var problems: [FieldError] = []
        var lines: [(index: Int, line: LicenseKeySpecification)] = []
        for index in 0..<count {
            let (line, found) = ConsoleValues.specification(fields, prefix: "lines[\(index)].")
            problems += found
            if let line { lines.append((index, line)) }
        }
        var signedOn: Date?
        if let text = fields["signedOn"]?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
            signedOn = Timestamp.parseDayOrTimestamp(text)
            if signedOn == nil {
                problems.append(FieldError(field: "signedOn", code: "INVALID_DATE", message: "Type a date as YYYY-MM-DD, e.g. 2026-12-01."))
            }
        }
        let reference = (fields["reference"] ?? "").trimmingCharacters(in: .whitespaces)
        do {
            if problems.isEmpty {
                let result = try await console.authority.issueAgreement(
                    reference: reference, signedOn: signedOn, lines: lines.map(\.line), organizationId: id, actor: session.account.actor)
                return WebPages.redirect("/organizations/\(id)/agreements/\(result.agreement.id)?flash=agreement-created")
            }
            // Some fields could not be read: the service's rules still check the rest, so every problem shows at once.
            if let problem = Authority.referenceProblem(reference) { problems.append(problem) }
            let organization = try await console.authority.requireOrganization(id)
            for (index, line) in lines {
                do {
                    _ = try console.authority.sign(line, for: organization, field: "lines[\(index)]")
                } catch AuthorityError.invalid(let found) { problems += found }
            }
        } catch AuthorityError.invalid(let found) {
            problems += found
        } catch let error as StoreError where error.kind == .conflict {
            problems.append(FieldError(field: "reference", code: error.code, message: error.message))
        }
        return try await formPage(request, session: session, id: id, lineCount: count, typed: fields, problems: problems)
    }

    /// The fields with line `line` taken out and the lines after it moved up.
    static func removing(line: Int, from fields: FormFields, count: Int) -> FormFields {
        var result = FormFields()
        for (name, value) in fields.values {
            guard name.hasPrefix("lines["), let close = name.firstIndex(of: "]"),
                let index = Int(name[name.index(name.startIndex, offsetBy: 6)..<close])
            else {
                result.values.append((name, value))
                continue
            }
            if index == line { continue }
            let moved = index > line ? index - 1 : index
            result.values.append(("lines[\(moved)]" + name[close...].dropFirst(), value))
        }
        return result
    }

    @Sendable func show(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let id = try context.parameters.require("id")
        let agreementId = try context.parameters.require("agreement")
        guard let agreement = try await console.authority.store.agreement(agreementId), agreement.organizationId == id else {
            throw APIError(.notFound, code: "UNKNOWN_AGREEMENT", message: "There is no agreement \(agreementId) of \(id).")
        }
        let now = console.authority.now()
        var keys: [[String: Any]] = []
        for serial in agreement.serials {
            if let key = try await console.authority.store.key(serial) {
                keys.append(ConsoleValues.key(key, catalog: console.authority.catalog, now: now))
            }
        }
        var values = console.layout(session, request: request, nav: "organizations")
        values["organizationId"] = id
        values["agreementId"] = agreement.id
        values["reference"] = agreement.reference
        values["created"] = WebFormatting.time(agreement.createdAt)
        if let signed = agreement.signedOn { values["signedOn"] = WebFormatting.day(signed) }
        values["keys"] = keys
        return console.page("agreement", values)
    }
}
