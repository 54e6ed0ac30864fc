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
    @Suite struct FeedAPITests {
        static func envelope(_ reply: API.Reply, trust: TrustStore) throws -> FeedEnvelope {
            let document = try JSONDecoder().decode(SignedDocument.self, from: reply.body)
            return try JSONDecoder().decode(FeedEnvelope.self, from: try document.verifiedPayload(for: .feed, trust: trust))
        }

        @Test(arguments: Backend.services)
        func theFeedIsSignedAndCarriesEveryKeyAndRevocation(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    try await api.createOrganization("globex", "Globex")
                    let kept = try await api.issue("acme")
                    let gone = try await api.issue("acme", API.floating)
                    _ = try await api.issue("globex")
                    _ = try await api.call(.post, "/v1/license-keys/\(gone)/revoke", json: #"{"reason":"cancelled"}"#)
                    let token = try await harness.organizationToken("acme")

                    let reply = try await api.call(.get, "/v1/organizations/acme/feed", token: token)
                    #expect(reply.status == .ok)
                    #expect(reply.headers[.eTag] == "\"r3-\(harness.authority.keyring.activeKey.kid)\"")
                    let envelope = try Self.envelope(reply, trust: harness.trust)
                    #expect(envelope.organization == Organization(id: "acme", legalName: "ACME Industries Ltd."))
                    #expect(envelope.revision == 3)
                    #expect(envelope.keys.map(\.serial) == [kept])
                    #expect(envelope.revoked.map(\.serial) == [gone])
                    #expect(envelope.revoked.first?.reason == "cancelled")
                    let verifier = AccessKeyVerifier(trustStore: harness.trust)
                    #expect(envelope.keys.allSatisfy { verifier.verify($0.accessKey, organization: "acme", now: harness.clock.now).isValid })

                    // A signature for a feed is not one for a certificate.
                    let document = try JSONDecoder().decode(SignedDocument.self, from: reply.body)
                    #expect(throws: SignedDocument.Failure.badSignature) { try document.verifiedPayload(for: .certificate, trust: harness.trust) }
                    #expect(throws: SignedDocument.Failure.unknownSigningKey) { try document.verifiedPayload(for: .feed, trust: TrustStore()) }
                }
            }
        }

        @Test(arguments: Backend.services)
        func anUnchangedFeedIsANotModified(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    _ = try await api.issue("acme")
                    let first = try await api.call(.get, "/v1/organizations/acme/feed")
                    let etag = try #require(first.headers[.eTag])
                    let again = try await api.call(.get, "/v1/organizations/acme/feed", headers: [.ifNoneMatch: etag])
                    #expect(again.status == .notModified)
                    #expect(again.body.isEmpty)
                    #expect(again.headers[.eTag] == etag)

                    let serial = try await api.issue("acme", API.floating)
                    let changed = try await api.call(.get, "/v1/organizations/acme/feed", headers: [.ifNoneMatch: etag])
                    #expect(changed.status == .ok)
                    #expect(changed.headers[.eTag] != etag)
                    #expect(try Self.envelope(changed, trust: harness.trust).keys.map(\.serial).contains(serial))
                    #expect(try await api.call(.get, "/v1/organizations/nobody/feed").status == .notFound)

                    // Weak tags, lists and * match too; a rename is a change registries must see.
                    let current = try #require(changed.headers[.eTag])
                    #expect(
                        try await api.call(.get, "/v1/organizations/acme/feed", headers: [.ifNoneMatch: "\"other\", W/\(current)"]).status
                            == .notModified
                    )
                    #expect(try await api.call(.get, "/v1/organizations/acme/feed", headers: [.ifNoneMatch: "\"other\" , *"]).status == .notModified)
                    _ = try await api.call(.patch, "/v1/organizations/acme", json: #"{"legalName":"ACME Holdings"}"#)
                    let renamed = try await api.call(.get, "/v1/organizations/acme/feed", headers: [.ifNoneMatch: current])
                    #expect(renamed.status == .ok)
                    #expect(try Self.envelope(renamed, trust: harness.trust).organization.legalName == "ACME Holdings")
                }
            }
        }
    }
}

extension AuthorityTests {
    @Suite struct ActivationAPITests {
        static func request(_ installation: String, _ environment: String, serials: [String], promote: Bool = false) -> String {
            let list = serials.map { "\"\($0)\"" }.joined(separator: ",")
            return #"{"installationId":"\#(installation)","environment":"\#(environment)","serials":[\#(list)],"promote":\#(promote)}"#
        }

        @Test(arguments: Backend.services)
        func activatesAndCertifiesTheInstallationsKeys(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    let serial = try await api.issue("acme")
                    let token = try await harness.organizationToken("acme")
                    let reply = try await api.activations.activate(
                        "acme", token: token, json: Self.request("inst-a", "production", serials: [serial]))
                    #expect(reply.status == .created)
                    let document = try reply.value.certificate
                    let certificate = try JSONDecoder().decode(
                        ActivationCertificate.self, from: try document.verifiedPayload(for: .certificate, trust: harness.trust))
                    #expect(certificate.installationId == "inst-a")
                    #expect(certificate.environment == .production)
                    #expect(certificate.serials == [serial])
                    #expect(certificate.organization.id == "acme")
                    #expect(try await api.activations.list("acme").value.items.map(\.environment) == [.production])
                }
            }
        }

        /// A certificate carries, signed, when it stops being good: 400 days after it was issued.
        @Test func certificatesExpireFourHundredDaysAfterTheyAreIssued() async throws {
            try await AuthorityHarness.run(.sqliteFile) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    let serial = try await api.issue("acme")
                    let reply = try await api.activations.activate("acme", json: Self.request("inst-a", "production", serials: [serial]))
                    #expect(reply.status == .created)
                    let document = try reply.value.certificate
                    // The signed payload as written: the times are the text the signature covers, read with the domain's parser.
                    let payload = try JSONDecoder().decode(
                        [String: JSONValue].self, from: try document.verifiedPayload(for: .certificate, trust: harness.trust))
                    let issuedAt = try #require(payload["issuedAt"]?.string.flatMap(Timestamp.parse))
                    let expiresAt = try #require(payload["expiresAt"]?.string.flatMap(Timestamp.parse))
                    #expect(issuedAt == harness.clock.now)
                    #expect(expiresAt == issuedAt.addingTimeInterval(400 * 86_400))
                }
            }
        }

        @Test(arguments: Backend.services)
        func enforcesTheEnvironmentRules(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    let serial = try await api.issue("acme")
                    func activate(_ installation: String, _ environment: String, promote: Bool = false, serials: [String]? = nil) async throws
                        -> Answer<FeedController.ActivationResponse>
                    {
                        try await api.activations.activate(
                            "acme", json: Self.request(installation, environment, serials: serials ?? [serial], promote: promote))
                    }
                    #expect(try await activate("inst-a", "production").status == .created)
                    #expect(try await activate("inst-b", "test").status == .created)
                    let before = try await harness.fingerprint()
                    let refused = try await activate("inst-b", "production")
                    #expect(refused.status == .conflict)
                    #expect(refused.errorCode == "PRODUCTION_EXISTS")
                    #expect(try await harness.fingerprint() == before)

                    // Promoting demotes the old production installation: two changes (b up, a down).
                    let promoted = try await activate("inst-b", "production", promote: true)
                    #expect(try promoted.value.demoted == ["inst-a"])
                    let environments = try await api.activations.list("acme").value.items
                    #expect(environments.map { "\($0.installationId)=\($0.environment.rawValue)" } == ["inst-a=test", "inst-b=production"])
                    // A third change this month is allowed, a fourth is not.
                    #expect(try await activate("inst-b", "test").status == .created)
                    let before2 = try await harness.fingerprint()
                    let limited = try await activate("inst-b", "production")
                    #expect(limited.errorCode == "ENVIRONMENT_CHANGE_LIMIT")
                    #expect(try await harness.fingerprint() == before2)
                    // Next month the organization may change again.
                    harness.clock.set(Timestamp.parse("2026-04-01T00:00:00Z")!)
                    #expect(try await activate("inst-b", "production").status == .created)
                }
            }
        }

        @Test(arguments: Backend.services)
        func refusesUnknownKeysAndCertifiesRevokedOnesAsRevoked(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    try await api.createOrganization("globex", "Globex")
                    let mine = try await api.issue("acme")
                    let theirs = try await api.issue("globex")
                    let revoked = try await api.issue("acme", API.floating)
                    _ = try await api.call(.post, "/v1/license-keys/\(revoked)/revoke", json: #"{"reason":"x"}"#)
                    let before = try await harness.fingerprint()
                    let unknown = try await api.activations.activate("acme", json: Self.request("inst-a", "test", serials: [mine, theirs]))
                    #expect(unknown.errorCode == "UNKNOWN_KEY")
                    #expect(unknown.error?.details["serials"]?.strings == [theirs])
                    #expect(
                        try await api.call(.post, "/v1/organizations/acme/activations", json: Self.request("bad id!", "test", serials: [mine]))
                            .errorCode
                            == "INVALID_INSTALLATION_ID")
                    #expect(
                        try await api.call(.post, "/v1/organizations/acme/activations", json: Self.request("inst-a", "staging", serials: [mine]))
                            .errorCode == "INVALID_FIELD")
                    #expect(try await harness.fingerprint() == before)
                    // A revoked key is not refused: the certificate covers the others and carries it, signed, with the reason.
                    let partly = try await api.activations.activate("acme", json: Self.request("inst-a", "test", serials: [mine, revoked]))
                    #expect(partly.status == .created)
                    #expect(try partly.value.serials == [mine])
                    #expect(try partly.value.revoked.map(\.serial) == [revoked])
                    let document = try partly.value.certificate
                    let certificate = try JSONDecoder().decode(
                        ActivationCertificate.self,
                        from: try document.verifiedPayload(for: .certificate, trust: TrustStore(harness.authority.keyring.publicKeys)))
                    #expect(certificate.serials == [mine])
                    #expect(certificate.revoked?.map(\.serial) == [revoked])
                    #expect(certificate.revoked?.first?.reason == "x")
                }
            }
        }
    }
}

extension AuthorityTests {
    @Suite struct OperationalAPITests {
        @Test func healthMetricsOpenAPIAndSigningKeysArePublic() async throws {
            try await AuthorityHarness.run(.sqliteFile) { harness in
                try await harness.withAPI { api in
                    #expect(try await api.call(.get, "/health/live", token: .some(nil)).status == .ok)
                    // Raw JSON: the readiness answer is a fixed text with no type behind it.
                    #expect(try await api.call(.get, "/health/ready", token: .some(nil)).json["status"] as? String == "ready")
                    #expect(try await api.call(.get, "/metrics", token: .some(nil)).status == .ok)
                    let openAPI = String(decoding: try await api.call(.get, "/openapi.yaml", token: .some(nil)).body, as: UTF8.self)
                    #expect(openAPI.hasPrefix("openapi: 3.1"))
                    let keys = try await api.call(.get, "/v1/signing-keys", token: .some(nil), as: Page<MetaController.SigningKeyResponse>.self).value
                        .items
                    #expect(keys.map(\.hex) == [harness.authority.keyring.activeKey.publicKey.hex])
                    #expect(keys.first?.active == true)
                    #expect(try await api.call(.get, "/v1/signing-keys", token: "kw_stale").status == .ok)
                    let catalog = try await api.call(.get, "/v1/catalog", as: Catalog.self).value
                    let codes = catalog.components.map(\.code)
                    #expect(Set(["DOC", "WF", "AUD", "CFG"]).isSubset(of: Set(codes)))
                    #expect((6...10).contains(codes.count))
                    #expect(try await api.call(.get, "/v1/nothing-here").errorCode == "NOT_FOUND")
                    for body in ["[]", "\"text\"", "null", "42"] {
                        #expect(try await api.call(.post, "/v1/organizations", json: body).errorCode == "INVALID_JSON", "\(body)")
                    }
                }
            }
        }

        @Test func readinessFailsWhenTheDatabaseIsGone() async throws {
            try await AuthorityHarness.run(.sqliteFile) { harness in
                try await harness.withAPI { api in
                    await harness.store.database.close()
                    let reply = try await api.call(.get, "/health/ready", token: .some(nil))
                    #expect(reply.status == .serviceUnavailable)
                    #expect(reply.errorCode == "NOT_READY")
                }
            }
        }
    }
}
