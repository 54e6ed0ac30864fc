import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardWeb

/// Settings > Directory: the LDAP server the registry takes users and groups from, "Test connection", "Synchronize
/// now", and the history of its synchronizations.
extension WebUI {
    /// The fields of the form, in the order shown: name, label, placeholder, help.
    static let ldapFields: [(name: String, label: String, placeholder: String, help: String)] = [
        ("url", "Server URL", "ldaps://ldap.example.com:636", "ldaps:// (TLS from the start), or ldap:// with StartTLS below."),
        (
            "caFile", "CA file", "/etc/ssl/certs/directory-ca.pem",
            "A PEM file on this server of the CA that signs the directory's certificate; blank trusts the system's CAs."
        ),
        ("bindDN", "Bind DN", "cn=keyward,ou=services,dc=example,dc=com", "The account the registry reads the directory as: read access is enough."),
        ("baseDN", "Base DN", "dc=example,dc=com", "Where users and groups are searched, with everything under it."),
        (
            "userFilter", "User filter", LDAPSyncSettings.defaults.userFilter,
            "Which entries are users. Active Directory: (&(objectClass=user)(objectCategory=person))."
        ),
        ("groupFilter", "Group filter", LDAPSyncSettings.defaults.groupFilter, "Which entries are groups. Active Directory: (objectClass=group)."),
        (
            "loginAttribute", "Login attribute", LDAPSyncSettings.defaults.loginAttribute,
            "The user's login in the suite. Active Directory: sAMAccountName."
        ),
        ("nameAttribute", "Name attribute", LDAPSyncSettings.defaults.nameAttribute, "The user's full name. Active Directory: displayName."),
        ("emailAttribute", "E-mail attribute", LDAPSyncSettings.defaults.emailAttribute, ""),
        (
            "externalIdAttribute", "External id attribute", LDAPSyncSettings.defaults.externalIdAttribute,
            "Stays the same when a user is renamed or moved. Active Directory: objectGUID."
        ),
        (
            "memberAttribute", "Member attribute", LDAPSyncSettings.defaults.memberAttribute,
            "On a group: its members' DNs (member, uniqueMember) or logins (memberUid)."
        ),
        ("groupNameAttribute", "Group name attribute", LDAPSyncSettings.defaults.groupNameAttribute, ""),
    ]

    /// The page, with what was typed kept (never the password).
    func directoryPage(
        _ session: WebSessions.Session, _ request: Request, typed: FormFields? = nil, errors: [String: String] = [:], test: LDAPTestResult? = nil,
        run: DirectorySyncRun? = nil
    ) async throws -> Response {
        let view = registry.ldapSettings()
        var values = try await layout(session, request: request, nav: "settings")
        let saved = view.settings.map(LDAPSettingsForm.init)
        let savedValues: [String: String?] = [
            "url": saved?.url, "caFile": saved?.caFile, "bindDN": saved?.bindDN, "baseDN": saved?.baseDN, "userFilter": saved?.userFilter,
            "groupFilter": saved?.groupFilter, "loginAttribute": saved?.loginAttribute, "nameAttribute": saved?.nameAttribute,
            "emailAttribute": saved?.emailAttribute, "externalIdAttribute": saved?.externalIdAttribute,
            "memberAttribute": saved?.memberAttribute, "groupNameAttribute": saved?.groupNameAttribute,
        ]
        let rows = Self.ldapFields.map { field -> [String: Any] in
            var row: [String: Any] = ["name": field.name, "label": field.label, "placeholder": field.placeholder]
            if !field.help.isEmpty { row["help"] = field.help }
            if let value = typed?[field.name] ?? savedValues[field.name] ?? nil { row["value"] = value }
            if let error = errors[field.name] { row["error"] = error }
            return row
        }
        // In the order an administrator reads them off the directory: the server, the account, then what to read.
        values["serverFields"] = Array(rows[0..<1])
        values["accountFields"] = Array(rows[1..<3])
        values["baseFields"] = Array(rows[3..<4])
        values["mappingFields"] = Array(rows[4...])
        values["mappingOpen"] = Self.ldapFields[4...].contains { errors[$0.name] != nil }
        values["startTLS"] = typed.map { $0["startTLS"] == "on" } ?? view.settings?.startTLS ?? false
        values["locked"] = !view.editable
        values["configured"] = view.settings != nil && view.passwordSaved
        values["passwordSaved"] = view.passwordSaved
        // Typed again after a test or a refusal, as the authority's token is: a test is usually followed by Save.
        if let password = typed?["password"], !password.isEmpty, view.editable { values["password"] = password }
        if let error = errors["password"] ?? errors["startTLS"] { values["passwordError"] = error }
        if let saved { values["summary"] = ["url": saved.url ?? "", "bindDN": saved.bindDN ?? "", "baseDN": saved.baseDN ?? ""] }
        if let test {
            values["test"] = ["kind": test.ok ? "ok" : "error", "code": test.code, "message": test.message]
        }
        if let run {
            values["flash"] = ["kind": run.outcome == .failed ? "error" : run.counts.held > 0 ? "warning" : "ok", "text": run.summary]
        }
        if let ldapScheduler, view.settings != nil {
            var schedule: [String: Any] = [
                "dailyAt": ldapScheduler.schedule.dailyTime + " UTC", "jitter": Int(ldapScheduler.schedule.maximumJitter / 60),
            ]
            if let next = ldapScheduler.nextRun.at { schedule["nextAt"] = WebFormatting.time(next) }
            values["schedule"] = schedule
        }
        let runs = try await registry.store.directorySyncs(limit: 20)
        values["hasRuns"] = !runs.isEmpty
        values["runs"] = runs.map { run -> [String: Any] in
            [
                "startedAt": WebFormatting.time(run.startedAt), "trigger": run.trigger.rawValue, "actor": run.actor,
                "outcome": run.outcome?.rawValue ?? "running", "summary": run.summary,
            ]
        }
        return page("directory", values)
    }
}

/// Settings > Directory, mounted at `/settings/directory`.
struct DirectoryPagesController: Sendable {
    let web: WebUI

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group().add(middleware: WebAuthorization(web: web, menu: ConfigurationMenu.licenseKey))
            .get(use: show)
            .post(use: save)
            .post("synchronize", use: synchronize)
        return routes
    }

    /// The page; `?run=ID` shows that synchronization's outcome (where "Synchronize now" leads).
    @Sendable func show(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        var run: DirectorySyncRun?
        if let id = request.uri.queryParameters.get("run").flatMap(Int64.init), id > 0 {
            run = try await web.registry.store.directorySyncs(beforeID: id + 1, limit: 1).first.flatMap { $0.id == id ? $0 : nil }
        }
        return try await web.directoryPage(try context.authorizedSession, request, run: run)
    }

    /// Saves, clears or tests the settings, as the button pressed says.
    @Sendable func save(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await web.form(request, context: context, session: session)
        let form = LDAPSettingsForm(
            url: fields["url"], startTLS: fields["startTLS"] == "on", caFile: fields["caFile"], bindDN: fields["bindDN"],
            password: fields["password"], baseDN: fields["baseDN"], userFilter: fields["userFilter"], groupFilter: fields["groupFilter"],
            loginAttribute: fields["loginAttribute"], nameAttribute: fields["nameAttribute"], emailAttribute: fields["emailAttribute"],
            externalIdAttribute: fields["externalIdAttribute"], memberAttribute: fields["memberAttribute"],
            groupNameAttribute: fields["groupNameAttribute"])
        let actor = "user:\(session.user.login)"
        return try await web.settingsAction(
            fields["action"], at: "/settings/directory", saved: "directory-saved", cleared: "directory-cleared",
            test: {
                let test = try await web.registry.testLDAP(web.registry.ldapSettings().editable ? form : nil)
                return try await web.directoryPage(session, request, typed: fields, test: test)
            },
            clear: { try await web.registry.saveLDAPSettings(LDAPSettingsForm(), actor: actor) },
            save: { try await web.registry.saveLDAPSettings(form, actor: actor) },
            page: { errors, failure in
                try await web.directoryPage(
                    session, request, typed: fields, errors: errors,
                    test: failure.map { LDAPTestResult(ok: false, code: $0.code, message: $0.message, users: nil, groups: nil) })
            })
    }

    /// "Synchronize now": runs one and shows its outcome.
    @Sendable func synchronize(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        _ = try await web.form(request, context: context, session: session)
        do {
            let run = try await web.ldapSynchronizer.run(trigger: .manual, actor: "user:\(session.user.login)")
            return WebUI.redirect("/settings/directory?run=\(run.id)#sync-heading")
        } catch let error as RegistryError {
            return try await web.directoryPage(
                session, request, test: LDAPTestResult(ok: false, code: error.code, message: error.message, users: nil, groups: nil))
        }
    }
}
