import Foundation
import KeywardDomain
import SQLKit

/// One synchronization run, as the History button lists it.
public struct SynchronizationRun: Codable, Sendable, Hashable {
    public enum Trigger: String, Codable, Sendable { case manual, scheduled }
    public enum Outcome: String, Codable, Sendable { case succeeded, unchanged, failed }

    public var id: Int64
    public var trigger: Trigger
    public var actor: String
    public var startedAt: Date
    public var finishedAt: Date?
    public var outcome: Outcome?
    public var added: Int
    public var renewed: Int
    public var revoked: Int
    public var unchanged: Int
    public var revision: Int64?
    public var errorCode: String?
    public var errorMessage: String?
    /// Why the activation right after it was refused, when it was.
    public var activationError: String?

    public init(
        id: Int64, trigger: Trigger, actor: String, startedAt: Date, finishedAt: Date? = nil, outcome: Outcome?, added: Int, renewed: Int,
        revoked: Int, unchanged: Int, revision: Int64? = nil, errorCode: String? = nil, errorMessage: String? = nil, activationError: String? = nil
    ) {
        self.id = id
        self.trigger = trigger
        self.actor = actor
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
        self.added = added
        self.renewed = renewed
        self.revoked = revoked
        self.unchanged = unchanged
        self.revision = revision
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.activationError = activationError
    }
}

/// What applying a feed changed.
public struct SyncCounts: Sendable, Hashable {
    public var added = 0
    public var renewed = 0
    public var revoked = 0
    public var unchanged = 0

    public init() {}

    public var changedAnything: Bool { added + renewed + revoked > 0 }
}

extension RegistryStore {
    /// Records the start of a run and returns its id.
    public func startSynchronization(trigger: SynchronizationRun.Trigger, actor: String, now: Date) async throws -> Int64 {
        try await database.write { sql in
            struct Start: Encodable {
                var trigger: String
                var actor: String
                var startedAt: Int64
            }
            guard
                let row = try await sql.insert(into: "synchronizations")
                    .model(Start(trigger: trigger.rawValue, actor: actor, startedAt: now.storedMilliseconds), with: .columns).returning("id").first()
            else { throw StoreError(code: "STORE_FAILURE", message: "The synchronization could not be recorded.") }
            return try row.decode(column: "id", as: Int64.self)
        }
    }

    /// Records how a run ended.
    public func finishSynchronization(
        _ id: Int64, outcome: SynchronizationRun.Outcome, counts: SyncCounts, revision: Int64?, error: (code: String, message: String)?,
        activationError: String? = nil, now: Date
    ) async throws {
        try await database.write { sql in
            try await sql.update("synchronizations")
                .set("finished_at", to: now.storedMilliseconds).set("outcome", to: outcome.rawValue)
                .set("added", to: Int64(counts.added)).set("renewed", to: Int64(counts.renewed)).set("revoked", to: Int64(counts.revoked))
                .set("unchanged", to: Int64(counts.unchanged)).set("revision", to: revision)
                .set("error_code", to: error?.code).set("error_message", to: error?.message).set("activation_error", to: activationError)
                .where("id", .equal, id).run()
        }
    }

    /// Runs newest first, `manual` ones or all, a page at a time.
    public func synchronizations(trigger: SynchronizationRun.Trigger?, beforeID: Int64? = nil, limit: Int = 50) async throws -> [SynchronizationRun] {
        try await database.read { sql in
            var select = sql.select().columns("*").from("synchronizations")
            if let trigger { select = select.where("trigger", .equal, trigger.rawValue) }
            if let beforeID { select = select.where("id", .lessThan, beforeID) }
            return try await select.orderBy("id", .descending).limit(limit).all(decoding: SynchronizationRow.self, with: .columns).map(\.run)
        }
    }

    /// Which synchronization a lease serializes.
    public enum SyncLease: String, Sendable {
        case keys = "sync_lease"
        case directory = "directory_sync_lease"
    }

    /// Takes the `lease` for `holder` until `expiresAt`, unless another instance holds an unexpired one. Serializes
    /// that synchronization across every registry instance on this database.
    public func acquireSyncLease(_ lease: SyncLease = .keys, holder: String, now: Date, expiresAt: Date) async throws -> Bool {
        try await database.write { sql in
            let inserted = try await sql.insert(into: lease.rawValue).columns("singleton", "holder", "expires_at")
                .values(SQLBind(1), SQLBind(holder), SQLBind(expiresAt.storedMilliseconds)).ignoringConflicts().returning("holder").first()
            if inserted != nil { return true }
            let taken = try await sql.update(lease.rawValue).set("holder", to: holder).set("expires_at", to: expiresAt.storedMilliseconds)
                .where("singleton", .equal, 1).where("expires_at", .lessThan, now.storedMilliseconds).returning("holder").first()
            return taken != nil
        }
    }

    /// Gives the `lease` back, if `holder` still has it.
    public func releaseSyncLease(_ lease: SyncLease = .keys, holder: String) async throws {
        try await database.write { sql in
            try await sql.delete(from: lease.rawValue).where("holder", .equal, holder).run()
        }
    }

    /// The revision and entity tag of the last applied feed.
    public func syncState() async throws -> (revision: Int64, etag: String?)? {
        try await database.read { sql in
            struct State: Decodable {
                var revision: Int64
                var etag: String?
            }
            return try await sql.select().columns("revision", "etag").from("sync_state").first(decoding: State.self, with: .columns).map {
                ($0.revision, $0.etag)
            }
        }
    }

    /// Applies a verified feed in one transaction, as `FeedDiff.plan` decides: synchronized keys added, renewed or marked
    /// revoked; manual keys are never replaced, renamed or removed, but a revocation the authority signed (`revoked`)
    /// applies to the serial whatever its source. Refuses a revision lower than the last applied (`FEED_ROLLBACK`) in the
    /// same transaction.
    public func applyFeed(
        keys: [(license: LicenseKey, accessKey: String, kid: String)], revoked: [String: String?], revision: Int64, etag: String?,
        actor: String, now: Date
    ) async throws -> SyncCounts {
        try await database.write { sql in
            if let last = try await sql.select().column("revision").from("sync_state").first()?.decode(column: "revision", as: Int64.self),
                revision < last
            {
                throw StoreError(
                    code: "FEED_ROLLBACK",
                    message: "The authority sent revision \(revision), older than revision \(last) already applied; nothing was changed.",
                    kind: .conflict)
            }
            struct Current: Decodable {
                var serial: String
                var idNumber: String
                var source: String
                var accessKey: String
                var revokedAt: Int64?
            }
            let current = try await sql.select().columns("serial", "id_number", "source", "access_key", "revoked_at").from("registered_keys")
                .all(decoding: Current.self, with: .columns).map {
                    FeedDiff.CurrentKey(
                        serial: $0.serial, idNumber: $0.idNumber, synchronized: $0.source == KeySource.synchronized.rawValue,
                        accessKey: $0.accessKey, revoked: $0.revokedAt != nil)
                }
            let plan: FeedPlan
            do throws(FeedDiff.Refusal) {
                plan = try FeedDiff.plan(
                    current: current, feed: keys.map { .init(serial: $0.license.serial, accessKey: $0.accessKey) }, revoked: revoked)
            } catch .idNumberTaken(let idNumber) {
                throw Self.feedIDNumberTaken(idNumber)
            }
            var counts = SyncCounts()
            counts.unchanged = plan.unchanged
            for index in plan.renewals {
                let key = keys[index]
                try await RegistryStore.replaceLicense(key.license, accessKey: key.accessKey, kid: key.kid, on: sql)
            }
            counts.renewed = plan.renewals.count
            let new = plan.additions.map { addition in
                let key = keys[addition.index]
                return RegisteredKey(
                    license: key.license, accessKey: key.accessKey, kid: key.kid, idNumber: addition.idNumber,
                    source: .synchronized, registeredAt: now, registeredBy: actor)
            }
            counts.added = try await RegistryStore.insertMany(new, on: sql)
            for revocation in plan.revocations {
                try await sql.update("registered_keys").set("revoked_at", to: now.storedMilliseconds)
                    .set("revocation_reason", to: revocation.reason).where("serial", .equal, revocation.serial).run()
            }
            counts.revoked = plan.revocations.count
            try await sql.delete(from: "sync_state").run()
            try await sql.insert(into: "sync_state").columns("singleton", "revision", "etag").values(SQLBind(1), SQLBind(revision), SQLBind(etag))
                .run()
            try await AuditLog.append(
                .init(
                    actor: actor, action: "license-keys.synchronized", target: "installation",
                    details: [
                        "revision": .int(Int(revision)), "added": .int(counts.added), "renewed": .int(counts.renewed),
                        "revoked": .int(counts.revoked), "unchanged": .int(counts.unchanged),
                    ]), at: now, on: sql)
            return counts
        }
    }
}

/// A `synchronizations` row.
private struct SynchronizationRow: Decodable {
    var id: Int64
    var trigger: String
    var actor: String
    var startedAt: Int64
    var finishedAt: Int64?
    var outcome: String?
    var added: Int64
    var renewed: Int64
    var revoked: Int64
    var unchanged: Int64
    var revision: Int64?
    var errorCode: String?
    var errorMessage: String?
    var activationError: String?

    var run: SynchronizationRun {
        SynchronizationRun(
            id: id, trigger: SynchronizationRun.Trigger(rawValue: trigger) ?? .manual, actor: actor, startedAt: Date(storedMilliseconds: startedAt),
            finishedAt: finishedAt.map(Date.init(storedMilliseconds:)), outcome: outcome.flatMap(SynchronizationRun.Outcome.init(rawValue:)),
            added: Int(added), renewed: Int(renewed), revoked: Int(revoked), unchanged: Int(unchanged), revision: revision,
            errorCode: errorCode, errorMessage: errorMessage, activationError: activationError
        )
    }
}
