import Foundation
import KeywardDomain

/// A freshly signed license key.
public struct IssuedKey: Sendable, Hashable {
    public let license: LicenseKey
    public let accessKey: String
    public var serial: String { license.serial }
}

/// Turns key specifications into signed access keys with the keyring's active key.
public struct KeyIssuer: Sendable {
    public let signingKey: AuthoritySigningKey

    public init(signingKey: AuthoritySigningKey) {
        self.signingKey = signingKey
    }

    /// Checks `specification` for `organization`, then signs it with a new serial.
    public func issue(_ specification: LicenseKeySpecification, for organization: Organization, serial: String = Serial.generate(), now: Date)
        throws(IssueRefused) -> IssuedKey
    {
        let problems = specification.problems(for: organization)
        guard problems.isEmpty else { throw IssueRefused(problems: problems) }
        let license = specification.license(serial: serial, organization: organization, issuedAt: now)
        return IssuedKey(license: license, accessKey: AccessKey.issue(license, signedWith: signingKey))
    }
}

/// A key specification that breaks the rules, with every broken field named.
public struct IssueRefused: Error, Sendable, Equatable {
    public let problems: [FieldError]

    public init(problems: [FieldError]) {
        self.problems = problems
    }
}
