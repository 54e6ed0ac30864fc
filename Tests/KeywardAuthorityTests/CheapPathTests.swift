import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardStore
import KeywardTestSupport
import Prometheus
import SQLKit
import Testing

extension AuthorityTests {
    /// The authority's cheap paths, which every registry calls every day: an unchanged feed's `304`, the catalog and the
    /// signing keys are answered from memory after the token check, itself answered from memory; a change made here is
    /// seen at once, a revoked token refused at once.
    @Suite struct CheapPathTests {
        /// Renames the tables a token check and a revision read need, so any database read for them fails, while `body` runs.
        static func withoutTokensAndRevisions(_ database: KeywardDatabase, _ body: () async throws -> Void) async throws {
            try await database.write { sql in
                try await sql.raw("ALTER TABLE organizations RENAME TO organizations_away").run()
                try await sql.raw("ALTER TABLE api_tokens RENAME TO api_tokens_away").run()
            }
            do {
                try await body()
            } catch {
                try? await Self.restore(database)
                throw error
            }
            try await Self.restore(database)
        }

        static func restore(_ database: KeywardDatabase) async throws {
            try await database.write { sql in
                try await sql.raw("ALTER TABLE organizations_away RENAME TO organizations").run()
                try await sql.raw("ALTER TABLE api_tokens_away RENAME TO api_tokens").run()
            }
        }

        @Test(arguments: Backend.services)
        func anUnchangedFeedTheCatalogAndTheSigningKeysNeedNoDatabaseRead(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                // Caches trusted for ten minutes, so that a slow machine cannot let them lapse during the test.
                let authority = Authority(
                    store: AuthorityStore(database: harness.store.database, cacheLifetime: .seconds(600)), keyring: harness.authority.keyring,
                    catalog: harness.authority.catalog, now: harness.authority.now)
                let app = Application(
                    router: buildAuthorityRouter(AuthorityDependencies(authority: authority, metrics: PrometheusCollectorRegistry())))
                try await app.test(.router) { client in
                    let operatorAPI = API(client: client, token: harness.operatorToken, labelsJSON: true)
                    let created = try await operatorAPI.call(.post, "/v1/organizations", json: #"{"id":"acme","legalName":"ACME Industries Ltd."}"#)
                    #expect(created.status == .created)
                    #expect(try await operatorAPI.call(.post, "/v1/organizations/acme/license-keys", json: API.nominative).status == .created)
                    var api = operatorAPI
                    api.token = try await authority.store.createToken(
                        kind: TokenKind.organization, name: "registry", subject: "acme", actor: "system:test", now: harness.clock.now
                    ).token.text
                    let first = try await api.call(.get, "/v1/organizations/acme/feed")
                    #expect(first.status == .ok)
                    let etag = try #require(first.headers[.eTag])
                    // Warm: the token and the revision are read once.
                    #expect(try await api.call(.get, "/v1/organizations/acme/feed", headers: [.ifNoneMatch: etag]).status == .notModified)
                    try await Self.withoutTokensAndRevisions(authority.store.database) {
                        let again = try await api.call(.get, "/v1/organizations/acme/feed", headers: [.ifNoneMatch: etag])
                        #expect(again.status == .notModified, "\(again.text)")
                        #expect(again.headers[.eTag] == etag)
                        #expect(try await api.call(.get, "/v1/catalog").status == .ok)
                        #expect(try await api.call(.get, "/v1/signing-keys").status == .ok)
                        // A request that must read the database fails, so the ones above did not read it.
                        let listing = try await operatorAPI.call(.get, "/v1/organizations")
                        #expect(listing.status.code >= 500, "\(listing.status)")
                    }
                }
            }
        }

        @Test(arguments: Backend.services)
        func aKeyIssuedHereChangesTheFeedAtOnceAndARevokedTokenIsRefusedAtOnce(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                try await harness.withAPI { operatorAPI in
                    #expect(
                        try await operatorAPI.call(.post, "/v1/organizations", json: #"{"id":"acme","legalName":"ACME Industries Ltd."}"#).status
                            == .created)
                    let token = try await harness.store.createToken(
                        kind: TokenKind.organization, name: "registry", subject: "acme", actor: "system:test", now: harness.clock.now)
                    var api = operatorAPI
                    api.token = token.token.text
                    let etag = try #require(try await api.call(.get, "/v1/organizations/acme/feed").headers[.eTag])
                    #expect(try await api.call(.get, "/v1/organizations/acme/feed", headers: [.ifNoneMatch: etag]).status == .notModified)
                    // Issued, revoked, switched, renamed: each moves the feed on, seen by the very next request.
                    #expect(try await operatorAPI.call(.post, "/v1/organizations/acme/license-keys", json: API.nominative).status == .created)
                    let changed = try await api.call(.get, "/v1/organizations/acme/feed", headers: [.ifNoneMatch: etag])
                    #expect(changed.status == .ok)
                    let next = try #require(changed.headers[.eTag])
                    #expect(next != etag)
                    #expect(
                        try await operatorAPI.call(.patch, "/v1/organizations/acme", json: #"{"legalName":"ACME Holdings Ltd."}"#).status == .ok)
                    #expect(try await api.call(.get, "/v1/organizations/acme/feed", headers: [.ifNoneMatch: next]).status == .ok)
                    // The organization's token, cached by its use above, is refused as soon as it is revoked here.
                    #expect(try await operatorAPI.call(.delete, "/v1/tokens/\(token.record.id)").status == .ok)
                    #expect(try await api.call(.get, "/v1/organizations/acme/feed").status == .unauthorized)
                }
            }
        }
    }
}
