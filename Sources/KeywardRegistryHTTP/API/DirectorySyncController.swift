import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore

/// The LDAP settings as the API shows them: never the password.
struct DirectorySettingsResponse: ResponseCodable {
    let configured: Bool
    let settings: LDAPSettingsForm?
    let passwordSaved: Bool
    let source: AuthorityConnection.Source
    let editable: Bool
    let dailyAt: String?
    let nextRunAt: Date?

    init(_ view: LDAPSettingsView, scheduler: SyncScheduler?) {
        configured = view.settings != nil && view.passwordSaved
        settings = view.settings.map(LDAPSettingsForm.init)
        passwordSaved = view.passwordSaved
        source = view.source
        editable = view.editable
        dailyAt = configured ? scheduler.map { $0.schedule.dailyTime + " UTC" } : nil
        nextRunAt = configured ? scheduler?.nextRun.at : nil
    }
}

struct LDAPTestResponse: ResponseCodable {
    let ok: Bool
    let code: String
    let message: String
    let users: Int?
    let groups: Int?

    init(_ result: LDAPTestResult) {
        ok = result.ok
        code = result.code
        message = result.message
        users = result.users
        groups = result.groups
    }
}

/// One LDAP synchronization, with its counts and its outcome in words.
struct DirectorySyncRunResponse: ResponseCodable {
    let id: Int64
    let trigger: SynchronizationRun.Trigger
    let actor: String
    let startedAt: Date
    let finishedAt: Date?
    let outcome: SynchronizationRun.Outcome?
    let counts: DirectorySyncCounts
    let errorCode: String?
    let errorMessage: String?
    let summary: String

    init(_ run: DirectorySyncRun) {
        id = run.id
        trigger = run.trigger
        actor = run.actor
        startedAt = run.startedAt
        finishedAt = run.finishedAt
        outcome = run.outcome
        counts = run.counts
        errorCode = run.errorCode
        errorMessage = run.errorMessage
        summary = run.summary
    }
}

extension LDAPSettingsForm: ResponseCodable {}

/// `/api/v1/settings/directory` (the LDAP server and "Test connection") and `/api/v1/directory/synchronizations` (the
/// "Synchronize now" button and the history).
struct DirectorySyncController: Sendable {
    let registry: Registry
    let synchronizer: LDAPSynchronizer
    let scheduler: SyncScheduler?

    func add(to router: Router<RegistryRequestContext>) {
        router.group("/api/v1/settings/directory", authorizedBy: RegistryRole.administrator(registry.access))
            .get(use: show)
            .put(use: save)
            .post("test", use: test)
        router.group("/api/v1/directory/synchronizations", authorizedBy: RegistryRole.administrator(registry.access))
            .post(use: synchronize)
            .get(use: history)
    }

    @Sendable func show(_ request: Request, context: RegistryRequestContext) async throws -> DirectorySettingsResponse {
        DirectorySettingsResponse(registry.ldapSettings(), scheduler: scheduler)
    }

    /// Saves the settings (a blank URL removes them); a blank or absent password keeps the saved one.
    @Sendable func save(_ request: Request, context: RegistryRequestContext) async throws -> DirectorySettingsResponse {
        let form = try await request.decodeJSON(as: LDAPSettingsForm.self, context: context)
        return DirectorySettingsResponse(try await registry.saveLDAPSettings(form, actor: context.actor), scheduler: scheduler)
    }

    /// Binds and counts with the typed settings, or the saved ones without a body.
    @Sendable func test(_ request: Request, context: RegistryRequestContext) async throws -> LDAPTestResponse {
        let form = try await request.decodeJSONIfPresent(as: LDAPSettingsForm.self, context: context)
        return LDAPTestResponse(try await registry.testLDAP(form))
    }

    /// Synchronizes now and answers with the run (a failed one too: its reason is in it).
    @Sendable func synchronize(_ request: Request, context: RegistryRequestContext) async throws -> EditedResponse<DirectorySyncRunResponse> {
        EditedResponse(status: .created, response: DirectorySyncRunResponse(try await synchronizer.run(trigger: .manual, actor: context.actor)))
    }

    /// Past synchronizations, newest first.
    @Sendable func history(_ request: Request, context: RegistryRequestContext) async throws -> ItemsResponse<DirectorySyncRunResponse> {
        let trigger = try SynchronizationController.trigger(request, absent: "all")
        let page = try AuditQuery.from(request)  // the same paging parameters: before and limit
        let runs = try await registry.store.directorySyncs(trigger: trigger, beforeID: page.beforeID, limit: page.limit)
        return ItemsResponse(items: runs.map(DirectorySyncRunResponse.init))
    }
}

extension DirectorySyncRun {
    /// The outcome in words: "12 users added, 2 disabled; 1 group added; 40 memberships added".
    public var summary: String {
        switch outcome {
        case .failed: return "Directory synchronization failed: \(errorMessage ?? errorCode ?? "unknown error") Nothing was changed."
        case nil: return "Directory synchronization is still running."
        case .unchanged, .succeeded:
            func count(_ number: Int, _ one: String, _ many: String) -> String? {
                number == 0 ? nil : "\(number) \(number == 1 ? one : many)"
            }
            /// "3 users added, 1 updated": the noun goes with the first figure that is not zero.
            func phrase(_ one: String, _ many: String, _ figures: [(Int, String)]) -> String? {
                let shown = figures.filter { $0.0 > 0 }
                guard let first = shown.first else { return nil }
                return (["\(first.0) \(first.0 == 1 ? one : many) \(first.1)"] + shown.dropFirst().map { "\($0.0) \($0.1)" })
                    .joined(separator: ", ")
            }
            let c = counts
            var parts = [
                phrase("user", "users", [(c.usersAdded, "added"), (c.usersUpdated, "updated"), (c.usersDisabled, "disabled")]),
                phrase("group", "groups", [(c.groupsAdded, "added"), (c.groupsUpdated, "updated"), (c.groupsRemoved, "removed")]),
                phrase("membership", "memberships", [(c.membershipsAdded, "added"), (c.membershipsRemoved, "removed")]),
            ].compactMap { $0 }
            if parts.isEmpty { parts.append("No change: the registry matches the directory (\(c.usersUnchanged) users)") }
            if let held = count(c.held, "removal held", "removals held") {
                parts.append("\(held) for an administrator to confirm (see the dashboard)")
            }
            if let errors = count(c.assignmentErrors, "user", "users") { parts.append("\(errors) without a seat (assignment errors)") }
            if let skipped = count(c.usersSkipped, "entry skipped", "entries skipped") {
                parts.append("\(skipped): \(c.skipped.prefix(3).joined(separator: " "))")
            }
            return parts.joined(separator: "; ") + "."
        }
    }
}
