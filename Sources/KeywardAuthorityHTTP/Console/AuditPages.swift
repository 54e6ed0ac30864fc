import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardWeb

/// `/audit`: the audit log, newest first, filtered by organization, operator, action and period; `/audit.csv`: the
/// same filters as a CSV file.
struct AuditPages: Sendable {
    let console: AuthorityConsole

    static let pageSize = 100
    /// The most rows one CSV export holds.
    static let exportLimit = 100_000

    var endpoints: RouteCollection<AuthorityRequestContext> {
        let routes = RouteCollection(context: AuthorityRequestContext.self)
        routes.group().add(middleware: ConsoleAuthorization(console: console))
            .get("", use: list)
            .get("export.csv", use: export)
        return routes
    }

    /// The filters of the request, as a query and as the form shows them again; a filter that cannot be read is
    /// named in `problems`.
    func filters(_ request: Request) async throws -> (query: AuditQuery, organization: String?, typed: [String: String], problems: [String: String]) {
        let parameters = request.uri.queryParameters
        var typed: [String: String] = [:]
        for name in ["organization", "operator", "action", "from", "until"] {
            typed[name] = String((parameters.get(name) ?? "").prefix(200)).trimmingCharacters(in: .whitespaces)
        }
        var query = AuditQuery(limit: Self.pageSize)
        var problems: [String: String] = [:]
        if let login = typed["operator"], !login.isEmpty { query.actor = "operator:\(login)" }
        if let action = typed["action"], !action.isEmpty { query.action = action }
        for name in ["from", "until"] {
            guard let text = typed[name], !text.isEmpty else { continue }
            guard let day = Timestamp.parseDayOrTimestamp(text) else {
                problems[name] = "Type a date as YYYY-MM-DD, e.g. 2026-12-01."
                continue
            }
            // "until 2026-12-31" includes that whole day.
            if name == "from" { query.from = day } else { query.until = text.count == 10 ? day.addingTimeInterval(86400) : day }
        }
        var organization: String?
        if let id = typed["organization"], !id.isEmpty {
            organization = try await console.authority.store.organization(id)?.id
            if organization == nil { problems["organization"] = "There is no organization \(id): type its id, e.g. acme." }
        }
        if let before = parameters.get("before").flatMap({ Int64($0) }) { query.beforeID = before }
        return (query, organization, typed, problems)
    }

    /// The events of `query`, about `organization` when one is given.
    func events(_ query: AuditQuery, organization: String?) async throws -> [AuditEvent] {
        if let organization { return try await console.authority.store.auditEvents(ofOrganization: organization, query) }
        return try await AuditLog(database: console.authority.store.database).list(query)
    }

    @Sendable func list(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let (query, organization, typed, problems) = try await filters(request)
        let events = problems.isEmpty ? try await events(query, organization: organization) : []
        var values = console.layout(session, request: request, nav: "audit")
        values["filters"] = typed
        values["errors"] = problems
        values["events"] = events.map { event in
            [
                "id": event.id, "occurredAt": WebFormatting.time(event.occurredAt), "actor": event.actor, "action": event.action,
                "target": event.target, "details": Self.detailsText(event.details),
            ] as [String: Any]
        }
        values["hasEvents"] = !events.isEmpty
        values["actions"] = Self.actions.map { ["name": $0, "selected": typed["action"] == $0] as [String: Any] }
        let filterQuery = typed.filter { !$0.value.isEmpty }.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        values["exportLink"] = "/audit/export.csv" + (filterQuery.isEmpty ? "" : "?" + filterQuery)
        if events.count == Self.pageSize, let last = events.last {
            values["older"] = "/audit?" + (filterQuery.isEmpty ? "" : filterQuery + "&") + "before=\(last.id)"
        }
        return console.page("audit", values)
    }

    /// The events of the filters as CSV (newest first, at most `exportLimit`), one line per event.
    @Sendable func export(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        var (query, organization, _, problems) = try await filters(request)
        guard problems.isEmpty else {
            throw APIError(.unprocessableContent, code: "INVALID_FILTER", message: problems.values.sorted().joined(separator: " "))
        }
        var lines = ["id,occurred_at,actor,action,target,details"]
        query.limit = AuditQuery.maximumLimit
        while lines.count <= Self.exportLimit {
            let page = try await events(query, organization: organization)
            for event in page {
                lines.append(
                    [String(event.id), Timestamp.format(event.occurredAt), event.actor, event.action, event.target, Self.detailsText(event.details)]
                        .map(Self.csvField).joined(separator: ","))
            }
            guard page.count == query.limit, let last = page.last else { break }
            query.beforeID = last.id
        }
        let day = String(Timestamp.format(console.authority.now()).prefix(10))
        return WebPages.download(lines.joined(separator: "\r\n") + "\r\n", name: "keyward-audit-\(day).csv", contentType: "text/csv; charset=utf-8")
    }

    /// A CSV field: quoted when it holds a comma, a quote or a line break; a leading `=`, `+`, `-` or `@` is prefixed
    /// with `'`, so a spreadsheet shows it instead of running it as a formula.
    static func csvField(_ text: String) -> String {
        var value = text
        if let first = value.first, "=+-@\t\r".contains(first) { value = "'" + value }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func detailsText(_ details: [String: JSONValue]) -> String {
        guard !details.isEmpty else { return "" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(details), as: UTF8.self)) ?? ""
    }

    /// The actions the authority writes, for the filter's list.
    static let actions = [
        "agreement.created", "installation.activated", "installation.promoted", "license-key.issued", "license-key.renewed",
        "license-key.revoked", "license-key.switched", "operator.created", "operator.disabled", "operator.enabled", "operator.refused",
        "operator.signed-in", "organization.created", "organization.updated", "sign-in.oidc", "sign-in.refused", "signing-key.retired",
        "signing-key.rotated", "token.created", "token.revoked",
    ]
}
