import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import Prometheus
import SQLKit
import Testing

@testable import KeywardAuthorityHTTP

/// A migrated authority on a fresh database with its own keyring, an operator token and a hand-moved clock.
struct AuthorityHarness: Sendable {
    static let start = Timestamp.parse("2026-03-10T09:00:00Z")!

    let authority: Authority
    let clock: TestClock
    let operatorToken: String

    var store: AuthorityStore { authority.store }
    var trust: TrustStore { authority.keyring.trustStore }

    static func run(_ backend: Backend, _ body: @Sendable (AuthorityHarness) async throws -> Void) async throws {
        try await withTemporaryDirectory { directory in
            try await withFreshDatabase(backend) { database, _ async throws in
                try await Migrator(Schema.authority).migrate(database, logger: testLogger)
                let clock = TestClock(start)
                let authority = Authority(
                    store: AuthorityStore(database: database),
                    keyring: try AuthorityKeyring.create(in: directory, rotate: false, now: start),
                    catalog: try Catalog.shipped(),
                    now: { clock.now }
                )
                let token = try await authority.store.createToken(
                    kind: TokenKind.operator, name: "tester", subject: nil, actor: "system:test", now: start)
                try await body(AuthorityHarness(authority: authority, clock: clock, operatorToken: token.token.text))
            }
        }
    }

    /// Runs `body` against the router, in process.
    func withAPI(_ body: @escaping @Sendable (API) async throws -> Void) async throws {
        let app = Application(router: buildAuthorityRouter(AuthorityDependencies(authority: authority, metrics: PrometheusCollectorRegistry())))
        try await app.test(.router) { client in try await body(API(client: client, token: operatorToken, labelsJSON: true)) }
    }

    /// An operator with `role` and a token of theirs (bcrypt at its cheapest, for speed).
    func operatorToken(_ login: String, role: OperatorRole) async throws -> String {
        _ = try await authority.createOperator(
            login: login, name: "Operator \(login)", role: role.rawValue, password: "a long enough password", actor: "system:test", cost: 4)
        return try await store.createToken(kind: TokenKind.operator, name: "api", subject: login, actor: "system:test", now: clock.now).token.text
    }

    /// A token for organization `id`.
    func organizationToken(_ id: String) async throws -> String {
        try await store.createToken(kind: TokenKind.organization, name: "registry", subject: id, actor: "system:test", now: clock.now).token.text
    }

    /// Counts of everything the authority stores, to prove a refused request wrote nothing.
    func fingerprint() async throws -> [String: Int] {
        try await KeywardTestSupport.fingerprint(
            store.database,
            tables: [
                "organizations", "agreements", "license_keys", "installations", "environment_changes", "api_tokens", "audit_events", "operators",
            ],
            extra: [
                "revisions": "SELECT CAST(COALESCE(SUM(revision), 0) AS BIGINT) AS n FROM organizations",
                "revoked": "SELECT COUNT(*) AS n FROM license_keys WHERE revoked_at IS NOT NULL",
            ])
    }
}

/// The authority's tests call its API through the shared client, with the operator's token unless told otherwise.
typealias API = TestAPI

extension TestAPI {
    func createOrganization(_ id: String, _ legalName: String = "ACME Industries Ltd.") async throws {
        let reply = try await call(.post, "/v1/organizations", json: #"{"id":"\#(id)","legalName":"\#(legalName)"}"#)
        #expect(reply.status == .created, "creating \(id): \(String(decoding: reply.body, as: UTF8.self))")
    }

    /// Issues one key and returns its serial.
    func issue(_ organization: String, _ spec: String = API.nominative) async throws -> String {
        let reply = try await keys.issue(organization, spec: spec)
        #expect(reply.status == .created, "\(String(decoding: reply.reply.body, as: UTF8.self))")
        return (try? reply.value.record.license.serial) ?? ""
    }

    static let nominative = #"{"profile":"manager","useType":"nominative","users":25,"purchaseType":"sale","components":["DOC","WF","CFG"]}"#
    static let floating =
        #"{"profile":"basic","useType":"floating","users":10,"purchaseType":"rental","components":["AUD"],"expiresAt":"2027-12-31"}"#
}
