import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore

/// A key as the authority's API shows it: the license key's fields, its access key, and its state.
struct KeyResponse: ResponseEncodable {
    let record: IssuedKeyRecord

    enum CodingKeys: String, CodingKey {
        case accessKey, kid, agreementId, line, revision, status, revokedAt, revocationReason, replacedBy
    }

    func encode(to encoder: any Encoder) throws {
        try record.license.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(record.accessKey, forKey: .accessKey)
        try container.encode(record.kid, forKey: .kid)
        try container.encode(record.agreementId, forKey: .agreementId)
        try container.encode(record.line, forKey: .line)
        try container.encode(record.revision, forKey: .revision)
        try container.encode(record.isRevoked ? "revoked" : "active", forKey: .status)
        try container.encode(record.revokedAt, forKey: .revokedAt)
        try container.encode(record.revocationReason, forKey: .revocationReason)
        try container.encode(record.replacedBy, forKey: .replacedBy)
    }
}

/// A token as listed: never its secret.
struct TokenResponse: ResponseEncodable {
    let id: String
    let kind: String
    let name: String
    let organizationId: String?
    let createdAt: Date
    let revokedAt: Date?

    init(_ record: TokenRecord) {
        id = record.id
        kind = record.kind
        name = record.name
        organizationId = record.subject
        createdAt = record.createdAt
        revokedAt = record.revokedAt
    }
}

/// A token just made: the only time its secret is shown.
struct NewTokenResponse: ResponseEncodable {
    let id: String
    let kind: String
    let name: String
    let organizationId: String?
    let createdAt: Date
    let token: String
}

/// An organization as the API shows it.
struct OrganizationResponse: ResponseEncodable {
    let id: String
    let legalName: String
    let revision: Int64
    let createdAt: Date
    let updatedAt: Date

    init(_ record: OrganizationRecord) {
        id = record.id
        legalName = record.legalName
        revision = record.revision
        createdAt = record.createdAt
        updatedAt = record.updatedAt
    }
}

/// An agreement, with the keys just issued for it when it was just made.
struct AgreementResponse: ResponseEncodable {
    let id: String
    let organizationId: String
    let reference: String
    let signedOn: Date?
    let createdAt: Date
    let serials: [String]
    let keys: [KeyResponse]?

    init(_ record: AgreementRecord, keys: [KeyResponse]? = nil) {
        id = record.id
        organizationId = record.organizationId
        reference = record.reference
        signedOn = record.signedOn
        createdAt = record.createdAt
        serials = record.serials
        self.keys = keys
    }
}

/// An installation and its environment, as the vendor sees it.
struct InstallationResponse: ResponseEncodable {
    let installationId: String
    let organizationId: String
    let environment: InstallationEnvironment
    let serials: [String]
    let activatedAt: Date

    init(_ record: InstallationRecord) {
        installationId = record.installationId
        organizationId = record.organizationId
        environment = record.environment
        serials = record.serials
        activatedAt = record.activatedAt
    }
}
extension Catalog: ResponseEncodable {}
extension SignedDocument: ResponseEncodable {}

/// `201 Created` with a body.
func created<Body: ResponseEncodable>(_ body: Body) -> EditedResponse<Body> {
    EditedResponse(status: .created, response: body)
}
