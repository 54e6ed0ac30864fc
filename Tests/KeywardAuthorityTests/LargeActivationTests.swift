import Foundation
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import Testing

extension AuthorityTests {
    /// An installation that synchronizes 100,000 keys is activated for all of them: the request is bounded by its size,
    /// not by a count, and the keys are looked up in batches a statement can bind.
    @Suite struct LargeActivationTests {
        @Test(arguments: Backend.services)
        func oneHundredThousandKeysAreActivatedInOneRequest(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                _ = try await harness.authority.createOrganization(id: "acme", legalName: "ACME Industries Ltd.", actor: "test")
                let organization = Organization(id: "acme", legalName: "ACME Industries Ltd.")
                let signing = harness.authority.keyring.activeKey
                let issuer = KeyIssuer(signingKey: signing)
                let specification = LicenseKeySpecification(profile: .staff, useType: .floating, users: 5, purchaseType: .sale, components: ["DOC"])
                var serials: [String] = []
                for batch in 0..<20 {
                    var keys: [NewIssuedKey] = []
                    for _ in 0..<5_000 {
                        let issued = try issuer.issue(specification, for: organization, now: harness.clock.now)
                        keys.append(NewIssuedKey(license: issued.license, accessKey: issued.accessKey, kid: signing.kid))
                    }
                    serials += keys.map(\.license.serial)
                    _ = try await harness.store.storeIssuedKeys(keys, organizationId: "acme", actor: "test batch \(batch)", now: harness.clock.now)
                }
                #expect(serials.count == 100_000)
                let revoked = serials[42]
                _ = try await harness.authority.revoke(revoked, reason: "contract ended", actor: "test")
                let request = ActivationRequestFile(
                    organizationId: "acme", installationId: "inst-big", environment: .production, serials: serials, promote: false)
                let result = try await harness.authority.activate(request, actor: "test")
                let certificate = try JSONDecoder().decode(
                    ActivationCertificate.self, from: try result.certificate.verifiedPayload(for: .certificate, trust: harness.trust))
                #expect(certificate.serials.count == 99_999)
                #expect(Set(certificate.serials) == Set(serials).subtracting([revoked]))
                #expect(certificate.revoked?.map(\.serial) == [revoked])
                #expect(try await harness.store.installations(of: "acme").first?.serials.count == 99_999)
            }
        }

        @Test func aPromotionKeepsItsReason() async throws {
            try await AuthorityHarness.run(.sqliteFile) { harness in
                _ = try await harness.authority.createOrganization(id: "acme", legalName: "ACME", actor: "test")
                let key = try await harness.authority.issue(
                    LicenseKeySpecification(profile: .staff, useType: .floating, users: 5, purchaseType: .sale, components: ["DOC"]),
                    organizationId: "acme", actor: "test")
                _ = try await harness.authority.activate(
                    ActivationRequestFile(
                        organizationId: "acme", installationId: "inst-old", environment: .production,
                        serials: [key.license.serial], promote: false), actor: "test")
                let refused = await #expect(throws: StoreError.self) {
                    _ = try await harness.authority.activate(
                        ActivationRequestFile(
                            organizationId: "acme", installationId: "inst-new", environment: .production,
                            serials: [key.license.serial], promote: false), actor: "test")
                }
                #expect(refused?.code == "PRODUCTION_EXISTS")
                let promoted = try await harness.authority.activate(
                    ActivationRequestFile(
                        organizationId: "acme", installationId: "inst-new", environment: .production, serials: [key.license.serial], promote: true,
                        reason: "moving to the new data centre"), actor: "test")
                #expect(promoted.changes.map(\.installationId) == ["inst-old"])
                let reasons = try await harness.store.database.read { sql in
                    try await sql.raw("SELECT reason FROM environment_changes").all().map { try $0.decode(column: "reason", as: String?.self) }
                }
                #expect(reasons == ["moving to the new data centre"])
                let tooLong = await #expect(throws: AuthorityError.self) {
                    _ = try await harness.authority.activate(
                        ActivationRequestFile(
                            organizationId: "acme", installationId: "inst-new", environment: .production,
                            serials: [key.license.serial], promote: true, reason: String(repeating: "r", count: 501)),
                        actor: "test")
                }
                #expect(
                    tooLong
                        == .invalid([
                            FieldError(
                                field: "reason", code: "INVALID_REASON",
                                message: "The reason must be at most 500 characters, without control characters."
                            )
                        ]))
            }
        }
    }
}
