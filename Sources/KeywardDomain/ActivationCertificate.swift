import Foundation

/// What the authority certifies when it activates an installation: which keys it may use, where.
public struct ActivationCertificate: Codable, Sendable, Hashable {
    public static let currentVersion = 1
    /// How long a certificate stays good unless its authority is set up otherwise: 400 days, a year and some slack.
    public static let defaultLifetime: TimeInterval = 400 * 86_400

    public var v: Int
    public var installationId: String
    public var organization: Organization
    public var environment: InstallationEnvironment
    /// The serials of the keys this activation covers; keys outside it grant nothing yet.
    public var serials: [String]
    public var issuedAt: String
    /// From this instant on the certificate covers nothing; absent in certificates made before they expired, which
    /// never do.
    public var expiresAt: String?
    /// Keys the request named that the authority revoked (a switched key's reason names its replacement): signed, so
    /// a registry that never synchronizes learns of the revocation too. Absent when there are none.
    public var revoked: [FeedEnvelope.Revoked]?

    public init(
        installationId: String, organization: Organization, environment: InstallationEnvironment, serials: [String], issuedAt: Date,
        expiresAt: Date? = nil, revoked: [FeedEnvelope.Revoked] = []
    ) {
        self.v = Self.currentVersion
        self.installationId = installationId
        self.organization = organization
        self.environment = environment
        self.serials = serials.sorted()
        self.issuedAt = Timestamp.format(issuedAt)
        self.expiresAt = expiresAt.map(Timestamp.format)
        self.revoked = revoked.isEmpty ? nil : revoked.sorted { $0.serial < $1.serial }
    }

    /// Whether the certificate has expired at `now`; one without an expiry never does.
    public func isExpired(at now: Date) -> Bool {
        expiresAt.flatMap(Timestamp.parse).map { now >= $0 } ?? false
    }

    /// Signs this certificate with `key`.
    public func signed(with key: AuthoritySigningKey) -> SignedDocument {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return SignedDocument.sign(try! encoder.encode(self), for: .certificate, with: key)
    }
}

/// The authority's environment rules for one activation (DESIGN.md section 6).
public enum ActivationRules {
    /// The most environment changes an organization may make in one calendar month.
    public static let monthlyEnvironmentChanges = 3

    /// One installation moving from one environment to another.
    public struct Change: Sendable, Hashable {
        public let installationId: String
        public let from: InstallationEnvironment
        public let to: InstallationEnvironment
    }

    /// A refusal: `PRODUCTION_EXISTS` or `ENVIRONMENT_CHANGE_LIMIT`, with a sentence to act on.
    public struct Refusal: Error, Sendable, Equatable {
        public let code: String
        public let message: String
        /// When the limit allows a change again: the first moment of next month (UTC), for `ENVIRONMENT_CHANGE_LIMIT`.
        public var nextChangeAt: Date? = nil
    }

    /// The environment changes activating `installationId` in `environment` at `now` makes, given the organization's
    /// installations and the changes it already made this month; refuses what the rules forbid.
    public static func changes(
        activating installationId: String, in environment: InstallationEnvironment, promote: Bool,
        installations: [String: InstallationEnvironment], changesThisMonth: Int, now: Date
    ) throws(Refusal) -> [Change] {
        var changes: [Change] = []
        if let current = installations[installationId], current != environment {
            changes.append(Change(installationId: installationId, from: current, to: environment))
        }
        if environment == .production,
            let other = installations.first(where: { $0.key != installationId && $0.value == .production })?.key
        {
            guard promote else {
                throw Refusal(
                    code: "PRODUCTION_EXISTS",
                    message:
                        "Installation \(other) is already this organization's production installation. Activate as test, or set promote to make this one production; the other becomes test."
                )
            }
            changes.append(Change(installationId: other, from: .production, to: .test))
        }
        if !changes.isEmpty && changesThisMonth + changes.count > monthlyEnvironmentChanges {
            let next = nextPeriodStart(after: now)
            throw Refusal(
                code: "ENVIRONMENT_CHANGE_LIMIT",
                message:
                    "This organization has made \(changesThisMonth) of its \(monthlyEnvironmentChanges) environment changes this month; this needs \(changes.count) more. The next change is possible from \(Timestamp.format(next)) (the 1st of next month, UTC); until then, contact licensing.",
                nextChangeAt: next)
        }
        return changes
    }

    /// The first moment (UTC) of the month after the one `date` falls in: when the monthly limit counts from zero again.
    public static func nextPeriodStart(after date: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let month = calendar.date(from: calendar.dateComponents([.year, .month], from: date))!
        return calendar.date(byAdding: .month, value: 1, to: month)!
    }

    /// The calendar month (UTC) a time falls in, e.g. `2026-11`, which the limit counts by.
    public static func period(of date: Date) -> String {
        String(Timestamp.format(date).prefix(7))
    }
}
