import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore

extension SynchronizationRun: ResponseEncodable {}

/// `/api/v1/license-keys/synchronizations`: the "Synchronize access keys" and "History" buttons.
struct SynchronizationAPI: Sendable {
    let registry: Registry
    let synchronizer: Synchronizer
    let scheduler: SyncScheduler?

    struct ScheduleResponse: ResponseEncodable {
        let enabled: Bool
        let dailyAt: String?
        let maximumJitterMinutes: Int?
        let nextRunAt: Date?
        let retriesSpent: Int
    }

    func add(to router: Router<RegistryRequestContext>) {
        router.post("/api/v1/license-keys/synchronizations") { _, context in
            try context.requireAdministrator(registry.access)
            return EditedResponse(status: .created, response: try await synchronizer.run(trigger: .manual, actor: context.actor))
        }
        router.get("/api/v1/license-keys/synchronizations/schedule") { _, context in
            try context.requireAdministrator(registry.access)
            guard let scheduler, registry.authority != nil else { return ScheduleResponse(enabled: false, dailyAt: nil, maximumJitterMinutes: nil, nextRunAt: nil, retriesSpent: 0) }
            let next = scheduler.nextRun
            return ScheduleResponse(enabled: true, dailyAt: scheduler.schedule.dailyTime + " UTC", maximumJitterMinutes: Int(scheduler.schedule.maximumJitter / 60),
                                    nextRunAt: next.at, retriesSpent: next.retriesSpent)
        }
        router.get("/api/v1/license-keys/synchronizations") { request, context in
            try context.requireAdministrator(registry.access)
            let query = request.uri.queryParameters
            let trigger: SynchronizationRun.Trigger?
            switch query.get("trigger") ?? "manual" {
            case "manual": trigger = .manual
            case "scheduled": trigger = .scheduled
            case "all": trigger = nil
            default: throw APIError.invalidField(FieldError(field: "trigger", code: "INVALID_TRIGGER", message: "trigger must be manual, scheduled or all."))
            }
            let audit = try AuditQuery.from(request)  // the same paging parameters: before and limit
            return ItemsResponse(items: try await registry.store.synchronizations(trigger: trigger, beforeID: audit.beforeID, limit: audit.limit))
        }
    }
}

extension SynchronizationRun {
    /// The outcome in words, as the button shows it: "3 keys added, 1 renewed, 1 revoked".
    public var summary: String {
        switch outcome {
        case .failed: return "Synchronization failed: \(errorMessage ?? errorCode ?? "unknown error")"
        case .unchanged: return "No change: the keys are up to date."
        case nil: return "Synchronization is still running."
        case .succeeded:
            var parts: [String] = []
            if added > 0 { parts.append("\(added) key\(added == 1 ? "" : "s") added") }
            if renewed > 0 { parts.append("\(renewed) renewed") }
            if revoked > 0 { parts.append("\(revoked) revoked") }
            var text = parts.joined(separator: ", ")
            if let activationError { text += ". Activation is still required: \(activationError)" }
            return text
        }
    }
}
