import Foundation
import HTTPTypes
import KeywardDomain
import KeywardRegistry
import KeywardStore
import KeywardTestSupport

@testable import KeywardRegistryHTTP

/// The registry's API by resource, answering in the API's own types: `api.users.create(...)`, `api.keys.list()`.
extension TestAPI {
    var auth: AuthClient { AuthClient(api: self) }
    var users: UsersClient { UsersClient(api: self) }
    var keys: LicenseKeysClient { LicenseKeysClient(api: self) }
    var groups: AccessGroupsClient { AccessGroupsClient(api: self) }
    var sessions: SessionsClient { SessionsClient(api: self) }
    var entitlements: EntitlementsClient { EntitlementsClient(api: self) }
    var activation: ActivationClient { ActivationClient(api: self) }
    var accessMigrations: AccessMigrationsClient { AccessMigrationsClient(api: self) }
    var settings: SettingsClient { SettingsClient(api: self) }
    var audit: AuditClient { AuditClient(api: self) }
}

/// A JSON object built from Foundation values, for bodies a test writes field by field (refusal tables, odd values).
func jsonObject(_ object: [String: Any]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
}

/// `/api/v1/auth/token`.
struct AuthClient {
    let api: TestAPI

    func logIn(login: String, password: String) async throws -> Answer<AuthController.TokenResponse> {
        try await api.call(
            .post, "/api/v1/auth/token", token: .some(nil), body: ["login": login, "password": password], as: AuthController.TokenResponse.self)
    }
}

/// `/api/v1/users`.
struct UsersClient {
    let api: TestAPI

    func create(login: String, name: String, email: String, password: String? = nil, token: String?? = .none) async throws -> Answer<UserResponse> {
        var body = ["login": login, "name": name, "email": email]
        body["password"] = password
        return try await create(json: jsonObject(body), token: token)
    }

    func create(json: String, token: String?? = .none) async throws -> Answer<UserResponse> {
        try await api.call(.post, "/api/v1/users", token: token, json: json, as: UserResponse.self)
    }

    /// `query` is the query string without its `?`, e.g. `search=SMI&limit=1`.
    func list(_ query: String = "") async throws -> Answer<Page<UserResponse>> {
        try await api.call(.get, "/api/v1/users" + (query.isEmpty ? "" : "?" + query), as: Page<UserResponse>.self)
    }

    func show(_ login: String) async throws -> Answer<UserResponse> {
        try await api.call(.get, "/api/v1/users/\(login)", as: UserResponse.self)
    }

    func update(_ login: String, json: String) async throws -> Answer<UserResponse> {
        try await api.call(.patch, "/api/v1/users/\(login)", json: json, as: UserResponse.self)
    }

    func disable(_ login: String) async throws -> Answer<UserResponse> {
        try await api.call(.post, "/api/v1/users/\(login)/disable", as: UserResponse.self)
    }

    func enable(_ login: String) async throws -> Answer<UserResponse> {
        try await api.call(.post, "/api/v1/users/\(login)/enable", as: UserResponse.self)
    }

    func entitlements(_ login: String) async throws -> Answer<UsersController.EntitlementsResponse> {
        try await api.call(.get, "/api/v1/users/\(login)/entitlements", as: UsersController.EntitlementsResponse.self)
    }
}

/// `/api/v1/license-keys`.
struct LicenseKeysClient {
    let api: TestAPI

    func register(idNumber: String, accessKey: String) async throws -> Answer<KeyDetail> {
        Answer(reply: try await api.register(idNumber, accessKey))
    }

    func list(token: String?? = .none) async throws -> Answer<Page<KeySummary>> {
        try await api.call(.get, "/api/v1/license-keys", token: token, as: Page<KeySummary>.self)
    }

    func show(_ serial: String) async throws -> Answer<KeyDetail> {
        try await api.call(.get, "/api/v1/license-keys/\(serial)", as: KeyDetail.self)
    }

    func rename(_ serial: String, to idNumber: String) async throws -> Answer<KeyDetail> {
        try await api.call(.patch, "/api/v1/license-keys/\(serial)", body: ["idNumber": idNumber], as: KeyDetail.self)
    }
}

/// `/api/v1/access-groups`.
struct AccessGroupsClient {
    let api: TestAPI

    func create(json: String) async throws -> Answer<AccessGroupResponse> {
        try await api.call(.post, "/api/v1/access-groups", json: json, as: AccessGroupResponse.self)
    }

    func addUsers(_ idNumber: String, _ logins: [String]) async throws -> Answer<AccessGroupResponse> {
        try await api.call(.post, "/api/v1/access-groups/\(idNumber)/users", body: ["logins": logins], as: AccessGroupResponse.self)
    }

    func removeUsers(_ idNumber: String, _ logins: [String]) async throws -> Answer<AccessGroupResponse> {
        try await api.call(.delete, "/api/v1/access-groups/\(idNumber)/users", body: ["logins": logins], as: AccessGroupResponse.self)
    }
}

/// `/api/v1/sessions`.
struct SessionsClient {
    let api: TestAPI

    func open(login: String, ip: String? = nil) async throws -> Answer<SessionsController.Opened> {
        var body = ["login": login]
        body["ip"] = ip
        return try await api.call(.post, "/api/v1/sessions", body: body, as: SessionsController.Opened.self)
    }

    func heartbeat(_ id: String) async throws -> Answer<SessionsController.Opened> {
        try await api.call(.post, "/api/v1/sessions/\(id)/heartbeat", as: SessionsController.Opened.self)
    }

    func end(_ id: String) async throws -> Answer<UserSessionResponse> {
        try await api.call(.delete, "/api/v1/sessions/\(id)", as: UserSessionResponse.self)
    }

    /// One user's sessions, or everyone's when `login` is nil.
    func disconnect(login: String? = nil) async throws -> Answer<SessionsController.Disconnected> {
        try await api.call(
            .post, "/api/v1/sessions/disconnect", json: login.map { jsonObject(["login": $0]) } ?? "{}", as: SessionsController.Disconnected.self)
    }

    /// The open sessions, or all of them with `state: "all"`.
    func list(state: String? = nil) async throws -> Answer<Page<UserSessionResponse>> {
        try await api.call(.get, "/api/v1/sessions" + (state.map { "?state=\($0)" } ?? ""), as: Page<UserSessionResponse>.self)
    }
}

/// The answer to an entitlement check. The API writes it by hand (the hot path), so it has no Decodable type of its own.
struct EntitlementAnswer: Decodable, Equatable {
    let allowed: Bool
    let code: String
    let keySerial: String?
    let profile: String?
}

/// `/api/v1/entitlements/check`.
struct EntitlementsClient {
    let api: TestAPI

    struct Batch: Decodable {
        let results: [EntitlementAnswer]
    }

    func check(login: String, component: String, menu: String) async throws -> Answer<EntitlementAnswer> {
        try await api.call(.get, "/api/v1/entitlements/check?login=\(login)&component=\(component)&menu=\(menu)", as: EntitlementAnswer.self)
    }

    /// Checks `(login, component, menu)` triples in one call.
    func check(_ checks: [(login: String, component: String, menu: String)]) async throws -> Answer<Batch> {
        let body = ["checks": checks.map { ["login": $0.login, "component": $0.component, "menu": $0.menu] }]
        return try await api.call(.post, "/api/v1/entitlements/check", body: body, as: Batch.self)
    }
}

/// `/api/v1/activation`.
struct ActivationClient {
    let api: TestAPI

    func state() async throws -> Answer<ActivationController.StateResponse> {
        try await api.call(.get, "/api/v1/activation", as: ActivationController.StateResponse.self)
    }

    func install(_ certificate: SignedDocument) async throws -> Answer<ActivationController.StateResponse> {
        try await api.call(.post, "/api/v1/activation/certificate", body: certificate, as: ActivationController.StateResponse.self)
    }
}

/// `/api/v1/access-migrations`.
struct AccessMigrationsClient {
    let api: TestAPI

    func migrate(json: String) async throws -> Answer<AccessMigrationPlan> {
        try await api.call(.post, "/api/v1/access-migrations", json: json, as: AccessMigrationPlan.self)
    }
}

/// `/api/v1/settings/authority`.
struct SettingsClient {
    let api: TestAPI

    func authority() async throws -> Answer<AuthoritySettings> {
        try await api.call(.get, "/api/v1/settings/authority", as: AuthoritySettings.self)
    }

    func saveAuthority(json: String) async throws -> Answer<AuthoritySettings> {
        try await api.call(.put, "/api/v1/settings/authority", json: json, as: AuthoritySettings.self)
    }

    func testAuthority(json: String?) async throws -> Answer<ConnectionTest> {
        try await api.call(.post, "/api/v1/settings/authority/test", json: json, as: ConnectionTest.self)
    }
}

/// `/api/v1/audit-events`.
struct AuditClient {
    let api: TestAPI

    /// `query` is the query string without its `?`, e.g. `target=license-key:KW-1`.
    func events(_ query: String) async throws -> Answer<Page<AuditEvent>> {
        try await api.call(.get, "/api/v1/audit-events?" + query, as: Page<AuditEvent>.self)
    }
}
