import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardWeb

/// `/keys/{serial}`: a key's summary and components, its access key to copy or download (what the clerk sends to an
/// on-premise customer), and Renew, Switch and Revoke, each confirmed and audited.
struct KeyPages: Sendable {
    let console: AuthorityConsole

    var endpoints: RouteCollection<AuthorityRequestContext> {
        let routes = RouteCollection(context: AuthorityRequestContext.self)
        routes.group().add(middleware: ConsoleAuthorization(console: console))
            .get(":serial", use: show)
            .get(":serial/access-key.txt", use: download)
            .post(":serial/renew", use: renew)
            .post(":serial/revoke", use: revoke)
            .post(":serial/switch", use: switchKey)
        return routes
    }

    func requireKey(_ serial: String) async throws -> IssuedKeyRecord {
        guard let key = try await console.authority.store.key(serial) else {
            throw APIError(
                .notFound, code: "UNKNOWN_KEY", message: "There is no key \(serial). Check the serial, or find the key on its organization's page.")
        }
        return key
    }

    @Sendable func show(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        try await keyPage(request, session: try context.authorizedSession, serial: try context.parameters.require("serial"))
    }

    /// The key's page; a refused form shows its problems beside its fields, with what was typed (`form` names which).
    func keyPage(
        _ request: Request, session: ConsoleSession, serial: String, form: String? = nil, typed: FormFields? = nil, errors: [String: String] = [:]
    ) async throws -> Response {
        let key = try await requireKey(serial)
        let now = console.authority.now()
        var values = console.layout(session, request: request, nav: "organizations").merging(
            ConsoleValues.key(key, catalog: console.authority.catalog, now: now)
        ) { _, key in key }
        values["accessKey"] = key.accessKey
        values["errors"] = form == "switch" ? [:] : errors
        if form == "renew" { values["typedExpiry"] = typed?["expiresAt"] ?? "" }
        if form == "revoke" { values["typedReason"] = typed?["reason"] ?? "" }
        // The switch form starts from the key as it is; after a refusal, from what was typed.
        var switchValues: [String: Any]
        if form == "switch", let typed {
            switchValues = ConsoleValues.typed(typed, prefix: "")
            switchValues["componentChoices"] = ConsoleValues.components(console.authority.catalog, chosen: Set(typed.all("components")))
            switchValues["errors"] = errors
        } else {
            let license = key.license
            switchValues = [
                "users": "\(license.users)", "suiteVersion": license.suiteVersion, "validFrom": Self.day(license.validFrom),
                "expiresAt": license.expiresAt.map(Self.day) ?? "", "profile_\(license.profile.rawValue)": true,
                "useType_\(license.useType.rawValue)": true, "purchaseType_\(license.purchaseType.rawValue)": true,
            ]
            switchValues["componentChoices"] = ConsoleValues.components(console.authority.catalog, chosen: Set(license.components))
        }
        values["switch"] = switchValues
        values["openSwitch"] = form == "switch"
        return console.page("key", values)
    }

    /// `2027-12-31`, as a date field shows it.
    static func day(_ date: Date) -> String { String(Timestamp.format(date).prefix(10)) }

    /// The access key as a text file, named by its serial.
    @Sendable func download(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let key = try await requireKey(try context.parameters.require("serial"))
        return WebPages.download(key.accessKey + "\n", name: "\(key.serial).txt")
    }

    /// Whether the form's confirmation box is ticked; else the problem shown beside it.
    static func confirmed(_ fields: FormFields, _ what: String) -> [String: String] {
        fields["confirm"] == "yes"
            ? [:] : ["confirm" + what.prefix(1).uppercased() + what.dropFirst(): "Tick the box to confirm that you mean to \(what) this key."]
    }

    @Sendable func renew(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let serial = try context.parameters.require("serial")
        let fields = try await console.form(request, context: context, session: session)
        var errors = Self.confirmed(fields, "renew")
        let expiry = Timestamp.parseDayOrTimestamp((fields["expiresAt"] ?? "").trimmingCharacters(in: .whitespaces))
        if expiry == nil { errors["expiresAt"] = "Type the new expiry as YYYY-MM-DD, e.g. 2027-12-31." }
        guard errors.isEmpty, let expiry else {
            return try await keyPage(request, session: session, serial: serial, form: "renew", typed: fields, errors: errors)
        }
        do {
            let renewed = try await console.authority.renew(serial, expiresAt: expiry, actor: session.account.actor)
            return WebPages.redirect("/keys/\(renewed.serial)?flash=renewed")
        } catch AuthorityError.invalid(let problems) {
            return try await keyPage(request, session: session, serial: serial, form: "renew", typed: fields, errors: ConsoleValues.errors(problems))
        }
    }

    @Sendable func revoke(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let serial = try context.parameters.require("serial")
        let fields = try await console.form(request, context: context, session: session)
        let errors = Self.confirmed(fields, "revoke")
        guard errors.isEmpty else {
            return try await keyPage(request, session: session, serial: serial, form: "revoke", typed: fields, errors: errors)
        }
        do {
            _ = try await console.authority.revoke(serial, reason: fields["reason"] ?? "", actor: session.account.actor)
            return WebPages.redirect("/keys/\(serial)?flash=revoked")
        } catch AuthorityError.invalid(let problems) {
            return try await keyPage(request, session: session, serial: serial, form: "revoke", typed: fields, errors: ConsoleValues.errors(problems))
        }
    }

    @Sendable func switchKey(_ request: Request, context: AuthorityRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let serial = try context.parameters.require("serial")
        let fields = try await console.form(request, context: context, session: session)
        let (specification, problems) = ConsoleValues.specification(fields, prefix: "")
        var errors = ConsoleValues.errors(problems).merging(Self.confirmed(fields, "switch")) { first, _ in first }
        guard errors.isEmpty, let specification else {
            return try await keyPage(request, session: session, serial: serial, form: "switch", typed: fields, errors: errors)
        }
        do {
            let switched = try await console.authority.switchKey(serial, to: specification, actor: session.account.actor)
            return WebPages.redirect("/keys/\(switched.issued.serial)?flash=switched")
        } catch AuthorityError.invalid(let problems) {
            errors = ConsoleValues.errors(problems)
            return try await keyPage(request, session: session, serial: serial, form: "switch", typed: fields, errors: errors)
        }
    }
}
