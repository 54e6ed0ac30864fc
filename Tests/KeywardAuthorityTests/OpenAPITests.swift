import Foundation
import Hummingbird
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import Prometheus
import Testing

extension AuthorityTests {
    /// The OpenAPI description and the router must list the same operations.
    @Suite struct OpenAPITests {
        @Test func everyRouteIsDescribedAndEveryDescribedOperationIsRouted() async throws {
            try await AuthorityHarness.run(.sqliteMemory) { harness in
                let router = buildAuthorityRouter(AuthorityDependencies(authority: harness.authority, metrics: PrometheusCollectorRegistry()))
                let routed = Set(router.routes.map { "\($0.method.rawValue) \(openAPIPath($0.path.description))" })
                let described = try describedOperations(Authority.openAPIDescription())
                #expect(routed.count >= 26)
                #expect(
                    routed.subtracting(described).isEmpty, "routes missing from openapi/authority.yaml: \(routed.subtracting(described).sorted())")
                #expect(described.subtracting(routed).isEmpty, "described but not routed: \(described.subtracting(routed).sorted())")
            }
        }
    }
}
