import Foundation
import HTTPTypes
import KeywardDomain
import KeywardStore
import KeywardTestSupport

@testable import KeywardAuthorityHTTP

/// The authority's API by resource, answering in the API's own types: `api.organizations.create(...)`, `api.keys.issue(...)`.
extension TestAPI {
    var organizations: OrganizationsClient { OrganizationsClient(api: self) }
    var keys: AuthorityKeysClient { AuthorityKeysClient(api: self) }
    var agreements: AgreementsClient { AgreementsClient(api: self) }
    var tokens: TokensClient { TokensClient(api: self) }
    var activations: ActivationsClient { ActivationsClient(api: self) }
    var audit: AuthorityAuditClient { AuthorityAuditClient(api: self) }
}

/// `/v1/organizations`.
struct OrganizationsClient {
    let api: TestAPI

    func create(json: String) async throws -> Answer<OrganizationResponse> {
        try await api.call(.post, "/v1/organizations", json: json, as: OrganizationResponse.self)
    }

    func list() async throws -> Answer<Page<OrganizationResponse>> {
        try await api.call(.get, "/v1/organizations", as: Page<OrganizationResponse>.self)
    }

    func show(_ id: String) async throws -> Answer<OrganizationResponse> {
        try await api.call(.get, "/v1/organizations/\(id)", as: OrganizationResponse.self)
    }

    func update(_ id: String, json: String) async throws -> Answer<OrganizationResponse> {
        try await api.call(.patch, "/v1/organizations/\(id)", json: json, as: OrganizationResponse.self)
    }
}

/// `/v1/license-keys` and an organization's keys.
struct AuthorityKeysClient {
    let api: TestAPI

    /// Issues a key from `spec`, a license key specification in JSON.
    func issue(_ organization: String, spec: String) async throws -> Answer<KeyResponse> {
        try await api.call(.post, "/v1/organizations/\(organization)/license-keys", json: spec, as: KeyResponse.self)
    }

    func list(_ organization: String) async throws -> Answer<Page<KeyResponse>> {
        try await api.call(.get, "/v1/organizations/\(organization)/license-keys", as: Page<KeyResponse>.self)
    }

    func show(_ serial: String) async throws -> Answer<KeyResponse> {
        try await api.call(.get, "/v1/license-keys/\(serial)", as: KeyResponse.self)
    }

    func renew(_ serial: String, json: String) async throws -> Answer<KeyResponse> {
        try await api.call(.post, "/v1/license-keys/\(serial)/renew", json: json, as: KeyResponse.self)
    }

    func `switch`(_ serial: String, spec: String) async throws -> Answer<LicenseKeysController.SwitchResponse> {
        try await api.call(.post, "/v1/license-keys/\(serial)/switch", json: spec, as: LicenseKeysController.SwitchResponse.self)
    }

    func revoke(_ serial: String, json: String) async throws -> Answer<KeyResponse> {
        try await api.call(.post, "/v1/license-keys/\(serial)/revoke", json: json, as: KeyResponse.self)
    }
}

/// `/v1/agreements` and an organization's agreements.
struct AgreementsClient {
    let api: TestAPI

    func issue(_ organization: String, json: String) async throws -> Answer<AgreementResponse> {
        try await api.call(.post, "/v1/organizations/\(organization)/agreements", json: json, as: AgreementResponse.self)
    }

    func list(_ organization: String) async throws -> Answer<Page<AgreementResponse>> {
        try await api.call(.get, "/v1/organizations/\(organization)/agreements", as: Page<AgreementResponse>.self)
    }

    func show(_ id: String) async throws -> Answer<AgreementResponse> {
        try await api.call(.get, "/v1/agreements/\(id)", as: AgreementResponse.self)
    }
}

/// `/v1/tokens` and an organization's tokens.
struct TokensClient {
    let api: TestAPI

    func create(_ organization: String, json: String) async throws -> Answer<NewTokenResponse> {
        try await api.call(.post, "/v1/organizations/\(organization)/tokens", json: json, as: NewTokenResponse.self)
    }

    func list() async throws -> Answer<Page<TokenResponse>> {
        try await api.call(.get, "/v1/tokens", as: Page<TokenResponse>.self)
    }

    func revoke(_ id: String) async throws -> Answer<TokenResponse> {
        try await api.call(.delete, "/v1/tokens/\(id)", as: TokenResponse.self)
    }
}

/// An organization's activations.
struct ActivationsClient {
    let api: TestAPI

    func activate(_ organization: String, token: String?? = .none, json: String) async throws -> Answer<FeedController.ActivationResponse> {
        try await api.call(
            .post, "/v1/organizations/\(organization)/activations", token: token, json: json, as: FeedController.ActivationResponse.self)
    }

    func list(_ organization: String) async throws -> Answer<Page<InstallationResponse>> {
        try await api.call(.get, "/v1/organizations/\(organization)/activations", as: Page<InstallationResponse>.self)
    }
}

/// `/v1/audit-events`.
struct AuthorityAuditClient {
    let api: TestAPI

    /// `query` is the query string without its `?`, e.g. `target=license-key:KW-1`.
    func events(_ query: String) async throws -> Answer<Page<AuditEvent>> {
        try await api.call(.get, "/v1/audit-events?" + query, as: Page<AuditEvent>.self)
    }
}
