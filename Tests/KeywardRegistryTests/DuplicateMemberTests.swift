import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import Testing

@testable import KeywardRegistry
@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// Signed documents that name a member twice read differently to different readers (the first, or the last): the
    /// registry refuses them, feeds and certificates alike, in the payload and in the signed document around it.
    @Suite struct DuplicateMemberTests {

        /// `document` as JSON with its `payload` member written twice (both the same, validly signed payload).
        static func payloadTwice(_ document: SignedDocument) -> String {
            #"{"kid":"\#(document.kid)","payload":"\#(document.payload)","payload":"\#(document.payload)","signature":"\#(document.signature)"}"#
        }

        @Test(arguments: Backend.services)
        func aSignedCertificateThatNamesAMemberTwiceIsRefusedAndNothingIsWritten(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    _ = try await api.register("One", harness.accessKey(serial: "KW-AAAA-0001"))
                    _ = try await api.register("Two", harness.accessKey(serial: "KW-AAAA-0002"))
                    let before = try await harness.fingerprint()
                    // Either reading is a certificate this installation would take: only the repeat is wrong.
                    let payload =
                        #"{"environment":"production","installationId":"inst-test-1","issuedAt":"\#(Timestamp.format(harness.clock.now))","#
                        + #""organization":{"id":"acme","legalName":"ACME"},"serials":["KW-AAAA-0001"],"serials":["KW-AAAA-0001","KW-AAAA-0002"],"v":1}"#
                    let repeated = SignedDocument.sign(Data(payload.utf8), for: .certificate, with: harness.signingKey)
                    let reply = try await api.call(
                        .post, "/api/v1/activation/certificate", json: String(decoding: try JSONEncoder().encode(repeated), as: UTF8.self))
                    #expect(reply.status == .unprocessableContent)
                    #expect(reply.errorCode == "MALFORMED_CERTIFICATE")
                    await #expect(throws: RegistryError.self) { try await harness.registry.install(repeated, method: .offline, actor: "test") }

                    let wrapped = try await api.call(
                        .post, "/api/v1/activation/certificate", json: Self.payloadTwice(harness.certificate(serials: ["KW-AAAA-0001"])))
                    #expect(wrapped.status == .badRequest)
                    #expect(wrapped.errorCode == "INVALID_JSON")
                    #expect(try await harness.fingerprint() == before)
                    #expect(try await api.activation.state().value.status == .never)
                }
            }
        }

        @Test func aSignedFeedThatNamesAMemberTwiceIsRefused() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let organization = Organization(id: "acme", legalName: "ACME Industries Ltd.")
                let feed = FeedEnvelope(organization: organization, revision: 3, issuedAt: harness.clock.now, keys: [], revoked: []).signed(
                    with: harness.signingKey)
                #expect(try harness.registry.verifiedEnvelope(try JSONEncoder().encode(feed)).revision == 3)

                let payload = String(decoding: Base64URL.decode(Array(feed.payload.utf8))!, as: UTF8.self)
                #expect(payload.contains(#""revision":3"#))
                let repeated = SignedDocument.sign(
                    Data(payload.replacingOccurrences(of: #""revision":3"#, with: #""revision":3,"revision":900"#).utf8),
                    for: .feed, with: harness.signingKey)
                let bodies = [try JSONEncoder().encode(repeated), Data(Self.payloadTwice(feed).utf8)]
                for body in bodies {
                    #expect {
                        _ = try harness.registry.verifiedEnvelope(body)
                    } throws: { error in
                        (error as? RegistryError)?.code == "FEED_MALFORMED"
                    }
                }
            }
        }
    }
}
