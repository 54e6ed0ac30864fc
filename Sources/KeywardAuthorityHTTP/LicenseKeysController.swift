import KeywardAuthority
import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardStore

/// Agreements, keys, revocation, renewal and switching.
struct LicenseKeysController: Sendable {
    let authority: Authority

    struct CreateAgreement: Decodable {
        let reference: String
        let signedOn: Date?
        let lines: [LicenseKeySpecification]
    }

    struct Revoke: Decodable {
        let reason: String
    }

    struct Renew: Decodable {
        let expiresAt: Date
    }

    struct AgreementResponse: ResponseEncodable {
        let agreement: AgreementRecord
        let keys: [KeyResponse]?

        enum CodingKeys: String, CodingKey { case keys }

        func encode(to encoder: any Encoder) throws {
            try agreement.encode(to: encoder)
            if let keys {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(keys, forKey: .keys)
            }
        }
    }

    struct SwitchResponse: ResponseEncodable {
        let revoked: KeyResponse
        let issued: KeyResponse
    }

    func add(to router: Router<AuthorityRequestContext>) {
        router.post("/v1/organizations/:id/agreements") { request, context in
            try context.requireOperator()
            let input = try await request.decodeJSON(as: CreateAgreement.self, context: context)
            let result = try await authority.issueAgreement(reference: input.reference, signedOn: input.signedOn, lines: input.lines,
                                                            organizationId: try context.parameters.require("id"), actor: context.actor)
            return created(AgreementResponse(agreement: result.agreement, keys: result.keys.map(KeyResponse.init)))
        }
        router.get("/v1/organizations/:id/agreements") { _, context in
            try context.requireOperator()
            return ItemsResponse(items: try await authority.store.agreements(of: try context.parameters.require("id")))
        }
        router.get("/v1/agreements/:id") { _, context in
            try context.requireOperator()
            let id = try context.parameters.require("id")
            guard let agreement = try await authority.store.agreement(id) else {
                throw APIError(.notFound, code: "UNKNOWN_AGREEMENT", message: "There is no agreement \(id).")
            }
            return agreement
        }
        router.post("/v1/organizations/:id/license-keys") { request, context in
            try context.requireOperator()
            let specification = try await request.decodeJSON(as: LicenseKeySpecification.self, context: context)
            let record = try await authority.issue(specification, organizationId: try context.parameters.require("id"), actor: context.actor)
            return created(KeyResponse(record: record))
        }
        router.get("/v1/organizations/:id/license-keys") { _, context in
            try context.requireOperator()
            return ItemsResponse(items: try await authority.store.keys(of: try context.parameters.require("id")).map(KeyResponse.init))
        }
        router.get("/v1/license-keys/:serial") { _, context in
            try context.requireOperator()
            let serial = try context.parameters.require("serial")
            guard let record = try await authority.store.key(serial) else {
                throw APIError(.notFound, code: "UNKNOWN_KEY", message: "There is no key \(serial).")
            }
            return KeyResponse(record: record)
        }
        router.post("/v1/license-keys/:serial/revoke") { request, context in
            try context.requireOperator()
            let input = try await request.decodeJSON(as: Revoke.self, context: context)
            return KeyResponse(record: try await authority.revoke(try context.parameters.require("serial"), reason: input.reason, actor: context.actor))
        }
        router.post("/v1/license-keys/:serial/renew") { request, context in
            try context.requireOperator()
            let input = try await request.decodeJSON(as: Renew.self, context: context)
            return KeyResponse(record: try await authority.renew(try context.parameters.require("serial"), expiresAt: input.expiresAt, actor: context.actor))
        }
        router.post("/v1/license-keys/:serial/switch") { request, context in
            try context.requireOperator()
            let specification = try await request.decodeJSON(as: LicenseKeySpecification.self, context: context)
            let result = try await authority.switchKey(try context.parameters.require("serial"), to: specification, actor: context.actor)
            return created(SwitchResponse(revoked: KeyResponse(record: result.revoked), issued: KeyResponse(record: result.issued)))
        }
    }
}
