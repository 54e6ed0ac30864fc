import Foundation
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import Testing

@testable import KeywardAuthorityHTTP

extension AuthorityTests {
    /// `POST /v1/signing-keys/rotate` and `/{kid}/retire`: a running authority changes its signing keys without a restart.
    @Suite struct SigningKeyRotationTests {
        static func keys(_ api: API) async throws -> [MetaController.SigningKeyResponse] {
            try await api.call(.get, "/v1/signing-keys", as: Page<MetaController.SigningKeyResponse>.self).value.items
        }

        static func retire(_ api: API, _ kid: String, json: String? = nil, token: String?? = .none) async throws
            -> Answer<MetaController.RetiredSigningKeyResponse>
        {
            try await api.call(.post, "/v1/signing-keys/\(kid)/retire", token: token, json: json, as: MetaController.RetiredSigningKeyResponse.self)
        }

        @Test func aRotationIsSeenAtOnceByKeysFeedsAndTheCatalog() async throws {
            try await AuthorityHarness.run(.sqliteFile) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    let first = harness.authority.keyring.activeKey.kid
                    let old = try await api.issue("acme")
                    let token = try await harness.organizationToken("acme")
                    let etag = try #require(try await api.call(.get, "/v1/organizations/acme/feed", token: token).headers[.eTag])

                    let rotated = try await api.call(.post, "/v1/signing-keys/rotate", as: MetaController.SigningKeyResponse.self)
                    #expect(rotated.status == .created, "\(rotated.reply.text)")
                    let second = try rotated.value.kid
                    #expect(try second != first && rotated.value.active)
                    #expect(try await Self.keys(api).map { "\($0.kid)=\($0.active)" } == ["\(second)=true", "\(first)=false"])
                    // The feed's entity tag and signature, new keys, and the catalog: all the new key's, no restart. The
                    // keys did not change, yet the feed the registry has is stale: it is signed with the old key.
                    let feed = try await api.call(.get, "/v1/organizations/acme/feed", token: token, headers: [.ifNoneMatch: etag])
                    #expect(feed.status == .ok && feed.headers[.eTag]?.contains(second) == true)
                    #expect(try feed.decode(SignedDocument.self).kid == second)
                    let new = try await api.issue("acme")
                    #expect(try await api.keys.show(new).value.record.kid == second)
                    #expect(try await api.keys.show(old).value.record.kid == first)
                    #expect(try await api.call(.get, "/v1/catalog/signed", token: token).decode(SignedDocument.self).kid == second)
                    // The old key stays trusted: what it signed still verifies.
                    let oldKey = try await api.keys.show(old).value.record.accessKey
                    #expect(AccessKeyVerifier(trustStore: harness.trust).verify(oldKey, organization: "acme", now: harness.clock.now).code == .valid)
                    // What is on disk agrees, for the next start.
                    #expect(try AuthorityKeyring.load(from: harness.authority.keyring.dataDirectory).activeKey.kid == second)
                    let events = try await api.audit.events("action=signing-key.rotated").value.items
                    #expect(events.map(\.target) == ["signing-key:\(second)"] && events.first?.details["previous"] == .string(first))
                }
            }
        }

        @Test func retiringRefusesTheActiveKeyAndOneInUseThenMovesThePEMAside() async throws {
            try await AuthorityHarness.run(.sqliteFile) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    let first = harness.authority.keyring.activeKey.kid
                    let serial = try await api.issue("acme")
                    let directory = harness.authority.keyring.dataDirectory
                    let before = try await harness.fingerprint()
                    let active = try await Self.retire(api, first)
                    #expect(active.status == .conflict && active.errorCode == "SIGNING_KEY_ACTIVE", "\(active.reply.text)")
                    #expect(try await Self.retire(api, "0000000000000000").errorCode == "UNKNOWN_SIGNING_KEY")
                    #expect(try await harness.fingerprint() == before, "a refused retirement writes nothing")
                    #expect(try await Self.keys(api).count == 1)

                    let second = try await api.call(.post, "/v1/signing-keys/rotate", as: MetaController.SigningKeyResponse.self).value.kid
                    let beforeInUse = try await harness.fingerprint()
                    // A force that is not a boolean is refused as such, not read as false.
                    let nullForce = try await Self.retire(api, first, json: #"{"force":null}"#)
                    #expect(nullForce.status == .unprocessableContent && nullForce.reply.text.contains("force"), "\(nullForce.reply.text)")
                    let inUse = try await Self.retire(api, first)
                    #expect(inUse.errorCode == "SIGNING_KEY_IN_USE")
                    #expect(inUse.error?.details["liveKeys"] == .int(1) && inUse.error?.details["serials"] == .array([.string(serial)]))
                    #expect(try await harness.fingerprint() == beforeInUse)
                    #expect(try await Self.keys(api).count == 2)
                    #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("signing-keys/\(first).pem").path))

                    // Renewing re-signs the key with the active key; then nothing needs the old one.
                    #expect(try await api.keys.renew(serial, json: #"{"expiresAt":"2030-01-01"}"#).value.record.kid == second)
                    let retired = try await Self.retire(api, first)
                    #expect(retired.status == .ok, "\(retired.reply.text)")
                    #expect(try retired.value.kid == first)
                    #expect(try await Self.keys(api).map(\.kid) == [second])
                    #expect(harness.authority.keyring.trustStore.key(for: first) == nil)
                    #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("signing-keys/\(first).pem").path))
                    let kept = try String(contentsOf: directory.appendingPathComponent("retired/\(first).pem"), encoding: .utf8)
                    #expect(try AuthoritySigningKey(pem: kept).kid == first)
                    let reloaded = try AuthorityKeyring.load(from: directory)
                    #expect(reloaded.entries.map(\.kid) == [second] && reloaded.retired.map(\.kid) == [first])
                    #expect(try await Self.retire(api, first).errorCode == "SIGNING_KEY_RETIRED")
                    #expect(try await api.audit.events("action=signing-key.retired").value.items.map(\.target) == ["signing-key:\(first)"])
                }
            }
        }

        @Test func forceRetiresAKeyInUseAndOnlyAdminsChangeSigningKeys() async throws {
            try await AuthorityHarness.run(.sqliteFile) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    let first = harness.authority.keyring.activeKey.kid
                    _ = try await api.issue("acme")
                    let clerk = try await harness.operatorToken("clerk.one", role: .clerk)
                    #expect(try await api.call(.post, "/v1/signing-keys/rotate", token: clerk).status == .forbidden)
                    #expect(harness.authority.keyring.entries.count == 1)
                    #expect(try await api.call(.post, "/v1/signing-keys/rotate").status == .created)
                    #expect(try await Self.retire(api, first, json: #"{"force":true}"#, token: clerk).status == .forbidden)
                    let forced = try await Self.retire(api, first, json: #"{"force":true}"#)
                    #expect(forced.status == .ok, "\(forced.reply.text)")
                    let event = try #require(try await api.audit.events("action=signing-key.retired").value.items.first)
                    #expect(event.details["force"] == .bool(true) && event.details["liveKeys"] == .int(1))
                }
            }
        }
    }
}
