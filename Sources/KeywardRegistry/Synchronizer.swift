import Foundation
import KeywardDomain
import KeywardStore
import NIOConcurrencyHelpers

/// Pulls the organization's keys from the authority (DESIGN.md section 5): verifies the signed envelope and every
/// key, then applies it in one transaction, recording every run in the synchronization history.
public final class Synchronizer: Sendable {
    public let registry: Registry
    /// Activate online right after a synchronization that changed keys (`sync.autoActivate`).
    public let autoActivate: Bool
    private let running = NIOLockedValueBox(false)
    /// Names this instance in the database lease that serializes synchronization across instances.
    let holder = "registry-" + UUID().uuidString.lowercased()
    /// A lease outlives the longest run (a 30 s fetch, verification, one transaction); a crashed holder's lease
    /// frees itself after it.
    static let leaseDuration: TimeInterval = 3 * 60

    public init(registry: Registry, autoActivate: Bool = true) {
        self.registry = registry
        self.autoActivate = autoActivate
    }

    /// Runs one synchronization; `SYNC_IN_PROGRESS` when one is already under way in this process.
    @discardableResult
    public func run(trigger: SynchronizationRun.Trigger, actor: String) async throws -> SynchronizationRun {
        guard let authority = registry.authority else { throw RegistryError.noAuthority }
        guard
            running.withLockedValue({ running in
                defer { running = true }
                return !running
            })
        else {
            throw RegistryError.syncInProgress
        }
        defer { running.withLockedValue { $0 = false } }
        let store = registry.store
        // Several instances share a database only on PostgreSQL: there, one synchronizes at a time, everywhere.
        // (An SQLite file belongs to one registry process, whose lock above suffices, so a killed process never
        // leaves a lease behind that would hold up its own restart.)
        let shared = store.database.kind == .postgres
        if shared,
            try await !store.acquireSyncLease(holder: holder, now: registry.now(), expiresAt: registry.now().addingTimeInterval(Self.leaseDuration))
        {
            throw RegistryError.syncInProgress
        }
        do {
            let run = try await runHoldingLease(trigger: trigger, actor: actor, authority: authority)
            if shared { try await store.releaseSyncLease(holder: holder) }
            return run
        } catch {
            if shared { try? await store.releaseSyncLease(holder: holder) }
            throw error
        }
    }

    private func runHoldingLease(trigger: SynchronizationRun.Trigger, actor: String, authority: AuthorityClient) async throws -> SynchronizationRun {
        let store = registry.store
        let id = try await store.startSynchronization(trigger: trigger, actor: actor, now: registry.now())
        var counts = SyncCounts()
        var revision: Int64?
        do {
            let state = try await store.syncState()
            guard let answer = try await authority.feed(organizationId: registry.installation.organization.id, etag: state?.etag) else {
                try await store.finishSynchronization(
                    id, outcome: .unchanged, counts: counts, revision: state?.revision, error: nil, now: registry.now())
                return try await record(id)
            }
            let feed = try await verify(answer.body)
            revision = feed.envelope.revision
            try await registry.noteProductionInstallation(feed.envelope.productionInstallationId)
            counts = try await registry.access.notifying(.rebuild) {
                try await store.applyFeed(
                    keys: feed.keys, revoked: FeedDiff.revocations(feed.envelope.revoked),
                    revision: feed.envelope.revision, etag: answer.etag, actor: "synchronization", now: registry.now())
            }
        } catch let error as RegistryError {
            try await store.finishSynchronization(
                id, outcome: .failed, counts: SyncCounts(), revision: revision, error: (error.code, error.message), now: registry.now())
            return try await record(id)
        } catch let error as StoreError {
            try await store.finishSynchronization(
                id, outcome: .failed, counts: SyncCounts(), revision: revision, error: (error.code, error.message), now: registry.now())
            return try await record(id)
        }
        // One rebuild for the feed's keys and a new catalog together; the activation after it patches the keys only.
        let newCatalog = await updateCatalog(from: authority)
        if counts.changedAnything || newCatalog { try await registry.access.refresh() }
        var activationError: String?
        if counts.changedAnything && autoActivate {
            do {
                try await registry.activateOnline(actor: "synchronization")
            } catch let error as RegistryError {
                // The synchronization stands; activation stays required, and the history says why.
                activationError = "\(error.code): \(error.message)"
            }
        }
        try await store.finishSynchronization(
            id, outcome: counts.changedAnything ? .succeeded : .unchanged, counts: counts, revision: revision,
            error: nil, activationError: activationError, now: registry.now())
        return try await record(id)
    }

    /// Takes the authority's signed catalog when it differs from the one in use, and says whether it did (the caller
    /// rebuilds the snapshot). A catalog that cannot be read, or is not signed by a trusted key, is left: the keys are
    /// what matters, and the next synchronization tries again.
    @discardableResult
    func updateCatalog(from authority: AuthorityClient) async -> Bool {
        guard let catalog = try? await authority.catalog(trust: registry.trust), catalog != registry.catalog,
            let text = try? String(decoding: JSONEncoder().encode(catalog), as: UTF8.self),
            (try? await registry.access.notifying(.rebuild) {
                try await registry.store.saveSettings([.catalog: text], actor: "synchronization", now: registry.now())
            }) != nil
        else { return false }
        registry.access.setCatalog(catalog)
        return true
    }

    public func record(_ id: Int64) async throws -> SynchronizationRun {
        guard let run = try await registry.store.synchronizations(trigger: nil, beforeID: id + 1, limit: 1).first else {
            throw StoreError(code: "STORE_FAILURE", message: "The synchronization record is missing.")
        }
        return run
    }

    struct VerifiedFeed {
        let envelope: FeedEnvelope
        let keys: [(license: LicenseKey, accessKey: String, kid: String)]
    }

    /// Checks the envelope and every key in it; any fault refuses the whole feed with a distinct code.
    func verify(_ body: Data) async throws -> VerifiedFeed {
        let envelope = try registry.verifiedEnvelope(body)
        // Signature checks spread over the cores: each task verifies a slice of the keys.
        let verifier = AccessKeyVerifier(trustStore: registry.trust)
        let now = registry.now()
        let organization = registry.installation.organization.id
        let entries = envelope.keys
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let chunk = max(64, (entries.count + workers - 1) / workers)
        let results = try await withThrowingTaskGroup(of: [(Int, LicenseKey, String)].self) { group in
            for start in stride(from: 0, to: entries.count, by: chunk) {
                let slice = entries[start..<min(start + chunk, entries.count)]
                group.addTask {
                    try slice.enumerated().map { offset, entry in
                        let result = verifier.verify(entry.accessKey, organization: organization, now: now)
                        // Expired or not yet valid keys are the authority's to list; anything else is a bad key.
                        guard [.valid, .expired, .notYetValid].contains(result.code), let license = result.license, license.serial == entry.serial,
                            let kid = result.kid
                        else {
                            throw RegistryError.feed(
                                code: "FEED_INVALID_KEY",
                                message: "The feed's key \(entry.serial) is not valid (\(result.code.rawValue)); the whole feed was refused.")
                        }
                        return (start + offset, license, kid)
                    }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let keys = results.sorted { $0.0 < $1.0 }.map { (license: $0.1, accessKey: entries[$0.0].accessKey, kid: $0.2) }
        return VerifiedFeed(envelope: envelope, keys: keys)
    }
}

extension Registry {
    /// Reads a feed: its signature by a trusted authority key, its version and its organization.
    func verifiedEnvelope(_ body: Data) throws -> FeedEnvelope {
        guard let document = try? SignedDocument.read(body) else {
            throw RegistryError.feed(code: "FEED_MALFORMED", message: "The authority's answer is not a signed feed, or names a member twice.")
        }
        let payload: Data
        do {
            payload = try document.verifiedPayload(for: .feed, trust: trust)
        } catch {
            throw RegistryError.feed(
                code: "FEED_BAD_SIGNATURE",
                message: error == .unknownSigningKey
                    ? "The feed is signed by an authority key this installation does not trust."
                    : "The feed's signature does not match its contents.")
        }
        guard let envelope = try? SignedDocument.decode(FeedEnvelope.self, payload: payload), envelope.v == FeedEnvelope.currentVersion else {
            throw RegistryError.feed(
                code: "FEED_MALFORMED", message: "The feed's envelope cannot be read: it is not a feed of this version, or names a member twice.")
        }
        let organization = installation.organization.id
        guard envelope.organization.id == organization else {
            throw RegistryError.feed(
                code: "FEED_WRONG_ORGANIZATION", message: "The feed is for organization \(envelope.organization.id), not \(organization).")
        }
        return envelope
    }
}

extension Registry {
    /// Keeps the production installation the feed names, when it changed: a registry the vendor demoted (or promoted)
    /// says so on every page (``environmentNotice()``).
    func noteProductionInstallation(_ installationId: String?) async throws {
        let saved = try await store.settings()[.productionInstallation]
        guard saved != installationId else { return }
        try await store.saveSettings([.productionInstallation: installationId], actor: "synchronization", now: now())
    }

    /// What an administrator must know when this installation's environment is not the one the authority records:
    /// the vendor made another installation production (this one is demoted: its next activation as production is
    /// refused), or made this one production while it is configured as test. `nil` when they agree, or before a
    /// feed named the production installation.
    public func environmentNotice() async throws -> String? {
        guard let production = try await store.settings()[.productionInstallation] else { return nil }
        let own = installation.installationId
        switch installation.environment {
        case .production where production != own:
            return
                "This installation (\(own)) is no longer the production installation: the licensing authority made \(production) production. Its next activation as production is refused; ask licensing to promote this installation again, or activate with Promote and a reason."
        case .test where production == own:
            return
                "The licensing authority made this installation (\(own)) the production installation, but it is configured as a test installation: set its environment to production (environment in the configuration) and restart, or ask licensing."
        default:
            return nil
        }
    }
}
