import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import Prometheus
import Testing

@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// Every API route of the registry, taken from the router itself, tried without a token, with an expired one, with a
    /// service token and with the token of a user who administers nothing: each is refused with the right status and
    /// nothing is written.
    @Suite struct RouteSecurityTests {
        /// Routes anyone may call.
        static let open: Set<String> = ["GET /health/live", "GET /health/ready", "GET /metrics", "GET /openapi.yaml", "POST /api/v1/auth/token"]
        /// Routes a service token may call (the suite's login and its checks).
        static let service: Set<String> = [
            "POST /api/v1/sessions", "POST /api/v1/sessions/{id}/heartbeat", "DELETE /api/v1/sessions/{id}", "GET /api/v1/entitlements/check",
            "POST /api/v1/entitlements/check", "GET /api/v1/users/{login}/entitlements",
        ]

        static func concrete(_ path: String) -> String {
            path.replacingOccurrences(of: "{serial}", with: "KW-HDCX-SCMT-Q3F5-DM8X").replacingOccurrences(of: "{login}", with: "ann")
                .replacingOccurrences(of: "{idNumber}", with: "Writers").replacingOccurrences(of: "{id}", with: "ses_unknown")
        }

        @Test func everyRouteRefusesCallersWithoutTheRightToken() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                _ = try await harness.registry.createUser(
                    UserInput(login: "ann", name: "Ann", email: "ann@example.com", password: "a long enough password"), actor: "test")
                let service = try await harness.serviceToken()
                let expired = try await harness.store.database.write { sql in
                    try await TokenStore.create(
                        kind: RegistryTokenKind.user, name: "old", subject: "admin", expiresAt: harness.clock.now.addingTimeInterval(-1),
                        now: harness.clock.now.addingTimeInterval(-3600), on: sql
                    ).token.text
                }
                let router = buildRegistryRouter(
                    try await RegistryDependencies(registry: harness.registry, metrics: PrometheusCollectorRegistry(), throttle: harness.throttle))
                let routes = router.routes.map { ($0.method, openAPIPath($0.path.description)) }.filter { $0.1.hasPrefix("/api/") }
                #expect(routes.count >= 40)
                try await Application(router: router).test(.router) { client async throws in
                    let login = try await client.executeRequest(
                        uri: "/api/v1/auth/token", method: .post, headers: [:],
                        body: ByteBuffer(string: #"{"login":"ann","password":"a long enough password"}"#))
                    let user = try JSONDecoder.iso8601.decode(AuthController.TokenResponse.self, from: Data(buffer: login.body)).token
                    let before = try await harness.fingerprint()
                    for (method, path) in routes {
                        let name = "\(method.rawValue) \(path)"
                        guard !Self.open.contains(name), name != "DELETE /api/v1/auth/token" else { continue }
                        func status(_ token: String?) async throws -> HTTPResponse.Status {
                            var headers: HTTPFields = [:]
                            if let token { headers[.authorization] = "Bearer \(token)" }
                            let body: ByteBuffer? = [.post, .put, .patch, .delete].contains(method) ? ByteBuffer(string: "{}") : nil
                            return try await client.executeRequest(uri: Self.concrete(path), method: method, headers: headers, body: body).status
                        }
                        #expect(try await status(nil) == .unauthorized, "\(name) without a token")
                        #expect(try await status(expired) == .unauthorized, "\(name) with an expired token")
                        #expect(
                            try await status("kw_\(String(repeating: "a", count: 12))_\(String(repeating: "b", count: 32))") == .unauthorized,
                            "\(name) with an unknown token")
                        if !Self.service.contains(name) {
                            #expect(try await status(service) == .forbidden, "\(name) with a service token")
                        }
                        #expect(try await status(user) == .forbidden, "\(name) with the token of a user who administers nothing")
                    }
                    #expect(try await harness.fingerprint() == before, "no refused call wrote anything")
                }
            }
        }
    }
}
