import Foundation
import KeywardDomain
import KeywardStore
import NIOConcurrencyHelpers

/// Heartbeats, committed in groups: a heartbeat that arrives while a renewal transaction is under way waits for the
/// next one, which renews every session that waited in one transaction (one disk flush) and patches the snapshot
/// with all of them at once, under the snapshot's lock (``AccessControl/renewing(_:)``). Each caller gets its own answer only after the transaction that renewed its session
/// committed, so an acknowledged renewal is never lost; a refusal (`SESSION_ENDED`, `UNKNOWN_SESSION`) is its own.
/// Throughput is bounded by how many heartbeats one flush carries, not by one transaction per request.
final class SessionRenewals: Sendable {
    typealias Waiter = (id: String, continuation: CheckedContinuation<UserSession, any Error>)

    struct State {
        var waiting: [Waiter] = []
        var running = false
        var commits = 0
    }

    private let state = NIOLockedValueBox(State())
    /// The most heartbeats one transaction renews.
    let batchLimit: Int

    /// How long a group smaller than the one before waits for the rest of the heartbeats on their way.
    let gatherWindow: Duration

    init(batchLimit: Int = 2_000, gatherWindow: Duration = .milliseconds(1)) {
        self.batchLimit = batchLimit
        self.gatherWindow = gatherWindow
    }

    /// How many renewal transactions have run (for tests and metrics).
    var commits: Int { state.withLockedValue { $0.commits } }

    /// Renews session `id` with the next group of heartbeats.
    func renew(_ id: String, registry: Registry) async throws -> UserSession {
        try await withCheckedThrowingContinuation { continuation in
            let start = state.withLockedValue { state in
                state.waiting.append((id, continuation))
                guard !state.running else { return false }
                state.running = true
                return true
            }
            if start { Task { await self.drain(registry) } }
        }
    }

    /// Renews the waiting heartbeats, group after group, until none wait.
    ///
    /// Clients answered together send their next heartbeats together, but not all before the next group starts: the
    /// first few would start it and the others wait a whole transaction for the one after. So a group smaller than
    /// the last waits up to ``gatherWindow`` for as many heartbeats as the last had (a lone heartbeat after a quiet
    /// moment never waits: the last group is then of one).
    private func drain(_ registry: Registry) async {
        var previous = 0
        while true {
            await gather(previous)
            let batch = state.withLockedValue { state in
                let batch = Array(state.waiting.prefix(batchLimit))
                state.waiting.removeFirst(batch.count)
                if batch.isEmpty { state.running = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            previous = batch.count
            let ids = batch.map(\.id)
            do {
                let now = registry.now()
                // The other instances hear of the renewals in the same transaction, a few dozen sessions per notification.
                let notifications = stride(from: 0, to: ids.count, by: 150).map { start in
                    AccessNotification(origin: registry.access.instance, message: .renewed(ids: Array(ids[start..<min(start + 150, ids.count)])))
                        .notification
                }
                let results = try await registry.access.renewing {
                    let results = try await registry.store.database.notifying(notifications) {
                        try await registry.store.renewSessions(ids, lease: Registry.sessionLease, now: now)
                    }
                    return (results, results.values.compactMap { try? $0.get() })
                }
                state.withLockedValue { $0.commits += 1 }
                for waiter in batch {
                    switch results[waiter.id] {
                    case .success(let session): waiter.continuation.resume(returning: session)
                    case .failure(let error): waiter.continuation.resume(throwing: error)
                    case nil: waiter.continuation.resume(throwing: StoreError(code: "STORE_FAILURE", message: "The heartbeat was not answered."))
                    }
                }
            } catch {
                for waiter in batch { waiter.continuation.resume(throwing: error) }
            }
        }
    }

    /// Waits, for at most ``gatherWindow``, until `count` heartbeats wait.
    private func gather(_ count: Int) async {
        let deadline = ContinuousClock.now + gatherWindow
        while state.withLockedValue({ $0.waiting.count }) < min(count, batchLimit), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .microseconds(100))
        }
    }
}
