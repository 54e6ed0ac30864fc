import Foundation
import KeywardDomain
import KeywardStore
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Runs the daily synchronization (and its retries) while the registry runs; a service, stopped on shutdown.
public final class SyncScheduler: Service, Sendable {
    public let synchronizer: Synchronizer
    public let schedule: SyncSchedule
    public let logger: Logger
    /// Waits; tests pass one that moves a test clock instead.
    public let sleep: @Sendable (Duration) async throws -> Void
    private let state = NIOLockedValueBox<(next: Date?, retriesSpent: Int)>((nil, 0))

    public init(
        synchronizer: Synchronizer, schedule: SyncSchedule, logger: Logger,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.synchronizer = synchronizer
        self.schedule = schedule
        self.logger = logger
        self.sleep = sleep
    }

    /// When the next scheduled run is due, once the scheduler has planned it.
    public var nextRun: (at: Date?, retriesSpent: Int) { state.withLockedValue { ($0.next, $0.retriesSpent) } }

    public func run() async throws {
        var generator = SystemRandomNumberGenerator()
        var next = schedule.nextDailyRun(after: synchronizer.registry.now(), using: &generator)
        state.withLockedValue { $0 = (next, 0) }
        while !Task.isCancelled {
            let wait = next.timeIntervalSince(synchronizer.registry.now())
            if wait > 0 {
                do {
                    try await cancelWhenGracefulShutdown { [sleep] in try await sleep(.seconds(min(wait, 3600))) }
                } catch {
                    return
                }
                if Task.isCancelled || Task.isShuttingDownGracefully { return }
                continue  // the clock may have moved; check again
            }
            let run: SynchronizationRun
            if synchronizer.registry.authority == nil {
                // Nothing to synchronize with yet (the settings page may set an authority later): try again tomorrow.
                next = schedule.nextDailyRun(after: synchronizer.registry.now(), using: &generator)
                state.withLockedValue { $0 = (next, 0) }
                logger.debug("scheduled synchronization skipped: no authority configured")
                continue
            }
            do {
                // With several instances on one database, the first to wake up does the day's run; the others see it.
                if state.withLockedValue({ $0.retriesSpent }) == 0,
                    let last = try await synchronizer.registry.store.synchronizations(trigger: .scheduled, limit: 1).first,
                    last.outcome != .failed, synchronizer.registry.now().timeIntervalSince(last.startedAt) < 12 * 3600
                {
                    run = last
                } else {
                    run = try await synchronizer.run(trigger: .scheduled, actor: "system:schedule")
                }
            } catch RegistryError.syncInProgress {
                // A manual run is under way: it does the work; plan the next one as after a success.
                run = SynchronizationRun(
                    id: 0, trigger: .scheduled, actor: "", startedAt: Date(), outcome: .unchanged, added: 0, renewed: 0, revoked: 0, unchanged: 0)
            } catch {
                // The history could not be read or written (the database is away): try again like a failed run, and
                // keep the server up, since a service that returns stops it.
                logger.error("scheduled synchronization could not run", metadata: ["error": "\(error)"])
                run = SynchronizationRun(
                    id: 0, trigger: .scheduled, actor: "", startedAt: Date(), outcome: .failed, added: 0, renewed: 0, revoked: 0, unchanged: 0)
            }
            let spent = state.withLockedValue { $0.retriesSpent }
            let planned = schedule.next(after: synchronizer.registry.now(), failed: run.outcome == .failed, retriesSpent: spent, using: &generator)
            next = planned.at
            state.withLockedValue { $0 = (planned.at, planned.retriesSpent) }
            logger.info(
                "scheduled synchronization", metadata: ["outcome": "\(run.outcome?.rawValue ?? "-")", "next": "\(Timestamp.format(planned.at))"])
        }
    }
}
