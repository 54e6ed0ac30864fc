import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardDomain
import KeywardHTTP
import KeywardOIDC
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import KeywardWeb
import SQLKit
import Testing

@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// Signing in with an OpenID Connect provider (DESIGN.md section 10): the code flow with PKCE, state and nonce, ID
    /// tokens verified against the provider's keys, and every forged, misdirected or replayed sign-in refused in words,
    /// writing nothing but its audit line. The provider runs on loopback over real HTTP (``TestIdentityProvider``).
    @Suite struct OIDCSignInTests {
        typealias Browser = WebUITests.Browser

        /// A registry whose `keeper` administers License key through a manager key, signing in with `provider`.
        static func setUp(_ harness: RegistryHarness, _ provider: TestIdentityProvider) async throws {
            provider.clock.withLockedValue { [clock = harness.clock] in $0 = { clock.now } }
            let key = try await harness.registerAndActivate(
                harness.accessKey(users: 20, profile: .manager, components: ["CFG", "DOC"]), idNumber: "Admins")
            for login in ["keeper", "other"] {
                _ = try await harness.registry.createUser(
                    UserInput(login: login, name: login, email: "\(login)@example.com", password: "a long enough password"), actor: "test")
            }
            _ = try await harness.registry.createGroup(
                AccessGroupInput(idNumber: "Keepers", name: "Keepers", keySerial: key.serial, component: "CFG", menus: ["CM009"], users: ["keeper"]),
                actor: "test")
            try await harness.registry.saveSignInSettings(
                OIDCSettingsForm(
                    issuer: provider.issuer, clientId: TestIdentityProvider.clientId, clientSecret: TestIdentityProvider.clientSecret,
                    providerName: "Test IdP"),
                actor: "test")
        }

        /// The web UI with the harness's throttle (3 failures per login and address), or `throttle`.
        func withBrowser(
            _ harness: RegistryHarness, throttle: LoginThrottle? = nil, _ body: @escaping @Sendable (inout Browser) async throws -> Void
        ) async throws {
            let dependencies = try await RegistryDependencies(registry: harness.registry, metrics: .init(), throttle: throttle ?? harness.throttle)
            try await Application(router: buildRegistryRouter(dependencies)).test(.router) { client in
                var browser = Browser(client: client)
                try await body(&browser)
            }
        }

        /// "Sign in with …", the provider's approval, and the callback: the answer to the callback.
        static func signIn(_ browser: inout Browser, _ provider: TestIdentityProvider) async throws -> TestResponse {
            let start = try await browser.request(.get, "/login/oidc")
            #expect(start.status == .seeOther)
            let callback = try provider.authorize(try #require(start.headers[.location]))
            return try await browser.request(.get, Self.path(of: callback))
        }

        /// `/login/oidc/callback?…` of an absolute callback URL.
        static func path(of url: String) -> String {
            guard let range = url.range(of: SignInRedirect.path) else { return url }
            return String(url[range.lowerBound...])
        }

        @Test(arguments: Backend.services)
        func signingInWithTheProviderLandsOnTheLicenseKeysAndSigningOutOffersTheProvidersSignOut(backend: Backend) async throws {
            try await TestIdentityProvider.run { provider in
                try await RegistryHarness.run(backend, signIn: true) { harness in
                    try await Self.setUp(harness, provider)
                    try await withBrowser(harness) { browser in
                        let login = try await browser.request(.get, "/login")
                        #expect(String(buffer: login.body).contains("Sign in with Test IdP"))
                        let start = try await browser.request(.get, "/login/oidc")
                        let location = try #require(start.headers[.location])
                        let query = TestIdentityProvider.query(of: location)
                        #expect(location.hasPrefix(provider.issuer + "/authorize?"))
                        #expect(query["response_type"] == "code")
                        #expect(query["client_id"] == TestIdentityProvider.clientId)
                        #expect(query["code_challenge_method"] == "S256")
                        #expect(query["scope"] == "openid profile email")
                        #expect(
                            (query["state"]?.count ?? 0) >= 43 && (query["nonce"]?.count ?? 0) >= 43 && (query["code_challenge"]?.count ?? 0) == 43)
                        #expect(query["redirect_uri"]?.hasSuffix("/login/oidc/callback") == true)
                        let cookie = try #require(start.headers[values: .setCookie].first { $0.hasPrefix("keyward_oidc=") })
                        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"))
                        // The provider checks PKCE's verifier against the challenge: the sign-in succeeds only if S256 is right.
                        let landed = try await browser.request(.get, Self.path(of: try provider.authorize(location)))
                        #expect(landed.status == .seeOther)
                        #expect(landed.headers[.location] == "/license-keys")
                        let keys = try await browser.request(.get, "/license-keys")
                        #expect(keys.status == .ok)
                        #expect(String(buffer: keys.body).contains("keeper"))
                        let events = try await AuditLog(database: harness.store.database).list(AuditQuery(action: "sign-in.oidc"))
                        #expect(events.map(\.actor) == ["user:keeper"])
                        #expect(events.first?.details["subject"] == .string("subject-1"))
                        // Signing out ends the registry's session and offers the provider's own sign-out.
                        let loggedOut = try await browser.request(.post, "/logout", form: ["_csrf": Browser.csrf(in: keys) ?? ""])
                        #expect(loggedOut.headers[.location] == "/login?flash=logged-out&provider=1")
                        let page = String(buffer: try await browser.request(.get, "/login?flash=logged-out&provider=1").body)
                        #expect(page.contains("Sign out of Test IdP too"))
                        #expect(page.contains(provider.issuer + "/logout?client_id=\(TestIdentityProvider.clientId)&amp;post_logout_redirect_uri="))
                        #expect(try await browser.request(.get, "/license-keys").status == .seeOther)
                    }
                }
            }
        }

        /// Each forgery or mistake in the ID token, the code it is refused with, and a word of its sentence.
        static let forgedTokens: [(name: String, change: @Sendable (inout TestIdentityProvider.Shape) -> Void, code: String, says: String)] = [
            ("another nonce", { $0.nonce = .some("someone-elses-nonce") }, "OIDC_NONCE_MISMATCH", "nonce"),
            ("no nonce", { $0.nonce = .some(nil) }, "OIDC_NONCE_MISMATCH", "nonce"),
            ("another audience", { $0.audience = ["another-application"] }, "OIDC_AUDIENCE_MISMATCH", "another-application"),
            ("another authorized party", { $0.azp = "another-application" }, "OIDC_AUDIENCE_MISMATCH", "azp"),
            ("expired", { $0.expiresAt = RegistryHarness.start.addingTimeInterval(-61) }, "OIDC_TOKEN_EXPIRED", "expired"),
            ("issued in the future", { $0.issuedAt = RegistryHarness.start.addingTimeInterval(120) }, "OIDC_TOKEN_INVALID", "future"),
            ("alg none", { $0.signing = .none }, "OIDC_ALGORITHM_REFUSED", "alg none"),
            ("HS256 keyed with the public key", { $0.signing = .hmacWithPublicKey }, "OIDC_ALGORITHM_REFUSED", "shared secret"),
            ("a key not in the JWKS", { $0.signing = .unpublished }, "OIDC_UNKNOWN_KEY", "never-published"),
            ("another issuer", { $0.issuer = "https://evil.example.com" }, "OIDC_ISSUER_MISMATCH", "evil.example.com"),
            ("a user nobody knows", { $0.preferredUsername = "stranger" }, "OIDC_USER_UNKNOWN", "not a user of this registry"),
            ("a user who administers nothing", { $0.preferredUsername = "other" }, "FORBIDDEN", "may not administer the registry"),
        ]

        @Test(arguments: 0..<forgedTokens.count)
        func aForgedOrMisdirectedIDTokenIsRefusedInWordsAndWritesOnlyItsAuditLine(index: Int) async throws {
            let forged = Self.forgedTokens[index]
            try await TestIdentityProvider.run { provider in
                try await RegistryHarness.run(.sqliteFile, signIn: true) { harness in
                    try await Self.setUp(harness, provider)
                    provider.shape(forged.change)
                    try await withBrowser(harness) { browser in
                        let before = try await harness.fingerprint()
                        let sessionsBefore = try await Self.webSessions(harness)
                        let refused = try await Self.signIn(&browser, provider)
                        let page = String(buffer: refused.body)
                        #expect(refused.status == .ok, "\(forged.name)")
                        #expect(page.contains(forged.says), "\(forged.name): \(page)")
                        #expect(
                            refused.headers[values: .setCookie].allSatisfy { !$0.hasPrefix("keyward_session=") || $0.hasPrefix("keyward_session=;") })
                        var after = try await harness.fingerprint()
                        #expect(after.removeValue(forKey: "audit_events") == (before["audit_events"] ?? 0) + 1, "\(forged.name)")
                        var expected = before
                        expected.removeValue(forKey: "audit_events")
                        #expect(after == expected, "\(forged.name)")
                        #expect(try await Self.webSessions(harness) == sessionsBefore)
                        let event = try #require(
                            try await AuditLog(database: harness.store.database).list(AuditQuery(action: "sign-in.refused")).first)
                        #expect(event.details["code"] == .string(forged.code), "\(forged.name)")
                        #expect(try await AuditLog(database: harness.store.database).list(AuditQuery(action: "sign-in.oidc")).isEmpty)
                        #expect(try await browser.request(.get, "/license-keys").status == .seeOther)
                    }
                }
            }
        }

        static func webSessions(_ harness: RegistryHarness) async throws -> Int {
            try await harness.store.database.read { sql in
                try await sql.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("web_sessions").first()?.decode(
                    column: "n", as: Int.self) ?? 0
            }
        }

        @Test func aMissingTamperedReplayedOrForeignStateAndAReplayedCodeAreRefused() async throws {
            try await TestIdentityProvider.run { provider in
                try await RegistryHarness.run(.sqliteFile, signIn: true) { harness in
                    try await Self.setUp(harness, provider)
                    // Room for the five refusals below before the login throttle would step in.
                    let throttle = LoginThrottle(maximumPerPair: 10, slowDownAfter: 10, maximumDelay: .milliseconds(1))
                    try await withBrowser(harness, throttle: throttle) { browser in
                        let start = try await browser.request(.get, "/login/oidc")
                        let callback = Self.path(of: try provider.authorize(try #require(start.headers[.location])))
                        let query = TestIdentityProvider.query(of: callback)
                        let code = try #require(query["code"])
                        let state = try #require(query["state"])
                        // No state, and a state altered by one character: refused, and nothing of the real one is used up.
                        for path in ["/login/oidc/callback?code=\(code)", "/login/oidc/callback?code=\(code)&state=\(state.dropLast())x"] {
                            let page = String(buffer: try await browser.request(.get, path).body)
                            #expect(page.contains("was not started by this registry"), "\(path)")
                        }
                        // The real callback in another browser: refused, and its state is used up, so it cannot be replayed.
                        var other = browser
                        other.cookies["keyward_oidc"] = "another-browsers-cookie"
                        #expect(String(buffer: try await other.request(.get, callback).body).contains("started in another browser"))
                        #expect(String(buffer: try await browser.request(.get, callback).body).contains("was used already"))
                        #expect(try await Self.webSessions(harness) == 0)
                        // A code the provider has redeemed once, sent back with a fresh state: the provider refuses it.
                        let first = try await browser.request(.get, "/login/oidc")
                        let redeemed = Self.path(of: try provider.authorize(try #require(first.headers[.location])))
                        #expect(try await browser.request(.get, redeemed).headers[.location] == "/license-keys")
                        let fresh = try await browser.request(.get, "/login/oidc")
                        let freshLocation = try #require(fresh.headers[.location])
                        let freshState = try #require(TestIdentityProvider.query(of: freshLocation)["state"])
                        let usedCode = try #require(TestIdentityProvider.query(of: redeemed)["code"])
                        let reuse = try await browser.request(.get, "/login/oidc/callback?code=\(usedCode)&state=\(freshState)")
                        #expect(String(buffer: reuse.body).contains("refused the sign-in code"))
                        let codes = try await AuditLog(database: harness.store.database).list(AuditQuery(action: "sign-in.refused")).compactMap {
                            $0.details["code"]
                        }
                        #expect(codes.filter { $0 == .string("OIDC_STATE_INVALID") }.count == 4)
                        #expect(codes.contains(.string("OIDC_CODE_REFUSED")))
                    }
                }
            }
        }
    }
}
