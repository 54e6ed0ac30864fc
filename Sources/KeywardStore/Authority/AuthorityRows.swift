import Foundation
import KeywardDomain
import SQLKit

/// An `organizations` row.
struct OrganizationRow: Codable {
    var id: String
    var legalName: String
    var revision: Int64
    var createdAt: Int64
    var updatedAt: Int64

    var record: OrganizationRecord {
        OrganizationRecord(
            id: id, legalName: legalName, revision: revision, createdAt: Date(storedMilliseconds: createdAt),
            updatedAt: Date(storedMilliseconds: updatedAt))
    }
}

/// An `agreements` row.
struct AgreementRow: Codable {
    var id: String
    var organizationId: String
    var reference: String
    var signedOn: Int64?
    var createdAt: Int64
}

/// An `installations` row: the installation's last activation.
struct InstallationRow: Codable {
    var installationId: String
    var organizationId: String
    var environment: String
    /// Comma-separated serials.
    var serials: String
    var activatedAt: Int64
}

/// A new `environment_changes` row (its id is the database's).
struct EnvironmentChangeRow: Encodable {
    var organizationId: String
    var installationId: String
    var fromEnvironment: String
    var toEnvironment: String
    /// The period the change counts against (`ActivationRules.period(of:)`).
    var period: String
    var changedAt: Int64
    var reason: String?
}

/// A `license_keys` row: a key the authority issued, under the legal name of that moment.
struct IssuedKeyRow: Codable, LicenseKeyColumns {
    var serial: String
    var organizationId: String
    var legalName: String
    var agreementId: String?
    var line: Int64?
    var profile: String
    var useType: String
    var users: Int64
    var purchaseType: String
    var suiteVersion: String
    /// Comma-separated component codes.
    var components: String
    var validFrom: Int64
    var expiresAt: Int64?
    var issuedAt: Int64
    var kid: String
    var accessKey: String
    var revision: Int64
    var revokedAt: Int64?
    var revocationReason: String?
    var replacedBy: String?

    /// A new key's row: not revoked.
    init(license: LicenseKey, organizationId: String, agreementId: String?, line: Int?, kid: String, accessKey: String, revision: Int64) {
        serial = license.serial
        self.organizationId = organizationId
        legalName = license.organization.legalName
        self.agreementId = agreementId
        self.line = line.map(Int64.init)
        profile = license.profile.rawValue
        useType = license.useType.rawValue
        users = Int64(license.users)
        purchaseType = license.purchaseType.rawValue
        suiteVersion = license.suiteVersion
        components = license.components.joined(separator: ",")
        validFrom = license.validFrom.storedMilliseconds
        expiresAt = license.expiresAt?.storedMilliseconds
        issuedAt = license.issuedAt.storedMilliseconds
        self.kid = kid
        self.accessKey = accessKey
        self.revision = revision
    }

    func record() throws -> IssuedKeyRecord {
        let license = try license(table: "license_keys")
        return IssuedKeyRecord(
            license: license, accessKey: accessKey, kid: kid, agreementId: agreementId, line: line.map(Int.init), revision: revision,
            revokedAt: revokedAt.map(Date.init(storedMilliseconds:)), revocationReason: revocationReason, replacedBy: replacedBy
        )
    }
}
