import Foundation
import KeywardDomain
import KeywardStore
import KeywardTestSupport
import Testing

extension StoreTests {
    /// The Codable row structs read back what they wrote, on every backend: BIGINT milliseconds, booleans, NULLs.
    @Suite struct RowMappingTests {
        /// A whole millisecond, as stored.
        static let now = Date(storedMilliseconds: 1_790_000_000_123)

        static func license(serial: String, expiresAt: Date?) -> LicenseKey {
            LicenseKey(
                serial: serial, organization: Organization(id: "acme", legalName: "ACME Industries Ltd."), profile: .manager, useType: .floating,
                users: 25, purchaseType: .rental, suiteVersion: "2.1", validFrom: Date(storedMilliseconds: 1_780_000_000_000), expiresAt: expiresAt,
                components: ["DOC", "WF"], issuedAt: Date(storedMilliseconds: 1_779_000_000_001)
            )
        }

        @Test(arguments: Backend.available)
        func registryRowsReadBackAsWritten(backend: Backend) async throws {
            try await withFreshDatabase(backend) { database, _ async throws in
                try await Migrator(Schema.registry).migrate(database, logger: testLogger)
                let store = RegistryStore(database: database)

                let installation = RegistryInstallation(
                    installationId: "inst-1", organization: Organization(id: "acme", legalName: "ACME"),
                    environment: .production, createdAt: Self.now)
                #expect(try await store.createInstallation(installation) == (installation, true))
                #expect(try await store.installation() == installation)

                let keys = [
                    RegisteredKey(
                        license: Self.license(serial: "KW-1", expiresAt: nil), accessKey: "ak-1", kid: "kid", idNumber: "Engineering",
                        source: .manual, registeredAt: Self.now, registeredBy: "admin"),
                    RegisteredKey(
                        license: Self.license(serial: "KW-2", expiresAt: Self.now.addingTimeInterval(86_400)), accessKey: "ak-2", kid: "kid",
                        idNumber: "SOX", source: .synchronized, registeredAt: Self.now, registeredBy: "synchronization"),
                ]
                for key in keys { try await store.register(key, actor: "admin", now: Self.now) }
                #expect(try await store.keys() == keys)

                #expect(try await store.createAdministrator(login: "admin", passwordHash: "hash", now: Self.now))
                #expect(
                    try await store.user("ADMIN")
                        == RegistryUser(
                            login: "admin", name: "Administrator", email: "", passwordHash: "hash",
                            active: true, builtin: true))
                try await store.createWebSession(
                    idHash: "h", login: "admin", csrfToken: "csrf", now: Self.now, expiresAt: Self.now.addingTimeInterval(60))
                let session = try await store.webSession(idHash: "h", now: Self.now)
                #expect(session?.user.login == "admin" && session?.csrfToken == "csrf")
                #expect(try await store.webSession(idHash: "h", now: Self.now.addingTimeInterval(61)) == nil)

                try await store.saveSettings([.catalog: "{}"], actor: "admin", now: Self.now)
                #expect(try await store.settings() == [.catalog: "{}"])

                let id = try await store.startSynchronization(trigger: .manual, actor: "admin", now: Self.now)
                var counts = SyncCounts()
                counts.added = 2
                try await store.finishSynchronization(
                    id, outcome: .succeeded, counts: counts, revision: 7, error: nil, now: Self.now.addingTimeInterval(1))
                let run = try #require(try await store.synchronizations(trigger: nil).first)
                #expect(
                    run
                        == SynchronizationRun(
                            id: id, trigger: .manual, actor: "admin", startedAt: Self.now, finishedAt: Self.now.addingTimeInterval(1),
                            outcome: .succeeded, added: 2, renewed: 0, revoked: 0, unchanged: 0, revision: 7))
            }
        }

        @Test(arguments: Backend.available)
        func authorityRowsReadBackAsWritten(backend: Backend) async throws {
            try await withFreshDatabase(backend) { database, _ async throws in
                try await Migrator(Schema.authority).migrate(database, logger: testLogger)
                let store = AuthorityStore(database: database)
                let organization = try await store.createOrganization(
                    Organization(id: "acme", legalName: "ACME Industries Ltd."), actor: "op", now: Self.now)
                #expect(try await store.organization("acme") == organization)

                let keys = [
                    NewIssuedKey(license: Self.license(serial: "KW-1", expiresAt: nil), accessKey: "ak-1", kid: "kid"),
                    NewIssuedKey(license: Self.license(serial: "KW-2", expiresAt: Self.now), accessKey: "ak-2", kid: "kid"),
                ]
                let revision = try await store.storeIssuedKeys(
                    keys, organizationId: "acme", agreement: (id: "ag-1", reference: "C-1", signedOn: nil),
                    actor: "op", now: Self.now)
                let stored = try #require(try await store.key("KW-2"))
                #expect(
                    stored
                        == IssuedKeyRecord(license: keys[1].license, accessKey: "ak-2", kid: "kid", agreementId: "ag-1", line: 2, revision: revision))
                #expect(try await store.keys(of: "acme").map(\.license) == keys.map(\.license))
                #expect(
                    try await store.agreement("ag-1")
                        == AgreementRecord(
                            id: "ag-1", organizationId: "acme", reference: "C-1", signedOn: nil,
                            createdAt: Self.now, serials: ["KW-1", "KW-2"]))
            }
        }
    }
}
