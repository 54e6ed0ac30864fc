import Foundation

/// What an organization bought in one agreement line (DESIGN.md section 2).
public struct LicenseKey: Sendable, Hashable {
    /// Set by the authority, immutable, e.g. `KW-7F3K-9Q2M-XA4T-C8PD`.
    public var serial: String
    public var organization: Organization
    public var profile: Profile
    public var useType: UseType
    /// Seats: named users for nominative keys, concurrent sessions for floating ones.
    public var users: Int
    public var purchaseType: PurchaseType
    public var suiteVersion: String
    public var validFrom: Date
    /// `nil` only for a perpetual sale.
    public var expiresAt: Date?
    /// Component codes, e.g. `["DOC", "WF"]`.
    public var components: [String]
    /// When the authority signed this version of the key.
    public var issuedAt: Date

    public init(
        serial: String, organization: Organization, profile: Profile, useType: UseType, users: Int,
        purchaseType: PurchaseType, suiteVersion: String, validFrom: Date, expiresAt: Date?,
        components: [String], issuedAt: Date
    ) {
        self.serial = serial
        self.organization = organization
        self.profile = profile
        self.useType = useType
        self.users = users
        self.purchaseType = purchaseType
        self.suiteVersion = suiteVersion
        self.validFrom = validFrom
        self.expiresAt = expiresAt
        self.components = components
        self.issuedAt = issuedAt
    }

    /// The suite version written into keys when none is given.
    public static let defaultSuiteVersion = "2.1"

    /// The validation code this key has at `now`, judged by its dates alone.
    public func validity(at now: Date) -> ValidationCode {
        if now < validFrom { return .notYetValid }
        if let expiresAt, now >= expiresAt { return .expired }
        return .valid
    }

    /// Whole days from `now` until expiry (negative once expired); `nil` for a key that never expires.
    public func expiresInDays(at now: Date) -> Int? {
        guard let expiresAt else { return nil }
        return Int((expiresAt.timeIntervalSince(now) / 86_400).rounded(.down))
    }
}

extension LicenseKey: Codable {
    enum CodingKeys: String, CodingKey {
        case serial, organization, profile, useType, users, purchaseType, suiteVersion
        case validFrom, expiresAt, components, issuedAt
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        serial = try container.decode(String.self, forKey: .serial)
        organization = try container.decode(Organization.self, forKey: .organization)
        profile = try container.decode(Profile.self, forKey: .profile)
        useType = try container.decode(UseType.self, forKey: .useType)
        users = try container.decode(Int.self, forKey: .users)
        purchaseType = try container.decode(PurchaseType.self, forKey: .purchaseType)
        suiteVersion = try container.decode(String.self, forKey: .suiteVersion)
        validFrom = try Self.decodeTime(container, .validFrom)
        expiresAt = try container.decodeIfPresent(String.self, forKey: .expiresAt) == nil ? nil : Self.decodeTime(container, .expiresAt)
        components = try container.decode([String].self, forKey: .components)
        issuedAt = try Self.decodeTime(container, .issuedAt)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(serial, forKey: .serial)
        try container.encode(organization, forKey: .organization)
        try container.encode(profile, forKey: .profile)
        try container.encode(useType, forKey: .useType)
        try container.encode(users, forKey: .users)
        try container.encode(purchaseType, forKey: .purchaseType)
        try container.encode(suiteVersion, forKey: .suiteVersion)
        try container.encode(Timestamp.format(validFrom), forKey: .validFrom)
        if let expiresAt { try container.encode(Timestamp.format(expiresAt), forKey: .expiresAt) }
        try container.encode(components, forKey: .components)
        try container.encode(Timestamp.format(issuedAt), forKey: .issuedAt)
    }

    private static func decodeTime(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Date {
        let text = try container.decode(String.self, forKey: key)
        guard let date = Timestamp.parse(text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "not an ISO 8601 time: \(text)")
        }
        return date
    }
}
