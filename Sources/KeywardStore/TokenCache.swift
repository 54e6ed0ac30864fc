import Foundation
import NIOConcurrencyHelpers

/// Recently authenticated tokens, so a busy caller (the entitlement check) does not cost a database read per request.
/// An entry lives `lifetime` at most and never past its token's expiry; whoever revokes tokens in this process
/// empties the cache, and a revocation elsewhere (another instance, the CLI) takes effect within `lifetime`.
///
/// While the database does not answer, an entry is still taken for `outageLifetime` (``recentRecord(for:now:)``):
/// the callers already authenticated keep being served from memory (the checks answer from the snapshot), and a
/// revocation needs the database too, so only one made elsewhere in the moments before the outage can be missed.
public final class TokenCache: Sendable {
    struct Entry {
        let record: TokenRecord
        let cachedAt: Date
    }

    private let entries = NIOLockedValueBox<[String: Entry]>([:])
    let lifetime: TimeInterval
    let outageLifetime: TimeInterval
    let capacity: Int

    public init(lifetime: TimeInterval = 10, outageLifetime: TimeInterval = 900, capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.outageLifetime = max(lifetime, outageLifetime)
        self.capacity = capacity
    }

    /// The cached record of the presented token, if it is still fresh and usable.
    public func record(for presented: String, now: Date) -> TokenRecord? {
        entries.withLockedValue { entries in
            guard let entry = entries[presented] else { return nil }
            guard now.timeIntervalSince(entry.cachedAt) < lifetime, now >= entry.cachedAt, entry.record.isUsable(at: now) else {
                // Kept for an outage while it may still serve one.
                if !(now.timeIntervalSince(entry.cachedAt) < outageLifetime && entry.record.isUsable(at: now)) { entries[presented] = nil }
                return nil
            }
            return entry.record
        }
    }

    /// The cached record of the presented token if it was authenticated within `outageLifetime` and is still usable:
    /// for when the database cannot be asked.
    public func recentRecord(for presented: String, now: Date) -> TokenRecord? {
        entries.withLockedValue { entries in
            guard let entry = entries[presented], now >= entry.cachedAt, now.timeIntervalSince(entry.cachedAt) < outageLifetime,
                entry.record.isUsable(at: now)
            else { return nil }
            return entry.record
        }
    }

    public func store(_ record: TokenRecord, for presented: String, now: Date) {
        entries.withLockedValue { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[presented] = Entry(record: record, cachedAt: now)
        }
    }

    /// Forgets every token: call after revoking any.
    public func removeAll() {
        entries.withLockedValue { $0.removeAll() }
    }
}
