import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore

/// A key as the authority's API shows it: the license key's fields, its access key, and its state. The command line's
/// `--json` prints the same.
public struct KeyResponse: ResponseCodable, Sendable {
    public let record: IssuedKeyRecord

    public init(record: IssuedKeyRecord) {
        self.record = record
    }

    enum CodingKeys: String, CodingKey {
        case accessKey, kid, agreementId, line, revision, status, revokedAt, revocationReason, replacedBy
    }

    public func encode(to encoder: any Encoder) throws {
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

extension KeyResponse {
    /// The inverse of `encode(to:)`; `status` is derived from `revokedAt`, so a body where they disagree is refused.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let record = IssuedKeyRecord(
            license: try LicenseKey(from: decoder), accessKey: try container.decode(String.self, forKey: .accessKey),
            kid: try container.decode(String.self, forKey: .kid), agreementId: try container.decodeIfPresent(String.self, forKey: .agreementId),
            line: try container.decodeIfPresent(Int.self, forKey: .line), revision: try container.decode(Int64.self, forKey: .revision),
            revokedAt: try container.decodeIfPresent(Date.self, forKey: .revokedAt),
            revocationReason: try container.decodeIfPresent(String.self, forKey: .revocationReason),
            replacedBy: try container.decodeIfPresent(String.self, forKey: .replacedBy))
        let status = try container.decode(String.self, forKey: .status)
        guard status == (record.isRevoked ? "revoked" : "active") else {
            throw DecodingError.dataCorruptedError(forKey: .status, in: container, debugDescription: "status \(status) disagrees with revokedAt")
        }
        self.init(record: record)
    }
}

/// A token as listed: never its secret.
struct TokenResponse: ResponseCodable {
    let id: String
    let kind: String
    let name: String
    let organizationId: String?
    /// The operator an operator token belongs to (`nil` for one made before operators had accounts).
    let operatorLogin: String?
    let createdAt: Date
    let revokedAt: Date?

    init(_ record: TokenRecord) {
        id = record.id
        kind = record.kind
        name = record.name
        organizationId = record.kind == TokenKind.organization ? record.subject : nil
        operatorLogin = record.kind == TokenKind.operator ? record.subject : nil
        createdAt = record.createdAt
        revokedAt = record.revokedAt
    }
}

/// A token just made: the only time its secret is shown.
struct NewTokenResponse: ResponseCodable {
    let id: String
    let kind: String
    let name: String
    let organizationId: String?
    let operatorLogin: String?
    let createdAt: Date
    let token: String

    init(_ made: (token: APIToken, record: TokenRecord)) {
        id = made.record.id
        kind = made.record.kind
        name = made.record.name
        organizationId = made.record.kind == TokenKind.organization ? made.record.subject : nil
        operatorLogin = made.record.kind == TokenKind.operator ? made.record.subject : nil
        createdAt = made.record.createdAt
        token = made.token.text
    }
}

/// An operator as the API shows them: never their password.
struct OperatorResponse: ResponseCodable {
    let login: String
    let name: String
    let role: OperatorRole
    let active: Bool
    let createdAt: Date
    let updatedAt: Date

    init(_ record: OperatorRecord) {
        login = record.login
        name = record.name
        role = record.role
        active = record.active
        createdAt = record.createdAt
        updatedAt = record.updatedAt
    }
}

/// An organization as the API shows it.
struct OrganizationResponse: ResponseCodable {
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
public struct AgreementResponse: ResponseCodable, Sendable {
    public let id: String
    public let organizationId: String
    public let reference: String
    public let signedOn: Date?
    public let createdAt: Date
    public let serials: [String]
    public let keys: [KeyResponse]?

    public init(_ record: AgreementRecord, keys: [KeyResponse]? = nil) {
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
public struct InstallationResponse: ResponseCodable, Sendable {
    public let installationId: String
    public let organizationId: String
    public let environment: InstallationEnvironment
    public let serials: [String]
    public let activatedAt: Date

    public init(_ record: InstallationRecord) {
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
