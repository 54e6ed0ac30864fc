import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore

/// `/api/v1/license-keys/synchronizations`: the "Synchronize access keys" and "History" buttons.
struct SynchronizationController: Sendable {
    let registry: Registry
    let synchronizer: Synchronizer
    let scheduler: SyncScheduler?

    struct ScheduleResponse: ResponseCodable {
        let enabled: Bool
        let dailyAt: String?
        let maximumJitterMinutes: Int?
        let nextRunAt: Date?
        let retriesSpent: Int
    }

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group(authorizedBy: RegistryRole.administrator(registry.access))
            .post(use: synchronize)
            .get("schedule", use: schedule)
            .get(use: history)
        return routes
    }

    /// Runs a synchronization now.
    @Sendable func synchronize(_ request: Request, context: RegistryRequestContext) async throws -> EditedResponse<SynchronizationRunResponse> {
        EditedResponse(status: .created, response: SynchronizationRunResponse(try await synchronizer.run(trigger: .manual, actor: context.actor)))
    }

    /// The daily synchronization's time and next run.
    @Sendable func schedule(_ request: Request, context: RegistryRequestContext) async throws -> ScheduleResponse {
        guard let scheduler, registry.authority != nil else {
            return ScheduleResponse(enabled: false, dailyAt: nil, maximumJitterMinutes: nil, nextRunAt: nil, retriesSpent: 0)
        }
        let next = scheduler.nextRun
        return ScheduleResponse(
            enabled: true, dailyAt: scheduler.schedule.dailyTime + " UTC", maximumJitterMinutes: Int(scheduler.schedule.maximumJitter / 60),
            nextRunAt: next.at, retriesSpent: next.retriesSpent)
    }

    /// Past synchronizations, newest first.
    @Sendable func history(_ request: Request, context: RegistryRequestContext) async throws -> ItemsResponse<SynchronizationRunResponse> {
        let trigger = try Self.trigger(request, absent: "manual")
        let audit = try AuditQuery.from(request)  // the same paging parameters: before and limit
        let runs = try await registry.store.synchronizations(trigger: trigger, beforeID: audit.beforeID, limit: audit.limit)
        return ItemsResponse(items: runs.map(SynchronizationRunResponse.init))
    }
}

extension SynchronizationController {
    /// The `trigger` a history asks for (`manual`, `scheduled`, or `all` for `nil`); `absent` when none is given.
    static func trigger(_ request: Request, absent: String) throws -> SynchronizationRun.Trigger? {
        switch request.uri.queryParameters.get("trigger") ?? absent {
        case "manual": return .manual
        case "scheduled": return .scheduled
        case "all": return nil
        default:
            throw APIError.invalidField(FieldError(field: "trigger", code: "INVALID_TRIGGER", message: "trigger must be manual, scheduled or all."))
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
