import Foundation
import KeywardDomain

/// This installation: made at first start, never changed by a synchronization.
public struct RegistryInstallation: Codable, Sendable, Hashable {
    public var installationId: String
    public var organization: Organization
    public var environment: InstallationEnvironment
    public var createdAt: Date

    public init(installationId: String, organization: Organization, environment: InstallationEnvironment, createdAt: Date) {
        self.installationId = installationId
        self.organization = organization
        self.environment = environment
        self.createdAt = createdAt
    }
}

/// A license key registered in the registry.
public struct RegisteredKey: Sendable, Hashable {
    public var license: LicenseKey
    public var accessKey: String
    public var kid: String
    /// The customer's label, unique ignoring case.
    public var idNumber: String
    public var source: KeySource
    public var registeredAt: Date
    public var registeredBy: String
    /// Set when the authority revoked the key or stopped listing it; the key is kept and shown.
    public var revokedAt: Date?
    public var revocationReason: String?

    /// How pages and refusals name the key: its ID #, the serial beside it.
    public var name: String { KeyName.of(serial: serial, idNumber: idNumber) }

    public init(
        license: LicenseKey, accessKey: String, kid: String, idNumber: String, source: KeySource, registeredAt: Date,
        registeredBy: String, revokedAt: Date? = nil, revocationReason: String? = nil
    ) {
        self.license = license
        self.accessKey = accessKey
        self.kid = kid
        self.idNumber = idNumber
        self.source = source
        self.registeredAt = registeredAt
        self.registeredBy = registeredBy
        self.revokedAt = revokedAt
        self.revocationReason = revocationReason
    }

    public var serial: String { license.serial }

    /// VALID, EXPIRED, NOT_YET_VALID or REVOKED at `now`.
    public func status(at now: Date) -> ValidationCode { KeyStatus.of(license, revokedAt: revokedAt, at: now) }
}

/// The activation certificate in force.
public struct StoredActivation: Sendable, Hashable {
    public enum Method: String, Codable, Sendable { case online, offline }

    /// The largest certificate read, from the authority or an upload: one for 100,000 keys is about 3.5 MiB.
    public static let maximumCertificateSize = 16 << 20

    public var document: SignedDocument
    public var certificate: ActivationCertificate
    /// What the certified keys were when it was installed.
    public var covered: [CoveredKey]
    public var installedAt: Date
    public var method: Method

    public init(document: SignedDocument, certificate: ActivationCertificate, covered: [CoveredKey], installedAt: Date, method: Method) {
        self.document = document
        self.certificate = certificate
        self.covered = covered
        self.installedAt = installedAt
        self.method = method
    }
}

/// A person who may log into the registry (for now, the built-in administrator).
public struct RegistryUser: Sendable, Hashable {
    public var login: String
    public var name: String
    public var email: String
    public var passwordHash: String?
    public var active: Bool
    public var builtin: Bool
    /// `local` (made in the registry), `scim` or `ldap` (a directory user, edited in the directory only).
    public var source: String
    public var externalId: String?
    /// For a directory user: what the directory says (the registry may have disabled them all the same).
    public var directoryActive: Bool
    /// For a directory user: whether they are still in the directory (a removed one keeps their history, disabled).
    public var inDirectory: Bool

    public init(
        login: String, name: String, email: String, passwordHash: String?, active: Bool, builtin: Bool, source: String = "local",
        externalId: String? = nil, directoryActive: Bool = true, inDirectory: Bool = false
    ) {
        self.login = login
        self.name = name
        self.email = email
        self.passwordHash = passwordHash
        self.active = active
        self.builtin = builtin
        self.source = source
        self.externalId = externalId
        self.directoryActive = directoryActive
        self.inDirectory = inDirectory
    }

    /// A user the directory provides: edited there, and only disabled here.
    public var fromDirectory: Bool { source != "local" }
}
