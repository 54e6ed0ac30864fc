import Foundation
import KeywardDomain

/// An organization as the authority keeps it, with the revision of its feed.
public struct OrganizationRecord: Codable, Sendable, Hashable {
    public var id: String
    public var legalName: String
    /// Rises with every change to the organization's keys.
    public var revision: Int64
    public var createdAt: Date
    public var updatedAt: Date

    public var organization: Organization { Organization(id: id, legalName: legalName) }
}

/// A key the authority issued, with its access key and what happened to it since.
public struct IssuedKeyRecord: Sendable, Hashable {
    public var license: LicenseKey
    public var accessKey: String
    public var kid: String
    public var agreementId: String?
    /// The key's line in its agreement, from 1.
    public var line: Int?
    /// The organization revision of the key's last change.
    public var revision: Int64
    public var revokedAt: Date?
    public var revocationReason: String?
    /// The serial of the key that replaced this one, when it was switched.
    public var replacedBy: String?

    public init(
        license: LicenseKey, accessKey: String, kid: String, agreementId: String? = nil, line: Int? = nil, revision: Int64,
        revokedAt: Date? = nil, revocationReason: String? = nil, replacedBy: String? = nil
    ) {
        self.license = license
        self.accessKey = accessKey
        self.kid = kid
        self.agreementId = agreementId
        self.line = line
        self.revision = revision
        self.revokedAt = revokedAt
        self.revocationReason = revocationReason
        self.replacedBy = replacedBy
    }

    public var serial: String { license.serial }
    public var isRevoked: Bool { revokedAt != nil }
}

/// A key about to be stored: signed, not yet written.
public struct NewIssuedKey: Sendable, Hashable {
    public var license: LicenseKey
    public var accessKey: String
    public var kid: String

    public init(license: LicenseKey, accessKey: String, kid: String) {
        self.license = license
        self.accessKey = accessKey
        self.kid = kid
    }
}

/// An agreement: the contract whose lines became keys.
public struct AgreementRecord: Codable, Sendable, Hashable {
    public var id: String
    public var organizationId: String
    public var reference: String
    public var signedOn: Date?
    public var createdAt: Date
    /// The serials issued for its lines, in line order.
    public var serials: [String]

    public init(id: String, organizationId: String, reference: String, signedOn: Date?, createdAt: Date, serials: [String]) {
        self.id = id
        self.organizationId = organizationId
        self.reference = reference
        self.signedOn = signedOn
        self.createdAt = createdAt
        self.serials = serials
    }
}

/// What the feed of one organization is built from, read at one moment.
public struct FeedSnapshot: Sendable {
    public var organization: OrganizationRecord
    /// Current (not revoked) keys, by serial.
    public var keys: [(serial: String, accessKey: String)]
    /// Revoked keys, by serial.
    public var revoked: [(serial: String, revokedAt: Date, reason: String?)]
    /// The organization's production installation, if it has one: a demoted registry learns of it from the feed.
    public var productionInstallationId: String?
}

/// An activated installation of an organization.
public struct InstallationRecord: Codable, Sendable, Hashable {
    public var installationId: String
    public var organizationId: String
    public var environment: InstallationEnvironment
    public var serials: [String]
    public var activatedAt: Date
}
