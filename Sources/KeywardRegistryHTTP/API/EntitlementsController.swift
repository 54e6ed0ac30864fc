import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import NIOCore

extension EntitlementDecision {
    /// The answer's JSON, written by hand: this is the hot path, and Foundation's encoder costs more than the check.
    /// Serials, codes and profiles are plain ASCII without quotes or backslashes, so nothing needs escaping.
    /// `Benchmarks/RouteBenchmarks` and `scripts/bench-access` measure it.
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

    /// The answer to one check.
    static func response(_ decision: EntitlementDecision) -> Response {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(112)
        decision.write(to: &buffer)
        return Response(status: .ok, headers: jsonHeaders, body: .init(byteBuffer: buffer))
    }

    /// The answer to a batch: `{"results": [...]}` in the order asked.
    static func response(_ decisions: [EntitlementDecision]) -> Response {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(16 + decisions.count * 96)
        buffer.writeString(#"{"results":["#)
        for (index, decision) in decisions.enumerated() {
            if index > 0 { buffer.writeString(",") }
            decision.write(to: &buffer)
        }
        buffer.writeString("]}")
        return Response(status: .ok, headers: jsonHeaders, body: .init(byteBuffer: buffer))
    }

    /// Made once: building the field validates its value, which the hot path need not pay for each answer.
    private static let jsonHeaders: HTTPFields = [.contentType: "application/json"]
}

/// `/api/v1/entitlements/check`: the hot path, answered from the in-memory snapshot without touching the database.
struct EntitlementsController: Sendable {
    let registry: Registry

    struct Check: Decodable {
        let login: String
        let component: String
        let menu: String
    }

    struct Batch: Decodable {
        let checks: [Check]
    }

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group(authorizedBy: RegistryRole.service(registry.access))
            .get("check", use: check)
            .post("check", use: checkBatch)
        return routes
    }

    /// One check, from the query: may this login open this menu now?
    @Sendable func check(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        var login: Substring?
        var component: Substring?
        var menu: Substring?
        request.forEachQueryParameter { key, value in
            switch key {
            case "login": login = login ?? value
            case "component": component = component ?? value
            case "menu": menu = menu ?? value
            default: break
            }
        }
        guard let login, let component, let menu else {
            throw APIError.invalidField(
                FieldError(
                    field: "login", code: "INVALID_CHECK", message: "Give login, component and menu, e.g. ?login=jsmith&component=DOC&menu=DC021."))
        }
        return EntitlementDecision.response(
            registry.access.snapshot.check(login: String(login), component: String(component), menu: String(menu), at: registry.now()))
    }

    /// Up to 1,000 checks in one request, answered in the order asked.
    @Sendable func checkBatch(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        let batch = try await request.decodeJSON(as: Batch.self, context: context)
        guard (1...1000).contains(batch.checks.count) else {
            throw APIError.invalidField(FieldError(field: "checks", code: "INVALID_BATCH", message: "A batch holds 1 to 1,000 checks."))
        }
        let snapshot = registry.access.snapshot
        let now = registry.now()
        return EntitlementDecision.response(batch.checks.map { snapshot.check(login: $0.login, component: $0.component, menu: $0.menu, at: now) })
    }
}
