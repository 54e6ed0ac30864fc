import Foundation
import KeywardDomain
import KeywardStore

/// A nominative key whose assigned users outnumber its seats.
public struct OverAllocatedKey: Sendable, Hashable, Codable {
    public let keySerial: String
    public let limit: Int
    public let inUse: Int
    /// The most recently assigned users beyond the limit: with `force` they are `over-limit` and have no access.
    public let overLimit: [String]
}

extension Registry {
    /// The keys among `serials` that cannot hold their current nominative assignments (after a key was renewed or
    /// switched with fewer users).
    public func overAllocation(serials: [String]) async throws -> [OverAllocatedKey] {
        Self.overAllocation(in: try await store.accessModel(catalog: catalog, covered: Set(serials), now: now()), serials: serials)
    }

    /// The same, from a model already loaded.
    public static func overAllocation(in model: AccessModel, serials: [String]) -> [OverAllocatedKey] {
        let limits = Dictionary(model.keys.map { ($0.serial, $0.users) }) { a, _ in a }
        let displayed = Dictionary(model.users.map { (AccessModel.fold($0.login), $0.login) }) { a, _ in a }
        return SeatRules.allocation(model).filter { serials.contains($0.key) && !$0.value.over.isEmpty }.map { serial, allocation in
            OverAllocatedKey(
                keySerial: serial, limit: limits[serial] ?? 0, inUse: allocation.within.count + allocation.over.count,
                overLimit: allocation.over.map { displayed[$0] ?? $0 })
        }.sorted { $0.keySerial < $1.keySerial }
    }

    /// The nominative keys among `keys` whose assigned users outnumber their seats, from the snapshot in force: for
    /// pages, which must not load the whole access model. Only the over-limit users' logins are read, as typed.
    public func overAllocation(in snapshot: EntitlementSnapshot, keys: [RegisteredKey]) async throws -> [OverAllocatedKey] {
        var result: [OverAllocatedKey] = []
        for key in keys where key.license.useType == .nominative {
            let over = snapshot.overLimitLogins(keySerial: key.serial)
            guard !over.isEmpty else { continue }
            let count = snapshot.seatCount(keySerial: key.serial)
            let typed = try await store.typedLogins(over)
            result.append(
                OverAllocatedKey(
                    keySerial: key.serial, limit: key.license.users, inUse: count.held + count.over, overLimit: over.map { typed[$0] ?? $0 }))
        }
        return result.sorted { $0.keySerial < $1.keySerial }
    }

    /// Refuses with `OVER_ALLOCATED` (listing keys, seats and users) unless `force`.
    func requireAllocationFits(serials: [String], force: Bool) async throws {
        guard !force else { return }
        let over = try await overAllocation(serials: serials)
        guard over.isEmpty else {
            let names = Dictionary(try await store.keys().map { ($0.serial, $0.name) }) { a, _ in a }
            let listing = over.map { "\(names[$0.keySerial] ?? $0.keySerial) has \($0.limit) seats for \($0.inUse) users" }.joined(separator: "; ")
            throw RegistryError.refused(
                code: "OVER_ALLOCATED",
                message:
                    "Activating would leave keys with more assigned users than seats: \(listing). Remove users from their groups, or activate with force: the most recently assigned users beyond the limit lose access until seats free up.",
                kind: .conflict,
                details: [
                    "keys": .array(
                        over.map { key in
                            .object([
                                "keySerial": .string(key.keySerial), "limit": .int(key.limit), "inUse": .int(key.inUse),
                                "overLimit": .array(key.overLimit.map(JSONValue.string)),
                            ])
                        })
                ])
        }
    }
}
