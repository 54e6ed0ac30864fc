import Foundation
import KeywardDomain
import Testing

extension DomainTests {
    /// A signed feed or certificate reads one way for every reader: a document or payload that names a member twice is
    /// refused, as an access key payload is, however validly it is signed.
    @Suite struct SignedDocumentTests {
        let signingKey = AuthoritySigningKey()
        var trust: TrustStore { TrustStore([signingKey.publicKey]) }

        static let feed =
            #"{"issuedAt":"2026-06-15T11:00:00Z","keys":[{"accessKey":"key/e30=.AA","serial":"KW-0000-0000-0000-0001"}],"organization":{"id":"acme","legalName":"ACME"},"revision":7,"revoked":[],"v":1}"#
        static let certificate =
            #"{"environment":"production","installationId":"inst-1","issuedAt":"2026-06-15T11:00:00Z","organization":{"id":"acme","legalName":"ACME"},"serials":["KW-0000-0000-0000-0001"],"v":1}"#

        /// One member named twice, at the top, in a nested object, and in an object inside an array.
        static let feedEdits: [(String, String)] = [
            (#""revision":7"#, #""revision":7,"revision":99"#),
            (#""id":"acme""#, #""id":"acme","id":"globex""#),
            (#""serial":"KW-0000-0000-0000-0001""#, #""serial":"KW-0000-0000-0000-0001","serial":"KW-0000-0000-0000-0002""#),
        ]
        static let certificateEdits: [(String, String)] = [
            (#""serials":["KW-0000-0000-0000-0001"]"#, #""serials":["KW-0000-0000-0000-0001"],"serials":[]"#),
            (#""installationId":"inst-1""#, #""installationId":"inst-1","installationId":"inst-2""#),
            (#""legalName":"ACME""#, #""legalName":"ACME","legalName":"Globex""#),
        ]

        func payload(of document: SignedDocument, for purpose: SignedDocument.Purpose) throws -> Data {
            try document.verifiedPayload(for: purpose, trust: trust)
        }

        @Test func theUneditedDocumentsRead() throws {
            let feed = SignedDocument.sign(Data(Self.feed.utf8), for: .feed, with: signingKey)
            #expect(try SignedDocument.decode(FeedEnvelope.self, payload: try payload(of: feed, for: .feed)).revision == 7)
            let certificate = SignedDocument.sign(Data(Self.certificate.utf8), for: .certificate, with: signingKey)
            #expect(
                try SignedDocument.decode(ActivationCertificate.self, payload: try payload(of: certificate, for: .certificate)).installationId
                    == "inst-1"
            )
            #expect(try SignedDocument.read(try JSONEncoder().encode(certificate)) == certificate)
        }

        @Test(arguments: feedEdits)
        func aSignedFeedThatNamesAMemberTwiceIsMalformed(find: String, replace: String) throws {
            #expect(Self.feed.contains(find))
            let document = SignedDocument.sign(Data(Self.feed.replacingOccurrences(of: find, with: replace).utf8), for: .feed, with: signingKey)
            let verified = try payload(of: document, for: .feed)
            #expect(throws: SignedDocument.Failure.malformed, "\(replace)") { try SignedDocument.decode(FeedEnvelope.self, payload: verified) }
        }

        @Test func aSignedCertificateThatNamesAMemberTwiceIsMalformed() throws {
            for (find, replace) in Self.certificateEdits {
                #expect(Self.certificate.contains(find))
                let document = SignedDocument.sign(
                    Data(Self.certificate.replacingOccurrences(of: find, with: replace).utf8), for: .certificate, with: signingKey)
                let verified = try payload(of: document, for: .certificate)
                #expect(throws: SignedDocument.Failure.malformed, "\(replace)") {
                    try SignedDocument.decode(ActivationCertificate.self, payload: verified)
                }
            }
        }

        @Test func aSignedDocumentThatNamesAMemberTwiceIsMalformed() throws {
            let document = SignedDocument.sign(Data(Self.certificate.utf8), for: .certificate, with: signingKey)
            let json = String(decoding: try JSONEncoder().encode(document), as: UTF8.self)
            for member in ["kid", "payload", "signature"] {
                let value =
                    switch member {
                    case "kid": document.kid
                    case "payload": document.payload
                    default: document.signature
                    }
                let twice = json.replacingOccurrences(of: #""\#(member)":"\#(value)""#, with: #""\#(member)":"\#(value)","\#(member)":"\#(value)""#)
                #expect(twice != json)
                #expect(throws: SignedDocument.Failure.malformed, "\(member)") { try SignedDocument.read(Data(twice.utf8)) }
            }
            #expect(throws: SignedDocument.Failure.malformed) { try SignedDocument.read(Data("not json".utf8)) }
        }

        /// Certificates from before expiries have no `expiresAt`, and still read; ones with it read it back.
        @Test func certificatesWithAndWithoutAnExpiryRead() throws {
            let old = try SignedDocument.decode(ActivationCertificate.self, payload: Data(Self.certificate.utf8))
            #expect(old.expiresAt == nil)
            #expect(!old.isExpired(at: .distantFuture))
            let issued = Timestamp.parse("2026-06-15T11:00:00Z")!
            let new = ActivationCertificate(
                installationId: "inst-1", organization: Fixtures.organization, environment: .test, serials: [], issuedAt: issued,
                expiresAt: issued.addingTimeInterval(ActivationCertificate.defaultLifetime))
            let again = try SignedDocument.decode(ActivationCertificate.self, payload: try JSONEncoder().encode(new))
            #expect(again == new)
            #expect(again.expiresAt == "2027-07-20T11:00:00Z")
            #expect(!again.isExpired(at: issued.addingTimeInterval(ActivationCertificate.defaultLifetime - 1)))
            #expect(again.isExpired(at: issued.addingTimeInterval(ActivationCertificate.defaultLifetime)))
            #expect(!String(decoding: try JSONEncoder().encode(old), as: UTF8.self).contains("expiresAt"), "an old certificate writes no expiry")
        }
    }
}
