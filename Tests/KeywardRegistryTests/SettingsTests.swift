import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import KeywardWeb
import Logging
import Synchronization
import Testing

@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// The settings page's authority connection, and the daily scheduler's loop.
    @Suite struct SettingsTests {
        static func json(_ object: [String: String]) -> String {
            String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        }

        @Test func anAdministratorSetsTheAuthorityAndItIsUsedAtOnceWithoutTheTokenEverShowing() async throws {
            try await SynchronizationTests.withAuthority { authority, url, token in
                _ = try await authority.issue(SynchronizationTests.spec, organizationId: "acme", actor: "test")
                try await RegistryHarness.run(.sqliteFile, trusting: authority.keyring.publicKeys) { harness in
                    harness.clock.set(Date())
                    try await harness.withAPI { api in
                        let empty = try await api.settings.authority().value
                        #expect(empty.source == .none)
                        #expect(empty.tokenSaved == false)
                        #expect(try await api.call(.post, "/api/v1/license-keys/synchronizations").errorCode == "NO_AUTHORITY")

                        // Bad input is refused, naming the field, and nothing is saved.
                        let before = try await harness.fingerprint()
                        let refusals: [([String: String], String)] = [
                            (["url": "ftp://licensing.example.com", "token": token], "INVALID_URL"),
                            (["url": "not a url", "token": token], "INVALID_URL"),
                            (["url": url, "token": "secret"], "INVALID_TOKEN"),
                            (["url": url], "TOKEN_REQUIRED"),
                        ]
                        for (body, code) in refusals {
                            let reply = try await api.call(.put, "/api/v1/settings/authority", json: Self.json(body))
                            #expect(reply.status == .unprocessableContent, "\(code)")
                            #expect(reply.errorCode == code)
                        }
                        #expect(try await harness.fingerprint() == before)
                        #expect(try await harness.store.settings().isEmpty)

                        let saved = try await api.settings.saveAuthority(json: Self.json(["url": url, "token": token]))
                        #expect(saved.status == .ok)
                        #expect(try saved.value.source == .settings)
                        #expect(try saved.value.tokenSaved == true)
                        #expect(!String(decoding: saved.reply.body, as: UTF8.self).contains(token))
                        let shown = try await api.call(.get, "/api/v1/settings/authority")
                        #expect(!String(decoding: shown.body, as: UTF8.self).contains(token))
                        let audit = try await api.call(.get, "/api/v1/audit-events?limit=200")
                        #expect(String(decoding: audit.body, as: UTF8.self).contains("settings.changed"))
                        #expect(!String(decoding: audit.body, as: UTF8.self).contains(token), "the audit log never holds the token")

                        // In use at once, with no restart.
                        let run = try await api.call(.post, "/api/v1/license-keys/synchronizations", as: SynchronizationRunResponse.self)
                        #expect(run.status == .created)
                        #expect(try run.value.outcome == .succeeded)

                        let test = try await api.settings.testAuthority(json: nil).value
                        #expect(test.ok == true)
                        #expect(test.code == "CONNECTED")
                        #expect(test.keys == 1)
                        // Trying other values tests them without saving them.
                        let other = APIToken.generate().text
                        let refused = try await api.settings.testAuthority(json: Self.json(["url": url, "token": other])).value
                        #expect(refused.ok == false)
                        #expect(refused.code == "AUTHORITY_UNAUTHORIZED")
                        let unreachable = try await harness.registry.testConnection(url: "http://127.0.0.1:9", token: other, timeout: .seconds(1))
                        #expect(unreachable.code == "AUTHORITY_UNREACHABLE" || unreachable.code == "AUTHORITY_TIMEOUT")
                        #expect(!unreachable.ok)
                        #expect(harness.registry.authority?.uses(token: token) == true)

                        // A blank token keeps the saved one; a blank URL removes the connection.
                        #expect(try await api.call(.put, "/api/v1/settings/authority", json: Self.json(["url": url + "/"])).status == .ok)
                        #expect(harness.registry.authority?.uses(token: token) == true)
                        let cleared = try await api.settings.saveAuthority(json: Self.json(["url": ""]))
                        #expect(try cleared.value.source == .none)
                        #expect(try await harness.store.settings().isEmpty)
                        #expect(try await api.call(.post, "/api/v1/license-keys/synchronizations").errorCode == "NO_AUTHORITY")
                    }
                }
            }
        }

        @Test func savedSettingsAreUsedAfterARestartUnlessTheConfigurationSetsTheAuthority() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let token = APIToken.generate().text
                try await harness.registry.saveAuthoritySettings(url: "https://licensing.example.com", token: token, actor: "test")
                let saved = try await harness.store.settings()
                let restarted = Registry.connection(configured: nil, saved: saved, http: .forTests)
                #expect(restarted.current.source == .settings)
                #expect(restarted.client?.baseURL == "https://licensing.example.com")
                #expect(restarted.client?.uses(token: token) == true)
                let configured = Registry.connection(
                    configured: AuthorityClient(baseURL: "https://other.example.com", token: "kw_x", http: .forTests), saved: saved, http: .forTests)
                #expect(configured.current.source == .configuration)
                #expect(configured.client?.baseURL == "https://other.example.com")
            }
        }

        @Test func theSettingsPageCannotChangeWhatTheConfigurationSets() async throws {
            try await RegistryHarness.run(
                .sqliteFile, authority: AuthorityClient(baseURL: "https://licensing.example.com", token: "kw_x", http: .forTests)
            ) { harness in
                try await harness.withAPI { api in
                    let shown = try await api.settings.authority().value
                    #expect(shown.source == .configuration)
                    #expect(shown.editable == false)
                    let before = try await harness.fingerprint()
                    let refused = try await api.call(
                        .put, "/api/v1/settings/authority", json: Self.json(["url": "https://evil.example.com", "token": APIToken.generate().text]))
                    #expect(refused.status == .conflict)
                    #expect(refused.errorCode == "SETTINGS_LOCKED")
                    #expect(try await harness.fingerprint() == before)
                    #expect(harness.registry.authority?.baseURL == "https://licensing.example.com")
                }
            }
        }

        @Test func testConnectionSendsTheSavedTokenOnlyToTheSavedURL() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let token = APIToken.generate().text
                try await harness.registry.saveAuthoritySettings(url: "https://licensing.example.com", token: token, actor: "test")
                try await harness.withAPI { api in
                    let before = try await harness.fingerprint()
                    for url in ["http://127.0.0.1:9", "http://169.254.169.254/latest", "https://licensing.example.com.evil.example"] {
                        let refused = try await api.call(.post, "/api/v1/settings/authority/test", json: Self.json(["url": url]))
                        #expect(refused.status == .unprocessableContent, "\(url)")
                        #expect(refused.errorCode == "TOKEN_REQUIRED", "\(url)")
                    }
                    #expect(try await harness.fingerprint() == before)
                }
            }
        }

        @Test func savingAnotherURLWithoutItsTokenIsRefusedAndSavesNothing() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let token = APIToken.generate().text
                try await harness.registry.saveAuthoritySettings(url: "https://licensing.example.com", token: token, actor: "test")
                try await harness.withAPI { api in
                    let before = try await harness.fingerprint()
                    let settings = try await harness.store.settings()
                    let refused = try await api.call(.put, "/api/v1/settings/authority", json: Self.json(["url": "https://elsewhere.example.net"]))
                    #expect(refused.status == .unprocessableContent)
                    #expect(refused.errorCode == "TOKEN_REQUIRED")
                    #expect(try await harness.fingerprint() == before)
                    #expect(try await harness.store.settings() == settings)
                    #expect(harness.registry.authority?.baseURL == "https://licensing.example.com")
                    // The same URL (with or without its trailing slash) keeps the saved token.
                    #expect(
                        try await api.call(.put, "/api/v1/settings/authority", json: Self.json(["url": "https://licensing.example.com/"])).status
                            == .ok)
                    #expect(harness.registry.authority?.uses(token: token) == true)
                }
            }
        }

        @Test func aConnectionTheConfigurationSetsIsTestedOnlyAsItIs() async throws {
            try await RegistryHarness.run(.sqliteFile, authority: AuthorityClient(baseURL: "http://127.0.0.1:9", token: "kw_x", http: .forTests)) {
                harness in
                try await harness.withAPI { api in
                    let before = try await harness.fingerprint()
                    for body in [
                        ["url": "http://127.0.0.1:10"], ["token": APIToken.generate().text],
                        ["url": "http://127.0.0.1:9", "token": APIToken.generate().text],
                    ] {
                        let refused = try await api.call(.post, "/api/v1/settings/authority/test", json: Self.json(body))
                        #expect(refused.status == .conflict, "\(body)")
                        #expect(refused.errorCode == "SETTINGS_LOCKED", "\(body)")
                    }
                    // Nothing typed: the configured connection is tried (and found unreachable here).
                    let tried = try await api.settings.testAuthority(json: nil)
                    #expect(tried.status == .ok)
                    #expect(try tried.value.ok == false)
                    #expect(try await harness.fingerprint() == before)
                }
            }
        }

        @Test func theSettingsPageSavesAndTestsTheConnection() async throws {
            try await SynchronizationTests.withAuthority { authority, url, token in
                try await RegistryHarness.run(.sqliteFile, trusting: authority.keyring.publicKeys) { harness in
                    harness.clock.set(Date())
                    try await WebUITests().withBrowser(harness) { browser in
                        _ = try await browser.logIn()
                        let page = try await browser.request(.get, "/settings")
                        #expect(page.status == .ok)
                        let csrf = try #require(WebUITests.Browser.csrf(in: page))
                        let bad = try await browser.request(
                            .post, "/settings/authority", form: ["_csrf": csrf, "action": "save", "url": "nope", "token": token])
                        #expect(String(buffer: bad.body).contains(#"id="url-error""#))
                        #expect(try await harness.store.settings().isEmpty)
                        let saved = try await browser.request(
                            .post, "/settings/authority", form: ["_csrf": csrf, "action": "save", "url": url, "token": token])
                        #expect(saved.status == .seeOther)
                        let after = String(buffer: try await browser.request(.get, "/settings?flash=settings-saved").body)
                        #expect(after.contains(url))
                        #expect(!after.contains(token), "the token is never shown again")
                        #expect(after.contains("saved: leave blank to keep it"))
                        let tested = String(
                            buffer: try await browser.request(
                                .post, "/settings/authority", form: ["_csrf": csrf, "action": "test", "url": "", "token": ""]
                            ).body)
                        #expect(tested.contains(#"id="test-result""#))
                        #expect(tested.contains("CONNECTED"))
                    }
                }
            }
        }

        /// The daily loop: a failing authority is retried after 1, 5 and 30 minutes, then the next day.
        @Test func theSchedulerRetriesAFailedRunThenWaitsForTheNextDay() async throws {
            try await RegistryHarness.run(
                .sqliteFile, authority: AuthorityClient(baseURL: "http://127.0.0.1:9", token: "kw_x", http: .forTests, timeout: .milliseconds(300))
            ) { harness in
                let clock = harness.clock
                let stopAt = clock.now.addingTimeInterval(36 * 3600)
                let scheduler = SyncScheduler(
                    synchronizer: Synchronizer(registry: harness.registry), schedule: SyncSchedule(minuteOfDay: 120),
                    logger: Logger(label: "test")
                ) { duration in
                    // Time passes on the test clock, not the wall clock; the test ends a day and a half later.
                    clock.advance(by: TimeInterval(duration.components.seconds))
                    if clock.now > stopAt { throw CancellationError() }
                }
                try await scheduler.run()
                let runs = try await harness.store.synchronizations(trigger: .scheduled).reversed().map { $0 }
                #expect(runs.count == 4)
                #expect(runs.allSatisfy { $0.outcome == .failed && $0.errorCode == "AUTHORITY_UNREACHABLE" })
                let first = try #require(runs.first)
                // The first run is the next 02:00 UTC plus up to 30 minutes of jitter.
                let day = Timestamp.parse("2026-06-02T02:00:00Z")!
                #expect(first.startedAt >= day && first.startedAt < day.addingTimeInterval(30 * 60))
                let gaps = zip(runs.dropFirst(), runs).map { Int($0.startedAt.timeIntervalSince($1.startedAt)) }
                #expect(gaps == [60, 300, 1800])
                let next = try #require(scheduler.nextRun.at)
                let nextDay = day.addingTimeInterval(86_400)
                #expect(next >= nextDay && next < nextDay.addingTimeInterval(30 * 60))
                #expect(scheduler.nextRun.retriesSpent == 0)
            }
        }

        @Test func theSchedulerSkipsWhileNoAuthorityIsSet() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let clock = harness.clock
                let stopAt = clock.now.addingTimeInterval(3 * 86_400)
                let scheduler = SyncScheduler(
                    synchronizer: Synchronizer(registry: harness.registry), schedule: SyncSchedule(),
                    logger: Logger(label: "test")
                ) { duration in
                    clock.advance(by: TimeInterval(duration.components.seconds))
                    if clock.now > stopAt { throw CancellationError() }
                }
                try await scheduler.run()
                #expect(try await harness.store.synchronizations(trigger: nil).isEmpty)
                #expect(try #require(scheduler.nextRun.at) > stopAt.addingTimeInterval(-86_400))
            }
        }
    }
}
