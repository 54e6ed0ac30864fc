import Foundation
import Hummingbird
import KeywardRegistry
import KeywardTestSupport
import Prometheus
import Testing

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
            let routed = Set(api.map { route in
                let path = route.path.description.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
                return "\(route.method.rawValue) /\(path)"
            })
            let described = describedOperations(Registry.openAPIDescription())
            #expect(routed.count >= 16)
            #expect(routed.subtracting(described).isEmpty, "missing from openapi/registry.yaml: \(routed.subtracting(described).sorted())")
            #expect(described.subtracting(routed).isEmpty, "described but not routed: \(described.subtracting(routed).sorted())")
        }
    }

    func describedOperations(_ yaml: String) -> Set<String> {
        var operations: Set<String> = []
        var path: String?
        var inPaths = false
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" { inPaths = true; continue }
            if inPaths, let first = line.first, first != " ", first != "#" { inPaths = false }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":"), let path {
                let key = line.trimmingCharacters(in: .whitespaces).dropLast()
                if ["get", "post", "put", "patch", "delete"].contains(String(key)) { operations.insert("\(key.uppercased()) \(path)") }
            }
        }
        return operations
    }
}
