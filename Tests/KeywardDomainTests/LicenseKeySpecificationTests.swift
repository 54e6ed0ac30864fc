import Foundation
import KeywardDomain
import KeywardTestSupport
import Testing

extension DomainTests {
    @Suite struct LicenseKeySpecificationTests {
        let organization = Fixtures.organization
        let spec = LicenseKeySpecification(profile: .staff, useType: .floating, users: 10, purchaseType: .sale, components: ["DOC"])

        @Test func aSoundSpecificationHasNoProblems() {
            #expect(spec.problems(for: organization).isEmpty)
            let license = spec.license(serial: "KW-AAAA-BBBB-CCCC-DDDD", organization: organization, issuedAt: Fixtures.now)
            #expect(license.validFrom == Fixtures.now)
            #expect(license.suiteVersion == LicenseKey.defaultSuiteVersion)
        }

        @Test(arguments: [PurchaseType.trial, .monthly, .rental])
        func anExpiringPurchaseNeedsAnExpiry(type: PurchaseType) {
            var copy = spec
            copy.purchaseType = type
            #expect(copy.problems(for: organization).map(\.code) == ["EXPIRY_REQUIRED"])
        }

        @Test func namesEachBrokenField() {
            func codes(_ edit: (inout LicenseKeySpecification) -> Void, organization: Organization? = nil) -> [String] {
                var copy = spec
                edit(&copy)
                return copy.problems(for: organization ?? self.organization).map(\.code)
            }
            #expect(codes { $0.users = 0 } == ["INVALID_USERS"])
            #expect(codes { $0.users = -3 } == ["INVALID_USERS"])
            #expect(codes { $0.components = [] } == ["NO_COMPONENTS"])
            #expect(codes { $0.components = ["DOC", "WF", "DOC"] } == ["DUPLICATE_COMPONENTS"])
            #expect(codes { $0.components = ["doc"] } == ["INVALID_COMPONENT"])
            #expect(
                codes {
                    $0.validFrom = Timestamp.parse("2027-01-01T00:00:00Z")
                    $0.expiresAt = Timestamp.parse("2026-01-01T00:00:00Z")
                } == ["EXPIRY_BEFORE_VALIDITY"])
            #expect(codes { $0.suiteVersion = "two" } == ["INVALID_SUITE_VERSION"])
            #expect(codes { $0.suiteVersion = "1..2" } == ["INVALID_SUITE_VERSION"])
            #expect(codes { $0.suiteVersion = ".1" } == ["INVALID_SUITE_VERSION"])
            #expect(codes { $0.suiteVersion = "10.2.3" } == [])
            #expect(codes({ _ in }, organization: Organization(id: "acme", legalName: "")) == ["INVALID_LEGAL_NAME"])
            #expect(codes({ _ in }, organization: Organization(id: "acme", legalName: "   ")) == ["INVALID_LEGAL_NAME"])
            #expect(codes({ _ in }, organization: Organization(id: "acme", legalName: String(repeating: "x", count: 201))) == ["INVALID_LEGAL_NAME"])
            #expect(codes({ _ in }, organization: Organization(id: "acme", legalName: String(repeating: "x", count: 200))) == [])
            // 67 letters with two marks each are 67 characters but 201 Unicode scalars, which the API descriptions count.
            let stacked = String(repeating: "o\u{301}\u{302}", count: 67)
            #expect(codes({ _ in }, organization: Organization(id: "acme", legalName: stacked)) == ["INVALID_LEGAL_NAME"])
            #expect(codes({ _ in }, organization: Organization(id: "acme", legalName: String(stacked.dropLast()) + "o\u{301}")) == [])
            #expect(codes({ _ in }, organization: Organization(id: "Acme Corp", legalName: "ACME")) == ["INVALID_ORGANIZATION"])
        }

        @Test(arguments: ["acme", "acme-corp", "a1", "x"])
        func acceptsSlugs(id: String) { #expect(Organization.isValidID(id)) }

        @Test(arguments: ["", "-acme", "acme-", "ac--me", "ACME", "acme corp", "acmé", String(repeating: "a", count: 64)])
        func rejectsNonSlugs(id: String) { #expect(!Organization.isValidID(id)) }

        @Test func serialsHaveTheirShapeAndDiffer() {
            var generator = SeededGenerator(seed: 1)
            let serials = (0..<1_000).map { _ in Serial.generate(using: &generator) }
            #expect(Set(serials).count == serials.count)
            #expect(serials.allSatisfy(Serial.isValid))
            #expect(Serial.isValid(Serial.generate()))
            #expect(!Serial.isValid("KW-"))
            #expect(!Serial.isValid("XX-AAAA"))
            #expect(!Serial.isValid("KW-AAAA-IIII"))  // I is not Crockford base32
        }
    }
}
