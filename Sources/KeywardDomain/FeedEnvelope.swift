import Foundation

/// The payload of an organization's signed feed: every current access key and the serials revoked
/// (docs/feed-format.md describes it for registries written by others).
public struct FeedEnvelope: Codable, Sendable, Hashable {
    public static let currentVersion = 1

    /// One current key.
    public struct Key: Codable, Sendable, Hashable {
        public var serial: String
        public var accessKey: String

        public init(serial: String, accessKey: String) {
            self.serial = serial
            self.accessKey = accessKey
        }
    }

    /// One revoked key.
    public struct Revoked: Codable, Sendable, Hashable {
        public var serial: String
        public var revokedAt: String
        public var reason: String?

        public init(serial: String, revokedAt: Date, reason: String?) {
            self.serial = serial
            self.revokedAt = Timestamp.format(revokedAt)
            self.reason = reason
        }
    }

    public var v: Int
    public var organization: Organization
    /// Rises with every change to the organization's keys; registries refuse a lower one than they applied.
    public var revision: Int64
    public var issuedAt: String
    public var keys: [Key]
    public var revoked: [Revoked]
    /// The organization's production installation, when it has one (absent from feeds of authorities before it): a
    /// registry that thinks it is production learns here that the vendor promoted another installation.
    public var productionInstallationId: String?

    public init(
        organization: Organization, revision: Int64, issuedAt: Date, keys: [Key], revoked: [Revoked], productionInstallationId: String? = nil
    ) {
        self.v = Self.currentVersion
        self.organization = organization
        self.revision = revision
        self.issuedAt = Timestamp.format(issuedAt)
        self.keys = keys
        self.revoked = revoked
        self.productionInstallationId = productionInstallationId
    }

    /// Signs this envelope with `key`.
    public func signed(with key: AuthoritySigningKey) -> SignedDocument {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return SignedDocument.sign(try! encoder.encode(self), for: .feed, with: key)
    }
}

/// The offline activation request: what `keyward activation request` writes and `keyward authority activate` reads.
public struct ActivationRequestFile: Codable, Sendable, Hashable {
    public static let currentVersion = 1

    public var v: Int
    public var organizationId: String
    public var installationId: String
    public var environment: InstallationEnvironment
    public var serials: [String]
    public var promote: Bool
    /// Why the installation is promoted to production (shown in the vendor's environment history).
    public var reason: String?

    public init(
        organizationId: String, installationId: String, environment: InstallationEnvironment, serials: [String], promote: Bool,
        reason: String? = nil
    ) {
        self.v = Self.currentVersion
        self.organizationId = organizationId
        self.installationId = installationId
        self.environment = environment
        self.serials = serials
        self.promote = promote
        self.reason = reason
    }
}
