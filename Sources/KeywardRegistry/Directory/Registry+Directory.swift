import Foundation
import KeywardDomain
import KeywardStore

/// What administrators do with the directory's users and groups (DESIGN.md section 10): link access groups to
/// directory groups, and see and reprocess the assignment errors of members who found no seat.
extension Registry {
    /// Links access group `idNumber` to exactly the directory groups `ids` (an empty list unlinks them all): its users
    /// are then its directly added users plus their members. Members who find no seat get assignment errors.
    public func linkDirectoryGroups(_ ids: [String], toAccessGroup idNumber: String, actor: String) async throws -> DirectoryEffect {
        guard ids.count <= 1000 else {
            throw RegistryError.invalid(
                FieldError(
                    field: "directoryGroups", code: "INVALID_DIRECTORY_GROUPS", message: "Link at most 1,000 directory groups to an access group."))
        }
        let cleaned = try ids.map { id throws(RegistryError) -> String in
            let text = id.trimmingCharacters(in: .whitespaces)
            guard (1...100).contains(text.unicodeScalars.count) else {
                throw .invalid(
                    FieldError(
                        field: "directoryGroups", code: "INVALID_DIRECTORY_GROUPS",
                        message: "Name each directory group by its id, as GET /scim/v2/Groups gives it."))
            }
            return text
        }
        try await requireMayChange(group: idNumber, actor: actor)
        let effect = try await store.linkDirectoryGroups(cleaned, toAccessGroup: idNumber, actor: actor, now: now(), notice: directoryNotice)
        if !effect.change.isEmpty { try await access.apply(effect.change) }
        return effect
    }

    /// Retries every assignment error now: those who find a seat become members.
    public func reprocessAssignmentErrors(actor: String) async throws -> DirectoryEffect {
        let effect = try await store.reprocessAssignmentErrors(actor: actor, now: now(), notice: directoryNotice)
        if !effect.change.isEmpty { try await access.apply(effect.change) }
        return effect
    }

    /// After a change that may have freed seats (users removed or disabled, a group deleted or moved, keys changed):
    /// the assignment errors that fit now are cleared. Costs one indexed look when there are none.
    public func retryAssignmentErrors() async throws {
        let effect = try await store.retryAssignmentErrorsIfAny(now: now(), notice: directoryNotice)
        if !effect.change.isEmpty { try await access.apply(effect.change) }
    }

    /// The mass-removal guard for a change the directory makes as `actor` (`directory:scim`, `directory:ldap`).
    public func removalGuard(actor: String) -> RemovalGuard { RemovalGuard(share: maxRemovalShare, minimum: 10, actor: actor) }

    /// The held directory changes, newest first (only those waiting unless `all`).
    public func heldChanges(all: Bool = false) async throws -> [HeldChangeRecord] { try await store.heldChanges(all: all) }

    /// Confirms a held change (its users lose the access the directory took from them) or discards it (they keep it, as
    /// users added by hand).
    public func decideHeldChange(_ id: Int64, confirm: Bool, actor: String) async throws -> HeldChangeRecord {
        let (held, effect) = try await store.decideHeldChange(id, confirm: confirm, actor: actor, now: now(), notice: directoryNotice)
        if !effect.change.isEmpty { try await access.apply(effect.change) }
        return held
    }

    /// ``retryAssignmentErrors()`` after a change that already committed: a failure here leaves the errors for the
    /// next change or the Reprocess action, and does not turn the committed change into a refusal.
    func retryAssignmentErrorsAfterChange() async {
        do { try await retryAssignmentErrors() } catch {}
    }

    /// The notification a directory write sends the other instances within its transaction.
    var directoryNotice: RegistryStore.Notice {
        let origin = access.instance
        return { change in change.isEmpty ? nil : AccessNotification(origin: origin, message: .change(change)).notification }
    }
}
