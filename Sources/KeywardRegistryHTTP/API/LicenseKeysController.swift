import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore

/// A registered key as the API and `keyward keys list --json` list it.
public struct KeySummary: ResponseCodable, Sendable {
    public let serial: String
    public let idNumber: String
    public let source: KeySource
    public let status: ValidationCode
    public let expiresInDays: Int?
    public let profile: Profile
    public let useType: UseType
    public let users: Int
    public let purchaseType: PurchaseType
    public let suiteVersion: String
    public let validFrom: Date
    public let expiresAt: Date?
    public let componentCount: Int
    /// Whether the activation certificate in force covers this key.
    public let activated: Bool
    public let revocationReason: String?

    public init(_ key: RegisteredKey, now: Date, activation: StoredActivation?) {
        serial = key.serial
        idNumber = key.idNumber
        source = key.source
        status = key.status(at: now)
        expiresInDays = key.license.expiresInDays(at: now)
        profile = key.license.profile
        useType = key.license.useType
        users = key.license.users
        purchaseType = key.license.purchaseType
        suiteVersion = key.license.suiteVersion
        validFrom = key.license.validFrom
        expiresAt = key.license.expiresAt
        componentCount = key.license.components.count
        activated = activation?.certificate.serials.contains(key.serial) ?? false
        revocationReason = key.revocationReason
    }
}

/// A key's data screen: the summary and its components.
struct KeyDetail: ResponseCodable {
    struct Component: Codable, Sendable {
        let code: String
        let name: String
    }

    let summary: KeySummary
    let organization: Organization
    let issuedAt: Date
    let registeredAt: Date
    let registeredBy: String
    let components: [Component]

    enum CodingKeys: String, CodingKey { case organization, issuedAt, registeredAt, registeredBy, components }

    func encode(to encoder: any Encoder) throws {
        try summary.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(organization, forKey: .organization)
        try container.encode(issuedAt, forKey: .issuedAt)
        try container.encode(registeredAt, forKey: .registeredAt)
        try container.encode(registeredBy, forKey: .registeredBy)
        try container.encode(components, forKey: .components)
    }
}

extension KeyDetail {
    /// The inverse of `encode(to:)`: the summary's fields and the detail's sit side by side in one object.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            summary: try KeySummary(from: decoder), organization: try container.decode(Organization.self, forKey: .organization),
            issuedAt: try container.decode(Date.self, forKey: .issuedAt), registeredAt: try container.decode(Date.self, forKey: .registeredAt),
            registeredBy: try container.decode(String.self, forKey: .registeredBy),
            components: try container.decode([Component].self, forKey: .components))
    }
}

/// `/api/v1/license-keys`: the License key menu's API, for administrators of the License key menu.
struct LicenseKeysController: Sendable {
    let registry: Registry

    struct Register: Decodable {
        let idNumber: String
        let accessKey: String
    }

    struct Rename: Decodable {
        let idNumber: String
    }

    func detail(_ key: RegisteredKey) async throws -> KeyDetail {
        let now = registry.now()
        return KeyDetail(
            summary: KeySummary(key, now: now, activation: try await registry.store.activation()),
            organization: key.license.organization, issuedAt: key.license.issuedAt, registeredAt: key.registeredAt,
            registeredBy: key.registeredBy, components: registry.components(of: key).map { .init(code: $0.code, name: $0.name) }
        )
    }

    var endpoints: RouteCollection<RegistryRequestContext> {
        let routes = RouteCollection(context: RegistryRequestContext.self)
        routes.group(authorizedBy: RegistryRole.administrator(registry.access))
            .get(use: list)
            .post(use: register)
            .get(":serial", use: show)
            .patch(":serial", use: rename)
            .delete(":serial", use: remove)
        return routes
    }

    /// Every registered key.
    @Sendable func list(_ request: Request, context: RegistryRequestContext) async throws -> ItemsResponse<KeySummary> {
        let activation = try await registry.store.activation()
        let now = registry.now()
        return ItemsResponse(items: try await registry.store.keys().map { KeySummary($0, now: now, activation: activation) })
    }

    /// Registers a pasted access key under an ID #.
    @Sendable func register(_ request: Request, context: RegistryRequestContext) async throws -> EditedResponse<KeyDetail> {
        let input = try await request.decodeJSON(as: Register.self, context: context)
        let key = try await registry.register(idNumber: input.idNumber, accessKey: input.accessKey, actor: context.actor)
        return EditedResponse(status: .created, response: try await detail(key))
    }

    /// A key's data screen.
    @Sendable func show(_ request: Request, context: RegistryRequestContext) async throws -> KeyDetail {
        let serial = try context.parameters.require("serial")
        guard let key = try await registry.store.key(serial) else {
            throw APIError(.notFound, code: "UNKNOWN_KEY", message: "There is no registered key \(serial).")
        }
        return try await detail(key)
    }

    /// Changes a key's ID #.
    @Sendable func rename(_ request: Request, context: RegistryRequestContext) async throws -> KeyDetail {
        let input = try await request.decodeJSON(as: Rename.self, context: context)
        return try await detail(try await registry.rename(try context.parameters.require("serial"), to: input.idNumber, actor: context.actor))
    }

    /// Deletes a key no access group uses.
    @Sendable func remove(_ request: Request, context: RegistryRequestContext) async throws -> Response {
        _ = try await registry.remove(try context.parameters.require("serial"), actor: context.actor)
        return Response(status: .noContent)
    }
}
