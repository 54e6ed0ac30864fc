import Foundation
import NIOConcurrencyHelpers

/// Recently authenticated tokens, so a busy caller (the entitlement check) does not cost a database read per request.
/// An entry lives `lifetime` at most and never past its token's expiry; whoever revokes tokens in this process
/// empties the cache, and a revocation elsewhere (another instance, the CLI) takes effect within `lifetime`.
public final class TokenCache: Sendable {
    struct Entry {
        let record: TokenRecord
        let cachedAt: Date
    }

    private let entries = NIOLockedValueBox<[String: Entry]>([:])
    let lifetime: TimeInterval
    let capacity: Int

    public init(lifetime: TimeInterval = 10, capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// The cached record of the presented token, if it is still fresh and usable.
    public func record(for presented: String, now: Date) -> TokenRecord? {
        entries.withLockedValue { entries in
            guard let entry = entries[presented] else { return nil }
            guard now.timeIntervalSince(entry.cachedAt) < lifetime, now >= entry.cachedAt, entry.record.isUsable(at: now) else {
                entries[presented] = nil
                return nil
            }
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
