import Foundation
import KeywardDomain
import KeywardStore
import NIOConcurrencyHelpers

/// Holds the entitlement snapshot and the catalog, and keeps the snapshot in step with every change that touches access
/// (users, groups, keys, activation, sessions): a change patches it with what it touched (``apply(_:)``); start-up, a
/// synchronization and a new catalog rebuild it whole (``refresh()``). A change's caller awaits the patch before
/// answering, so the next request sees it (read your writes); rebuilds requested together are done once.
public final class AccessControl: Sendable {
    struct State {
        var snapshot: EntitlementSnapshot
        var catalog: Catalog
    }

    struct Generations {
        var requested = 0
        var builtFull = 0
        var builtSessions = 0
        var rebuilds = 0
    }

    public let store: RegistryStore
    public let now: @Sendable () -> Date
    /// This instance, as its notifications name it (it ignores its own).
    public let instance = UUID().uuidString
    private let state: NIOLockedValueBox<State>
    private let generations = NIOLockedValueBox(Generations())
    private let rebuilding = AsyncLock()

    public init(store: RegistryStore, catalog: Catalog, now: @escaping @Sendable () -> Date) {
        self.store = store
        self.now = now
        state = NIOLockedValueBox(
            State(snapshot: EntitlementSnapshot(AccessModel(users: [], groups: [], keys: [], catalog: catalog)), catalog: catalog))
    }

    /// The snapshot now in force: immutable, safe to keep for one request.
    public var snapshot: EntitlementSnapshot { state.withLockedValue { $0.snapshot } }
    public var catalog: Catalog { state.withLockedValue { $0.catalog } }

    /// Rebuilds the whole snapshot from the store: at start, after a synchronization, when the catalog changes.
    public func refresh() async throws { try await rebuild(sessionsOnly: false) }

    /// Patches the snapshot with what `change` touched, read back from the store (after the change committed): only
    /// those users, groups, assignments and keys are read, and the new snapshot shares everything else with the old
    /// one. Under the rebuild lock, so patches and rebuilds apply in turn; each reads the rows as they are when it
    /// runs, so a patch that runs after a later change still leaves the snapshot as a full rebuild would.
    public func apply(_ change: AccessChange) async throws {
        try await rebuilding.withLock {
            var covered: Set<String> = []
            var coveredUntil: Date?
            if change.keys {
                let certificate = try await store.activation()?.certificate
                covered = Set(certificate?.serials ?? [])
                coveredUntil = certificate?.expiresAt.flatMap(Timestamp.parse)
            }
            let patch = try await store.accessPatch(for: change, covered: covered, coveredUntil: coveredUntil)
            state.withLockedValue { $0.snapshot = $0.snapshot.applying(patch) }
        }
    }

    /// Reloads only the open sessions (after many ended: a disconnection, the sweep of run-out leases): the compiled
    /// rest is kept.
    public func refreshSessions() async throws { try await rebuild(sessionsOnly: true) }

    /// Runs `write` so that its transaction tells the other instances what `change` touches (PostgreSQL `NOTIFY`,
    /// sent only if it commits), then patches this instance's snapshot with it.
    public func changing<T>(_ change: AccessChange, _ write: () async throws -> T) async throws -> T {
        let result = try await notifying(.change(change), write)
        try await apply(change)
        return result
    }

    /// Runs `write` with `message` sent to the other instances in its transaction; this instance's own snapshot is
    /// the caller's to update.
    public func notifying<T>(_ message: AccessNotification.Message, _ write: () async throws -> T) async throws -> T {
        try await store.database.notifying(AccessNotification(origin: instance, message: message).notification, write)
    }

    /// What another instance said it changed: patched in as that instance patched it.
    public func received(_ payload: String) async throws {
        guard let notification = AccessNotification.decode(payload), notification.origin != instance else { return }
        switch notification.message {
        case .change(let change): try await apply(change)
        case .session(let id):
            if let session = try await store.session(id) { try await sessionsChanged(login: session.login) }
        case .renewed(let ids): try await sessionsRenewed(ids)
        case .sessions(let login): try await sessionsChanged(login: login)
        case .allSessions: try await refreshSessions()
        case .rebuild: try await reload()
        }
    }

    /// Takes the catalog the last synchronization saved (if the authority sent one) and rebuilds the snapshot with it:
    /// at start, and when another instance changed what a patch cannot say.
    public func reload() async throws {
        if let text = try await store.settings()[.catalog], let saved = try? Catalog.decode(Data(text.utf8)) { setCatalog(saved) }
        try await refresh()
    }

    /// Reads `login`'s open leases back and puts them in the snapshot, under the rebuild lock.
    public func sessionsChanged(login: String) async throws {
        try await rebuilding.withLock {
            let leases = try await store.openLeases(login: login, now: now())
            state.withLockedValue { $0.snapshot = $0.snapshot.settingSessionLeases(login: login, to: leases) }
        }
    }

    /// Adds sessions just renewed together (a group commit of heartbeats) to the snapshot, read back in one query
    /// under the rebuild lock, as ``sessionOpenedOrRenewed(_:)`` does for one.
    public func sessionsRenewed(_ ids: [String]) async throws {
        try await rebuilding.withLock {
            let sessions = try await store.openSessions(ids, now: now())
            state.withLockedValue { state in
                for session in sessions {
                    state.snapshot = state.snapshot.addingSession(
                        AccessModel.Session(session))
                }
            }
        }
    }

    /// Runs `renew` (a transaction that renews sessions: a group of heartbeats) under the rebuild lock and adds the
    /// sessions it renewed to the snapshot, with nothing read back: a logout committed after the renewal patches its
    /// lease afterwards (its read waits behind this lock and sees the renewal), and one committed before it made the
    /// renewal refuse that session.
    public func renewing<T>(_ renew: () async throws -> (result: T, renewed: [UserSession])) async throws -> T {
        try await rebuilding.withLock {
            let (result, renewed) = try await renew()
            state.withLockedValue { state in
                for session in renewed {
                    state.snapshot = state.snapshot.addingSession(
                        AccessModel.Session(session))
                }
            }
            return result
        }
    }

    /// Adds a session just opened or renewed to the snapshot in force without reloading every open session: a login
    /// or a heartbeat reads its own row back, not all of them. Under the rebuild lock, and read back there: a reload
    /// that read the store before this session's write cannot drop it afterwards, and a logout or disconnection
    /// written since (whose reload waits behind this) is not undone by it.
    public func sessionOpenedOrRenewed(_ id: String) async throws {
        try await rebuilding.withLock {
            guard let session = try await store.session(id), session.endedAt == nil, session.leaseExpiresAt > now() else { return }
            let added = AccessModel.Session(session)
            state.withLockedValue { $0.snapshot = $0.snapshot.addingSession(added) }
        }
    }

    /// After `session` ended: the snapshot keeps, for its user and key, the latest lease of the user's other open
    /// sessions there, read back under the rebuild lock (as in `sessionOpenedOrRenewed`), instead of reloading every
    /// open session. A login or heartbeat written after that read patches itself in afterwards.
    public func sessionEnded(_ session: UserSession) async throws {
        try await rebuilding.withLock {
            let lease = try await store.openLease(login: session.login, keySerial: session.keySerial, now: now())
            state.withLockedValue { $0.snapshot = $0.snapshot.settingSessionLease(login: session.login, keySerial: session.keySerial, to: lease) }
        }
    }

    /// Replaces the catalog (from the authority) and rebuilds.
    public func replaceCatalog(_ catalog: Catalog) async throws {
        setCatalog(catalog)
        try await refresh()
    }

    /// Replaces the catalog without rebuilding, for a caller that rebuilds once for this and its other changes.
    public func setCatalog(_ catalog: Catalog) {
        state.withLockedValue { $0.catalog = catalog }
    }

    /// How many full rebuilds this process has made: start-up, synchronizations, new catalogs (for tests and metrics).
    public var rebuilds: Int { generations.withLockedValue { $0.rebuilds } }

    private func rebuild(sessionsOnly: Bool) async throws {
        let ticket = generations.withLockedValue { generations in
            generations.requested += 1
            return generations.requested
        }
        try await rebuilding.withLock {
            let done = generations.withLockedValue { sessionsOnly ? $0.builtSessions : $0.builtFull }
            guard done < ticket else { return }  // a rebuild that started after this change's commit covered it
            let target = generations.withLockedValue { $0.requested }
            let time = now()
            if sessionsOnly {
                let sessions = try await store.openSessions(now: time)
                state.withLockedValue { $0.snapshot = $0.snapshot.replacingSessions(sessions) }
                generations.withLockedValue { $0.builtSessions = max($0.builtSessions, target) }
            } else {
                let certificate = try await store.activation()?.certificate
                let model = try await store.accessModel(
                    catalog: catalog, covered: Set(certificate?.serials ?? []),
                    coveredUntil: certificate?.expiresAt.flatMap(Timestamp.parse), now: time)
                let snapshot = EntitlementSnapshot(model)
                state.withLockedValue { $0.snapshot = snapshot }
                generations.withLockedValue { generations in
                    generations.rebuilds += 1
                    generations.builtFull = max(generations.builtFull, target)
                    generations.builtSessions = max(generations.builtSessions, target)
                }
            }
        }
    }
}
