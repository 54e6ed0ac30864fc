import Foundation

/// The rules of a synchronization (DESIGN.md section 5): what a verified feed adds to the registered keys, renews,
/// revokes and leaves alone. The store applies the plan in one transaction.
public enum FeedDiff {
    /// A registered key as the diff sees it.
    public struct CurrentKey: Sendable, Hashable {
        public var serial: String
        public var idNumber: String
        /// Pulled from the feed; manual keys are the customer's and are never replaced, renamed or removed.
        public var synchronized: Bool
        public var accessKey: String
        public var revoked: Bool

        public init(serial: String, idNumber: String, synchronized: Bool, accessKey: String, revoked: Bool) {
            self.serial = serial
            self.idNumber = idNumber
            self.synchronized = synchronized
            self.accessKey = accessKey
            self.revoked = revoked
        }
    }

    /// A key the feed lists.
    public struct ListedKey: Sendable, Hashable {
        public var serial: String
        public var accessKey: String

        public init(serial: String, accessKey: String) {
            self.serial = serial
            self.accessKey = accessKey
        }
    }

    /// Why a feed cannot be applied.
    public enum Refusal: Error, Sendable, Hashable {
        /// A new key's ID # and its fallback are both some other key's ID #.
        case idNumberTaken(String)
    }

    /// The reason recorded for a synchronized key the feed no longer lists.
    public static let unlistedReason = "The licensing authority no longer lists this key."
    /// The reason recorded for a key the feed revokes without saying why.
    public static let revokedReason = "Revoked by the licensing authority."

    /// The ID # a new key is filed under when its serial is already some other key's ID #.
    public static func fallbackIDNumber(for serial: String) -> String {
        "\(serial) (synchronized)"
    }

    /// The feed's signed revocations by serial, the first listing of a serial winning.
    public static func revocations(_ revoked: [FeedEnvelope.Revoked]) -> [String: String?] {
        Dictionary(revoked.map { ($0.serial, $0.reason) }) { first, _ in first }
    }

    /// What applying `feed` to the `current` keys does. `revoked` maps the serials the authority signed as revoked to its
    /// reason: such a key is revoked whatever its source, unless the feed still lists it.
    ///
    /// A new key is filed under its serial as ID #, or under `fallbackIDNumber(for:)` when that is taken (ID #s compare
    /// as `IDNumber.folded`); `Refusal.idNumberTaken` when both are.
    public static func plan(current: [CurrentKey], feed: [ListedKey], revoked: [String: String?]) throws(Refusal) -> FeedPlan {
        var plan = FeedPlan()
        var existing: [String: CurrentKey] = [:]
        for key in current { existing[key.serial] = key }
        var takenIDNumbers = Set(current.map { IDNumber.folded($0.idNumber) })
        var listed = Set<String>()
        for (index, key) in feed.enumerated() {
            let firstListing = listed.insert(key.serial).inserted
            guard let registered = existing[key.serial] else {
                // A serial listed twice is one new key, filed once.
                guard firstListing else { continue }
                var idNumber = key.serial
                if takenIDNumbers.contains(IDNumber.folded(idNumber)) {
                    idNumber = fallbackIDNumber(for: key.serial)
                    guard !takenIDNumbers.contains(IDNumber.folded(idNumber)) else { throw .idNumberTaken(idNumber) }
                }
                takenIDNumbers.insert(IDNumber.folded(idNumber))
                plan.additions.append(FeedPlan.Addition(index: index, idNumber: idNumber))
                continue
            }
            if registered.synchronized && (registered.accessKey != key.accessKey || registered.revoked) {
                plan.renewals.append(index)
            } else {
                plan.unchanged += 1
            }
        }
        for key in current where !key.revoked && !listed.contains(key.serial) && (key.synchronized || revoked[key.serial] != nil) {
            let reason: String? = revoked[key.serial] ?? unlistedReason
            plan.revocations.append(FeedPlan.Revocation(serial: key.serial, reason: reason ?? revokedReason))
        }
        return plan
    }
}

/// What a feed changes, as `FeedDiff.plan` decides it.
public struct FeedPlan: Sendable, Hashable {
    /// A key new to the registry: the feed's entry at `index`, filed under `idNumber`.
    public struct Addition: Sendable, Hashable {
        public var index: Int
        public var idNumber: String

        public init(index: Int, idNumber: String) {
            self.index = index
            self.idNumber = idNumber
        }
    }

    /// A registered key to mark revoked, with the reason recorded.
    public struct Revocation: Sendable, Hashable {
        public var serial: String
        public var reason: String

        public init(serial: String, reason: String) {
            self.serial = serial
            self.reason = reason
        }
    }

    public var additions: [Addition] = []
    /// The feed's entries that replace a synchronized key's license (a renewal, or a revoked key listed again).
    public var renewals: [Int] = []
    public var revocations: [Revocation] = []
    /// Listed keys left as they are: manual keys, and synchronized ones already holding the feed's access key.
    public var unchanged = 0

    public init(additions: [Addition] = [], renewals: [Int] = [], revocations: [Revocation] = [], unchanged: Int = 0) {
        self.additions = additions
        self.renewals = renewals
        self.revocations = revocations
        self.unchanged = unchanged
    }
}
