import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore

/// Agreements, keys, revocation, renewal and switching.
struct LicenseKeysController: Sendable {
    let authority: Authority

    struct Revoke: Decodable {
        let reason: String
    }

    struct Renew: Decodable {
        let expiresAt: Date
    }

    struct SwitchResponse: ResponseCodable {
        let revoked: KeyResponse
        let issued: KeyResponse
    }

    var endpoints: RouteCollection<AuthorityRequestContext> {
        let routes = RouteCollection(context: AuthorityRequestContext.self)
        routes.group(authorizedBy: AuthorityRole.operator)
            .post("organizations/:id/agreements", use: issueAgreement)
            .get("organizations/:id/agreements", use: agreements)
            .get("agreements/:id", use: agreement)
            .post("organizations/:id/license-keys", use: issue)
            .get("organizations/:id/license-keys", use: keys)
            .get("license-keys/:serial", use: key)
            .post("license-keys/:serial/revoke", use: revoke)
            .post("license-keys/:serial/renew", use: renew)
            .post("license-keys/:serial/switch", use: switchKey)
        return routes
    }

    /// Issues the keys of an agreement's lines, all or none.
    @Sendable func issueAgreement(_ request: Request, context: AuthorityRequestContext) async throws -> EditedResponse<AgreementResponse> {
        let input = try await request.decodeJSON(as: AgreementRequest.self, context: context)
        let result = try await authority.issueAgreement(input, organizationId: try context.parameters.require("id"), actor: context.actor)
        return created(AgreementResponse(result.agreement, keys: result.keys.map(KeyResponse.init)))
    }

    /// An organization's agreements.
    @Sendable func agreements(_ request: Request, context: AuthorityRequestContext) async throws -> ItemsResponse<AgreementResponse> {
        ItemsResponse(items: try await authority.store.agreements(of: try context.parameters.require("id")).map { AgreementResponse($0) })
    }

    /// One agreement.
    @Sendable func agreement(_ request: Request, context: AuthorityRequestContext) async throws -> AgreementResponse {
        let id = try context.parameters.require("id")
        guard let agreement = try await authority.store.agreement(id) else {
            throw APIError(.notFound, code: "UNKNOWN_AGREEMENT", message: "There is no agreement \(id).")
        }
        return AgreementResponse(agreement)
    }

    /// Issues one key.
    @Sendable func issue(_ request: Request, context: AuthorityRequestContext) async throws -> EditedResponse<KeyResponse> {
        let specification = try await request.decodeJSON(as: LicenseKeySpecification.self, context: context)
        let record = try await authority.issue(specification, organizationId: try context.parameters.require("id"), actor: context.actor)
        return created(KeyResponse(record: record))
    }

    /// An organization's keys.
    @Sendable func keys(_ request: Request, context: AuthorityRequestContext) async throws -> ItemsResponse<KeyResponse> {
        ItemsResponse(items: try await authority.store.keys(of: try context.parameters.require("id")).map(KeyResponse.init))
    }

    /// One key.
    @Sendable func key(_ request: Request, context: AuthorityRequestContext) async throws -> KeyResponse {
        let serial = try context.parameters.require("serial")
        guard let record = try await authority.store.key(serial) else {
            throw APIError(.notFound, code: "UNKNOWN_KEY", message: "There is no key \(serial).")
        }
        return KeyResponse(record: record)
    }

    /// Revokes a key, with the reason registries show.
    @Sendable func revoke(_ request: Request, context: AuthorityRequestContext) async throws -> KeyResponse {
        let input = try await request.decodeJSON(as: Revoke.self, context: context)
        return KeyResponse(record: try await authority.revoke(try context.parameters.require("serial"), reason: input.reason, actor: context.actor))
    }

    /// Moves a key's expiry.
    @Sendable func renew(_ request: Request, context: AuthorityRequestContext) async throws -> KeyResponse {
        let input = try await request.decodeJSON(as: Renew.self, context: context)
        return KeyResponse(
            record: try await authority.renew(try context.parameters.require("serial"), expiresAt: input.expiresAt, actor: context.actor))
    }

    /// Revokes a key and issues its replacement.
    @Sendable func switchKey(_ request: Request, context: AuthorityRequestContext) async throws -> EditedResponse<SwitchResponse> {
        let specification = try await request.decodeJSON(as: LicenseKeySpecification.self, context: context)
        let result = try await authority.switchKey(try context.parameters.require("serial"), to: specification, actor: context.actor)
        return created(SwitchResponse(revoked: KeyResponse(record: result.revoked), issued: KeyResponse(record: result.issued)))
    }
}
