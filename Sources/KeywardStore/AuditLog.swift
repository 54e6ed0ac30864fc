import Foundation
import KeywardDomain
import SQLKit

/// One entry of the append-only audit log: who did what to which thing, and when.
public struct AuditEvent: Sendable, Hashable, Codable {
    public var id: Int64
    public var occurredAt: Date
    /// Who acted, e.g. `operator:deploy-bot`, `admin`, `user:jdoe`, `system`.
    public var actor: String
    /// What happened, dotted, e.g. `license-key.issued`.
    public var action: String
    /// What it happened to, e.g. `license-key:KW-7F3K-9Q2M-XA4T-C8PD`.
    public var target: String
    public var details: [String: JSONValue]
}

/// An audit event about to be written.
public struct NewAuditEvent: Sendable, Hashable {
    public var actor: String
    public var action: String
    public var target: String
    public var details: [String: JSONValue]

    public init(actor: String, action: String, target: String, details: [String: JSONValue] = [:]) {
        self.actor = actor
        self.action = action
        self.target = target
        self.details = details
    }
}

/// Which audit events to list: newest first, optionally filtered, paged by id.
public struct AuditQuery: Sendable, Hashable {
    public var actor: String?
    public var action: String?
    public var target: String?
    /// Only events at or after this time.
    public var from: Date?
    /// Only events before this time.
    public var until: Date?
    /// Only events older than this id (the `id` of the last event of the previous page).
    public var beforeID: Int64?
    public var limit: Int

    public init(
        actor: String? = nil, action: String? = nil, target: String? = nil, from: Date? = nil, until: Date? = nil,
        beforeID: Int64? = nil, limit: Int = 50
    ) {
        self.actor = actor
        self.action = action
        self.target = target
        self.from = from
        self.until = until
        self.beforeID = beforeID
        self.limit = limit
    }

    public static let maximumLimit = 500
}

/// The audit log's repository; it can only append and read.
public struct AuditLog: Sendable {
    let database: KeywardDatabase

    public init(database: KeywardDatabase) {
        self.database = database
    }

    public static let maximumFieldLength = 200
    public static let maximumDetailsSize = 64 * 1024

    /// Appends `event` in a transaction of its own.
    @discardableResult
    public func append(_ event: NewAuditEvent, at time: Date) async throws -> AuditEvent {
        try await database.write { try await Self.append(event, at: time, on: $0) }
    }

    /// Appends `event` inside the caller's transaction, so the change and its record commit together.
    @discardableResult
    public static func append(_ event: NewAuditEvent, at time: Date, on sql: any SQLDatabase) async throws -> AuditEvent {
        let details = try validate(event)
        let milliseconds = Int64((time.timeIntervalSince1970 * 1000).rounded(.down))
        let row = try await sql.insert(into: "audit_events")
            .model(
                NewAuditRow(occurredAt: milliseconds, actor: event.actor, action: event.action, target: event.target, details: details),
                with: .columns
            )
            .returning("id")
            .first()
        let id = try row.map { try $0.decode(column: "id", as: Int64.self) }
        guard let id else { throw StoreError(code: "STORE_FAILURE", message: "The audit event was not stored.") }
        return AuditEvent(
            id: id, occurredAt: Date(timeIntervalSince1970: Double(milliseconds) / 1000),
            actor: event.actor, action: event.action, target: event.target, details: event.details
        )
    }

    /// Events matching `query` (and `condition`, a store's own SQL over the events' columns), newest first.
    public func list(_ query: AuditQuery = AuditQuery(), matching condition: (any SQLExpression)? = nil) async throws -> [AuditEvent] {
        guard (1...AuditQuery.maximumLimit).contains(query.limit) else {
            throw StoreError(code: "INVALID_LIMIT", message: "The page size must be from 1 to \(AuditQuery.maximumLimit).")
        }
        return try await database.read { sql in
            var select = sql.select()
                .columns("id", "occurred_at", "actor", "action", "target", "details")
                .from("audit_events")
            if let actor = query.actor { select = select.where("actor", .equal, actor) }
            if let action = query.action { select = select.where("action", .equal, action) }
            if let target = query.target { select = select.where("target", .equal, target) }
            if let condition { select = select.where(condition) }
            if let from = query.from {
                select = select.where("occurred_at", .greaterThanOrEqual, Int64((from.timeIntervalSince1970 * 1000).rounded(.down)))
            }
            if let until = query.until { select = select.where("occurred_at", .lessThan, Int64((until.timeIntervalSince1970 * 1000).rounded(.down))) }
            if let beforeID = query.beforeID { select = select.where("id", .lessThan, beforeID) }
            return try await select.orderBy("id", .descending).limit(query.limit).all(decoding: AuditRow.self, with: .columns).map { try $0.event() }
        }
    }

    /// The details as JSON, after checking every field; throws `INVALID_AUDIT_EVENT` before anything is written.
    private static func validate(_ event: NewAuditEvent) throws -> String {
        for (name, value) in [("actor", event.actor), ("action", event.action), ("target", event.target)] {
            guard !value.isEmpty, value.count <= maximumFieldLength,
                !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
            else {
                throw StoreError(
                    code: "INVALID_AUDIT_EVENT",
                    message: "The audit event's \(name) must be 1 to \(maximumFieldLength) characters without control characters.")
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let details = String(decoding: try encoder.encode(event.details), as: UTF8.self)
        guard details.utf8.count <= maximumDetailsSize else {
            throw StoreError(code: "INVALID_AUDIT_EVENT", message: "The audit event's details exceed \(maximumDetailsSize / 1024) KiB.")
        }
        return details
    }
}

/// A new `audit_events` row; its id is the database's.
private struct NewAuditRow: Encodable {
    var occurredAt: Int64
    var actor: String
    var action: String
    var target: String
    /// The details as JSON with sorted keys.
    var details: String
}

/// An `audit_events` row.
private struct AuditRow: Decodable {
    var id: Int64
    var occurredAt: Int64
    var actor: String
    var action: String
    var target: String
    var details: String

    func event() throws -> AuditEvent {
        AuditEvent(
            id: id, occurredAt: Date(timeIntervalSince1970: Double(occurredAt) / 1000), actor: actor, action: action, target: target,
            details: try JSONDecoder().decode([String: JSONValue].self, from: Data(details.utf8))
        )
    }
}
