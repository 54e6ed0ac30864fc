import Foundation
import Hummingbird
import HummingbirdCore
import KeywardDomain
import KeywardStore
import Logging

/// A list in an object, so lists can grow fields (paging) without breaking clients.
public struct ItemsResponse<Item: Encodable & Sendable>: ResponseEncodable {
    public let items: [Item]

    public init(items: [Item]) {
        self.items = items
    }
}

extension AuditEvent: ResponseEncodable {}

extension AuditQuery {
    /// The audit query of `?actor=&action=&target=&before=&limit=`; empty filters are ignored, bad numbers refused.
    public static func from(_ request: Request) throws -> AuditQuery {
        let query = request.uri.queryParameters
        func filter(_ name: String) -> String? { query.get(name).flatMap { $0.isEmpty ? nil : $0 } }
        let limit = query.get("limit").map { Int($0) ?? 0 } ?? 50
        guard (1...maximumLimit).contains(limit) else {
            throw APIError.invalidField(
                FieldError(field: "limit", code: "INVALID_LIMIT", message: "limit must be a whole number from 1 to \(maximumLimit)."))
        }
        var beforeID: Int64?
        if let text = query.get("before") {
            guard let value = Int64(text) else {
                throw APIError.invalidField(FieldError(field: "before", code: "INVALID_CURSOR", message: "before must be the id of an audit event."))
            }
            beforeID = value
        }
        return AuditQuery(actor: filter("actor"), action: filter("action"), target: filter("target"), beforeID: beforeID, limit: limit)
    }
}
