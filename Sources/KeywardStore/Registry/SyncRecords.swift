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

    public init(id: Int64, trigger: Trigger, actor: String, startedAt: Date, finishedAt: Date? = nil, outcome: Outcome?, added: Int, renewed: Int,
                revoked: Int, unchanged: Int, revision: Int64? = nil, errorCode: String? = nil, errorMessage: String? = nil, activationError: String? = nil) {
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
            guard let row = try await sql.insert(into: "synchronizations").columns("trigger", "actor", "started_at")
                .values(SQLBind(trigger.rawValue), SQLBind(actor), SQLBind(now.storedMilliseconds)).returning("id").first()
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
            return try await select.orderBy("id", .descending).limit(limit).all().map { row in
                SynchronizationRun(
                    id: try row.decode(column: "id", as: Int64.self),
                    trigger: SynchronizationRun.Trigger(rawValue: try row.decode(column: "trigger", as: String.self)) ?? .manual,
                    actor: try row.decode(column: "actor", as: String.self),
                    startedAt: Date(storedMilliseconds: try row.decode(column: "started_at", as: Int64.self)),
                    finishedAt: try row.decode(column: "finished_at", as: Int64?.self).map(Date.init(storedMilliseconds:)),
                    outcome: try row.decode(column: "outcome", as: String?.self).flatMap(SynchronizationRun.Outcome.init(rawValue:)),
                    added: Int(try row.decode(column: "added", as: Int64.self)), renewed: Int(try row.decode(column: "renewed", as: Int64.self)),
                    revoked: Int(try row.decode(column: "revoked", as: Int64.self)), unchanged: Int(try row.decode(column: "unchanged", as: Int64.self)),
                    revision: try row.decode(column: "revision", as: Int64?.self),
                    errorCode: try row.decode(column: "error_code", as: String?.self),
                    errorMessage: try row.decode(column: "error_message", as: String?.self),
                    activationError: try row.decode(column: "activation_error", as: String?.self)
                )
            }
        }
    }

    /// Takes the synchronization lease for `holder` until `expiresAt`, unless another instance holds an unexpired one.
    /// Serializes synchronization across every registry instance on this database.
    public func acquireSyncLease(holder: String, now: Date, expiresAt: Date) async throws -> Bool {
        try await database.write { sql in
            let inserted = try await sql.insert(into: "sync_lease").columns("singleton", "holder", "expires_at")
                .values(SQLBind(1), SQLBind(holder), SQLBind(expiresAt.storedMilliseconds)).ignoringConflicts().returning("holder").first()
            if inserted != nil { return true }
            let taken = try await sql.update("sync_lease").set("holder", to: holder).set("expires_at", to: expiresAt.storedMilliseconds)
                .where("singleton", .equal, 1).where("expires_at", .lessThan, now.storedMilliseconds).returning("holder").first()
            return taken != nil
        }
    }

    /// Gives the lease back, if `holder` still has it.
    public func releaseSyncLease(holder: String) async throws {
        try await database.write { sql in
            try await sql.delete(from: "sync_lease").where("holder", .equal, holder).run()
        }
    }

    /// The revision and entity tag of the last applied feed.
    public func syncState() async throws -> (revision: Int64, etag: String?)? {
        try await database.read { sql in
            try await sql.select().columns("revision", "etag").from("sync_state").first().map {
                (try $0.decode(column: "revision", as: Int64.self), try $0.decode(column: "etag", as: String?.self))
            }
        }
    }

    /// Applies a verified feed in one transaction: synchronized keys added, renewed or marked revoked; manual keys are
    /// never replaced, renamed or removed, but a revocation the authority signed (`revoked`) applies to the serial
    /// whatever its source. Refuses a revision lower than the last applied (`FEED_ROLLBACK`) in the same transaction.
    public func applyFeed(
        keys: [(license: LicenseKey, accessKey: String, kid: String)], revoked: [String: String?], revision: Int64, etag: String?,
        actor: String, now: Date
    ) async throws -> SyncCounts {
        try await database.write { sql in
            if let last = try await sql.select().column("revision").from("sync_state").first()?.decode(column: "revision", as: Int64.self), revision < last {
                throw StoreError(code: "FEED_ROLLBACK", message: "The authority sent revision \(revision), older than revision \(last) already applied; nothing was changed.",
                                 kind: .conflict)
            }
            var counts = SyncCounts()
            var existing: [String: (source: String, accessKey: String, revoked: Bool)] = [:]
            for row in try await sql.select().columns("serial", "source", "access_key", "revoked_at").from("registered_keys").all() {
                existing[try row.decode(column: "serial", as: String.self)] = (try row.decode(column: "source", as: String.self),
                                                                               try row.decode(column: "access_key", as: String.self),
                                                                               try row.decode(column: "revoked_at", as: Int64?.self) != nil)
            }
            var listed = Set<String>()
            var new: [RegisteredKey] = []
            for key in keys {
                let serial = key.license.serial
                listed.insert(serial)
                guard let current = existing[serial] else {
                    // A new key is filed under its serial as ID #, which an administrator can change.
                    new.append(RegisteredKey(license: key.license, accessKey: key.accessKey, kid: key.kid, idNumber: serial,
                                             source: .synchronized, registeredAt: now, registeredBy: actor))
                    continue
                }
                guard current.source == KeySource.synchronized.rawValue else { counts.unchanged += 1; continue }  // manual keys are the customer's
                if current.accessKey == key.accessKey && !current.revoked {
                    counts.unchanged += 1
                } else {
                    try await RegistryStore.replaceLicense(key.license, accessKey: key.accessKey, kid: key.kid, on: sql)
                    counts.renewed += 1
                }
            }
            counts.added = try await RegistryStore.insertMany(new, on: sql)
            for (serial, current) in existing where !current.revoked && !listed.contains(serial)
                && (current.source == KeySource.synchronized.rawValue || revoked[serial] != nil) {
                let reason = revoked[serial] ?? "The licensing authority no longer lists this key."
                try await sql.update("registered_keys").set("revoked_at", to: now.storedMilliseconds)
                    .set("revocation_reason", to: reason ?? "Revoked by the licensing authority.").where("serial", .equal, serial).run()
                counts.revoked += 1
            }
            try await sql.delete(from: "sync_state").run()
            try await sql.insert(into: "sync_state").columns("singleton", "revision", "etag").values(SQLBind(1), SQLBind(revision), SQLBind(etag)).run()
            try await AuditLog.append(.init(actor: actor, action: "license-keys.synchronized", target: "installation",
                                            details: ["revision": .int(Int(revision)), "added": .int(counts.added), "renewed": .int(counts.renewed),
                                                      "revoked": .int(counts.revoked), "unchanged": .int(counts.unchanged)]), at: now, on: sql)
            return counts
        }
    }
}
