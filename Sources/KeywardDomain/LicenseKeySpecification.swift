import Foundation

/// What the authority is asked to issue: one agreement line, before it has a serial and a signature.
///
/// The CLI's `authority issue` flags and the authority API's JSON use the same names.
public struct LicenseKeySpecification: Sendable, Hashable, Codable {
    public var profile: Profile
    public var useType: UseType
    public var users: Int
    public var purchaseType: PurchaseType
    public var components: [String]
    public var validFrom: Date?
    public var expiresAt: Date?
    public var suiteVersion: String?

    public init(
        profile: Profile, useType: UseType, users: Int, purchaseType: PurchaseType, components: [String],
        validFrom: Date? = nil, expiresAt: Date? = nil, suiteVersion: String? = nil
    ) {
        self.profile = profile
        self.useType = useType
        self.users = users
        self.purchaseType = purchaseType
        self.components = components
        self.validFrom = validFrom
        self.expiresAt = expiresAt
        self.suiteVersion = suiteVersion
    }

    /// Most seats one key may carry.
    public static let maximumUsers = 1_000_000
    /// Longest suite version text.
    public static let maximumSuiteVersionLength = 20

    /// Every rule this specification breaks for `organization`, one entry per field; empty when it may be issued.
    public func problems(for organization: Organization) -> [FieldError] {
        var problems: [FieldError] = []
        if !Organization.isValidID(organization.id) {
            problems.append(
                .init(
                    field: "organization", code: "INVALID_ORGANIZATION",
                    message:
                        "The organization id must be a lowercase slug of letters, digits and hyphens, 1 to \(Organization.maximumIDLength) characters, e.g. \"acme-corp\"."
                ))
        }
        if !Organization.isValidLegalName(organization.legalName) {
            problems.append(
                .init(
                    field: "legalName", code: "INVALID_LEGAL_NAME",
                    message: "The legal name must be 1 to \(Organization.maximumLegalNameLength) characters, without control characters."))
        }
        if users < 1 || users > Self.maximumUsers {
            problems.append(
                .init(
                    field: "users", code: "INVALID_USERS",
                    message: "The number of users must be a whole number from 1 to \(Self.maximumUsers)."))
        }
        if components.isEmpty {
            problems.append(
                .init(
                    field: "components", code: "NO_COMPONENTS",
                    message: "Name at least one component, e.g. DOC,WF."))
        } else if let bad = components.first(where: { !ComponentCode.isValid($0) }) {
            problems.append(
                .init(
                    field: "components", code: "INVALID_COMPONENT",
                    message: "\"\(bad)\" is not a component code: use 2 to 10 uppercase letters and digits, e.g. DOC."))
        } else if Set(components).count != components.count {
            let duplicates = Dictionary(grouping: components, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
            problems.append(
                .init(
                    field: "components", code: "DUPLICATE_COMPONENTS",
                    message: "Each component may appear once; repeated: \(duplicates.joined(separator: ", "))."))
        }
        if purchaseType.requiresExpiry && expiresAt == nil {
            problems.append(
                .init(
                    field: "expiresAt", code: "EXPIRY_REQUIRED",
                    message: "A \(purchaseType.rawValue) key always expires: give an expiry date."))
        }
        if let expiresAt, let validFrom, expiresAt <= validFrom {
            problems.append(
                .init(
                    field: "expiresAt", code: "EXPIRY_BEFORE_VALIDITY",
                    message: "The expiry date must come after the validity start date."))
        }
        if let suiteVersion, !Self.isValidSuiteVersion(suiteVersion) {
            problems.append(
                .init(
                    field: "suiteVersion", code: "INVALID_SUITE_VERSION",
                    message: "The suite version must be 1 to \(Self.maximumSuiteVersionLength) characters of digits and dots, e.g. 2.1."))
        }
        return problems
    }

    /// Things worth telling whoever issues this at `now`, though they are allowed (that is how test keys are made).
    public func warnings(at now: Date) -> [String] {
        var warnings: [String] = []
        if let expiresAt, expiresAt <= now {
            warnings.append("The expiry date \(Timestamp.format(expiresAt)) is in the past: this key is already expired.")
        }
        if let validFrom, validFrom < now.addingTimeInterval(-86_400) {
            warnings.append("The validity start date \(Timestamp.format(validFrom)) is in the past.")
        }
        return warnings
    }

    /// The license key this specification describes, with validity starting at `now` unless given.
    ///
    /// Call ``problems(for:)`` first: this does not check the rules again.
    public func license(serial: String, organization: Organization, issuedAt now: Date) -> LicenseKey {
        LicenseKey(
            serial: serial, organization: organization, profile: profile, useType: useType, users: users,
            purchaseType: purchaseType, suiteVersion: suiteVersion ?? LicenseKey.defaultSuiteVersion,
            validFrom: validFrom ?? Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down)),
            expiresAt: expiresAt, components: components, issuedAt: now
        )
    }

    static func isValidSuiteVersion(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= maximumSuiteVersionLength
            && text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { !$0.isEmpty && $0.allSatisfy { ("0"..."9").contains($0) } }
    }
}

/// One broken rule: the field it concerns, a stable code, and a sentence a person can act on.
public struct FieldError: Error, Sendable, Hashable, Codable {
    public let field: String
    public let code: String
    public let message: String

    public init(field: String, code: String, message: String) {
        self.field = field
        self.code = code
        self.message = message
    }
}
