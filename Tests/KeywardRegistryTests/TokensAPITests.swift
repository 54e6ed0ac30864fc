import Foundation
import HTTPTypes
import KeywardDomain
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import Testing

@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// `/api/v1/tokens`: service and directory tokens, made, listed and revoked by an administrator.
    @Suite struct TokensAPITests {
        static func tokenCount(_ harness: RegistryHarness) async throws -> [String: Int] {
            try await fingerprint(harness.store.database, tables: ["api_tokens", "audit_events"])
        }

        @Test(arguments: Backend.available)
        func aDirectoryTokenIsShownOnceAndUsesNothingButProvisioning(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    let made = try await api.call(
                        .post, "/api/v1/tokens", body: ["kind": "directory", "name": "entra-id"], as: IntegrationTokenResponse.self)
                    #expect(made.status == .created)
                    let token = try made.value
                    #expect(token.kind == "directory" && token.name == "entra-id" && token.revokedAt == nil)
                    let text = try #require(token.token)
                    #expect(APIToken(text)?.id == token.id)

                    let listed = try await api.call(.get, "/api/v1/tokens", as: Page<IntegrationTokenResponse>.self)
                    #expect(try listed.value.items.map(\.id) == [token.id])
                    #expect(try listed.value.items.first?.token == nil)
                    #expect(!listed.reply.text.contains(text), "the secret is never shown again")

                    // A directory token opens nothing of the registry's own API: not the checks, sessions, keys or tokens.
                    for (method, path) in [
                        (HTTPRequest.Method.get, "/api/v1/entitlements/check?login=a&component=DOC&menu=DC021"),
                        (.get, "/api/v1/license-keys"), (.get, "/api/v1/users"), (.get, "/api/v1/tokens"), (.delete, "/api/v1/auth/token"),
                    ] {
                        let refused = try await api.call(method, path, token: text)
                        #expect(refused.status == .forbidden, "\(path)")
                        #expect(refused.errorCode == "FORBIDDEN")
                    }
                    let opened = try await api.call(.post, "/api/v1/sessions", token: text, body: ["login": "admin"])
                    #expect(opened.status == .forbidden)

                    let audit = try await api.call(.get, "/api/v1/audit-events?limit=50")
                    #expect(audit.text.contains("token.created") && audit.text.contains("directory"))
                    #expect(!audit.text.contains(text), "the audit log never holds the secret")

                    let revoked = try await api.call(.delete, "/api/v1/tokens/\(token.id)", as: IntegrationTokenResponse.self)
                    #expect(revoked.status == .ok)
                    #expect(try revoked.value.revokedAt != nil)
                    #expect(try await api.call(.get, "/api/v1/license-keys", token: text).status == .unauthorized, "revoked: not a token any more")
                    let again = try await api.call(.delete, "/api/v1/tokens/\(token.id)", as: IntegrationTokenResponse.self)
                    #expect(again.status == .ok, "revoking a revoked token changes nothing")
                    #expect(try again.value.revokedAt == revoked.value.revokedAt)
                }
            }
        }

        /// A service token made by the API works at once and stops at once when revoked, though the token cache had
        /// taken it.
        @Test func aRevokedServiceTokenIsRefusedFromItsNextRequest() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                try await harness.withAPI { api in
                    let made = try await api.call(
                        .post, "/api/v1/tokens", body: ["kind": "service", "name": "suite-login"], as: IntegrationTokenResponse.self)
                    let text = try #require(try made.value.token)
                    let check = "/api/v1/entitlements/check?login=nobody&component=DOC&menu=DC021"
                    #expect(try await api.call(.get, check, token: text).status == .ok)
                    #expect(try await api.call(.get, check, token: text).status == .ok)
                    #expect(try await api.call(.delete, "/api/v1/tokens/\(try made.value.id)").status == .ok)
                    let refused = try await api.call(.get, check, token: text)
                    #expect(refused.status == .unauthorized)
                    #expect(refused.errorCode == "UNAUTHENTICATED")
                }
            }
        }

        /// Each bad request is refused with its code and field, and makes no token and no audit event.
        @Test(
            arguments: [
                (#"{"kind":"admin","name":"x"}"#, 422, "INVALID_TOKEN_KIND", "kind"),
                (#"{"kind":"","name":"x"}"#, 422, "INVALID_TOKEN_KIND", "kind"),
                (#"{"kind":"user","name":"x"}"#, 422, "INVALID_TOKEN_KIND", "kind"),
                (#"{"kind":"directory","name":""}"#, 422, "INVALID_TOKEN_NAME", "name"),
                (#"{"kind":"directory","name":"   "}"#, 422, "INVALID_TOKEN_NAME", "name"),
                (#"{"kind":"directory","name":"a\u0007b"}"#, 422, "INVALID_TOKEN_NAME", "name"),
                (#"{"kind":"service","name":"\#(String(repeating: "x", count: 101))"}"#, 422, "INVALID_TOKEN_NAME", "name"),
                (#"{"kind":"Directory","name":"x"}"#, 422, "INVALID_TOKEN_KIND", "kind"),
                (#"{"kind":"directory","name":"a\u202eb"}"#, 422, "INVALID_TOKEN_NAME", "name"),
                // 34 letters with two marks each: 102 scalars, as the API description counts, though 34 characters.
                (#"{"kind":"directory","name":"\#(String(repeating: "a\u{301}\u{302}", count: 34))"}"#, 422, "INVALID_TOKEN_NAME", "name"),
                (#"{"kind":"service"}"#, 422, "INVALID_FIELD", "name"),
                (#"{"kind":"service","name":7}"#, 422, "INVALID_FIELD", "name"),
                ("not json", 400, "INVALID_JSON", nil),
            ] as [(String, Int, String, String?)])
        func aBadTokenRequestMakesNothing(body: String, status: Int, code: String, field: String?) async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                try await harness.withAPI { api in
                    let before = try await Self.tokenCount(harness)
                    let reply = try await api.call(.post, "/api/v1/tokens", json: body)
                    #expect(reply.status.code == status)
                    #expect(reply.errorCode == code)
                    if let field { #expect(reply.errorField == field) }
                    #expect(try await Self.tokenCount(harness) == before)
                }
            }
        }

        /// Only service and directory tokens are revoked here: an unknown id and a user's own token are unknown, and
        /// only an administrator makes or revokes them.
        @Test func onlyAnAdministratorRevokesAndOnlyIntegrationTokens() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                try await harness.withAPI { api in
                    let before = try await Self.tokenCount(harness)
                    let unknown = try await api.call(.delete, "/api/v1/tokens/nosuchtoken1")
                    #expect(unknown.status == .notFound)
                    #expect(unknown.errorCode == "UNKNOWN_TOKEN")
                    let presented = try #require(api.token)
                    let own = try #require(APIToken(presented))
                    let users = try await api.call(.delete, "/api/v1/tokens/\(own.id)")
                    #expect(users.errorCode == "UNKNOWN_TOKEN", "a user's token is not revoked here")
                    #expect(try await Self.tokenCount(harness) == before)

                    let service = try await harness.serviceToken()
                    let made = try await api.call(.post, "/api/v1/tokens", token: service, body: ["kind": "directory", "name": "x"])
                    #expect(made.status == .forbidden)
                    #expect(try await api.call(.get, "/api/v1/tokens", token: .some(nil)).status == .unauthorized)
                }
            }
        }
    }
}
