import Foundation
import KeywardDomain

/// Shared makings of keys for the domain tests; "now" is always injected, never the wall clock.
enum Fixtures {
    static let now = Timestamp.parse("2026-06-15T12:00:00Z")!
    static let organization = Organization(id: "acme", legalName: "ACME Industries Ltd.")

    static func license(
        serial: String = "KW-0000-0000-0000-0001",
        organization: Organization = Fixtures.organization,
        purchaseType: PurchaseType = .rental,
        validFrom: Date = Timestamp.parse("2026-01-01T00:00:00Z")!,
        expiresAt: Date? = Timestamp.parse("2027-01-01T00:00:00Z")!,
        components: [String] = ["DOC", "WF"],
        users: Int = 25
    ) -> LicenseKey {
        LicenseKey(
            serial: serial, organization: organization, profile: .manager, useType: .nominative, users: users,
            purchaseType: purchaseType, suiteVersion: "2.1", validFrom: validFrom, expiresAt: expiresAt,
            components: components, issuedAt: Timestamp.parse("2025-12-20T09:30:00Z")!
        )
    }

    /// Signs arbitrary payload JSON the way the authority signs, for payloads the issuer would never write.
    static func sign(json: String, with key: AuthoritySigningKey) -> String {
        let signedText = AccessKey.prefix + Base64URL.encode(Array(json.utf8))
        return signedText + "." + Base64URL.encode(key.signature(for: Array(signedText.utf8)))
    }

    static func payloadJSON(of accessKey: String) -> String {
        let parts = AccessKey.split(accessKey)!
        return String(decoding: parts.payload, as: UTF8.self)
    }
}
