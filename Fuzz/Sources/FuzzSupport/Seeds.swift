import Foundation
import KeywardDomain

/// The seed corpus of each target, as `--generate-corpus` writes it to Fuzz/Corpus/<target>/.
///
/// A file is named `<CODE>-<what it is>`: FuzzCorpusTests checks that the harness still ends it in CODE.
/// Every signature is a real Ed25519 signature by the harness's fixed test keys, so the files never change.
public enum Seeds {
    public typealias Seed = (name: String, bytes: [UInt8])

    public static func all(for target: FuzzTarget) -> [Seed] {
        switch target {
        case .accessKey: accessKeys()
        case .feedEnvelope: feeds()
        case .activationCertificate: certificates()
        }
    }

    static let key = FuzzHarness.signingKey
    static let acme = FuzzHarness.organization
    static let globex = Organization(id: "globex", legalName: "Globex Corporation")

    static func time(_ text: String) -> Date { Timestamp.parse(text)! }

    static func license(
        serial: String = "KW-0000-0000-0000-0001", organization: Organization = acme, purchaseType: PurchaseType = .rental,
        validFrom: String = "2026-01-01T00:00:00Z", expiresAt: String? = "2027-01-01T00:00:00Z", components: [String] = ["DOC", "WF"]
    ) -> LicenseKey {
        LicenseKey(
            serial: serial, organization: organization, profile: .manager, useType: .nominative, users: 25,
            purchaseType: purchaseType, suiteVersion: "2.1", validFrom: time(validFrom), expiresAt: expiresAt.map(time),
            components: components, issuedAt: time("2025-12-20T09:30:00Z")
        )
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    static func payload(of accessKey: String) -> String {
        String(decoding: AccessKey.split(accessKey)!.payload, as: UTF8.self)
    }

    // MARK: Access keys

    static func accessKeys() -> [Seed] {
        let rental = AccessKey.issue(license(), signedWith: key)
        let json = payload(of: rental)
        let unpadded = rental.replacingOccurrences(of: "=", with: "")
        let wrapped = "  " + stride(from: 0, to: unpadded.count, by: 40).map { offset in
            String(unpadded.dropFirst(offset).prefix(40))
        }.joined(separator: "\r\n") + "\n"
        let altered = json.replacingOccurrences(of: "\"users\":25", with: "\"users\":99")
        let signature = rental.split(separator: ".")[1]
        // A payload one byte short of a multiple of three leaves bits over in its last character; setting one
        // gives a second spelling of the same bytes, which decoding must refuse.
        var shortJSON = json
        while shortJSON.utf8.count % 3 != 1 { shortJSON += " " }
        let short = FuzzHarness.sign(payload: bytes(shortJSON)).replacingOccurrences(of: "=", with: "")
        let shortParts = short.split(separator: ".")
        let trailingBits = String(shortParts[0].dropLast()) + (shortParts[0].last == "A" ? "B" : "_") + "." + shortParts[1]
        let escaped = #"""
            { "v" : 1 , "kid" : "\#(key.kid)",
              "serial" : "KW-0000-0000-0000-0002", "organization" : { "legalName" : "\u00c9tudes \ud83d\ude00 \"Acme\"", "id" : "acme", "founded": 1999 },
              "profile" : "st\u0061ff", "useType" : "floating", "u\u0073ers" : 3, "purchaseType" : "sale",
              "suiteVersion" : "2.1\/beta", "validFrom" : "2026-01-01T01:00:00.250+01:00", "expiresAt" : null,
              "components" : [ "DOC" , "AUD2" ], "issuedAt" : "2025-12-20t09:30:00z",
              "future" : [ true, false, null, -0, 1.5e-3, { "nested" : [ [ ] , { } ] } ] }
            """#
        let deep = "{\"v\":1,\"x\":" + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}"
        return [
            ("VALID-rental.txt", bytes(rental)),
            ("VALID-sale-perpetual.txt", bytes(AccessKey.issue(license(purchaseType: .sale, expiresAt: nil), signedWith: key))),
            ("VALID-unpadded-wrapped.txt", bytes(wrapped)),
            ("VALID-payload.json", bytes(json)),
            ("VALID-payload-escapes.json", bytes(escaped)),
            ("NOT_YET_VALID-future.txt", bytes(AccessKey.issue(license(validFrom: "2027-01-01T00:00:00Z", expiresAt: "2028-01-01T00:00:00Z"), signedWith: key))),
            ("EXPIRED-past.txt", bytes(AccessKey.issue(license(validFrom: "2024-01-01T00:00:00Z", expiresAt: "2025-01-01T00:00:00Z"), signedWith: key))),
            ("WRONG_ORGANIZATION-globex.txt", bytes(AccessKey.issue(license(organization: globex), signedWith: key))),
            ("UNKNOWN_SIGNING_KEY-untrusted.txt", bytes(AccessKey.issue(license(), signedWith: FuzzHarness.untrustedKey))),
            ("BAD_SIGNATURE-altered-payload.txt", bytes("key/" + Base64URL.encode(bytes(altered)) + "." + signature)),
            ("UNSUPPORTED_VERSION-v2.json", bytes(json.replacingOccurrences(of: "\"v\":1", with: "\"v\":2"))),
            ("MALFORMED-no-signature.txt", bytes("key/" + Base64URL.encode(bytes(json)))),
            ("MALFORMED-short-signature.txt", bytes("key/" + Base64URL.encode(bytes(json)) + "." + Base64URL.encode([UInt8](repeating: 7, count: 63)))),
            ("MALFORMED-trailing-bits.txt", bytes(trailingBits)),
            ("MALFORMED-prefix-only.txt", bytes("key/")),
            ("MALFORMED-duplicate-member.json", bytes(json.replacingOccurrences(of: "\"users\":25", with: "\"users\":25,\"users\":26"))),
            ("MALFORMED-fractional-users.json", bytes(json.replacingOccurrences(of: "\"users\":25", with: "\"users\":25.0"))),
            ("MALFORMED-lone-surrogate.json", bytes(json.replacingOccurrences(of: "\"legalName\":\"", with: "\"legalName\":\"\\ud800"))),
            ("MALFORMED-trailing-garbage.json", bytes(json + "x")),
            ("MALFORMED-no-components.json", bytes(json.replacingOccurrences(of: "[\"DOC\",\"WF\"]", with: "[]"))),
            ("MALFORMED-february-30.json", bytes(json.replacingOccurrences(of: "2026-01-01T00:00:00Z", with: "2026-02-30T00:00:00Z"))),
            ("MALFORMED-too-deep.json", bytes(deep)),
            ("MALFORMED-empty.json", []),
        ]
    }

    // MARK: Feeds

    static func feedEnvelope(organization: Organization = acme, keys: Bool = true) -> FeedEnvelope {
        let first = license(serial: "KW-0000-0000-0000-0001", organization: organization)
        let second = license(serial: "KW-0000-0000-0000-0002", organization: organization, purchaseType: .sale, expiresAt: nil, components: ["DOC"])
        return FeedEnvelope(
            organization: organization, revision: 7, issuedAt: time("2026-06-15T11:00:00Z"),
            keys: keys ? [first, second].map { .init(serial: $0.serial, accessKey: AccessKey.issue($0, signedWith: key)) } : [],
            revoked: keys ? [.init(serial: "KW-0000-0000-0000-0003", revokedAt: time("2026-05-01T08:00:00Z"), reason: "lost")] : []
        )
    }

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! encoder.encode(value), as: UTF8.self)
    }

    static func document(_ payload: String, _ purpose: SignedDocument.Purpose, with signer: AuthoritySigningKey = key) -> SignedDocument {
        SignedDocument.sign(Data(payload.utf8), for: purpose, with: signer)
    }

    /// The seeds both signed document targets share, around `payload`, a valid feed or certificate JSON.
    static func documents(_ payload: String, _ purpose: SignedDocument.Purpose, wrongOrganization: String) -> [Seed] {
        let other: SignedDocument.Purpose = purpose == .feed ? .certificate : .feed
        let signed = document(payload, purpose)
        var unpadded = signed
        unpadded.payload = unpadded.payload.replacingOccurrences(of: "=", with: "")
        unpadded.signature = unpadded.signature.replacingOccurrences(of: "=", with: "")
        var shortSignature = signed
        shortSignature.signature = "AAAA"
        // The kid spelled with JSON escapes is still the kid.
        let escapedKid = json(signed).replacingOccurrences(of: "\"kid\":\"\(key.kid)\"", with: "\"kid\":\"" + key.kid.unicodeScalars.map { String(format: "\\u%04x", $0.value) }.joined() + "\"")
        return [
            ("VALID-\(purpose.rawValue).json", bytes(json(signed))),
            ("VALID-payload.json", bytes(payload)),
            ("VALID-unpadded.json", bytes(json(unpadded))),
            ("VALID-escaped-kid.json", bytes(escapedKid)),
            ("WRONG_ORGANIZATION-globex.json", bytes(wrongOrganization)),
            ("UNKNOWN_SIGNING_KEY-untrusted.json", bytes(json(document(payload, purpose, with: FuzzHarness.untrustedKey)))),
            ("BAD_SIGNATURE-signed-as-\(other.rawValue).json", bytes(json(document(payload, other)))),
            ("MALFORMED-short-signature.json", bytes(json(shortSignature))),
            ("UNSUPPORTED_VERSION-v2.json", bytes(payload.replacingOccurrences(of: "\"v\":1", with: "\"v\":2"))),
            ("PAYLOAD_MALFORMED-not-json.json", bytes("{\"v\":1,")),
            ("MALFORMED-empty-payload.json", []),
        ]
    }

    static func feeds() -> [Seed] {
        let payload = json(feedEnvelope())
        return documents(payload, .feed, wrongOrganization: json(feedEnvelope(organization: globex))) + [
            ("VALID-no-keys.json", bytes(json(feedEnvelope(keys: false)))),
            ("PAYLOAD_MALFORMED-no-revoked.json", bytes(payload.replacingOccurrences(of: ",\"revoked\":", with: ",\"gone\":"))),
            ("PAYLOAD_MALFORMED-revision-overflow.json", bytes(payload.replacingOccurrences(of: "\"revision\":7", with: "\"revision\":9223372036854775808"))),
        ]
    }

    // MARK: Certificates

    static func certificate(organization: Organization = acme, environment: InstallationEnvironment = .production) -> ActivationCertificate {
        ActivationCertificate(
            installationId: "8d3f0c4e-2b1a-4f6e-9c7d-5a4b3c2d1e0f", organization: organization, environment: environment,
            serials: ["KW-0000-0000-0000-0002", "KW-0000-0000-0000-0001"], issuedAt: time("2026-06-15T11:00:00Z")
        )
    }

    static func certificates() -> [Seed] {
        let payload = json(certificate())
        return documents(payload, .certificate, wrongOrganization: json(certificate(organization: globex))) + [
            ("VALID-test-environment.json", bytes(json(certificate(environment: .test)))),
            ("PAYLOAD_MALFORMED-unknown-environment.json", bytes(payload.replacingOccurrences(of: "\"production\"", with: "\"staging\""))),
            ("PAYLOAD_MALFORMED-serials-not-strings.json", bytes(payload.replacingOccurrences(of: "\"serials\":[", with: "\"serials\":[1,"))),
        ]
    }
}
