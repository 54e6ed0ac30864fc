import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import NIOCore

extension EntitlementDecision: ResponseEncodable {}

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

    struct Results: ResponseEncodable {
        let results: [EntitlementDecision]
    }

    func add(to router: Router<RegistryRequestContext>) {
        router.get("/api/v1/entitlements/check") { request, context in
            try context.requireService(registry.access)
            let query = request.uri.queryParameters
            guard let login = query.get("login"), let component = query.get("component"), let menu = query.get("menu") else {
                throw APIError.invalidField(FieldError(field: "login", code: "INVALID_CHECK", message: "Give login, component and menu, e.g. ?login=jsmith&component=DOC&menu=DC021."))
            }
            return registry.access.snapshot.check(login: login, component: component, menu: menu, at: registry.now())
        }
        router.post("/api/v1/entitlements/check") { request, context in
            try context.requireService(registry.access)
            let batch = try await request.decodeJSON(as: Batch.self, context: context)
            guard (1...1000).contains(batch.checks.count) else {
                throw APIError.invalidField(FieldError(field: "checks", code: "INVALID_BATCH", message: "A batch holds 1 to 1,000 checks."))
            }
            let snapshot = registry.access.snapshot, now = registry.now()
            return Results(results: batch.checks.map { snapshot.check(login: $0.login, component: $0.component, menu: $0.menu, at: now) })
        }
    }
}
