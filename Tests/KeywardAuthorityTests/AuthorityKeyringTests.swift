import Foundation
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import Testing

extension AuthorityTests {
    @Suite struct AuthorityKeyringTests {
        static let now = Timestamp.parse("2026-06-01T00:00:00Z")!

        @Test func createsAPrivateKeyReadableOnlyByItsOwner() async throws {
            try await withTemporaryDirectory { directory in
                let keyring = try AuthorityKeyring.create(in: directory, rotate: false, now: Self.now)
                let file = directory.appendingPathComponent("signing-keys/\(keyring.activeKey.kid).pem")
                let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
                #expect((attributes[.posixPermissions] as? Int) == 0o600)
                let pem = try String(contentsOf: file, encoding: .utf8)
                #expect(try AuthoritySigningKey(pem: pem).kid == keyring.activeKey.kid)
                #expect(try AuthorityKeyring.load(from: directory).activeKey.publicKey == keyring.activeKey.publicKey)
            }
        }

        @Test func refusesToOverwriteAnExistingKey() async throws {
            try await withTemporaryDirectory { directory in
                let original = try AuthorityKeyring.create(in: directory, rotate: false, now: Self.now)
                let manifestBefore = try Data(contentsOf: directory.appendingPathComponent("signing-keys.json"))
                #expect(throws: AuthorityKeyringError.self) { try AuthorityKeyring.create(in: directory, rotate: false, now: Self.now) }
                do {
                    try AuthorityKeyring.create(in: directory, rotate: false, now: Self.now)
                } catch let error as AuthorityKeyringError {
                    #expect(error.code == "KEYRING_EXISTS")
                    #expect(error.message.contains("--rotate"))
                }
                #expect(try Data(contentsOf: directory.appendingPathComponent("signing-keys.json")) == manifestBefore)
                #expect(try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("signing-keys").path).count == 1)
                #expect(try AuthorityKeyring.load(from: directory).activeKey.kid == original.activeKey.kid)
            }
        }

        @Test func rotationAddsAnActiveKeyAndOldKeysStillVerify() async throws {
            try await withTemporaryDirectory { directory in
                let first = try AuthorityKeyring.create(in: directory, rotate: false, now: Self.now)
                let oldKey = AccessKey.issue(sampleLicense(), signedWith: first.activeKey)
                let second = try AuthorityKeyring.create(in: directory, rotate: true, now: Self.now.addingTimeInterval(3600))
                #expect(second.activeKey.kid != first.activeKey.kid)
                #expect(second.entries.map(\.active) == [false, true])
                #expect(second.publicKeys.map(\.kid) == [second.activeKey.kid, first.activeKey.kid])

                let verifier = AccessKeyVerifier(trustStore: try AuthorityKeyring.load(from: directory).trustStore)
                let newKey = AccessKey.issue(sampleLicense(), signedWith: second.activeKey)
                #expect(verifier.verify(oldKey, now: Self.now).code == .valid)
                #expect(verifier.verify(newKey, now: Self.now).code == .valid)
                #expect(verifier.verify(newKey, now: Self.now).kid == second.activeKey.kid)
            }
        }

        @Test func explainsAMissingOrDamagedKeyring() async throws {
            try await withTemporaryDirectory { directory in
                #expect(throws: AuthorityKeyringError.self) { try AuthorityKeyring.load(from: directory) }
                do { _ = try AuthorityKeyring.load(from: directory) } catch let error as AuthorityKeyringError { #expect(error.code == "NO_KEYRING") }

                let keyring = try AuthorityKeyring.create(in: directory, rotate: false, now: Self.now)
                try "garbage".write(
                    to: directory.appendingPathComponent("signing-keys/\(keyring.activeKey.kid).pem"), atomically: true, encoding: .utf8)
                do { _ = try AuthorityKeyring.load(from: directory) } catch let error as AuthorityKeyringError {
                    #expect(error.code == "KEYRING_DAMAGED")
                }
            }
        }
    }
}

extension AuthorityTests {
    @Suite struct KeyIssuerTests {
        let issuer = KeyIssuer(signingKey: AuthoritySigningKey())
        let organization = Organization(id: "acme", legalName: "ACME Industries Ltd.")
        let now = Timestamp.parse("2026-06-01T00:00:00Z")!

        @Test func issuesAKeyTheRegistryAccepts() throws {
            let spec = LicenseKeySpecification(
                profile: .basic, useType: .floating, users: 5, purchaseType: .monthly, components: ["DOC", "AUD"],
                expiresAt: Timestamp.parse("2026-07-01T00:00:00Z"))
            let issued = try issuer.issue(spec, for: organization, now: now)
            #expect(Serial.isValid(issued.serial))
            let verification = AccessKeyVerifier(trustStore: TrustStore([issuer.signingKey.publicKey])).verify(
                issued.accessKey, organization: "acme", now: now)
            #expect(verification.code == .valid)
            #expect(verification.license == issued.license)
            #expect(issued.license.validFrom == now)
        }

        @Test func refusesABadSpecificationNamingEveryField() {
            let spec = LicenseKeySpecification(profile: .basic, useType: .floating, users: 0, purchaseType: .trial, components: [])
            #expect(throws: IssueRefused(problems: spec.problems(for: organization))) { try issuer.issue(spec, for: organization, now: now) }
            #expect(spec.problems(for: organization).map(\.field) == ["users", "components", "expiresAt"])
        }

        @Test func warnsAboutDatesInThePast() {
            let spec = LicenseKeySpecification(
                profile: .basic, useType: .floating, users: 1, purchaseType: .rental, components: ["DOC"],
                validFrom: Timestamp.parse("2020-01-01T00:00:00Z"), expiresAt: Timestamp.parse("2021-01-01T00:00:00Z"))
            #expect(spec.warnings(at: now).count == 2)
            #expect(spec.warnings(at: Timestamp.parse("2020-01-01T12:00:00Z")!).isEmpty)
        }
    }
}

func sampleLicense() -> LicenseKey {
    LicenseKey(
        serial: "KW-AAAA-BBBB-CCCC-DDDD", organization: Organization(id: "acme", legalName: "ACME"), profile: .view, useType: .floating,
        users: 3, purchaseType: .sale, suiteVersion: "2.1", validFrom: Timestamp.parse("2026-01-01T00:00:00Z")!, expiresAt: nil,
        components: ["DOC"], issuedAt: Timestamp.parse("2026-01-01T00:00:00Z")!)
}
