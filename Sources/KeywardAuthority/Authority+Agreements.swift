import Foundation
import KeywardDomain
import KeywardStore

/// What an agreement is issued from: the body of `POST /v1/organizations/{id}/agreements` and the file of
/// `keyward authority agreement create --file`, so the API and the command line read one shape.
public struct AgreementRequest: Decodable, Sendable, Hashable {
    /// The vendor's reference of the contract, unique within the organization, e.g. `2026-ACME-001`.
    public var reference: String
    public var signedOn: Date?
    /// One key per line.
    public var lines: [LicenseKeySpecification]

    public init(reference: String, signedOn: Date? = nil, lines: [LicenseKeySpecification]) {
        self.reference = reference
        self.signedOn = signedOn
        self.lines = lines
    }
}

extension Authority {
    /// Issues `request` for an organization: one key per line, all or none; every problem of every line is named.
    public func issueAgreement(_ request: AgreementRequest, organizationId: String, actor: String) async throws -> (
        agreement: AgreementRecord, keys: [IssuedKeyRecord]
    ) {
        try await issueAgreement(
            reference: request.reference, signedOn: request.signedOn, lines: request.lines, organizationId: organizationId, actor: actor)
    }
}
