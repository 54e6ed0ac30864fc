import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import Prometheus
import Testing

extension AuthorityTests {
    /// Every route of the authority, taken from the router itself, tried without a token, with an expired or unknown
    /// one, and with another organization's token: refused (404 where the organization must not learn what exists), and
    /// nothing written.
    @Suite struct AuthorityRouteSecurityTests {
        static let open: Set<String> = ["GET /health/live", "GET /health/ready", "GET /metrics", "GET /openapi.yaml", "GET /v1/signing-keys"]
        /// Routes any valid token may call.
        static let anyToken: Set<String> = ["GET /v1/catalog", "GET /v1/catalog/signed"]

        @Test func everyRouteRefusesCallersWithoutTheRightToken() async throws {
            try await AuthorityHarness.run(.sqliteFile) { harness in
                _ = try await harness.authority.createOrganization(id: "acme", legalName: "ACME Industries Ltd.", actor: "test")
                _ = try await harness.authority.createOrganization(id: "globex", legalName: "Globex", actor: "test")
                let issued = try await harness.authority.issue(
                    LicenseKeySpecification(profile: .staff, useType: .floating, users: 5, purchaseType: .sale, components: ["DOC"]),
                    organizationId: "acme", actor: "test")
                let globex = try await harness.organizationToken("globex")
                let expired = try await harness.store.database.write { sql in
                    try await TokenStore.create(
                        kind: TokenKind.operator, name: "old", subject: nil, expiresAt: harness.clock.now.addingTimeInterval(-1),
                        now: harness.clock.now.addingTimeInterval(-3600), on: sql
                    ).token.text
                }
                let router = buildAuthorityRouter(AuthorityDependencies(authority: harness.authority, metrics: PrometheusCollectorRegistry()))
                let routes = router.routes.map { ($0.method, openAPIPath($0.path.description)) }.filter { $0.1.hasPrefix("/v1/") }
                #expect(routes.count >= 20)
                try await Application(router: router).test(.router) { client async throws in
                    let before = try await harness.fingerprint()
                    for (method, path) in routes {
                        let name = "\(method.rawValue) \(path)"
                        guard !Self.open.contains(name) else { continue }
                        // acme's things, as another organization would try to reach them.
                        let uri = path.replacingOccurrences(
                            of: "{id}", with: path.hasPrefix("/v1/tokens") ? "h7ks2mq9xv4e" : path.hasPrefix("/v1/agreements") ? "1" : "acme"
                        )
                        .replacingOccurrences(of: "{serial}", with: issued.serial)
                        func status(_ token: String?) async throws -> HTTPResponse.Status {
                            var headers: HTTPFields = [:]
                            if let token { headers[.authorization] = "Bearer \(token)" }
                            let body: ByteBuffer? = [.post, .put, .patch, .delete].contains(method) ? ByteBuffer(string: "{}") : nil
                            return try await client.executeRequest(uri: uri, method: method, headers: headers, body: body).status
                        }
                        #expect(try await status(nil) == .unauthorized, "\(name) without a token")
                        #expect(try await status(expired) == .unauthorized, "\(name) with an expired token")
                        #expect(
                            try await status("kw_\(String(repeating: "a", count: 12))_\(String(repeating: "b", count: 32))") == .unauthorized,
                            "\(name) with an unknown token")
                        if !Self.anyToken.contains(name) {
                            #expect(try await status(globex) == .notFound, "\(name) with another organization's token")
                        }
                    }
                    #expect(try await harness.fingerprint() == before, "no refused call wrote anything")
                }
            }
        }
    }
}
