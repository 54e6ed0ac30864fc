import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import Testing

@testable import KeywardAuthorityHTTP

extension AuthorityTests {
    @Suite struct OrganizationsAPITests {
        @Test(arguments: Backend.services)
        func createsListsShowsAndRenamesOrganizations(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    let created = try await api.organizations.create(
                        json: #"{"id":"acme","legalName":"ACME Industries Ltd.","unknownField":{"x":1}}"#)
                    #expect(created.status == .created)
                    #expect(try created.value.revision == 0)
                    #expect(
                        try await api.call(.post, "/v1/organizations", json: #"{"id":"acme","legalName":"Again"}"#).errorCode == "ORGANIZATION_EXISTS"
                    )
                    try await api.createOrganization("globex", "Globex Corporation")
                    #expect(try await api.organizations.list().value.items.map(\.id) == ["acme", "globex"])
                    let renamed = try await api.organizations.update("acme", json: #"{"legalName":"ACME Holdings"}"#)
                    #expect(try renamed.value.legalName == "ACME Holdings")
                    #expect(try await api.organizations.show("acme").value.legalName == "ACME Holdings")
                    #expect(try await api.call(.get, "/v1/organizations/nobody").status == .notFound)
                }
            }
        }

        /// A bad request (its method, on `/v1/organizations` or `/v1/organizations/acme`), its status, code and the field named.
        static let badRequests: [(method: String, body: String, status: HTTPResponse.Status, code: String, field: String?)] = [
            ("POST", #"{"id":"ACME Corp","legalName":"x"}"#, .unprocessableContent, "INVALID_ORGANIZATION_ID", "id"),
            ("POST", #"{"id":"ok-id","legalName":""}"#, .unprocessableContent, "INVALID_LEGAL_NAME", "legalName"),
            (
                "POST", #"{"id":"ok-id","legalName":"\#(String(repeating: "L", count: 201))"}"#, .unprocessableContent,
                "INVALID_LEGAL_NAME",
                "legalName"
            ),
            (
                "POST", #"{"id":"\#(String(repeating: "a", count: 64))","legalName":"x"}"#, .unprocessableContent,
                "INVALID_ORGANIZATION_ID",
                "id"
            ),
            ("POST", #"{"id":42,"legalName":"x"}"#, .unprocessableContent, "INVALID_FIELD", "id"),
            ("POST", #"{"legalName":"x"}"#, .unprocessableContent, "INVALID_FIELD", "id"),
            ("POST", #"{"id":"ok-id","legalName":null}"#, .unprocessableContent, "INVALID_FIELD", "legalName"),
            (
                "POST", #"{"id":"x'); DROP TABLE organizations; --","legalName":"x"}"#, .unprocessableContent, "INVALID_ORGANIZATION_ID",
                "id"
            ),
            ("POST", #"{"id": "ok-id", "#, .badRequest, "INVALID_JSON", nil),
            ("POST", "", .badRequest, "INVALID_JSON", nil),
            (
                "PATCH", #"{"legalName":"\#(String(repeating: "L", count: 201))"}"#, .unprocessableContent, "INVALID_LEGAL_NAME",
                "legalName"
            ),
            ("PATCH", #"{"legalName":7}"#, .unprocessableContent, "INVALID_FIELD", "legalName"),
        ]

        @Test(arguments: Backend.services, badRequests)
        func refusesABadRequestAndWritesNothing(
            backend: Backend, request: (method: String, body: String, status: HTTPResponse.Status, code: String, field: String?)
        ) async throws {
            try await AuthorityHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    let before = try await harness.fingerprint()
                    let (method, body, status, code, field) = request
                    let reply =
                        method == "POST"
                        ? try await api.call(.post, "/v1/organizations", json: body)
                        : try await api.call(.patch, "/v1/organizations/acme", json: body)
                    #expect(reply.status == status, "\(body.prefix(60))")
                    #expect(reply.errorCode == code, "\(body.prefix(60))")
                    #expect(reply.errorField == field, "\(body.prefix(60))")
                    #expect(reply.error?.message != nil)
                    #expect(try await harness.fingerprint() == before)
                    #expect(try await api.organizations.show("acme").value.legalName == "ACME Industries Ltd.")
                }
            }
        }

        @Test(arguments: Backend.services)
        func refusesAnOverLargeBodyAndWritesNothing(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    let before = try await harness.fingerprint()
                    let huge = #"{"id":"big","legalName":"x","padding":""# + String(repeating: "p", count: 1 << 20) + #""}"#
                    let tooLarge = try await api.call(.post, "/v1/organizations", json: huge)
                    #expect(tooLarge.status == .contentTooLarge)
                    #expect(tooLarge.errorCode == "PAYLOAD_TOO_LARGE")
                    #expect(try await harness.fingerprint() == before)
                    #expect(try await api.organizations.show("acme").value.legalName == "ACME Industries Ltd.")
                }
            }
        }

        @Test(arguments: Backend.services)
        func tokensAreShownOnceAndCanBeRevoked(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    let made = try await api.tokens.create("acme", json: #"{"name":"cloud registry"}"#)
                    #expect(made.status == .created)
                    let token = try made.value.token
                    let id = try made.value.id
                    #expect(try await api.call(.get, "/v1/organizations/acme/feed", token: token).status == .ok)

                    let listed = try await api.tokens.list().value.items
                    #expect(listed.contains { $0.id == id && $0.organizationId == "acme" })
                    #expect(!String(decoding: try await api.call(.get, "/v1/tokens").body, as: UTF8.self).contains(token))

                    #expect(try await api.tokens.revoke(id).value.revokedAt != nil)
                    let refused = try await api.call(.get, "/v1/organizations/acme/feed", token: token)
                    #expect(refused.status == .unauthorized)
                    #expect(refused.errorCode == "UNAUTHENTICATED")
                    #expect(try await api.call(.delete, "/v1/tokens/nosuchtoken1").status == .notFound)
                    #expect(try await api.call(.post, "/v1/organizations/nobody/tokens").status == .notFound)
                    let before = try await harness.fingerprint()
                    let longName = try await api.call(
                        .post, "/v1/organizations/acme/tokens", json: #"{"name":"\#(String(repeating: "n", count: 101))"}"#)
                    #expect(longName.errorCode == "INVALID_TOKEN_NAME")
                    #expect(try await harness.fingerprint() == before)
                }
            }
        }

        @Test(arguments: Backend.services)
        func credentialsAreCheckedOnEveryRoute(backend: Backend) async throws {
            try await AuthorityHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    try await api.createOrganization("acme")
                    try await api.createOrganization("globex", "Globex")
                    let serial = try await api.issue("acme")
                    let acmeToken = try await harness.organizationToken("acme")
                    let before = try await harness.fingerprint()
                    let operatorRoutes: [(HTTPRequest.Method, String, String?)] = [
                        (.post, "/v1/organizations", #"{"id":"new-org","legalName":"New"}"#),
                        (.get, "/v1/organizations", nil),
                        (.get, "/v1/organizations/acme", nil),
                        (.patch, "/v1/organizations/acme", #"{"legalName":"Renamed"}"#),
                        (.post, "/v1/organizations/acme/tokens", nil),
                        (.get, "/v1/tokens", nil),
                        (.delete, "/v1/tokens/whatever", nil),
                        (.post, "/v1/organizations/acme/agreements", #"{"reference":"R","lines":[\#(API.nominative)]}"#),
                        (.get, "/v1/organizations/acme/agreements", nil),
                        (.get, "/v1/agreements/AG-1", nil),
                        (.post, "/v1/organizations/acme/license-keys", API.nominative),
                        (.get, "/v1/organizations/acme/license-keys", nil),
                        (.get, "/v1/license-keys/\(serial)", nil),
                        (.post, "/v1/license-keys/\(serial)/revoke", #"{"reason":"x"}"#),
                        (.post, "/v1/license-keys/\(serial)/renew", #"{"expiresAt":"2030-01-01"}"#),
                        (.post, "/v1/license-keys/\(serial)/switch", API.nominative),
                        (.get, "/v1/organizations/acme/activations", nil),
                        (.get, "/v1/audit-events", nil),
                    ]
                    for (method, path, body) in operatorRoutes {
                        #expect(
                            try await api.call(method, path, token: .some(nil), json: body).status == .unauthorized,
                            "\(method) \(path) without a token")
                        #expect(
                            try await api.call(method, path, token: "kw_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", json: body).status
                                == .unauthorized,
                            "\(method) \(path) with a made-up token")
                        #expect(
                            try await api.call(method, path, token: "garbage", json: body).status == .unauthorized, "\(method) \(path) with garbage")
                        #expect(
                            try await api.call(method, path, token: acmeToken, json: body).status == .notFound,
                            "\(method) \(path) with an organization token")
                    }
                    let ownRoutes: [(HTTPRequest.Method, String, String?)] = [
                        (.get, "/v1/organizations/globex/feed", nil),
                        (.post, "/v1/organizations/globex/activations", #"{"installationId":"inst-1","environment":"test","serials":[]}"#),
                    ]
                    for (method, path, body) in ownRoutes {
                        #expect(try await api.call(method, path, token: .some(nil), json: body).status == .unauthorized)
                        #expect(
                            try await api.call(method, path, token: acmeToken, json: body).status == .notFound,
                            "\(path) with another organization's token")
                    }
                    #expect(try await api.call(.get, "/v1/catalog", token: .some(nil)).status == .unauthorized)
                    #expect(try await harness.fingerprint() == before)
                }
            }
        }
    }
}
