import Foundation
import KeywardDomain
import KeywardStore

/// What a token the registry gives another system may do: a `service` token is the suite's login (sessions and
/// entitlement checks), a `directory` token an identity provider's SCIM provisioning (`/scim/v2` and nothing else).
public enum IntegrationTokenKind: String, Sendable, CaseIterable, Codable {
    case service
    case directory

    /// The kinds as one sentence names them, for a refusal.
    static let listed = allCases.map(\.rawValue).joined(separator: " or ")
}

extension Registry {
    /// Makes a token of `kind` named `name`, audited; the returned token is the only copy of its secret.
    public func createIntegrationToken(kind: IntegrationTokenKind, name: String, actor: String) async throws -> (token: APIToken, record: TokenRecord)
    {
        let now = now()
        let name = try UserRules.tokenName(name)
        return try await store.database.write { sql in
            let made = try await TokenStore.create(kind: kind.rawValue, name: name, subject: nil, now: now, on: sql)
            try await AuditLog.append(
                .init(
                    actor: actor, action: "token.created", target: "token:\(made.record.id)",
                    details: ["kind": .string(kind.rawValue), "name": .string(made.record.name)]),
                at: now, on: sql)
            return made
        }
    }

    /// Reads a kind, spelled exactly as the API describes it; `INVALID_TOKEN_KIND` otherwise.
    public static func integrationTokenKind(_ text: String) throws -> IntegrationTokenKind {
        guard let kind = IntegrationTokenKind(rawValue: text) else {
            throw RegistryError.invalid(
                FieldError(
                    field: "kind", code: "INVALID_TOKEN_KIND",
                    message: "A token's kind is \(IntegrationTokenKind.listed), not \"\(text.prefix(40))\"."))
        }
        return kind
    }

    /// Every service and directory token, newest first, without their secrets.
    public func integrationTokens() async throws -> [TokenRecord] {
        try await TokenStore(database: store.database).list(kinds: Set(IntegrationTokenKind.allCases.map(\.rawValue)))
    }

    /// Revokes a service or directory token for good, audited; `UNKNOWN_TOKEN` when there is none (a user's token is
    /// not one). Taken out of the token cache at once, so the next request with it is refused.
    @discardableResult
    public func revokeIntegrationToken(id: String, actor: String) async throws -> TokenRecord {
        let now = now()
        let revoked = try await store.database.write { sql in
            let revoked = try await TokenStore.revoke(id: id, kinds: Set(IntegrationTokenKind.allCases.map(\.rawValue)), now: now, on: sql)
            try await AuditLog.append(
                .init(actor: actor, action: "token.revoked", target: "token:\(id)", details: ["kind": .string(revoked.kind)]), at: now, on: sql)
            return revoked
        }
        tokenCache.removeAll()
        return revoked
    }
}
