import Foundation
import Hummingbird
import KeywardHTTP
import KeywardRegistry
import KeywardRegistryHTTP
import KeywardStore
import KeywardTestSupport
import Prometheus
import Testing

extension RegistryTests {
    /// Every API route is described in openapi/registry.yaml, and every described operation is routed.
    @Suite struct RegistryOpenAPITests {
        @Test func theDescriptionMatchesTheAPIRoutes() async throws {
            try await RegistryHarness.run(.sqliteMemory) { harness in
                let router = buildRegistryRouter(try await RegistryDependencies(registry: harness.registry, metrics: PrometheusCollectorRegistry()))
                // The web UI's pages (HTML under /) are not part of the API description.
                let api = router.routes.filter { route in
                    let path = route.path.description
                    return path.hasPrefix("/api/") || path.hasPrefix("api/") || ["health", "metrics", "openapi.yaml"].contains { path.contains($0) }
                }
                let routed = Set(api.map { "\($0.method.rawValue) \(openAPIPath($0.path.description))" })
                let described = try describedOperations(Registry.openAPIDescription())
                #expect(routed.count >= 16)
                #expect(routed.subtracting(described).isEmpty, "missing from openapi/registry.yaml: \(routed.subtracting(described).sorted())")
                #expect(described.subtracting(routed).isEmpty, "described but not routed: \(described.subtracting(routed).sorted())")
            }
        }
    }
}
