import Foundation
import Hummingbird
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import Prometheus
import Testing

@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// Every API route is described in openapi/registry.yaml, and every described operation is routed.
    @Suite struct RegistryOpenAPITests {
        @Test func theDescriptionMatchesTheAPIRoutes() async throws {
            try await RegistryHarness.run(.sqliteMemory) { harness in
                let router = buildRegistryRouter(try await RegistryDependencies(registry: harness.registry, metrics: PrometheusCollectorRegistry()))
                // The web UI's pages (HTML under /) are not part of the API description.
                let api = router.routes.filter { route in
                    let path = route.path.description
                    guard !path.contains("scim/") else { return false }  // described in scim.yaml
                    return path.hasPrefix("/api/") || path.hasPrefix("api/") || ["health", "metrics", "openapi.yaml"].contains { path.contains($0) }
                }
                let routed = Set(api.map { "\($0.method.rawValue) \(openAPIPath($0.path.description))" })
                let described = try describedOperations(Registry.openAPIDescription())
                #expect(routed.count >= 16)
                #expect(routed.subtracting(described).isEmpty, "missing from openapi/registry.yaml: \(routed.subtracting(described).sorted())")
                #expect(described.subtracting(routed).isEmpty, "described but not routed: \(described.subtracting(routed).sorted())")
            }
        }

        /// The SCIM service's routes are those openapi/scim.yaml describes (under its server URL, /scim/v2).
        @Test func theSCIMDescriptionMatchesTheSCIMRoutes() async throws {
            try await RegistryHarness.run(.sqliteMemory) { harness in
                let router = buildRegistryRouter(try await RegistryDependencies(registry: harness.registry, metrics: PrometheusCollectorRegistry()))
                let scim = router.routes.map { ($0.method.rawValue, "/" + $0.path.description.split(separator: "/").joined(separator: "/")) }
                    .filter { $0.1.hasPrefix("/scim/v2/") && !$0.1.hasSuffix("openapi.yaml") }
                let routed = Set(scim.map { "\($0.0) \(openAPIPath(String($0.1.dropFirst("/scim/v2".count))))" })
                let described = try describedOperations(SCIMController.openAPIDescription)
                #expect(routed.count == 17)
                #expect(
                    routed == described,
                    "routed only: \(routed.subtracting(described).sorted()); described only: \(described.subtracting(routed).sorted())")
            }
        }
    }
}
