import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import NIOCore

extension EntitlementDecision {
    /// The answer's JSON, written by hand: this is the hot path, and Foundation's encoder costs more than the check.
    /// Serials, codes and profiles are plain ASCII without quotes or backslashes, so nothing needs escaping.
    func write(to buffer: inout ByteBuffer) {
        buffer.writeString(allowed ? #"{"allowed":true,"code":""# : #"{"allowed":false,"code":""#)
        buffer.writeString(code.rawValue)
        buffer.writeString("\"")
        if let keySerial {
            buffer.writeString(#","keySerial":""#)
            buffer.writeString(keySerial)
            buffer.writeString("\"")
        }
        if let profile {
            buffer.writeString(#","profile":""#)
            buffer.writeString(profile.rawValue)
            buffer.writeString("\"")
        }
        buffer.writeString("}")
    }

    static func response(_ decisions: [EntitlementDecision], batch: Bool) -> Response {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(batch ? 16 + decisions.count * 96 : 112)
        if batch { buffer.writeString(#"{"results":["#) }
        for (index, decision) in decisions.enumerated() {
            if index > 0 { buffer.writeString(",") }
            decision.write(to: &buffer)
        }
        if batch { buffer.writeString("]}") }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: buffer))
    }
}

/// `/api/v1/entitlements/check`: the hot path, answered from the in-memory snapshot without touching the database.
struct EntitlementsAPI: Sendable {
    let registry: Registry

    struct Check: Decodable {
        let login: String
        let component: String
        let menu: String
    }

    struct Batch: Decodable {
        let checks: [Check]
    }

    func add(to router: Router<RegistryRequestContext>) {
        router.get("/api/v1/entitlements/check") { request, context in
            try context.requireService(registry.access)
            let query = request.uri.queryParameters
            guard let login = query.get("login"), let component = query.get("component"), let menu = query.get("menu") else {
                throw APIError.invalidField(FieldError(field: "login", code: "INVALID_CHECK", message: "Give login, component and menu, e.g. ?login=jsmith&component=DOC&menu=DC021."))
            }
            return EntitlementDecision.response([registry.access.snapshot.check(login: login, component: component, menu: menu, at: registry.now())], batch: false)
        }
        router.post("/api/v1/entitlements/check") { request, context in
            try context.requireService(registry.access)
            let batch = try await request.decodeJSON(as: Batch.self, context: context)
            guard (1...1000).contains(batch.checks.count) else {
                throw APIError.invalidField(FieldError(field: "checks", code: "INVALID_BATCH", message: "A batch holds 1 to 1,000 checks."))
            }
            let snapshot = registry.access.snapshot, now = registry.now()
            return EntitlementDecision.response(batch.checks.map { snapshot.check(login: $0.login, component: $0.component, menu: $0.menu, at: now) }, batch: true)
        }
    }
}
