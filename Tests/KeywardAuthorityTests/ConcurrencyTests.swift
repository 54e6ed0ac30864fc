import Foundation
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import Testing

extension AuthorityTests {
    /// Two authority instances on one database, issuing and revoking for one organization at the same time.
    @Suite struct ConcurrencyTests {
        @Test(arguments: Backend.shared)
        func twoInstancesNeverShareASerialOrARevisionAndTheFeedMissesNothing(backend: Backend) async throws {
            try await withTemporaryDirectory { directory in
                try await withFreshDatabase(backend) { database, open async throws in
                    try await Migrator(Schema.authority).migrate(database, logger: testLogger)
                    let keyring = try AuthorityKeyring.create(in: directory, rotate: false, now: Date())
                    let catalog = try Catalog.shipped()
                    let first = Authority(store: AuthorityStore(database: database), keyring: keyring, catalog: catalog)
                    let second = Authority(store: AuthorityStore(database: try await open()), keyring: keyring, catalog: catalog)
                    _ = try await first.createOrganization(id: "acme", legalName: "ACME", actor: "test")
                    let spec = LicenseKeySpecification(profile: .staff, useType: .floating, users: 3, purchaseType: .sale, components: ["DOC"])

                    // Each task issues a key; every third then revokes it, from the other instance.
                    let outcomes = try await withThrowingTaskGroup(of: [(serial: String, revision: Int64, revoked: Bool)].self) { group in
                        for index in 0..<40 {
                            group.addTask {
                                let (mine, other) = index.isMultiple(of: 2) ? (first, second) : (second, first)
                                let issued = try await mine.issue(spec, organizationId: "acme", actor: "instance")
                                var steps = [(issued.serial, issued.revision, false)]
                                if index.isMultiple(of: 3) {
                                    let revoked = try await other.revoke(issued.serial, reason: "test", actor: "instance")
                                    steps.append((issued.serial, revoked.revision, true))
                                }
                                return steps
                            }
                        }
                        return try await group.reduce(into: []) { $0 += $1 }
                    }
                    let issued = outcomes.filter { !$0.revoked }
                    #expect(issued.count == 40)
                    #expect(Set(issued.map(\.serial)).count == 40, "serials are unique")
                    let revisions = outcomes.map(\.revision)
                    #expect(Set(revisions).count == revisions.count, "every change has its own revision")
                    #expect(Set(revisions) == Set((1...Int64(revisions.count))), "revisions rise one by one, without gaps")

                    let snapshot = try #require(try await first.store.feedSnapshot(of: "acme"))
                    #expect(snapshot.organization.revision == Int64(revisions.count))
                    let revokedSerials = Set(outcomes.filter(\.revoked).map(\.serial))
                    #expect(Set(snapshot.keys.map(\.serial)) == Set(issued.map(\.serial)).subtracting(revokedSerials))
                    #expect(Set(snapshot.revoked.map(\.serial)) == revokedSerials)
                }
            }
        }
    }
}
