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
import Testing

@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// The sign-in settings' API, sessions opened with an ID token, key rotation, a lying discovery document, and the
    /// rules on who may sign in how.
    @Suite struct OIDCSettingsTests {
        typealias Browser = WebUITests.Browser
        typealias SignIn = OIDCSignInTests

        @Test func theSettingsAPINeverShowsTheSecretAndRefusesBadValuesWritingNothing() async throws {
            try await TestIdentityProvider.run { provider in
                try await RegistryHarness.run(.sqliteFile, signIn: true) { harness in
                    try await harness.withAPI { api in
                        let bad: [(String, String, String)] = [
                            (#"{"issuer":"ftp://idp.example.com","clientId":"k","clientSecret":"s"}"#, "issuer", "INVALID_ISSUER"),
                            (#"{"issuer":"http://idp.example.com","clientId":"k","clientSecret":"s"}"#, "issuer", "INVALID_ISSUER"),
                            (#"{"issuer":"https://idp.example.com","clientId":"","clientSecret":"s"}"#, "clientId", "INVALID_CLIENT_ID"),
                            (
                                #"{"issuer":"https://idp.example.com","clientId":"k","clientSecret":"s","scopes":["profile"]}"#, "scopes",
                                "INVALID_SCOPES"
                            ),
                            (
                                #"{"issuer":"https://idp.example.com","clientId":"k","clientSecret":"s","userClaim":"upn"}"#, "userClaim",
                                "INVALID_USER_CLAIM"
                            ),
                            (#"{"issuer":"https://idp.example.com","clientId":"k"}"#, "clientSecret", "SECRET_REQUIRED"),
                        ]
                        let before = try await harness.fingerprint()
                        for (body, field, code) in bad {
                            let refused = try await api.call(.put, "/api/v1/settings/sign-in", json: body)
                            #expect(refused.status == .unprocessableContent, "\(body)")
                            #expect(refused.errorCode == code, "\(body)")
                            #expect(refused.errorField == field, "\(body)")
                        }
                        #expect(try await harness.fingerprint() == before)
                        #expect(try await harness.store.settings()[.signIn] == nil)
                        let body = jsonObject([
                            "issuer": provider.issuer, "clientId": TestIdentityProvider.clientId, "clientSecret": TestIdentityProvider.clientSecret,
                            "scopes": "openid email", "userClaim": "email",
                        ])
                        let saved = try await api.call(.put, "/api/v1/settings/sign-in", json: body)
                        #expect(saved.status == .ok)
                        let shown = try await api.call(.get, "/api/v1/settings/sign-in")
                        let text = String(decoding: shown.body, as: UTF8.self)
                        #expect(!text.contains(TestIdentityProvider.clientSecret))
                        #expect(text.contains(#""secretSaved":true"#))
                        #expect(text.contains(#""redirectURI":"http:\/\/localhost\/login\/oidc\/callback""#) || text.contains("/login/oidc/callback"))
                        #expect(text.contains(#""scopes":["openid","email"]"#))
                        // The audit line names the change but never the secret.
                        let event = try #require(
                            try await AuditLog(database: harness.store.database).list(AuditQuery(action: "settings.changed")).first)
                        #expect(event.details["sign-in.oidc.clientSecret"] == .string("saved"))
                        // Test connection: what it found at the provider, in words.
                        let test = try await api.call(.post, "/api/v1/settings/sign-in/test")
                        #expect(test.status == .ok)
                        let found = String(decoding: test.body, as: UTF8.self)
                        #expect(found.contains(#""ok":true"#) && found.contains("key-1 (ES256)") && found.contains("/authorize"))
                        // Typed settings without their issuer are not quietly swapped for the saved ones.
                        let partial = try await api.call(.post, "/api/v1/settings/sign-in/test", json: #"{"clientId":"typed-but-no-issuer"}"#)
                        #expect(partial.status == .unprocessableContent && partial.errorCode == "INVALID_ISSUER" && partial.errorField == "issuer")
                        // A blank secret keeps the saved one for the same provider, and is refused for another one.
                        let other = jsonObject(["issuer": "https://idp.example.com", "clientId": TestIdentityProvider.clientId])
                        #expect(try await api.call(.put, "/api/v1/settings/sign-in", json: other).errorCode == "SECRET_REQUIRED")
                        let same = jsonObject(["issuer": provider.issuer, "clientId": TestIdentityProvider.clientId, "userClaim": "email"])
                        #expect(try await api.call(.put, "/api/v1/settings/sign-in", json: same).status == .ok)
                        #expect(try await harness.store.settings()[.signInSecret] == TestIdentityProvider.clientSecret)
                        // Other fields without an issuer are refused; an empty body turns sign-in with a provider off.
                        let noIssuer = try await api.call(.put, "/api/v1/settings/sign-in", json: #"{"providerName":"Entra ID"}"#)
                        #expect(noIssuer.errorCode == "INVALID_ISSUER")
                        #expect(try await harness.store.settings()[.signIn] != nil)
                        #expect(try await api.call(.put, "/api/v1/settings/sign-in", json: "{}").status == .ok)
                        #expect(try await harness.store.settings()[.signIn] == nil)
                        #expect(try await harness.store.settings()[.signInSecret] == nil)
                        #expect(harness.registry.signIn.settings == nil)
                    }
                }
            }
        }

        @Test func aDiscoveryDocumentForAnotherIssuerIsNeverTrusted() async throws {
            try await TestIdentityProvider.run { provider in
                try await RegistryHarness.run(.sqliteFile, signIn: true) { harness in
                    try await SignIn.setUp(harness, provider)
                    provider.state.withLockedValue { $0.discoveryIssuer = "https://login.example.com" }
                    let test = try await harness.registry.testSignIn()
                    #expect(!test.ok)
                    #expect(test.code == "OIDC_ISSUER_MISMATCH")
                    #expect(test.message.contains("names the issuer https://login.example.com"))
                    try await SignIn().withBrowser(harness) { browser in
                        let page = String(buffer: try await browser.request(.get, "/login/oidc").body)
                        #expect(page.contains("never trusted"))
                    }
                    let unreachable = try await harness.registry.testSignIn(OIDCSettingsForm(issuer: "http://127.0.0.1:1", clientId: "k"))
                    #expect(unreachable.code == "OIDC_PROVIDER_UNREACHABLE")
                }
            }
        }

        @Test func aRotatedKeyIsFetchedAgainAtMostOnceAMinute() async throws {
            try await TestIdentityProvider.run { provider in
                try await RegistryHarness.run(.sqliteFile, signIn: true) { harness in
                    try await SignIn.setUp(harness, provider)
                    let service = try await harness.serviceToken()
                    try await harness.withAPI { api in
                        func open() async throws -> TestAPI.Reply {
                            try await api.call(
                                .post, "/api/v1/sessions", token: service, json: jsonObject(["idToken": try await provider.idToken(nonce: nil)]))
                        }
                        #expect(try await open().status == .created)
                        let fetches = provider.state.withLockedValue { $0.jwksFetches }
                        // A new key at once after the keys were fetched: refused without asking the provider again.
                        provider.rotate(to: "key-2")
                        let early = try await open()
                        #expect(early.errorCode == "OIDC_UNKNOWN_KEY")
                        #expect(provider.state.withLockedValue { $0.jwksFetches } == fetches)
                        // A minute later the keys are fetched once more and the new key is accepted.
                        harness.clock.advance(by: 61)
                        #expect(try await open().status == .created)
                        #expect(provider.state.withLockedValue { $0.jwksFetches } == fetches + 1)
                        #expect(try await open().status == .created)
                        #expect(provider.state.withLockedValue { $0.jwksFetches } == fetches + 1)
                        // An hour on, the keys are fetched again even for a known kid: a withdrawn key stops being trusted.
                        harness.clock.advance(by: 3600)
                        #expect(try await open().status == .created)
                        #expect(provider.state.withLockedValue { $0.jwksFetches } == fetches + 2)
                    }
                }
            }
        }

        @Test func anIDTokenOpensASessionOnlyForTheUserItNamesAndOnlyForThisRegistry() async throws {
            try await TestIdentityProvider.run { provider in
                try await RegistryHarness.run(.sqliteFile, signIn: true) { harness in
                    try await SignIn.setUp(harness, provider)
                    let key = try await harness.registerAndActivate(harness.accessKey(users: 5, components: ["DOC"]), idNumber: "Docs")
                    _ = try await harness.registry.createGroup(
                        AccessGroupInput(
                            idNumber: "Writers", name: "Writers", keySerial: key.serial, component: "DOC", menus: ["DC021"], users: ["other"]),
                        actor: "test")
                    let service = try await harness.serviceToken()
                    provider.shape { $0.preferredUsername = "other" }
                    try await harness.withAPI { api in
                        let opened = try await api.call(
                            .post, "/api/v1/sessions", token: service,
                            json: jsonObject(["idToken": try await provider.idToken(nonce: nil), "ip": "192.0.2.7"]))
                        #expect(opened.status == .created)
                        let sessions = try await harness.store.sessions(open: true, limit: 10, now: harness.clock.now)
                        #expect(sessions.map(\.login) == ["other"])
                        // Both ways of naming the user at once, or neither: refused.
                        let both = try await api.call(
                            .post, "/api/v1/sessions", token: service, json: jsonObject(["idToken": "x", "login": "other"]))
                        #expect(both.status == .unprocessableContent && both.errorCode == "INVALID_REQUEST")
                        // A token for another application, then one of the configured other audiences.
                        provider.shape { $0.audience = ["suite-docs"] }
                        let before = try await harness.fingerprint()
                        let foreign = try await api.call(
                            .post, "/api/v1/sessions", token: service, json: jsonObject(["idToken": try await provider.idToken(nonce: nil)]))
                        #expect(foreign.status == .unauthorized && foreign.errorCode == "OIDC_AUDIENCE_MISMATCH")
                        var after = try await harness.fingerprint()
                        #expect(after.removeValue(forKey: "audit_events") == (before["audit_events"] ?? 0) + 1)
                        var expected = before
                        expected.removeValue(forKey: "audit_events")
                        #expect(after == expected)
                        try await harness.registry.saveSignInSettings(
                            OIDCSettingsForm(
                                issuer: provider.issuer, clientId: TestIdentityProvider.clientId, audiences: ["suite-docs"]),
                            actor: "test")
                        let accepted = try await api.call(
                            .post, "/api/v1/sessions", token: service, json: jsonObject(["idToken": try await provider.idToken(nonce: nil)]))
                        #expect(accepted.status == .created)
                        // Without a service token, an ID token opens nothing.
                        let anonymous = try await api.call(
                            .post, "/api/v1/sessions", token: .some(nil), json: jsonObject(["idToken": try await provider.idToken(nonce: nil)]))
                        #expect(anonymous.status == .unauthorized)
                    }
                }
            }
        }

        @Test func aDisabledUserIsToldSoAndPasswordsCanBeLeftToTheBuiltInAdministrator() async throws {
            try await TestIdentityProvider.run { provider in
                try await RegistryHarness.run(.sqliteFile, signIn: true) { harness in
                    try await SignIn.setUp(harness, provider)
                    _ = try await harness.registry.updateUser("keeper", name: nil, email: nil, password: nil, active: false, actor: "test")
                    try await SignIn().withBrowser(harness) { browser in
                        let disabled = String(buffer: try await SignIn.signIn(&browser, provider).body)
                        #expect(disabled.contains("is disabled in this registry"))
                    }
                    _ = try await harness.registry.updateUser("keeper", name: nil, email: nil, password: nil, active: true, actor: "test")
                    try await harness.registry.saveSignInSettings(
                        OIDCSettingsForm(
                            issuer: provider.issuer, clientId: TestIdentityProvider.clientId, providerName: "Test IdP", requireProvider: true),
                        actor: "test")
                    try await harness.withAPI { api in
                        let refused = try await api.call(
                            .post, "/api/v1/auth/token", json: #"{"login":"keeper","password":"a long enough password"}"#)
                        #expect(refused.status == .forbidden && refused.errorCode == "PASSWORD_SIGN_IN_OFF")
                        #expect(refused.error?.message?.contains("Sign in with Test IdP") == true)
                        let admin = try await api.call(
                            .post, "/api/v1/auth/token", json: #"{"login":"admin","password":"\#(RegistryHarness.password)"}"#)
                        #expect(admin.status == .created)
                    }
                    try await SignIn().withBrowser(harness) { browser in
                        let page = String(buffer: try await browser.request(.get, "/login").body)
                        #expect(page.contains("Only the built-in administrator signs in with a password"))
                        #expect(try await SignIn.signIn(&browser, provider).headers[.location] == "/license-keys")
                    }
                }
            }
        }

        @Test func failedCallbacksAreThrottledAsPasswordsAre() async throws {
            try await TestIdentityProvider.run { provider in
                try await RegistryHarness.run(.sqliteFile, signIn: true) { harness in
                    try await SignIn.setUp(harness, provider)
                    try await SignIn().withBrowser(harness) { browser in
                        // The harness's throttle allows 3 failures per login and address.
                        for _ in 0..<3 {
                            #expect(try await browser.request(.get, "/login/oidc/callback?code=x&state=y").status == .ok)
                        }
                        let throttled = try await browser.request(.get, "/login/oidc/callback?code=x&state=y")
                        #expect(throttled.status == .tooManyRequests)
                        #expect(throttled.headers[.retryAfter] != nil)
                        #expect(String(buffer: throttled.body).contains("Too many failed sign-ins"))
                    }
                }
            }
        }
    }
}
