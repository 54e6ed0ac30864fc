import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardOIDC
import KeywardStore
import KeywardTestSupport
import KeywardWeb
import Prometheus
import Testing

extension RegistryTests {
    /// The vendor's operators signing in to the authority's console with the identity provider (`oidc.*` on the
    /// authority): the same relying party and flow as the registry's, against the loopback provider (issue #19 point 5).
    @Suite struct ConsoleSignInTests {
        /// An authority whose console signs operators in with `provider`; `keeper` is an active clerk, `gone` disabled.
        static func withConsole(
            _ provider: TestIdentityProvider, _ body: @escaping @Sendable (Authority, inout TestBrowser) async throws -> Void
        ) async throws {
            try await withTemporaryDirectory { directory in
                try await withFreshDatabase(.sqliteFile) { database, _ async throws in
                    try await Migrator(Schema.authority).migrate(database, logger: testLogger)
                    let authority = Authority(
                        store: AuthorityStore(database: database), keyring: try AuthorityKeyring.create(in: directory, rotate: false, now: Date()),
                        catalog: try Catalog.shipped())
                    for (login, role) in [("keeper", "clerk"), ("gone", "auditor")] {
                        _ = try await authority.createOperator(
                            login: login, name: login, role: role, password: "a long enough password", actor: "test", cost: 4)
                    }
                    _ = try await authority.store.setOperatorActive("gone", false, actor: "test", now: Date())
                    let settings = try OIDCClientSettings.checked(
                        OIDCSettingsForm(
                            issuer: provider.issuer, clientId: TestIdentityProvider.clientId, clientSecret: nil, providerName: "Vendor IdP"))
                    let signIn = OperatorSignIn(
                        settings: settings, secret: TestIdentityProvider.clientSecret, relyingParty: OIDCRelyingParty(http: .forTests))
                    let console = try await AuthorityConsole.load(authority: authority, signIn: signIn)
                    let router = buildAuthorityRouter(
                        AuthorityDependencies(authority: authority, metrics: PrometheusCollectorRegistry(), console: console))
                    try await Application(router: router).test(.router) { client in
                        var browser = TestBrowser(client: client)
                        try await body(authority, &browser)
                    }
                }
            }
        }

        static func signIn(_ browser: inout TestBrowser, _ provider: TestIdentityProvider) async throws -> TestResponse {
            let start = try await browser.request(.get, "/login/oidc")
            #expect(start.status == .seeOther)
            let callback = try provider.authorize(try #require(start.headers[.location]))
            return try await browser.request(.get, OIDCSignInTests.path(of: callback))
        }

        static func refusals(_ authority: Authority) async throws -> [String] {
            try await AuditLog(database: authority.store.database).list(AuditQuery(action: "sign-in.refused")).compactMap {
                if case .string(let code) = $0.details["code"] { return code }
                return nil
            }
        }

        @Test func anOperatorSignsInWithTheProviderAndLandsOnTheDashboard() async throws {
            try await TestIdentityProvider.run { provider in
                try await Self.withConsole(provider) { authority, browser in
                    let login = String(buffer: try await browser.request(.get, "/login").body)
                    #expect(login.contains("Sign in with Vendor IdP"))
                    let landed = try await Self.signIn(&browser, provider)
                    #expect(landed.status == .seeOther && landed.headers[.location] == "/")
                    let dashboard = String(buffer: try await browser.request(.get, "/").body)
                    #expect(dashboard.contains(#"<span class="who">keeper</span>"#))
                    let events = try await AuditLog(database: authority.store.database).list(AuditQuery(action: "sign-in.oidc"))
                    #expect(events.map(\.actor) == ["operator:keeper"])
                    let session = try await AuditLog(database: authority.store.database).list(AuditQuery(action: "operator.signed-in"))
                    #expect(session.first?.details["method"] == .string("oidc"))
                }
            }
        }

        @Test func someoneWhoIsNotAnActiveOperatorIsRefusedInWordsAndOnlyTheAuditLogKeepsIt() async throws {
            try await TestIdentityProvider.run { provider in
                try await Self.withConsole(provider) { authority, browser in
                    provider.shape { $0.preferredUsername = "stranger" }
                    let stranger = String(buffer: try await Self.signIn(&browser, provider).body)
                    #expect(stranger.contains("Your account stranger at Vendor IdP is not an operator of this authority"))
                    provider.shape { $0.preferredUsername = "gone" }
                    let disabled = String(buffer: try await Self.signIn(&browser, provider).body)
                    #expect(disabled.contains("Your operator account gone is disabled"))
                    #expect(try await browser.request(.get, "/").headers[.location] == "/login", "no session was opened")
                    #expect(try await Self.refusals(authority) == ["OIDC_USER_DISABLED", "OIDC_USER_UNKNOWN"])

                    // A callback whose state this console never sent, or sent to another browser.
                    provider.shape { $0.preferredUsername = "keeper" }
                    let start = try await browser.request(.get, "/login/oidc")
                    let callback = OIDCSignInTests.path(of: try provider.authorize(try #require(start.headers[.location])))
                    browser.cookies["keyward_oidc"] = "another-browser"
                    let foreign = String(buffer: try await browser.request(.get, callback).body)
                    #expect(foreign.contains("started in another browser"))
                    let replayed = String(buffer: try await browser.request(.get, callback).body)
                    #expect(replayed.contains("was used already"), "a state is good for one callback")
                    #expect(try await Self.refusals(authority).prefix(2) == ["OIDC_STATE_INVALID", "OIDC_STATE_INVALID"])
                }
            }
        }
    }
}
