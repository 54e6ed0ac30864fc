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
    @Suite struct LicenseKeysAPITests {
        /// The tests read keys through `KeyResponse`'s hand-written decoder: decoding an answer and encoding it again
        /// gives back the very bytes the API sent, for an active key and for a revoked, replaced one.
        @Test func theKeyDTODecodesExactlyWhatTheAPIEncodes() async throws {
            try await AuthorityHarness.run(.sqliteMemory) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    let serial = try await api.issue("acme", API.floating)
                    let active = try await api.call(.get, "/v1/license-keys/\(serial)")
                    #expect(try KeywardJSON.encoder.encode(active.decode(KeyResponse.self)) == active.body)
                    #expect(try await api.keys.switch(serial, spec: API.nominative).status == .created)
                    let replaced = try await api.call(.get, "/v1/license-keys/\(serial)")
                    #expect(try replaced.decode(KeyResponse.self).record.replacedBy != nil)
                    #expect(try KeywardJSON.encoder.encode(replaced.decode(KeyResponse.self)) == replaced.body)
                }
            }
        }

        @Test(arguments: Backend.services)
        func issuesKeysThatARegistryAccepts(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    let reply = try await api.keys.issue("acme", spec: API.floating)
                    #expect(reply.status == .created)
                    let issued = try reply.value.record
                    let accessKey = issued.accessKey
                    #expect(!issued.isRevoked, "status is active")
                    #expect(issued.license.users == 10)
                    let verification = AccessKeyVerifier(trustStore: harness.trust).verify(accessKey, organization: "acme", now: harness.clock.now)
                    #expect(verification.code == .valid)
                    #expect(verification.license?.serial == issued.license.serial)
                    #expect(verification.license?.expiresAt == Timestamp.parse("2027-12-31T00:00:00Z"))

                    let serial = issued.license.serial
                    #expect(try await api.keys.show(serial).value.record.accessKey == accessKey)
                    #expect(try await api.keys.list("acme").value.items.count == 1)
                    #expect(try await api.call(.get, "/v1/license-keys/KW-NONE-NONE").status == .notFound)
                    #expect(
                        try await api.call(.post, "/v1/organizations/nobody/license-keys", json: API.floating).errorCode == "UNKNOWN_ORGANIZATION")
                }
            }
        }

        static let base = #"{"profile":"staff","useType":"floating","users":5,"purchaseType":"sale","components":["DOC"]}"#

        /// A bad key specification, the code it is refused with, and the field that code names.
        static let badSpecifications: [(body: String, code: String, field: String)] = [
            (base.replacingOccurrences(of: #""users":5"#, with: #""users":0"#), "INVALID_USERS", "users"),
            (base.replacingOccurrences(of: #""users":5"#, with: #""users":"five""#), "INVALID_FIELD", "users"),
            (base.replacingOccurrences(of: #"["DOC"]"#, with: "[]"), "NO_COMPONENTS", "components"),
            (base.replacingOccurrences(of: #"["DOC"]"#, with: #"["DOC","DOC"]"#), "DUPLICATE_COMPONENTS", "components"),
            (base.replacingOccurrences(of: #"["DOC"]"#, with: #"["DOC","XYZ"]"#), "UNKNOWN_COMPONENT", "components"),
            (base.replacingOccurrences(of: #""sale""#, with: #""trial""#), "EXPIRY_REQUIRED", "expiresAt"),
            (base.replacingOccurrences(of: #""sale""#, with: #""lease""#), "INVALID_FIELD", "purchaseType"),
            (base.replacingOccurrences(of: #""staff""#, with: #""owner""#), "INVALID_FIELD", "profile"),
            (base.dropLast() + #","validFrom":"2027-01-01","expiresAt":"2026-01-01"}"#, "EXPIRY_BEFORE_VALIDITY", "expiresAt"),
            (base.dropLast() + #","expiresAt":"soon"}"#, "INVALID_FIELD", "expiresAt"),
            (base.dropLast() + #","suiteVersion":"\#(String(repeating: "9", count: 300))"}"#, "INVALID_SUITE_VERSION", "suiteVersion"),
        ]

        @Test(arguments: Backend.services, badSpecifications)
        func refusesABadKeySpecificationNamingTheFieldAndWritesNothing(backend: Backend, specification: (body: String, code: String, field: String))
            async throws
        {
            try await AuthorityHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    let before = try await harness.fingerprint()
                    let reply = try await api.call(.post, "/v1/organizations/acme/license-keys", json: specification.body)
                    #expect(reply.status == .unprocessableContent, "\(specification.code)")
                    #expect(reply.errorCode == specification.code)
                    #expect(reply.errorField == specification.field, "\(specification.code)")
                    #expect(try await harness.fingerprint() == before)
                }
            }
        }

        @Test(arguments: Backend.services)
        func refusesAnAgreementWithABadLineNamingTheLineAndWritesNothing(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    let before = try await harness.fingerprint()
                    let base = Self.base
                    // An agreement is refused whole when one line is bad, naming the line.
                    let agreement =
                        #"{"reference":"2026-ACME-001","lines":[\#(base),\#(base.replacingOccurrences(of: #""users":5"#, with: #""users":-1"#))]}"#
                    let refused = try await api.call(.post, "/v1/organizations/acme/agreements", json: agreement)
                    #expect(refused.errorCode == "INVALID_USERS")
                    #expect(refused.errorField == "lines[1].users")
                    #expect(
                        try await api.call(.post, "/v1/organizations/acme/agreements", json: #"{"reference":"","lines":[\#(base)]}"#).errorCode
                            == "INVALID_REFERENCE")
                    #expect(
                        try await api.call(.post, "/v1/organizations/acme/agreements", json: #"{"reference":"R","lines":[]}"#).errorCode
                            == "INVALID_LINES")
                    #expect(try await harness.fingerprint() == before)
                }
            }
        }

        @Test(arguments: Backend.services)
        func agreementsIssueOneKeyPerLine(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    let body = #"{"reference":"2026-ACME-001","signedOn":"2026-03-01","lines":[\#(API.nominative),\#(API.floating)]}"#
                    let reply = try await api.agreements.issue("acme", json: body)
                    #expect(reply.status == .created)
                    let keys = try reply.value.keys ?? []
                    #expect(keys.map(\.record.line) == [1, 2])
                    let id = try reply.value.id
                    #expect(try await api.agreements.show(id).value.serials == keys.map(\.record.license.serial))
                    #expect(try await api.agreements.list("acme").value.items.count == 1)
                    #expect(try await api.call(.post, "/v1/organizations/acme/agreements", json: body).errorCode == "AGREEMENT_EXISTS")
                    // One agreement is one change: the revision rose once.
                    #expect(try await api.organizations.show("acme").value.revision == 1)
                }
            }
        }

        @Test(arguments: Backend.services)
        func revokeRenewAndSwitchEachRaiseTheRevision(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    let first = try await api.issue("acme", API.floating)
                    let second = try await api.issue("acme")
                    func revision() async throws -> Int64? { try await api.organizations.show("acme").value.revision }
                    #expect(try await revision() == 2)

                    harness.clock.advance(by: 3600)
                    let renewed = try await api.keys.renew(first, json: #"{"expiresAt":"2029-06-30"}"#)
                    #expect(try renewed.value.record.license.serial == first)
                    let renewedKey = try renewed.value.record.accessKey
                    let verified = AccessKeyVerifier(trustStore: harness.trust).verify(renewedKey, now: Timestamp.parse("2028-06-01T00:00:00Z")!)
                    #expect(verified.code == .valid)
                    #expect(verified.license?.expiresAt == Timestamp.parse("2029-06-30T00:00:00Z"))
                    #expect(try await revision() == 3)
                    #expect(
                        try await api.call(.post, "/v1/license-keys/\(first)/renew", json: #"{"expiresAt":"2001-01-01"}"#).errorCode
                            == "EXPIRY_BEFORE_VALIDITY")

                    let switched = try await api.keys.switch(second, spec: API.floating)
                    #expect(switched.status == .created)
                    let replacement = try switched.value.issued.record.license.serial
                    #expect(try switched.value.revoked.record.replacedBy == replacement)
                    #expect(try await revision() == 4)

                    let revoked = try await api.keys.revoke(first, json: #"{"reason":"customer cancelled"}"#)
                    #expect(try revoked.value.record.isRevoked, "status is revoked")
                    #expect(try revoked.value.record.revocationReason == "customer cancelled")
                    #expect(try await revision() == 5)

                    let before = try await harness.fingerprint()
                    #expect(try await api.call(.post, "/v1/license-keys/\(first)/revoke", json: #"{"reason":"again"}"#).errorCode == "KEY_REVOKED")
                    #expect(
                        try await api.call(.post, "/v1/license-keys/\(first)/renew", json: #"{"expiresAt":"2030-01-01"}"#).errorCode == "KEY_REVOKED")
                    #expect(
                        try await api.call(.post, "/v1/license-keys/\(first)/renew", json: #"{"expiresAt":"2001-01-01"}"#).errorCode == "KEY_REVOKED")
                    #expect(
                        try await api.call(.post, "/v1/license-keys/\(replacement)/revoke", json: #"{"reason":"bad\u0007reason"}"#).errorCode
                            == "INVALID_REASON")
                    #expect(try await api.call(.post, "/v1/license-keys/\(second)/switch", json: API.floating).errorCode == "KEY_REVOKED")
                    #expect(
                        try await api.call(.post, "/v1/license-keys/\(replacement)/revoke", json: #"{"reason":""}"#).errorCode == "INVALID_REASON")
                    #expect(try await api.call(.post, "/v1/license-keys/KW-ZZZZ/revoke", json: #"{"reason":"x"}"#).status == .notFound)
                    #expect(try await harness.fingerprint() == before)

                    let audit = try await api.audit.events("target=license-key:\(first)").value.items
                    #expect(audit.map(\.action) == ["license-key.revoked", "license-key.renewed", "license-key.issued"])
                    #expect(audit.allSatisfy { $0.actor == "operator:tester" })
                    let replacementAudit = try await api.audit.events("target=license-key:\(replacement)").value.items
                    #expect(replacementAudit.map(\.action) == ["license-key.issued"])
                    #expect(try await api.call(.get, "/v1/license-keys/KW-ZZZZ").errorCode == "UNKNOWN_KEY")
                    #expect(try await api.call(.get, "/v1/agreements/AG-ZZZZ").errorCode == "UNKNOWN_AGREEMENT")
                    #expect(try await api.call(.get, "/v1/audit-events?limit=0").errorCode == "INVALID_LIMIT")
                }
            }
        }
    }
}
