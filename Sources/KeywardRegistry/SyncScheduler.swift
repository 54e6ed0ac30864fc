import Foundation
import KeywardDomain
import KeywardStore
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// A synchronization the scheduler runs daily: the authority's keys, or the LDAP directory.
public protocol ScheduledSynchronization: Sendable {
    var registry: Registry { get }
    /// What it synchronizes, for the logs.
    var name: String { get }
    /// Whether there is anything to synchronize with now (the settings page may set it later).
    var isConfigured: Bool { get }
    /// When the last scheduled run started and whether it failed, if there was one.
    func lastScheduledRun() async throws -> (startedAt: Date, failed: Bool)?
    /// Runs once as the schedule, and says whether it failed.
    func runScheduled() async throws -> Bool
}

extension Synchronizer: ScheduledSynchronization {
    public var name: String { "synchronization" }
    public var isConfigured: Bool { registry.authority != nil }

    public func lastScheduledRun() async throws -> (startedAt: Date, failed: Bool)? {
        try await registry.store.synchronizations(trigger: .scheduled, limit: 1).first.map { ($0.startedAt, $0.outcome == .failed) }
    }

    public func runScheduled() async throws -> Bool {
        try await run(trigger: .scheduled, actor: "system:schedule").outcome == .failed
    }
}

extension LDAPSynchronizer: ScheduledSynchronization {
    public var name: String { "directory synchronization" }
    public var isConfigured: Bool { registry.ldap.configured != nil }

    public func lastScheduledRun() async throws -> (startedAt: Date, failed: Bool)? {
        try await registry.store.directorySyncs(trigger: .scheduled, limit: 1).first.map { ($0.startedAt, $0.outcome == .failed) }
    }

    public func runScheduled() async throws -> Bool {
        try await run(trigger: .scheduled, actor: "system:schedule").outcome == .failed
    }
}

/// Runs a daily synchronization (and its retries) while the registry runs; a service, stopped on shutdown.
public final class SyncScheduler: Service, Sendable {
    public let job: any ScheduledSynchronization
    public let schedule: SyncSchedule
    public let logger: Logger
    /// Waits; tests pass one that moves a test clock instead.
    public let sleep: @Sendable (Duration) async throws -> Void
    private let state = NIOLockedValueBox<(next: Date?, retriesSpent: Int)>((nil, 0))

    public init(
        synchronizer job: any ScheduledSynchronization, schedule: SyncSchedule, logger: Logger,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.job = job
        self.schedule = schedule
        self.logger = logger
        self.sleep = sleep
    }

    /// When the next scheduled run is due, once the scheduler has planned it.
    public var nextRun: (at: Date?, retriesSpent: Int) { state.withLockedValue { ($0.next, $0.retriesSpent) } }

    public func run() async throws {
        var generator = SystemRandomNumberGenerator()
        var next = schedule.nextDailyRun(after: job.registry.now(), using: &generator)
        state.withLockedValue { $0 = (next, 0) }
        while !Task.isCancelled {
            let wait = next.timeIntervalSince(job.registry.now())
            if wait > 0 {
                do {
                    try await cancelWhenGracefulShutdown { [sleep] in try await sleep(.seconds(min(wait, 3600))) }
                } catch {
                    return
                }
                if Task.isCancelled || Task.isShuttingDownGracefully { return }
                continue  // the clock may have moved; check again
            }
            if !job.isConfigured {
                // Nothing to synchronize with yet (the settings page may set it later): try again tomorrow.
                next = schedule.nextDailyRun(after: job.registry.now(), using: &generator)
                state.withLockedValue { $0 = (next, 0) }
                logger.debug("scheduled \(job.name) skipped: not configured")
                continue
            }
            let failed: Bool
            do {
                // With several instances on one database, the first to wake up does the day's run; the others see it.
                if state.withLockedValue({ $0.retriesSpent }) == 0, let last = try await job.lastScheduledRun(), !last.failed,
                    job.registry.now().timeIntervalSince(last.startedAt) < 12 * 3600
                {
                    failed = false
                } else {
                    failed = try await job.runScheduled()
                }
            } catch RegistryError.syncInProgress {
                // A manual run is under way: it does the work; plan the next one as after a success.
                failed = false
            } catch {
                // The history could not be read or written (the database is away): try again like a failed run, and
                // keep the server up, since a service that returns stops it.
                logger.error("scheduled \(job.name) could not run", metadata: ["error": "\(error)"])
                failed = true
            }
            let spent = state.withLockedValue { $0.retriesSpent }
            let planned = schedule.next(after: job.registry.now(), failed: failed, retriesSpent: spent, using: &generator)
            next = planned.at
            state.withLockedValue { $0 = (planned.at, planned.retriesSpent) }
            logger.info("scheduled \(job.name)", metadata: ["failed": "\(failed)", "next": "\(Timestamp.format(planned.at))"])
        }
    }
}
