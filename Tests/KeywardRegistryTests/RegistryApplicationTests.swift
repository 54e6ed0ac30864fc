import AsyncHTTPClient
import Configuration
import Foundation
import HTTPTypes
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
import NIOConcurrencyHelpers
import ServiceLifecycle
import Synchronization
import Testing

@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// The registry made the way `keyward serve` makes it, by `buildRegistryApplication(reader:context:)` from settings.
    @Suite struct RegistryApplicationTests {
        static let password = "correct horse battery staple"

        /// Settings for a first start in `directory` on `database`.
        static func settings(directory: URL, database: String, _ extra: [AbsoluteConfigKey: ConfigValue] = [:]) -> ConfigReader {
            var values: [AbsoluteConfigKey: ConfigValue] = [
                "dataDir": .init(.string(directory.path), isSecret: false), "database": .init(.string(database), isSecret: false),
                "port": .init(.int(0), isSecret: false), "organization": .init(.string("acme"), isSecret: false),
                "legalName": .init(.string("ACME Industries Ltd."), isSecret: false), "admin.password": .init(.string(password), isSecret: true),
            ]
            values.merge(extra) { $1 }
            return ConfigReader(provider: InMemoryProvider(values: values))
        }

        @Test(arguments: Backend.services)
        func theApplicationBuiltFromSettingsServesTheAPIAndTheWebUI(backend: Backend) async throws {
            try await withTemporaryDirectory { directory in
                try await withFreshDatabaseSetting(backend) { database in
                    let context = RegistryApplicationContext(http: .forTests, logger: testLogger)
                    let app = try await buildRegistryApplication(reader: Self.settings(directory: directory, database: database), context: context)
                    try await app.test(.router) { client in
                        let live = try await client.execute(uri: "/health/live", method: .get)
                        #expect(live.status == .ok)
                        let login = try await client.execute(
                            uri: "/api/v1/auth/token", method: .post, headers: [.contentType: "application/json"],
                            body: ByteBuffer(string: #"{"login":"admin","password":"\#(Self.password)"}"#))
                        #expect(login.status == .created, "the built-in administrator is made at first start with the configured password")
                        let token: String? = try JSONDecoder.iso8601.decode(AuthController.TokenResponse.self, from: Data(buffer: login.body)).token
                        let keys = try await client.execute(
                            uri: "/api/v1/license-keys", method: .get, headers: [.authorization: "Bearer \(try #require(token))"])
                        #expect(keys.status == .ok)
                        let installation = try await client.execute(
                            uri: "/api/v1/activation", method: .get, headers: [.authorization: "Bearer \(try #require(token))"])
                        #expect(String(buffer: installation.body).contains(#""environment":"production","installationId":"inst-"#))
                        let page = try await client.execute(uri: "/login", method: .get)
                        #expect(page.status == .ok)
                        #expect(String(buffer: page.body).contains("<form"))
                    }
                }
            }
        }

        /// Each refused setting names the flag to fix, and nothing is written: no database file, no data directory content.
        @Test(
            arguments: [
                ("sync.at", ConfigValue(.string("25:00"), isSecret: false), "--sync-at"),
                ("environment", ConfigValue(.string("staging"), isSecret: false), "--environment"),
                ("secureCookies", ConfigValue(.string("sometimes"), isSecret: false), "--secure-cookies"),
                ("http.headerTimeout", ConfigValue(.int(0), isSecret: false), "--header-timeout"),
                ("admin.password", ConfigValue(.string("short"), isSecret: true), "KEYWARD_ADMIN_PASSWORD"),
                ("organization", ConfigValue(.string("Not A Slug"), isSecret: false), "--organization"),
                ("sync.autoActivate", ConfigValue(.string("perhaps"), isSecret: false), "--sync-auto-activate"),
            ] as [(AbsoluteConfigKey, ConfigValue, String)])
        func aBadSettingIsRefusedBeforeAnythingIsWritten(key: AbsoluteConfigKey, value: ConfigValue, flag: String) async throws {
            try await withTemporaryDirectory { directory in
                let database = directory.appendingPathComponent("registry.sqlite").path
                let context = RegistryApplicationContext(http: .forTests, logger: testLogger)
                do {
                    _ = try await buildRegistryApplication(
                        reader: Self.settings(directory: directory, database: database, [key: value]), context: context)
                    Issue.record("\(key) = \(value) was accepted")
                } catch let error as SettingError {
                    #expect(error.flag == flag)
                    #expect(!error.message.isEmpty)
                }
                #expect(!FileManager.default.fileExists(atPath: database), "a refused start leaves no database behind")
            }
        }

        /// The organization token under its name and under the old `sync.*` names, kept for one release; a file wins over a value.
        @Test(
            arguments: [
                ("organizationTokenFile", true), ("organizationToken", false), ("sync.tokenFile", true), ("sync.token", false),
            ] as [(AbsoluteConfigKey, Bool)])
        func theOrganizationTokenIsReadUnderItsNameAndItsOldName(key: AbsoluteConfigKey, isFile: Bool) async throws {
            try await withTemporaryDirectory { directory in
                let file = directory.appendingPathComponent("token")
                try "kw_from_a_file\n".write(to: file, atomically: true, encoding: .utf8)
                let value = isFile ? file.path : "kw_from_a_value"
                let reader = ConfigReader(
                    provider: InMemoryProvider(values: [
                        "authority.url": .init(.string("http://127.0.0.1:9"), isSecret: false), key: .init(.string(value), isSecret: !isFile),
                    ]))
                let client = try #require(try RegistrySetup(settings: Settings(reader: reader)).configuredAuthority(http: .forTests))
                #expect(client.token == (isFile ? "kw_from_a_file" : "kw_from_a_value"))
            }
        }

        /// `oidc.*` in the configuration: the login page offers the provider, the settings page and API cannot change
        /// it, and a wrong value or a missing secret stops the start naming its key.
        @Test func signInWithAProviderSetByTheConfigurationIsShownAndLocked() async throws {
            try await TestIdentityProvider.run { provider in
                try await withTemporaryDirectory { directory in
                    let secret = directory.appendingPathComponent("oidc-secret")
                    try "\(TestIdentityProvider.clientSecret)\n".write(to: secret, atomically: true, encoding: .utf8)
                    func value(_ text: String) -> ConfigValue { .init(.string(text), isSecret: false) }
                    let oidc: [AbsoluteConfigKey: ConfigValue] = [
                        "oidc.issuer": value(provider.issuer), "oidc.clientId": value(TestIdentityProvider.clientId),
                        "oidc.clientSecretFile": value(secret.path), "oidc.scopes": value("openid email"), "oidc.userClaim": value("email"),
                        "oidc.providerName": value("Acme SSO"),
                    ]
                    let reader = Self.settings(directory: directory, database: directory.appendingPathComponent("r.sqlite").path, oidc)
                    let app = try await buildRegistryApplication(
                        reader: reader, context: RegistryApplicationContext(http: .forTests, logger: testLogger))
                    try await app.test(.router) { client in
                        let page = try await client.execute(uri: "/login", method: .get)
                        #expect(String(buffer: page.body).contains("Sign in with Acme SSO"))
                        let start = try await client.execute(uri: "/login/oidc", method: .get)
                        let location = try #require(start.headers[.location])
                        #expect(location.hasPrefix(provider.issuer + "/authorize?") && location.contains("scope=openid%20email"))
                        let login = try await client.execute(
                            uri: "/api/v1/auth/token", method: .post, headers: [.contentType: "application/json"],
                            body: ByteBuffer(string: #"{"login":"admin","password":"\#(Self.password)"}"#))
                        let token = try JSONDecoder.iso8601.decode(AuthController.TokenResponse.self, from: Data(buffer: login.body)).token
                        let shown = try await client.execute(
                            uri: "/api/v1/settings/sign-in", method: .get, headers: [.authorization: "Bearer \(token)"])
                        let text = String(buffer: shown.body)
                        #expect(
                            text.contains(#""source":"configuration""#) && text.contains(#""editable":false"#)
                                && text.contains(#""userClaim":"email""#))
                        #expect(!text.contains(TestIdentityProvider.clientSecret))
                        let locked = try await client.execute(
                            uri: "/api/v1/settings/sign-in", method: .put,
                            headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                            body: ByteBuffer(string: "{}"))
                        #expect(locked.status == .conflict && String(buffer: locked.body).contains("SETTINGS_LOCKED"))
                    }
                    for (extra, key) in [
                        (["oidc.issuer": value("ftp://idp.example.com")], "oidc.issuer"),
                        (["oidc.clientSecretFile": value("")], "oidc.clientSecretFile"),
                        (["oidc.userClaim": value("upn")], "oidc.userClaim"),
                    ] as [([AbsoluteConfigKey: ConfigValue], String)] {
                        let bad = Self.settings(
                            directory: directory, database: directory.appendingPathComponent("r.sqlite").path, oidc.merging(extra) { $1 })
                        do {
                            _ = try await buildRegistryApplication(
                                reader: bad, context: RegistryApplicationContext(http: .forTests, logger: testLogger))
                            Issue.record("\(key): the start was not refused")
                        } catch let error as SettingError {
                            #expect(error.flag == key, "\(error.flag): \(error.message)")
                        }
                    }
                }
            }
        }

        @Test func anAuthorityWithoutAnOrganizationTokenNamesTheFlagToGive() throws {
            let reader = ConfigReader(provider: InMemoryProvider(values: ["authority.url": .init(.string("http://127.0.0.1:9"), isSecret: false)]))
            #expect(throws: SettingError.self) { try RegistrySetup(settings: Settings(reader: reader)).configuredAuthority(http: .forTests) }
            do {
                _ = try RegistrySetup(settings: Settings(reader: reader)).configuredAuthority(http: .forTests)
            } catch let error as SettingError {
                #expect(error.flag == "--organization-token-file")
                #expect(error.message.contains("KEYWARD_ORGANIZATION_TOKEN"))
            }
        }

        /// A graceful shutdown (what SIGTERM starts) during a scheduled synchronization: the server stops first, the
        /// scheduler lets the synchronization finish, and only then does the database close, so the run is recorded
        /// whole and its keys are stored.
        @Test(arguments: Backend.services)
        func aShutdownDuringASynchronizationLetsItFinishBeforeTheDatabaseCloses(backend: Backend) async throws {
            try await SynchronizationTests.withAuthority { authority, url, token in
                let key = try await authority.issue(SynchronizationTests.spec, organizationId: "acme", actor: "test")
                try await SlowFeed.serve(forwardingTo: url, token: token) { slowURL, feedRequested in
                    try await withTemporaryDirectory { directory in
                        try await withFreshDatabaseSetting(backend) { database in
                            let trustFile = directory.appendingPathComponent("authority.keys")
                            try authority.keyring.publicKeys.map(\.hex).joined(separator: "\n").write(
                                to: trustFile, atomically: true, encoding: .utf8)
                            // The registry's clock jumps to whatever its scheduler waits for, so the daily run is due at once.
                            let clock = TestClock(Date())
                            var context = RegistryApplicationContext(http: .forTests, logger: testLogger, trustFiles: [trustFile.path])
                            context.now = { clock.now }
                            context.sleep = { duration in
                                clock.advance(by: TimeInterval(duration.components.seconds) + 1)
                                try await Task.sleep(for: .milliseconds(20))
                            }
                            let reader = Self.settings(
                                directory: directory, database: database,
                                [
                                    "authority.url": .init(.string(slowURL), isSecret: false),
                                    "organizationToken": .init(.string(token), isSecret: true),
                                    "sync.autoActivate": .init(.bool(false), isSecret: false),
                                ])
                            let app = try await buildRegistryApplication(reader: reader, context: context)
                            let group = ServiceGroup(configuration: .init(services: [app], logger: testLogger))
                            try await withThrowingTaskGroup { tasks in
                                tasks.addTask { try await group.run() }
                                await feedRequested()
                                // The feed is on its way (the authority holds it for a while): shut down now, as SIGTERM would.
                                await group.triggerGracefulShutdown()
                                try await tasks.waitForAll()
                            }
                            // Everything has stopped; what the synchronization did is in the database.
                            let store = RegistryStore(
                                database: try await KeywardDatabase.open(try DatabaseLocation.parse(database), logger: testLogger))
                            let runs = try await store.synchronizations(trigger: .scheduled, limit: 10)
                            let stored = try await store.key(key.serial)
                            await store.database.close()
                            #expect(runs.count == 1)
                            #expect(runs.first?.outcome == .succeeded, "the synchronization under way at shutdown finished: \(runs)")
                            #expect(runs.first?.added == 1)
                            #expect(stored?.source == .synchronized)
                        }
                    }
                }
            }
        }
    }
}

/// An authority that holds each feed for a while before answering it, so a synchronization is under way for that time.
enum SlowFeed {
    static let delay = Duration.seconds(2)

    /// Serves on loopback while `body` runs; `feedRequested` returns once the first feed request has arrived.
    static func serve(
        forwardingTo authorityURL: String, token: String,
        _ body: @escaping @Sendable (_ url: String, _ feedRequested: @escaping @Sendable () async -> Void) async throws -> Void
    ) async throws {
        let (arrivals, arrived) = AsyncStream.makeStream(of: Void.self)
        let router = Router()
        router.get("**") { request, _ -> Response in
            if request.uri.path.hasSuffix("/feed") {
                arrived.yield()
                try await Task.sleep(for: delay)
            }
            var forwarded = HTTPClientRequest(url: authorityURL + request.uri.path)
            for field in request.headers { forwarded.headers.add(name: field.name.rawName, value: field.value) }
            let answer = try await HTTPClient.forTests.execute(forwarded, timeout: .seconds(30))
            let bytes = try await answer.body.collect(upTo: 64 << 20)
            var headers = HTTPFields()
            for (name, value) in answer.headers { if let field = HTTPField.Name(name) { headers.append(HTTPField(name: field, value: value)) } }
            headers[.contentLength] = nil
            return Response(status: .init(code: Int(answer.status.code)), headers: headers, body: .init(byteBuffer: bytes))
        }
        let app = Application(router: router)
        try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)") {
                for await _ in arrivals { return }
            }
        }
    }
}
