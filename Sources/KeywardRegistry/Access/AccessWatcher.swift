import Foundation
import KeywardStore
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Keeps the entitlement snapshot in step with changes made by other registry instances on the same PostgreSQL
/// database. Every access change is audited, so a new audit event means a full rebuild, with the catalog saved by
/// the last synchronization, except for the events that cannot change access (`unrelatedActions`: an API login's
/// token, a password). Sessions are not audited, so their number and latest lease are watched as well (a heartbeat
/// on another instance moves the lease). `serve` runs it on PostgreSQL only: an SQLite file belongs to one process,
/// whose own changes rebuild the snapshot.
public final class AccessWatcher: Service, Sendable {
    /// What one look saw.
    struct Mark {
        /// Access-changing audit events above `floor`.
        var floor: Int64
        var changes: Int
        /// The highest audit id at each recent look, for the next floor.
        var seen: [(at: ContinuousClock.Instant, id: Int64)]
        var sessions: Int
        var latestLease: Int64?
        /// What the listener had heard at this look, if it was listening.
        var heard: AccessListener.Hearing?
    }

    /// Audited actions that change nothing the snapshot holds. A disconnection ends sessions, which are watched on
    /// their own. Any other action, including one added later, rebuilds.
    static let unrelatedActions = ["token.created", "token.revoked", "user.password-changed", "session.disconnected"]

    public let registry: Registry
    /// The listener that hears the same changes at once: while it vouches for having heard everything between two
    /// looks, the watcher rebuilds nothing, so a busy instance does not reload every table every `interval`.
    let listener: AccessListener?
    let interval: Duration
    /// How long a transaction that wrote an audit event may take to commit. An event's id is taken when it is written
    /// and seen when its transaction commits, so a lower id can appear after a higher one: the events are counted
    /// above a floor that trails the highest id by this long, not above the highest id of the last look.
    let settle: Duration
    public let logger: Logger
    private let last = NIOLockedValueBox<Mark?>(nil)

    public init(
        registry: Registry, listener: AccessListener? = nil, interval: Duration = .seconds(2), settle: Duration = .seconds(60), logger: Logger
    ) {
        self.registry = registry
        self.listener = listener
        self.interval = interval
        self.settle = settle
        self.logger = logger
    }

    public func run() async throws {
        await repeatUntilShutdown(every: interval, logger: logger, failure: "could not check for access changes") { try await poll() }
    }

    /// Rebuilds what changed since the last look; returns what it did (for tests): `full`, `sessions`, `heard` (changes
    /// there were, and the listener heard them all) or `nothing`.
    @discardableResult
    public func poll() async throws -> String {
        let now = ContinuousClock.now
        let heard = listener?.heard
        let previous = last.withLockedValue { $0 }
        // The first look only takes the mark (start-up built the snapshot), with the floor at the highest id.
        let floor = previous?.floor ?? Int64.max
        let settled = previous.flatMap { mark in mark.seen.last { now - $0.at >= settle }.map { max($0.id, mark.floor) } } ?? floor
        let look = try await registry.store.accessChangeMark(floor: floor, settled: settled, ignoring: Self.unrelatedActions)
        let (highest, changes, changesAboveSettled, sessions, lease) =
            (look.highestAuditID, look.changes, look.changesAboveSettled, look.openSessions, look.latestLease)
        // On the first look nothing is above `settled` (Int64.max), and the floor starts at the highest id.
        let mark = Mark(
            floor: previous == nil ? highest : settled, changes: changesAboveSettled,
            seen: (previous?.seen ?? []).filter { $0.id > settled } + [(at: now, id: highest)], sessions: sessions, latestLease: lease,
            heard: heard)
        last.withLockedValue { $0 = mark }
        guard let previous else { return "nothing" }
        let changed = changes != previous.changes || previous.sessions != mark.sessions || previous.latestLease != mark.latestLease
        if changed, let heard, heard == previous.heard { return "heard" }
        if changes != previous.changes {
            try await registry.loadAccess()
            return "full"
        }
        if previous.sessions != mark.sessions || previous.latestLease != mark.latestLease {
            try await registry.access.refreshSessions()
            return "sessions"
        }
        return "nothing"
    }
}
