import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdBcrypt
import HummingbirdTesting
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardHTTP
import KeywardOIDC
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import Prometheus
import SQLKit
import Testing

@testable import KeywardRegistryHTTP

/// A registry on a fresh database for organization `acme`, trusting one authority key, with its administrator.
struct RegistryHarness: Sendable {
    static let start = Timestamp.parse("2026-06-01T09:00:00Z")!
    static let password = "correct horse battery staple"

    let registry: Registry
    let signingKey: AuthoritySigningKey
    let clock: TestClock
    let throttle: LoginThrottle

    var store: RegistryStore { registry.store }

    static func run(
        _ backend: Backend, authority: AuthorityClient? = nil, environment: InstallationEnvironment = .production,
        trusting extra: [AuthorityPublicKey] = [], ldap: LDAPConnection? = nil, signIn: Bool = false,
        _ body: @Sendable (RegistryHarness) async throws -> Void
    ) async throws {
        try await withFreshDatabase(backend) { database, _ async throws in
            try await Migrator(Schema.registry).migrate(database, logger: testLogger)
            let store = RegistryStore(database: database)
            let installation = try await store.createInstallation(
                RegistryInstallation(
                    installationId: "inst-test-1", organization: Organization(id: "acme", legalName: "ACME Industries Ltd."),
                    environment: environment, createdAt: start)
            ).installation
            _ = try await store.createAdministrator(login: "admin", passwordHash: Bcrypt.hash(password, cost: 4), now: start)
            let signingKey = AuthoritySigningKey()
            let clock = TestClock(start)
            let registry = Registry(
                store: store, installation: installation, trust: TrustStore([signingKey.publicKey] + extra),
                catalog: try Catalog.shipped(), connection: AuthorityConnection(client: authority, http: .forTests),
                passwords: PasswordHasher(cost: 4), ldap: ldap ?? LDAPConnection(client: nil),
                signIn: SignInConnection(relyingParty: signIn ? OIDCRelyingParty(http: .forTests, now: { clock.now }) : nil), now: { clock.now })
            try await body(
                RegistryHarness(
                    registry: registry, signingKey: signingKey, clock: clock,
                    throttle: LoginThrottle(maximumPerPair: 3, slowDownAfter: 10, maximumDelay: .milliseconds(1))))
        }
    }

    /// An access key for `acme` (or `organization`), valid around the harness's start.
    func accessKey(
        serial: String = Serial.generate(), organization: String = "acme", users: Int = 10, useType: UseType = .nominative,
        profile: Profile = .manager, components: [String] = ["DOC", "WF"], validFrom: String = "2026-01-01T00:00:00Z",
        expiresAt: String? = "2027-01-01T00:00:00Z",
        signedWith key: AuthoritySigningKey? = nil
    ) -> String {
        let license = LicenseKey(
            serial: serial, organization: Organization(id: organization, legalName: "ACME Industries Ltd."), profile: profile, useType: useType,
            users: users, purchaseType: expiresAt == nil ? .sale : .rental, suiteVersion: "2.1", validFrom: Timestamp.parse(validFrom)!,
            expiresAt: expiresAt.flatMap(Timestamp.parse), components: components, issuedAt: Timestamp.parse("2025-12-01T00:00:00Z")!)
        return AccessKey.issue(license, signedWith: key ?? signingKey)
    }

    /// A signed activation certificate for `serials`, as the authority would make it.
    func certificate(
        serials: [String], installationId: String = "inst-test-1", organization: String = "acme", signedWith key: AuthoritySigningKey? = nil
    ) -> SignedDocument {
        ActivationCertificate(
            installationId: installationId, organization: Organization(id: organization, legalName: "ACME"),
            environment: registry.installation.environment,
            serials: serials, issuedAt: clock.now
        ).signed(with: key ?? signingKey)
    }

    func withAPI(_ body: @escaping @Sendable (RegistryAPI) async throws -> Void) async throws {
        let app = Application(
            router: buildRegistryRouter(
                try await RegistryDependencies(registry: registry, metrics: PrometheusCollectorRegistry(), throttle: throttle)))
        try await app.test(.router) { client in
            var api = RegistryAPI(client: client, token: nil)
            let login = try await api.call(.post, "/api/v1/auth/token", json: #"{"login":"admin","password":"\#(Self.password)"}"#)
            #expect(login.status == .created)
            api.token = try login.decode(AuthController.TokenResponse.self).token
            try await body(api)
        }
    }

    /// Registers a key and activates the installation for every registered key, as an administrator would.
    @discardableResult
    func registerAndActivate(_ accessKey: String, idNumber: String) async throws -> RegisteredKey {
        let key = try await registry.register(idNumber: idNumber, accessKey: accessKey, actor: "test")
        try await registry.install(certificate(serials: try await store.keys().map(\.serial)), method: .offline, actor: "test")
        return key
    }

    /// A service token, as `keyward tokens create --service` makes it.
    func serviceToken(_ name: String = "suite-login") async throws -> String {
        try await store.database.write { sql in
            try await TokenStore.create(kind: RegistryTokenKind.service, name: name, subject: nil, expiresAt: nil, now: clock.now, on: sql).token.text
        }
    }

    /// Counts of what the registry stores, to prove a refused request wrote nothing.
    func fingerprint() async throws -> [String: Int] {
        try await KeywardTestSupport.fingerprint(
            store.database,
            tables: ["registered_keys", "activation", "registry_users", "audit_events", "access_groups", "group_members", "user_sessions"])
    }
}

/// The registry's tests call its API through the shared client.
typealias RegistryAPI = TestAPI

extension TestAPI {
    func register(_ idNumber: String, _ accessKey: String) async throws -> Reply {
        let body = try String(decoding: JSONSerialization.data(withJSONObject: ["idNumber": idNumber, "accessKey": accessKey]), as: UTF8.self)
        return try await call(.post, "/api/v1/license-keys", json: body)
    }
}

extension HTTPClient {
    /// The tests' client for authorities they start: one for the whole test process, never shut down (`keyward serve`
    /// and the CLI make their own and shut it down).
    static let forTests = HTTPClient.forAuthority()
}
