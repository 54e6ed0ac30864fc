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
import Prometheus
import Synchronization
import Testing

@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// Synchronization against real HTTP servers on loopback: the real authority, and a scripted one for faults.
    @Suite struct SynchronizationTests {
        /// A real authority on a fresh database, serving over a live socket while `body` runs.
        static func withAuthority(
            catalog: Catalog? = nil, _ body: @escaping @Sendable (_ authority: Authority, _ url: String, _ token: String) async throws -> Void
        ) async throws {
            try await withTemporaryDirectory { directory in
                try await withFreshDatabase(.sqliteFile) { database, _ async throws in
                    try await Migrator(Schema.authority).migrate(database, logger: testLogger)
                    let authority = Authority(
                        store: AuthorityStore(database: database), keyring: try AuthorityKeyring.create(in: directory, rotate: false, now: Date()),
                        catalog: try catalog ?? Catalog.shipped())
                    _ = try await authority.createOrganization(id: "acme", legalName: "ACME Industries Ltd.", actor: "test")
                    let token = try await authority.store.createToken(
                        kind: TokenKind.organization, name: "registry", subject: "acme", actor: "test", now: Date()
                    ).token.text
                    let app = Application(
                        router: buildAuthorityRouter(AuthorityDependencies(authority: authority, metrics: PrometheusCollectorRegistry())))
                    try await app.test(.live) { client in try await body(authority, "http://127.0.0.1:\(client.port!)", token) }
                }
            }
        }

        static let spec = LicenseKeySpecification(
            profile: .staff, useType: .floating, users: 5, purchaseType: .rental, components: ["DOC"],
            expiresAt: Date().addingTimeInterval(200 * 86_400))

        @Test(arguments: Backend.services)
        func addsRenewsRevokesAndNeverTouchesManualKeys(backend: Backend) async throws {
            try await Self.withAuthority { authority, url, token in
                let first = try await authority.issue(Self.spec, organizationId: "acme", actor: "test")
                let second = try await authority.issue(Self.spec, organizationId: "acme", actor: "test")
                try await RegistryHarness.run(
                    backend, authority: AuthorityClient(baseURL: url, token: token, http: .forTests), trusting: authority.keyring.publicKeys
                ) { harness in
                    harness.clock.set(Date())
                    // The customer pasted the first key by hand before synchronizing: it stays theirs. Its ID # happens to be
                    // the second key's serial, which synchronized keys are filed under: the second gets another ID #.
                    try await harness.registry.register(idNumber: second.serial, accessKey: first.accessKey, actor: "test")
                    let synchronizer = Synchronizer(registry: harness.registry, autoActivate: false)
                    let run = try await synchronizer.run(trigger: .manual, actor: "user:admin")
                    #expect(run.outcome == .succeeded)
                    #expect((run.added, run.renewed, run.revoked, run.unchanged) == (1, 0, 0, 1))
                    #expect(run.summary == "1 key added")
                    #expect(try await harness.store.key(second.serial)?.source == .synchronized)
                    #expect(try await harness.store.key(second.serial)?.idNumber == "\(second.serial) (synchronized)")
                    #expect(try await harness.store.key(first.serial)?.idNumber == second.serial)

                    #expect(try await synchronizer.run(trigger: .manual, actor: "user:admin").outcome == .unchanged)  // a 304

                    _ = try await authority.renew(second.serial, expiresAt: Date().addingTimeInterval(400 * 86_400), actor: "test")
                    let renewed = try await synchronizer.run(trigger: .scheduled, actor: "system")
                    #expect((renewed.added, renewed.renewed, renewed.revoked) == (0, 1, 0))

                    _ = try await authority.revoke(second.serial, reason: "contract ended", actor: "test")
                    _ = try await authority.revoke(first.serial, reason: "contract ended", actor: "test")
                    let revoked = try await synchronizer.run(trigger: .manual, actor: "user:admin")
                    // A revocation signed by the authority applies to the serial whatever its source (DESIGN.md section 5):
                    // the pasted key is revoked too, and stays the customer's (source and ID # unchanged).
                    #expect((revoked.added, revoked.renewed, revoked.revoked) == (0, 0, 2))
                    let kept = try #require(try await harness.store.key(second.serial))
                    #expect(kept.status(at: Date()) == .revoked)
                    #expect(kept.revocationReason == "contract ended")
                    let pasted = try #require(try await harness.store.key(first.serial))
                    #expect(pasted.status(at: Date()) == .revoked)
                    #expect(pasted.revocationReason == "contract ended")
                    #expect(pasted.source == .manual && pasted.idNumber == second.serial, "a manual key is never replaced or renamed")

                    #expect(try await harness.store.synchronizations(trigger: .manual).map(\.id).count == 3)
                    #expect(try await harness.store.synchronizations(trigger: nil).count == 4)
                }
            }
        }

        @Test(arguments: Backend.services)
        func theRegistryTakesTheAuthoritysCatalogAndKeepsIt(backend: Backend) async throws {
            var catalog = try Catalog.shipped()
            catalog.version = "2027.01"
            catalog.components.append(
                Catalog.Component(code: "LAB", name: "Laboratory", menus: [Catalog.Menu(code: "LB001", name: "Samples", profile: .view)]))
            try await Self.withAuthority(catalog: catalog) { authority, url, token in
                let spec = LicenseKeySpecification(profile: .staff, useType: .nominative, users: 5, purchaseType: .sale, components: ["LAB"])
                _ = try await authority.issue(spec, organizationId: "acme", actor: "test")
                try await RegistryHarness.run(
                    backend, authority: AuthorityClient(baseURL: url, token: token, http: .forTests), trusting: authority.keyring.publicKeys
                ) { harness in
                    harness.clock.set(Date())
                    #expect(harness.registry.catalog.component("LAB") == nil, "the shipped catalog has no LAB")
                    #expect(try await Synchronizer(registry: harness.registry).run(trigger: .manual, actor: "test").outcome == .succeeded)
                    #expect(harness.registry.catalog.version == "2027.01")
                    #expect(harness.registry.catalog.component("LAB")?.menus.map(\.code) == ["LB001"])
                    // Kept for the next start, and used by access groups at once.
                    let restarted = Registry(
                        store: harness.store, installation: harness.registry.installation, trust: harness.registry.trust,
                        catalog: try Catalog.shipped(), connection: harness.registry.connection)
                    try await restarted.loadAccess()
                    #expect(restarted.catalog.version == "2027.01")
                    let key = try #require(try await harness.store.keys().first)
                    _ = try await harness.registry.createUser(UserInput(login: "ann", name: "Ann", email: "ann@example.com"), actor: "test")
                    _ = try await harness.registry.createGroup(
                        AccessGroupInput(
                            idNumber: "Lab", name: "Lab", keySerial: key.serial, component: "LAB", menus: ["LB001"],
                            users: ["ann"]), actor: "test")
                    #expect(harness.registry.access.snapshot.check(login: "ann", component: "LAB", menu: "LB001", at: Date()).allowed)
                }
            }
        }

        @Test(arguments: Backend.services)
        func theScheduleIsShownWhenThereIsOne(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    let none = try await api.call(
                        .get, "/api/v1/license-keys/synchronizations/schedule", as: SynchronizationController.ScheduleResponse.self)
                    #expect(try none.value.enabled == false)
                    #expect(try await api.call(.post, "/api/v1/license-keys/synchronizations").errorCode == "NO_AUTHORITY")
                    #expect(try await api.call(.get, "/api/v1/license-keys/synchronizations?trigger=sometimes").errorCode == "INVALID_TRIGGER")
                }
            }
        }

        @Test(arguments: Backend.services)
        func activatesByItselfWhenKeysChanged(backend: Backend) async throws {
            try await Self.withAuthority { authority, url, token in
                _ = try await authority.issue(Self.spec, organizationId: "acme", actor: "test")
                try await RegistryHarness.run(
                    backend, authority: AuthorityClient(baseURL: url, token: token, http: .forTests), trusting: authority.keyring.publicKeys
                ) { harness in
                    harness.clock.set(Date())
                    let run = try await Synchronizer(registry: harness.registry).run(trigger: .manual, actor: "user:admin")
                    #expect(run.activationError == nil)
                    #expect(try await harness.registry.activationState().status == .active)
                }
            }
        }

        // MARK: Faults: each leaves the keys as they were and records a failed run with its own code.

        /// A scripted authority: every feed request gets what `answer` says.
        final class ScriptedAuthority: Sendable {
            struct Answer: Sendable {
                var status: HTTPResponse.Status = .ok
                var body: String = ""
                var delay: Duration = .zero
            }

            let answer = Mutex(Answer())

            func router() -> Router<BasicRequestContext> {
                let router = Router()
                router.get("/v1/organizations/:id/feed") { _, _ in
                    let answer = self.answer.withLock { $0 }
                    if answer.delay > .zero { try await Task.sleep(for: answer.delay) }
                    return Response(
                        status: answer.status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer.body)))
                }
                return router
            }
        }

        static func feed(_ envelope: FeedEnvelope, signedWith key: AuthoritySigningKey) -> String {
            String(decoding: try! JSONEncoder().encode(envelope.signed(with: key)), as: UTF8.self)
        }

        @Test(arguments: Backend.services)
        func everyFaultLeavesTheKeysAsTheyWereAndIsRecorded(backend: Backend) async throws {
            let scripted = ScriptedAuthority()
            let app = Application(router: scripted.router())
            try await app.test(.live) { client in
                let url = "http://127.0.0.1:\(client.port!)"
                let authorityKey = AuthoritySigningKey()
                try await RegistryHarness.run(
                    backend,
                    authority: AuthorityClient(baseURL: url, token: "kw_x", http: .forTests, timeout: .seconds(1), maximumFeedSize: 64 * 1024),
                    trusting: [authorityKey.publicKey]
                ) { harness in
                    let acme = Organization(id: "acme", legalName: "ACME Industries Ltd.")
                    let goodKey = harness.accessKey(serial: "KW-SYNC-0001", signedWith: authorityKey)
                    // A first good feed at revision 5, so rollback can be tried.
                    scripted.answer.withLock {
                        $0 = .init(
                            body: Self.feed(
                                FeedEnvelope(
                                    organization: acme, revision: 5, issuedAt: harness.clock.now,
                                    keys: [.init(serial: "KW-SYNC-0001", accessKey: goodKey)], revoked: []), signedWith: authorityKey))
                    }
                    let synchronizer = Synchronizer(registry: harness.registry, autoActivate: false)
                    #expect(try await synchronizer.run(trigger: .manual, actor: "test").outcome == .succeeded)
                    let before = try await harness.fingerprint()
                    let keysBefore = try await harness.store.keys()

                    let badKey = harness.accessKey(serial: "KW-SYNC-0002", signedWith: AuthoritySigningKey())
                    let faults: [(String, ScriptedAuthority.Answer)] = [
                        ("AUTHORITY_ERROR", .init(status: .internalServerError, body: "oops")),
                        ("AUTHORITY_UNAUTHORIZED", .init(status: .unauthorized, body: #"{"error":{"code":"UNAUTHENTICATED","message":"no"}}"#)),
                        ("FEED_MALFORMED", .init(body: "this is not json")),
                        (
                            "FEED_BAD_SIGNATURE",
                            .init(
                                body: Self.feed(
                                    FeedEnvelope(organization: acme, revision: 6, issuedAt: harness.clock.now, keys: [], revoked: []),
                                    signedWith: AuthoritySigningKey()))
                        ),
                        (
                            "FEED_WRONG_ORGANIZATION",
                            .init(
                                body: Self.feed(
                                    FeedEnvelope(
                                        organization: Organization(id: "globex", legalName: "Globex"), revision: 6,
                                        issuedAt: harness.clock.now, keys: [], revoked: []), signedWith: authorityKey))
                        ),
                        (
                            "FEED_ROLLBACK",
                            .init(
                                body: Self.feed(
                                    FeedEnvelope(organization: acme, revision: 4, issuedAt: harness.clock.now, keys: [], revoked: []),
                                    signedWith: authorityKey))
                        ),
                        (
                            "FEED_INVALID_KEY",
                            .init(
                                body: Self.feed(
                                    FeedEnvelope(
                                        organization: acme, revision: 7, issuedAt: harness.clock.now,
                                        keys: [.init(serial: "KW-SYNC-0001", accessKey: goodKey), .init(serial: "KW-SYNC-0002", accessKey: badKey)],
                                        revoked: []), signedWith: authorityKey))
                        ),
                        ("FEED_TOO_LARGE", .init(body: String(repeating: " ", count: 100 * 1024))),
                        ("AUTHORITY_TIMEOUT", .init(body: "{}", delay: .seconds(3))),
                    ]
                    for (code, answer) in faults {
                        scripted.answer.withLock { $0 = answer }
                        let run = try await synchronizer.run(trigger: .scheduled, actor: "test")
                        #expect(run.outcome == .failed, "\(code)")
                        #expect(run.errorCode == code)
                        #expect(run.errorMessage?.isEmpty == false)
                        #expect(try await harness.store.keys() == keysBefore, "\(code) changed the keys")
                    }
                    let failedRuns = try await harness.store.synchronizations(trigger: .scheduled)
                    #expect(failedRuns.count == faults.count)
                    var after = try await harness.fingerprint()
                    #expect(after.removeValue(forKey: "audit_events") == before["audit_events"])
                    #expect(after == before.filter { $0.key != "audit_events" })
                }
            }
            // The authority is gone: connection refused.
            try await RegistryHarness.run(
                backend, authority: AuthorityClient(baseURL: "http://127.0.0.1:9", token: "kw_x", http: .forTests, timeout: .seconds(2))
            ) { harness in
                let run = try await Synchronizer(registry: harness.registry).run(trigger: .manual, actor: "test")
                #expect(run.errorCode == "AUTHORITY_UNREACHABLE")
            }
        }

        /// Several registry instances share a database on PostgreSQL only.
        @Test(arguments: Backend.available.filter { $0 == .postgres })
        func twoInstancesOnOneDatabaseNeverSynchronizeAtOnce(backend: Backend) async throws {
            let scripted = ScriptedAuthority()
            scripted.answer.withLock { $0 = .init(status: .internalServerError, body: "slow", delay: .milliseconds(800)) }
            let app = Application(router: scripted.router())
            try await app.test(.live) { client in
                try await withFreshDatabase(backend) { database, open async throws in
                    try await Migrator(Schema.registry).migrate(database, logger: testLogger)
                    let installation = try await RegistryStore(database: database).createInstallation(
                        RegistryInstallation(
                            installationId: "inst-1", organization: Organization(id: "acme", legalName: "ACME"), environment: .production,
                            createdAt: Date())
                    ).installation
                    let authority = AuthorityClient(baseURL: "http://127.0.0.1:\(client.port!)", token: "kw_x", http: .forTests)
                    func instance(_ database: KeywardDatabase) throws -> Synchronizer {
                        Synchronizer(
                            registry: Registry(
                                store: RegistryStore(database: database), installation: installation, trust: TrustStore(),
                                catalog: try Catalog.shipped(), connection: AuthorityConnection(client: authority, http: .forTests)))
                    }
                    let first = try instance(database)
                    let second = try instance(try await open())
                    async let running: SynchronizationRun = first.run(trigger: .scheduled, actor: "one")
                    try await Task.sleep(for: .milliseconds(300))
                    await #expect(throws: RegistryError.syncInProgress) { try await second.run(trigger: .manual, actor: "two") }
                    #expect(try await running.errorCode == "AUTHORITY_ERROR")
                    // The lease was given back: the other instance may run now.
                    scripted.answer.withLock { $0 = .init(status: .internalServerError, body: "fast") }
                    #expect(try await second.run(trigger: .manual, actor: "two").outcome == .failed)
                    #expect(try await RegistryStore(database: database).synchronizations(trigger: nil).count == 2)
                }
            }
        }

        @Test(arguments: Backend.services)
        func aSecondRunWhileOneIsUnderWayIsRefused(backend: Backend) async throws {
            let scripted = ScriptedAuthority()
            scripted.answer.withLock { $0 = .init(status: .internalServerError, body: "slow", delay: .milliseconds(800)) }
            let app = Application(router: scripted.router())
            try await app.test(.live) { client in
                try await RegistryHarness.run(
                    backend, authority: AuthorityClient(baseURL: "http://127.0.0.1:\(client.port!)", token: "kw_x", http: .forTests)
                ) { harness in
                    let synchronizer = Synchronizer(registry: harness.registry)
                    async let first: SynchronizationRun = synchronizer.run(trigger: .manual, actor: "a")
                    try await Task.sleep(for: .milliseconds(200))
                    await #expect(throws: RegistryError.syncInProgress) { try await synchronizer.run(trigger: .manual, actor: "b") }
                    #expect(try await first.errorCode == "AUTHORITY_ERROR")
                    #expect(try await harness.store.synchronizations(trigger: .manual).count == 1)
                }
            }
        }
    }
}
