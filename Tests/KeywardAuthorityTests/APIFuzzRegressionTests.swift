import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import Testing

@testable import KeywardAuthorityHTTP

extension AuthorityTests {
    /// What API fuzzing (scripts/verify_api.py, schemathesis against authority.yaml) found in the authority's routes, one
    /// test per defect, so none comes back.
    @Suite struct AuthorityAPIFuzzRegressionTests {
        /// `POST /v1/organizations/{id}/tokens` refused a bad token name with `INVALID_TOKEN_NAME` but no `details.field`,
        /// unlike every other field refusal.
        @Test func aBadTokenNameIsRefusedNamingTheField() async throws {
            try await AuthorityHarness.run(.sqliteFile) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    let before = try await harness.fingerprint()
                    // The last: 34 letters with two marks each, 34 characters but 102 Unicode scalars, which the description
                    // counts (found by schemathesis).
                    for name in ["", "   ", "\u{7}bell", String(repeating: "n", count: 101), String(repeating: "n\u{301}\u{302}", count: 34)] {
                        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["name": name]), as: UTF8.self)
                        let reply = try await api.call(.post, "/v1/organizations/acme/tokens", json: body)
                        #expect(reply.status == .unprocessableContent, "\(name.debugDescription)")
                        #expect(reply.errorCode == "INVALID_TOKEN_NAME")
                        #expect(reply.errorField == "name")
                    }
                    #expect(try await harness.fingerprint() == before, "no refusal wrote anything")
                    // `null` is the same as no name.
                    let unnamed = try await api.tokens.create("acme", json: #"{"name": null}"#)
                    #expect(unnamed.status == .created)
                    #expect(try unnamed.value.name == "registry")
                }
            }
        }

        /// The description allowed `1..2` for a suite version (`^[0-9]([0-9.]*[0-9])?$`), which the server rightly refuses
        /// (found by the full schemathesis run). The pattern now says what the server checks, and agrees on these.
        @Test func theSuiteVersionPatternAgreesWithTheServer() throws {
            let yaml = Authority.openAPIDescription()
            let line = try #require(yaml.split(separator: "\n").first { $0.contains("pattern: '^[0-9]+") })
            let pattern = String(line.split(separator: "'")[1])
            let regex = try NSRegularExpression(pattern: pattern)
            for text in ["2.1", "10.0.3", "7", "1..2", "1.", ".1", "", "2.x", "١.٢"] {
                let matches = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
                let spec = LicenseKeySpecification(
                    profile: .staff, useType: .floating, users: 1, purchaseType: .sale, components: ["DOC"], suiteVersion: text)
                let valid = !spec.problems(for: Organization(id: "acme", legalName: "ACME")).contains { $0.code == "INVALID_SUITE_VERSION" }
                #expect(matches == valid, "\(text.debugDescription): pattern \(matches), server \(valid)")
            }
        }
    }
}
