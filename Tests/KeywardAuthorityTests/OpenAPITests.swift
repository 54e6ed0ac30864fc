import Foundation
import Hummingbird
import KeywardAuthority
import KeywardTestSupport
import Prometheus
import Testing

/// The OpenAPI description and the router must list the same operations.
@Suite struct OpenAPITests {
    /// `METHOD /path/{param}` for every operation under `paths:` of the description.
    static func describedOperations(_ yaml: String) -> Set<String> {
        var operations: Set<String> = []
        var path: String?
        var inPaths = false
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" { inPaths = true; continue }
            if inPaths, let first = line.first, first != " ", first != "#" { inPaths = false }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                path = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), let path {
                let key = line.trimmingCharacters(in: .whitespaces).dropLast()
                if ["get", "post", "put", "patch", "delete", "head"].contains(String(key)), line.hasSuffix(":") {
                    operations.insert("\(key.uppercased()) \(path)")
                }
            }
        }
        return operations
    }

    @Test func everyRouteIsDescribedAndEveryDescribedOperationIsRouted() async throws {
        try await AuthorityHarness.run(.sqliteMemory) { harness in
            let router = buildAuthorityRouter(AuthorityDependencies(authority: harness.authority, metrics: PrometheusCollectorRegistry()))
            let routed = Set(router.routes.map { route in
                let path = route.path.description.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
                return "\(route.method.rawValue) /\(path.drop(while: { $0 == "/" }))"
            })
            let described = Self.describedOperations(Authority.openAPIDescription())
            #expect(routed.count >= 26)
            #expect(routed.subtracting(described).isEmpty, "routes missing from openapi/authority.yaml: \(routed.subtracting(described).sorted())")
            #expect(described.subtracting(routed).isEmpty, "described but not routed: \(described.subtracting(routed).sorted())")
        }
    }
}
