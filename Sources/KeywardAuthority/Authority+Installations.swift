import Foundation
import KeywardDomain
import KeywardStore

/// Installations as the vendor manages them: their environments, and promotions outside an activation.
extension Authority {
    /// The result of a promotion: the changes it made and how many of the month's changes are now used.
    public struct Promotion: Sendable, Hashable {
        public let changes: [ActivationRules.Change]
        public let changesThisMonth: Int
        /// Installations the promotion moved from production to test.
        public var demoted: [String] { changes.filter { $0.to == .test }.map(\.installationId) }
    }

    /// Makes an installation its organization's production installation, for a reason kept in the environment
    /// history and the audit log; the current production installation becomes test. The rules of activation apply:
    /// one production installation an organization, at most ``ActivationRules/monthlyEnvironmentChanges`` changes a
    /// calendar month (the refusal says when the next is possible).
    public func promote(organizationId: String, installationId: String, reason: String, actor: String) async throws -> Promotion {
        let reason = try Self.requireReason(reason, purpose: "why this installation becomes production; it is kept in its environment history")
        let time = now()
        let changes = try await store.promote(installationId, organizationId: organizationId, reason: reason, actor: actor, now: time)
        return Promotion(changes: changes, changesThisMonth: try await store.environmentChangeCount(of: organizationId, now: time))
    }

    /// The environment changes an organization has made this month, and how many the rules allow.
    public func environmentChangesThisMonth(of organizationId: String) async throws -> (used: Int, allowed: Int) {
        (try await store.environmentChangeCount(of: organizationId, now: now()), ActivationRules.monthlyEnvironmentChanges)
    }

    /// A reason a person gave, trimmed: 1 to 500 characters without control characters, else `INVALID_REASON` saying
    /// `purpose`.
    static func requireReason(_ reason: String, purpose: String) throws -> String {
        let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= 500, !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw AuthorityError.invalid([
                FieldError(
                    field: "reason", code: "INVALID_REASON", message: "Give a reason of 1 to 500 characters without control characters: \(purpose).")
            ])
        }
        return trimmed
    }
}
