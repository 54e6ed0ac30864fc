import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardHTTP
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardStore
import KeywardTestSupport
import Prometheus
import SQLKit
import Testing

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
                let token = try await authority.store.createToken(kind: TokenKind.operator, name: "tester", subject: nil, actor: "system:test", now: start)
                try await body(AuthorityHarness(authority: authority, clock: clock, operatorToken: token.token.text))
            }
        }
    }

    /// Runs `body` against the router, in process.
    func withAPI(_ body: @escaping @Sendable (API) async throws -> Void) async throws {
        let app = Application(router: buildAuthorityRouter(AuthorityDependencies(authority: authority, metrics: PrometheusCollectorRegistry())))
        try await app.test(.router) { client in try await body(API(client: client, operatorToken: operatorToken)) }
    }

    /// A token for organization `id`.
    func organizationToken(_ id: String) async throws -> String {
        try await store.createToken(kind: TokenKind.organization, name: "registry", subject: id, actor: "system:test", now: clock.now).token.text
    }

    /// Counts of everything the authority stores, to prove a refused request wrote nothing.
    func fingerprint() async throws -> [String: Int] {
        try await store.database.read { sql in
            var counts: [String: Int] = [:]
            for table in ["organizations", "agreements", "license_keys", "installations", "environment_changes", "api_tokens", "audit_events"] {
                counts[table] = try await sql.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first()!.decode(column: "n", as: Int.self)
            }
            counts["revisions"] = try await sql.raw("SELECT CAST(COALESCE(SUM(revision), 0) AS BIGINT) AS n FROM organizations").first()!.decode(column: "n", as: Int.self)
            counts["revoked"] = try await sql.raw("SELECT COUNT(*) AS n FROM license_keys WHERE revoked_at IS NOT NULL").first()!.decode(column: "n", as: Int.self)
            return counts
        }
    }
}

/// A thin JSON client over HummingbirdTesting's.
struct API: Sendable {
    let client: any TestClientProtocol
    let operatorToken: String

    struct Reply: @unchecked Sendable {  // `json` holds Foundation values read once, on the test's task only
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let body: Data

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }
        var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
        var errorField: String? { ((json["error"] as? [String: Any])?["details"] as? [String: Any])?["field"] as? String }
    }

    /// Calls `path`; `token` defaults to the operator's, `.some(nil)` sends none.
    func call(_ method: HTTPRequest.Method, _ path: String, token: String?? = .none, json: String? = nil, headers: HTTPFields = [:]) async throws -> Reply {
        var headers = headers
        if let token = token ?? operatorToken { headers[.authorization] = "Bearer \(token)" }
        if json != nil { headers[.contentType] = "application/json" }
        let response = try await client.executeRequest(uri: path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
        return Reply(status: response.status, headers: response.headers, body: Data(buffer: response.body))
    }

    func createOrganization(_ id: String, _ legalName: String = "ACME Industries Ltd.") async throws {
        let reply = try await call(.post, "/v1/organizations", json: #"{"id":"\#(id)","legalName":"\#(legalName)"}"#)
        #expect(reply.status == .created, "creating \(id): \(String(decoding: reply.body, as: UTF8.self))")
    }

    /// Issues one key and returns its serial.
    func issue(_ organization: String, _ spec: String = API.nominative) async throws -> String {
        let reply = try await call(.post, "/v1/organizations/\(organization)/license-keys", json: spec)
        #expect(reply.status == .created, "\(String(decoding: reply.body, as: UTF8.self))")
        return reply.json["serial"] as? String ?? ""
    }

    static let nominative = #"{"profile":"manager","useType":"nominative","users":25,"purchaseType":"sale","components":["DOC","WF","CFG"]}"#
    static let floating = #"{"profile":"basic","useType":"floating","users":10,"purchaseType":"rental","components":["AUD"],"expiresAt":"2027-12-31"}"#
}
