import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardWeb

/// The License key pages: list, synchronization and history, create, data, edit and delete.
extension WebUI {
    /// `covered`: the serials the activation in force covers, made into a set once per page (a list may hold 100,000 keys).
    func keyValues(_ key: RegisteredKey, covered: Set<String>) -> [String: Any] {
        let isCovered = covered.contains(key.serial)
        let now = registry.now()
        let status = key.status(at: now)
        let days = key.license.expiresInDays(at: now)
        var warning: String?
        var warningLevel = "notice"
        if status == .valid, let days {
            // Warnings from 30 days, stronger from 7 and from 1.
            warning = days < 1 ? "expires today" : days == 1 ? "expires tomorrow" : days <= 30 ? "\(days) days left" : nil
            warningLevel = days <= 1 ? "urgent" : days <= 7 ? "soon" : "notice"
        }
        let statusClass =
            switch status {
            case .valid: "valid"
            case .expired: "expired"
            case .revoked: "revoked"
            case .notYetValid: "notyet"
            default: "expired"
            }
        let expires = key.license.expiresAt.map { Timestamp.format($0) } ?? "never"
        var values: [String: Any] = [
            "serial": key.serial, "idNumber": key.idNumber, "profile": key.license.profile.rawValue, "useType": key.license.useType.rawValue,
            "users": key.license.users, "purchaseType": key.license.purchaseType.rawValue, "suiteVersion": key.license.suiteVersion,
            "validFrom": Timestamp.format(key.license.validFrom), "expires": expires,
            "validity":
                "\(Timestamp.format(key.license.validFrom).prefix(10)) – \(key.license.expiresAt.map { String(Timestamp.format($0).prefix(10)) } ?? "no expiry")",
            "validFromTime": WebFormatting.day(key.license.validFrom), "showSerial": key.idNumber != key.serial,
            "validFromAt": WebFormatting.time(key.license.validFrom), "registeredTime": WebFormatting.time(key.registeredAt),
            "statusText": status.rawValue, "statusClass": statusClass, "source": key.source.rawValue,
            "activated": isCovered,
            "organization": "\(key.license.organization.legalName) (\(key.license.organization.id))",
            "registeredAt": Timestamp.format(key.registeredAt), "registeredBy": key.registeredBy,
        ]
        // What the key does for the installation now, in words: only a valid key waits for an activation.
        switch status {
        case .revoked:
            values["grantsNothing"] = "Grants nothing: the vendor revoked this key. Migrate its accesses to another key, then delete it."
        case .expired:
            values["grantsNothing"] =
                "Grants nothing: the key expired on \(expires.prefix(10)). Synchronize or paste its renewal, or migrate its accesses."
        case .notYetValid:
            values["grantsNothing"] = "Grants nothing before \(Timestamp.format(key.license.validFrom).prefix(10)), when it becomes valid."
        default:
            values["awaitsActivation"] = !isCovered
        }
        // Absent values stay out of the dictionary: Mustache would print an Optional's "nil".
        if let warning { values["warning"] = ["text": warning, "level": warningLevel] }
        if let reason = key.revocationReason { values["revocationReason"] = reason }
        if let expiresAt = key.license.expiresAt {
            values["expiresTime"] = WebFormatting.day(expiresAt)
            values["expiresAt"] = WebFormatting.time(expiresAt)
        }
        return values
    }

    /// The Edit and Delete pages of a key: its serial and ID #, and a refusal to show.
    func keyFormPage(_ template: String, _ session: WebSessions.Session, _ request: Request, _ key: RegisteredKey, error: String? = nil) async throws
        -> Response
    {
        var values = try await layout(session, request: request, nav: "keys")
        values["serial"] = key.serial
        values["idNumber"] = key.idNumber
        if let error { values["formError"] = error }
        return page(template, values)
    }

    func existingKey(_ context: RegistryRequestContext) async throws -> RegisteredKey {
        let serial = try context.parameters.require("serial")
        guard let key = try await registry.store.key(serial) else {
            throw APIError(.notFound, code: "UNKNOWN_KEY", message: "There is no registered key \(serial).")
        }
        return key
    }

    func editPage(_ session: WebSessions.Session, _ request: Request, _ key: RegisteredKey, _ idNumber: String, _ error: String) async throws
        -> Response
    {
        var values = try await layout(session, request: request, nav: "keys")
        values["serial"] = key.serial
        values["idNumber"] = idNumber
        values["idNumberError"] = error
        return page("key-edit", values)
    }
}

/// The License key pages, mounted at `/license-keys`.
struct LicenseKeyPagesController: Sendable {
    let web: WebUI

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group().add(middleware: WebAuthorization(web: web, menu: ConfigurationMenu.licenseKey))
            .get(use: keyList)
            .post("synchronize", use: synchronize)
            .get("synchronizations", use: synchronizationHistory)
            .get("new", use: newKey)
            .post(use: registerKey)
            .get(":serial", use: keyPage)
            .get(":serial/edit", use: editKey)
            .post(":serial/edit", use: renameKey)
            .get(":serial/delete", use: confirmKeyDeletion)
            .post(":serial/delete", use: deleteKey)
        return routes
    }

    /// The registered keys.
    @Sendable func keyList(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let activation = try await web.registry.store.activation()
        let keys = try await web.registry.store.keys()
        var values = try await web.layout(session, request: request, nav: "keys")
        let covered = Set(activation?.certificate.serials ?? [])
        values["keys"] = keys.map { web.keyValues($0, covered: covered) }
        values["hasKeys"] = !keys.isEmpty
        values["installation"] =
            "\(web.registry.installation.organization.legalName) · installation \(web.registry.installation.installationId) · \(web.registry.installation.environment.rawValue)"
        if let next = web.scheduler?.nextRun.at { values["nextSynchronization"] = WebFormatting.time(next) }
        return web.page("keys", values)
    }

    /// Runs a synchronization and shows its outcome.
    @Sendable func synchronize(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        _ = try await web.form(request, context: context, session: session)
        do {
            let run = try await web.synchronizer.run(trigger: .manual, actor: "user:\(session.user.login)")
            return WebUI.redirect("/license-keys?synchronization=\(run.id)")
        } catch RegistryError.noAuthority {
            return WebUI.redirect("/license-keys?flash=no-authority")
        } catch RegistryError.syncInProgress {
            return WebUI.redirect("/license-keys?flash=sync-in-progress")
        }
    }

    /// Past synchronizations.
    @Sendable func synchronizationHistory(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let all = request.uri.queryParameters.get("trigger") == "all"
        var values = try await web.layout(session, request: request, nav: "keys")
        let runs = try await web.registry.store.synchronizations(trigger: all ? nil : .manual, limit: 100)
        values["all"] = all
        values["hasRuns"] = !runs.isEmpty
        values["runs"] = runs.map { run -> [String: Any] in
            var row: [String: Any] = [
                "id": run.id, "trigger": run.trigger.rawValue, "actor": run.actor, "startedAt": WebFormatting.time(run.startedAt),
                "outcome": run.outcome?.rawValue ?? "running", "summary": run.summary,
                "counts": "+\(run.added) / ↻\(run.renewed) / −\(run.revoked) / =\(run.unchanged)",
            ]
            if let revision = run.revision { row["revision"] = revision }
            if let finished = run.finishedAt { row["finishedAt"] = WebFormatting.time(finished) }
            return row
        }
        values["authorityConfigured"] = web.registry.authority != nil
        return web.page("history", values)
    }

    /// The form to paste an access key.
    @Sendable func newKey(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        return web.page("key-new", try await web.layout(session, request: request, nav: "keys"))
    }

    /// Registers a pasted key, or shows the form again with the refusal.
    @Sendable func registerKey(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await web.uncheckedForm(request, context: context)
        guard WebUI.hasValidToken(fields, session: session) else {
            // A stale form (the session was renewed, the page was open for hours) keeps the pasted key: the page
            // comes back with a fresh token, nothing written, and says to submit it again.
            var values = try await web.layout(session, request: request, nav: "keys")
            values["idNumber"] = fields["idNumber"] ?? ""
            values["accessKey"] = fields["accessKey"] ?? ""
            values["formError"] =
                "\(WebUI.csrfRefusal.code): this form had expired or did not come from this page, so nothing was saved. "
                + "What you typed is kept below: check it and press Save again."
            return web.page("key-new", values, status: .forbidden)
        }
        do {
            try await web.registry.register(
                idNumber: fields["idNumber"] ?? "", accessKey: fields["accessKey"] ?? "", actor: "user:\(session.user.login)")
            return WebUI.redirect("/license-keys?flash=registered")
        } catch let error as RegistryError {
            var values = try await web.layout(session, request: request, nav: "keys")
            values["idNumber"] = fields["idNumber"] ?? ""
            values["accessKey"] = fields["accessKey"] ?? ""
            if case .invalid = error {
                values["idNumberError"] = error.message
            } else {
                values["accessKeyError"] = error.message
                values["accessKeyCode"] = error.code
            }
            return web.page("key-new", values)
        } catch let error as StoreError where error.code.hasPrefix("DUPLICATE") {
            var values = try await web.layout(session, request: request, nav: "keys")
            values["idNumber"] = fields["idNumber"] ?? ""
            values["accessKey"] = fields["accessKey"] ?? ""
            if error.code == "DUPLICATE_ID_NUMBER" {
                values["idNumberError"] = error.message
            } else {
                values["accessKeyError"] = error.message
                values["accessKeyCode"] = error.code
            }
            return web.page("key-new", values)
        }
    }

    /// A key's data screen.
    @Sendable func keyPage(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let key = try await web.existingKey(context)
        var values = try await web.layout(session, request: request, nav: "keys")
        values.merge(web.keyValues(key, covered: Set(try await web.registry.store.activation()?.certificate.serials ?? []))) { $1 }
        values["components"] = web.registry.components(of: key).map { ["code": $0.code, "name": $0.name, "menuCount": $0.menus.count] }
        return web.page("key", values)
    }

    /// The form to change a key's ID #.
    @Sendable func editKey(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        return try await web.keyFormPage("key-edit", try context.authorizedSession, request, try await web.existingKey(context))
    }

    /// Changes a key's ID #.
    @Sendable func renameKey(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        let fields = try await web.form(request, context: context, session: session)
        let key = try await web.existingKey(context)
        do {
            _ = try await web.registry.rename(key.serial, to: fields["idNumber"] ?? "", actor: "user:\(session.user.login)")
            return WebUI.redirect("/license-keys/\(key.serial)?flash=renamed")
        } catch let error as RegistryError {
            return try await web.editPage(session, request, key, fields["idNumber"] ?? "", error.message)
        } catch let error as StoreError where error.code == "DUPLICATE_ID_NUMBER" {
            return try await web.editPage(session, request, key, fields["idNumber"] ?? "", error.message)
        }
    }

    /// Asks before deleting a key.
    @Sendable func confirmKeyDeletion(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        return try await web.keyFormPage("key-delete", try context.authorizedSession, request, try await web.existingKey(context))
    }

    /// Deletes a key no group uses.
    @Sendable func deleteKey(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let session = try context.authorizedSession
        _ = try await web.form(request, context: context, session: session)
        let key = try await web.existingKey(context)
        do {
            _ = try await web.registry.remove(key.serial, actor: "user:\(session.user.login)")
        } catch let error as StoreError where error.code == "KEY_IN_USE" {
            return try await web.keyFormPage("key-delete", session, request, key, error: error.message)
        }
        return WebUI.redirect("/license-keys?flash=deleted")
    }
}
