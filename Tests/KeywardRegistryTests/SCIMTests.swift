import Foundation
import HTTPTypes
import KeywardDomain
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import KeywardWeb
import Testing

@testable import KeywardRegistryHTTP

/// A SCIM client over the test API: the directory token, SCIM bodies, the answer as JSON.
struct SCIMClient: Sendable {
    let api: RegistryAPI
    let token: String

    static let patchSchema = SCIMPatch.messageSchema

    init(_ api: RegistryAPI) async throws {
        self.api = api
        let made = try await api.call(.post, "/api/v1/tokens", body: ["kind": "directory", "name": "entra-id"], as: IntegrationTokenResponse.self)
        token = try #require(try made.value.token)
    }

    func call(_ method: HTTPRequest.Method, _ path: String, _ body: String? = nil, headers: HTTPFields = [:]) async throws -> TestAPI.Reply {
        var headers = headers
        if body != nil, headers[.contentType] == nil { headers[.contentType] = "application/scim+json" }
        return try await api.call(method, "/scim/v2" + path, token: token, json: body, headers: headers)
    }

    func call(_ method: HTTPRequest.Method, _ path: String, object: [String: Any], headers: HTTPFields = [:]) async throws -> TestAPI.Reply {
        try await call(method, path, String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self), headers: headers)
    }

    /// Creates a user as Entra does and returns their id.
    @discardableResult
    func createUser(_ login: String, externalId: String? = nil, active: Any = true) async throws -> String {
        var body: [String: Any] = [
            "schemas": [SCIMSchema.userURI], "userName": login, "active": active, "displayName": "User \(login)",
            "emails": [["primary": true, "type": "work", "value": "\(login)@acme.test"]],
        ]
        if let externalId { body["externalId"] = externalId }
        let reply = try await call(.post, "/Users", object: body)
        #expect(reply.status == .created, "\(reply.text)")
        return try #require(reply.json["id"] as? String)
    }

    func createGroup(_ name: String, members: [String] = []) async throws -> String {
        let reply = try await call(
            .post, "/Groups", object: ["schemas": [SCIMSchema.groupURI], "displayName": name, "members": members.map { ["value": $0] }])
        #expect(reply.status == .created, "\(reply.text)")
        return try #require(reply.json["id"] as? String)
    }

    func patch(_ path: String, _ operations: [[String: Any]], headers: HTTPFields = [:]) async throws -> TestAPI.Reply {
        try await call(.patch, path, object: ["schemas": [Self.patchSchema], "Operations": operations], headers: headers)
    }
}

extension TestAPI.Reply {
    var scimType: String? { json["scimType"] as? String }
    var resources: [[String: Any]] { json["Resources"] as? [[String: Any]] ?? [] }
}

extension RegistryTests {
    /// `/scim/v2`: the registry as a SCIM 2.0 service provider, as identity providers call it.
    @Suite struct SCIMTests {
        static func fingerprint(_ harness: RegistryHarness) async throws -> [String: Int] {
            try await KeywardTestSupport.fingerprint(
                harness.store.database,
                tables: [
                    "registry_users", "group_members", "directory_groups", "directory_group_members", "assignment_errors", "access_group_links",
                    "audit_events",
                ])
        }

        @Test(arguments: Backend.available)
        func discoveryDescribesWhatIsSupportedAndOnlyADirectoryTokenGetsIn(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    let scim = try await SCIMClient(api)
                    let config = try await scim.call(.get, "/ServiceProviderConfig")
                    #expect(config.status == .ok)
                    #expect(config.headers[.contentType]?.hasPrefix("application/scim+json") == true)
                    #expect((config.json["patch"] as? [String: Any])?["supported"] as? Bool == true)
                    #expect((config.json["bulk"] as? [String: Any])?["supported"] as? Bool == false)
                    #expect((config.json["etag"] as? [String: Any])?["supported"] as? Bool == true)
                    let types = try await scim.call(.get, "/ResourceTypes")
                    #expect(types.resources.compactMap { $0["endpoint"] as? String } == ["/Users", "/Groups"])
                    #expect(try await scim.call(.get, "/ResourceTypes/User").json["schema"] as? String == SCIMSchema.userURI)
                    let schemas = try await scim.call(.get, "/Schemas")
                    #expect(
                        Set(schemas.resources.compactMap { $0["id"] as? String })
                            == [SCIMSchema.userURI, SCIMSchema.enterpriseUserURI, SCIMSchema.groupURI])
                    let user = try await scim.call(.get, "/Schemas/\(SCIMSchema.userURI)")
                    let names = (user.json["attributes"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
                    #expect(names.contains("userName") && names.contains("emails") && names.contains("active"))
                    #expect(try await scim.call(.get, "/Schemas/urn:nothing").status == .notFound)

                    // No token: 401 in SCIM's error format, with the scheme to use.
                    let anonymous = try await api.call(.get, "/scim/v2/Users", token: .some(nil))
                    #expect(anonymous.status == .unauthorized)
                    #expect(anonymous.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                    #expect(anonymous.json["schemas"] as? [String] == [SCIMErrorMiddleware.errorSchema])
                    #expect(anonymous.json["status"] as? String == "401")
                    // A token that is not one, and a path the service does not have: SCIM errors too.
                    for (token, path, status) in [
                        ("kw_aaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "/scim/v2/Users", HTTPResponse.Status.unauthorized),
                        (scim.token, "/scim/v2/Nothing", .notFound),
                    ] {
                        let reply = try await api.call(.get, path, token: token)
                        #expect(reply.status == status, "\(path)")
                        #expect(reply.json["schemas"] as? [String] == [SCIMErrorMiddleware.errorSchema], "\(path): \(reply.text)")
                        #expect(reply.headers[.contentType]?.hasPrefix("application/scim+json") == true)
                    }
                    // The administrator's own token and a service token are not directory tokens.
                    for token in [api.token, try await harness.serviceToken()] {
                        let refused = try await api.call(.get, "/scim/v2/Users", token: token)
                        #expect(refused.status == .forbidden)
                        #expect((refused.json["detail"] as? String)?.contains("directory token") == true)
                    }
                }
            }
        }

        @Test(arguments: Backend.available)
        func aUserIsProvisionedReadFilteredReplacedPatchedAndRemovedAsIdentityProvidersDo(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    let scim = try await SCIMClient(api)
                    // Entra's create: the boolean as a string, the enterprise extension, attribute names in any case.
                    let created = try await scim.call(
                        .post, "/Users",
                        object: [
                            "schemas": [SCIMSchema.userURI, SCIMSchema.enterpriseUserURI], "externalId": "e-100", "UserName": "jane.doe@acme.test",
                            "active": "True", "displayName": "Jane Doe", "name": ["givenName": "Jane", "familyName": "Doe"],
                            "emails": [["primary": true, "type": "work", "value": "jane.doe@acme.test"]],
                            "meta": ["resourceType": "User"],
                            SCIMSchema.enterpriseUserURI: ["employeeNumber": "701", "department": "Quality", "manager": ["value": "m-1"]],
                        ])
                    #expect(created.status == .created, "\(created.text)")
                    let id = try #require(created.json["id"] as? String)
                    let meta = try #require(created.json["meta"] as? [String: Any])
                    #expect(meta["resourceType"] as? String == "User")
                    #expect((meta["location"] as? String)?.hasSuffix("/scim/v2/Users/\(id)") == true)
                    #expect(created.headers[.location] == meta["location"] as? String)
                    #expect(created.headers[.eTag] == "W/\"1\"" && meta["version"] as? String == "W/\"1\"")
                    #expect(created.json["active"] as? Bool == true)
                    let enterprise = created.json[SCIMSchema.enterpriseUserURI] as? [String: Any]
                    #expect(enterprise?["department"] as? String == "Quality" && enterprise?["employeeNumber"] as? String == "701")

                    // The registry user it made: the login, the name, the e-mail; from the directory.
                    let registryUser = try await api.call(.get, "/api/v1/users/jane.doe@acme.test")
                    #expect(registryUser.json["name"] as? String == "Jane Doe" && registryUser.json["source"] as? String == "scim")
                    #expect(registryUser.json["email"] as? String == "jane.doe@acme.test" && registryUser.json["active"] as? Bool == true)
                    let refused = try await api.call(.patch, "/api/v1/users/jane.doe@acme.test", json: #"{"name":"Someone Else"}"#)
                    #expect(refused.status == .conflict && refused.errorCode == "DIRECTORY_USER")

                    try await scim.createUser("john.roe", externalId: "e-101")
                    // Filters as identity providers send them, the spaces encoded as `+` or `%20`.
                    let byName = try await scim.call(.get, "/Users?filter=userName+eq+%22Jane.Doe@acme.test%22")
                    #expect(byName.json["totalResults"] as? Int == 1 && byName.resources.first?["id"] as? String == id)
                    let byExternal = try await scim.call(.get, "/Users?filter=externalId%20eq%20%22e-101%22")
                    #expect(byExternal.resources.compactMap { $0["userName"] as? String } == ["john.roe"])
                    #expect(
                        try await scim.call(.get, "/Users?filter=externalId+eq+%22E-101%22").json["totalResults"] as? Int == 0,
                        "externalId is caseExact")
                    let byMail = try await scim.call(.get, "/Users?filter=emails.value+co+%22acme.test%22+and+not+(userName+sw+%22john%22)")
                    #expect(byMail.resources.compactMap { $0["userName"] as? String } == ["jane.doe@acme.test"])
                    let page = try await scim.call(.get, "/Users?startIndex=2&count=1")
                    #expect(page.json["totalResults"] as? Int == 2 && page.json["startIndex"] as? Int == 2 && page.json["itemsPerPage"] as? Int == 1)
                    #expect(page.resources.first?["userName"] as? String == "john.roe")
                    let projected = try await scim.call(.get, "/Users/\(id)?attributes=userName,name.givenName")
                    #expect(Set(projected.json.keys) == ["id", "schemas", "userName", "name"])
                    #expect(projected.json["name"] as? [String: String] == ["givenName": "Jane"])
                    let excluded = try await scim.call(.get, "/Users/\(id)?excludedAttributes=emails,meta")
                    #expect(excluded.json["emails"] == nil && excluded.json["meta"] == nil && excluded.json["userName"] != nil)

                    // Entra's PATCH: capitalised ops, a value filter, the boolean as a string.
                    let patched = try await scim.patch(
                        "/Users/\(id)",
                        [
                            ["op": "Replace", "path": "emails[type eq \"work\"].value", "value": "jane@acme.test"],
                            ["op": "Add", "path": "\(SCIMSchema.enterpriseUserURI):department", "value": "Audit"],
                            ["op": "Replace", "path": "displayName", "value": "Jane Q. Doe"],
                        ], headers: [.ifMatch: "W/\"1\""])
                    #expect(patched.status == .ok, "\(patched.text)")
                    #expect(patched.headers[.eTag] == "W/\"2\"")
                    #expect((patched.json[SCIMSchema.enterpriseUserURI] as? [String: Any])?["department"] as? String == "Audit")
                    let renamed = try await api.call(.get, "/api/v1/users/jane.doe@acme.test")
                    #expect(renamed.json["name"] as? String == "Jane Q. Doe" && renamed.json["email"] as? String == "jane@acme.test")

                    // A stale version is refused and changes nothing.
                    let before = try await Self.fingerprint(harness)
                    let stale = try await scim.patch(
                        "/Users/\(id)", [["op": "replace", "path": "title", "value": "x"]], headers: [.ifMatch: "W/\"1\""])
                    #expect(stale.status == .preconditionFailed)
                    #expect(try await Self.fingerprint(harness) == before)

                    // Okta's full PUT, then `active: false` instead of DELETE: the user is disabled, kept.
                    let put = try await scim.call(
                        .put, "/Users/\(id)",
                        object: [
                            "schemas": [SCIMSchema.userURI], "userName": "jane.doe@acme.test", "active": true, "displayName": "Jane Doe",
                            "emails": [["value": "jane.doe@acme.test", "primary": true]], "externalId": "e-100",
                        ])
                    #expect(put.status == .ok, "\(put.text)")
                    #expect(put.json[SCIMSchema.enterpriseUserURI] == nil, "a PUT replaces the whole user")
                    let disabled = try await scim.patch("/Users/\(id)", [["op": "replace", "value": ["active": "False"]]])
                    #expect(disabled.status == .ok && disabled.json["active"] as? Bool == false)
                    #expect(try await api.call(.get, "/api/v1/users/jane.doe@acme.test").json["active"] as? Bool == false)
                    let enabled = try await scim.patch("/Users/\(id)", [["op": "replace", "path": "active", "value": true]])
                    #expect(enabled.json["active"] as? Bool == true)

                    // DELETE: disabled, never deleted; no longer a SCIM resource.
                    let deleted = try await scim.call(.delete, "/Users/\(id)")
                    #expect(deleted.status == .noContent)
                    #expect(try await scim.call(.get, "/Users/\(id)").status == .notFound)
                    let kept = try await api.call(.get, "/api/v1/users/jane.doe@acme.test")
                    #expect(kept.status == .ok && kept.json["active"] as? Bool == false && kept.json["inDirectory"] as? Bool == false)
                    let enable = try await api.call(.post, "/api/v1/users/jane.doe@acme.test/enable")
                    #expect(enable.status == .conflict && enable.errorCode == "DIRECTORY_DISABLED")
                    // Provisioned again, the same registry user comes back.
                    let back = try await scim.createUser("jane.doe@acme.test", externalId: "e-100")
                    #expect(back != id)
                    #expect(try await api.call(.get, "/api/v1/users/jane.doe@acme.test").json["active"] as? Bool == true)
                    let audit = try await api.call(.get, "/api/v1/audit-events?limit=100")
                    #expect(audit.text.contains("user.removed-from-directory") && audit.text.contains("directory:scim"))
                }
            }
        }

        @Test(arguments: Backend.available)
        func aUserMadeByHandIsMatchedByLoginAndALocalDisablingHolds(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    _ = try await harness.registry.createUser(UserInput(login: "Ana.Silva", name: "Ana", email: "ana@acme.test"), actor: "test")
                    let scim = try await SCIMClient(api)
                    let id = try await scim.createUser("ana.silva")
                    let user = try await api.call(.get, "/api/v1/users/ana.silva")
                    #expect(user.json["source"] as? String == "scim" && user.json["name"] as? String == "User ana.silva")
                    #expect(try await harness.store.users().count == 1, "matched, not a second user")
                    // Disabled by an administrator here: the directory's `active: true` does not undo it.
                    #expect(try await api.call(.post, "/api/v1/users/ana.silva/disable").status == .ok)
                    let again = try await scim.patch("/Users/\(id)", [["op": "replace", "path": "active", "value": true]])
                    #expect(again.status == .ok && again.json["active"] as? Bool == true, "the directory's own value")
                    #expect(try await api.call(.get, "/api/v1/users/ana.silva").json["active"] as? Bool == false)
                    #expect(try await api.call(.post, "/api/v1/users/ana.silva/enable").status == .ok)
                    #expect(try await api.call(.get, "/api/v1/users/ana.silva").json["active"] as? Bool == true)
                }
            }
        }

        @Test(arguments: Backend.available)
        func badInputGetsItsSCIMErrorAndWritesNothing(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    let scim = try await SCIMClient(api)
                    let id = try await scim.createUser("taken", externalId: "x-1")
                    let group = try await scim.createGroup("Engineering", members: [id])
                    let before = try await Self.fingerprint(harness)
                    let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
                    let large = #"{"schemas":["\#(SCIMSchema.userURI)"],"userName":"big","title":""# + String(repeating: "a", count: 1 << 20) + "\"}"
                    let cases: [(HTTPRequest.Method, String, String, HTTPResponse.Status, String?)] = [
                        (.get, "/Users?filter=userName+eq", "", .badRequest, "invalidFilter"),
                        (.get, "/Users?filter=userName+xx+%22a%22", "", .badRequest, "invalidFilter"),
                        (.get, "/Groups?count=", "", .badRequest, "invalidValue"),
                        (.get, "/Users?startIndex=two", "", .badRequest, "invalidValue"),
                        (.post, "/Users", #"{"schemas":["\#(SCIMSchema.userURI)"],"userName":"new","shoeSize":42}"#, .badRequest, "invalidPath"),
                        (.post, "/Users", #"{"schemas":["\#(SCIMSchema.userURI)"],"userName":"TAKEN"}"#, .conflict, "uniqueness"),
                        (.post, "/Users", #"{"schemas":["\#(SCIMSchema.userURI)"],"userName":"other","externalId":"x-1"}"#, .conflict, "uniqueness"),
                        (.post, "/Users", #"{"schemas":["\#(SCIMSchema.userURI)"],"userName":"admin"}"#, .conflict, "uniqueness"),
                        (.post, "/Users", #"{"schemas":["\#(SCIMSchema.userURI)"],"userName":"has space"}"#, .badRequest, "invalidValue"),
                        (.post, "/Users", #"{"schemas":["\#(SCIMSchema.userURI)"],"displayName":"No login"}"#, .badRequest, "invalidValue"),
                        (.post, "/Users", #"{"schemas":["\#(SCIMSchema.userURI)"],"userName":"b","active":"maybe"}"#, .badRequest, "invalidValue"),
                        (.post, "/Users", #"{"userName":"#, .badRequest, "invalidSyntax"),
                        (.post, "/Users", deep, .badRequest, "invalidSyntax"),
                        (.post, "/Users", large, .contentTooLarge, nil),
                        (
                            .patch, "/Users/\(id)",
                            #"{"schemas":["\#(SCIMPatch.messageSchema)"],"Operations":[{"op":"replace","path":"nickName[value eq \"x\"]","value":"y"}]}"#,
                            .badRequest, "invalidPath"
                        ),
                        (
                            .patch, "/Users/\(id)",
                            #"{"schemas":["\#(SCIMPatch.messageSchema)"],"Operations":[{"op":"replace","path":"emails[value co \"nobody\"].type","value":"home"}]}"#,
                            .badRequest, "noTarget"
                        ),
                        (
                            .patch, "/Users/\(id)",
                            #"{"schemas":["\#(SCIMPatch.messageSchema)"],"Operations":[{"op":"replace","path":"id","value":"mine"}]}"#,
                            .badRequest, "mutability"
                        ),
                        (
                            .patch, "/Users/\(id)",
                            #"{"schemas":["\#(SCIMPatch.messageSchema)"],"Operations":[{"op":"replace","path":"userName","value":"someone"}]}"#,
                            .badRequest, "mutability"
                        ),
                        (
                            .patch, "/Groups/\(group)",
                            #"{"schemas":["\#(SCIMPatch.messageSchema)"],"Operations":[{"op":"add","path":"members","value":[{"value":"no-such-user"}]}]}"#,
                            .badRequest, "invalidValue"
                        ),
                        (.put, "/Users/no-such-id", #"{"schemas":["\#(SCIMSchema.userURI)"],"userName":"x"}"#, .notFound, nil),
                        (.delete, "/Groups/no-such-id", "", .notFound, nil),
                    ]
                    for (method, path, body, status, scimType) in cases {
                        let reply = try await scim.call(method, path, body.isEmpty ? nil : body)
                        #expect(reply.status == status, "\(method) \(path.prefix(80)): \(reply.text.prefix(300))")
                        #expect(reply.scimType == scimType, "\(method) \(path.prefix(80))")
                        #expect(reply.json["schemas"] as? [String] == [SCIMErrorMiddleware.errorSchema])
                        #expect((reply.json["detail"] as? String)?.isEmpty == false)
                        #expect(reply.headers[.contentType]?.hasPrefix("application/scim+json") == true)
                    }
                    #expect(try await Self.fingerprint(harness) == before, "no refusal wrote anything")
                    // Plain JSON is accepted too.
                    let plain = try await scim.call(
                        .post, "/Users", #"{"schemas":["\#(SCIMSchema.userURI)"],"userName":"plain"}"#, headers: [.contentType: "application/json"])
                    #expect(plain.status == .created)
                }
            }
        }

        @Test(arguments: Backend.available)
        func groupMembersTakeSeatsAndThoseWhoDoNotFitGetAssignmentErrorsUntilSeatsFree(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let key = try await harness.registerAndActivate(harness.accessKey(users: 3, components: ["DOC", "WF"]), idNumber: "Docs")
                try await harness.withAPI { api in
                    let created = try await api.call(
                        .post, "/api/v1/access-groups",
                        body: AccessGroupInput(idNumber: "Doc readers", name: "Readers", keySerial: key.serial, component: "DOC", menus: ["DC021"]))
                    #expect(created.status == .created)
                    let scim = try await SCIMClient(api)
                    var ids: [String] = []
                    for n in 1...5 { ids.append(try await scim.createUser("member\(n)")) }
                    let group = try await scim.createGroup("Quality team")
                    let linked = try await api.call(
                        .put, "/api/v1/access-groups/Doc%20readers/directory-groups", json: #"{"directoryGroups":["\#(group)"]}"#)
                    #expect(linked.status == .ok, "\(linked.text)")
                    #expect((linked.json["directoryGroups"] as? [[String: Any]])?.first?["displayName"] as? String == "Quality team")

                    // Five members pushed at once onto a key of three seats: the directory is not refused, the last
                    // two get assignment errors.
                    let added = try await scim.patch("/Groups/\(group)", [["op": "Add", "path": "members", "value": ids.map { ["value": $0] }]])
                    #expect(added.status == .ok, "\(added.text)")
                    #expect((added.json["members"] as? [Any])?.count == 5, "the directory's data is stored as sent")
                    let errors = try await api.call(.get, "/api/v1/assignment-errors")
                    #expect(errors.items.compactMap { $0["login"] as? String } == ["member4", "member5"])
                    #expect(errors.items.first?["code"] as? String == "SEAT_LIMIT_EXCEEDED")
                    #expect(errors.items.first?["limit"] as? Int == 3 && errors.items.first?["inUse"] as? Int == 3)
                    let user4 = try await api.call(.get, "/api/v1/users/member4")
                    #expect((user4.json["assignmentErrors"] as? [[String: Any]])?.first?["accessGroup"] as? String == "Doc readers")
                    #expect(harness.registry.access.snapshot.seatCount(keySerial: key.serial) == (held: 3, over: 0))
                    func allowed(_ login: String) -> Bool {
                        harness.registry.access.snapshot.check(login: login, component: "DOC", menu: "DC021", at: harness.clock.now).allowed
                    }
                    #expect((1...5).map { allowed("member\($0)") } == [true, true, true, false, false])
                    let logins = (1...5).map { "member\($0)" }
                    _ = try await AccessEngineTests.expectAgreement(harness.registry, logins: logins, serials: [key.serial], step: "five pushed")

                    // One leaves the directory group: their seat goes to the oldest error, by itself.
                    let removed = try await scim.patch("/Groups/\(group)", [["op": "Remove", "path": "members[value eq \"\(ids[0])\"]"]])
                    #expect(removed.status == .ok)
                    #expect((1...5).map { allowed("member\($0)") } == [false, true, true, true, false])
                    #expect(try await api.call(.get, "/api/v1/assignment-errors").items.compactMap { $0["login"] as? String } == ["member5"])
                    // Another is removed from the directory (DELETE): disabled, their seat freed, the last error cleared.
                    #expect(try await scim.call(.delete, "/Users/\(ids[1])").status == .noContent)
                    #expect((1...5).map { allowed("member\($0)") } == [false, false, true, true, true])
                    #expect(try await api.call(.get, "/api/v1/assignment-errors").items.isEmpty)
                    _ = try await AccessEngineTests.expectAgreement(harness.registry, logins: logins, serials: [key.serial], step: "seats freed")

                    // An administrator's removal of a user who is in a linked directory group leaves them in.
                    let kept = try await api.call(.delete, "/api/v1/access-groups/Doc%20readers/users", json: #"{"logins":["member3"]}"#)
                    #expect((kept.json["users"] as? [String])?.contains("member3") == true)
                    // Unlinked: the group keeps only the users added directly (none).
                    let unlinked = try await api.call(.put, "/api/v1/access-groups/Doc%20readers/directory-groups", json: #"{"directoryGroups":[]}"#)
                    #expect(unlinked.json["removed"] as? Int == 3)
                    #expect(try await api.call(.get, "/api/v1/access-groups/Doc%20readers").json["users"] as? [String] == [])
                    _ = try await AccessEngineTests.expectAgreement(harness.registry, logins: logins, serials: [key.serial], step: "unlinked")
                    let bad = try await api.call(.put, "/api/v1/access-groups/Doc%20readers/directory-groups", json: #"{"directoryGroups":["nope"]}"#)
                    #expect(bad.status == .unprocessableContent && bad.errorCode == "UNKNOWN_DIRECTORY_GROUP")
                }
            }
        }

        @Test(arguments: Backend.available)
        func anEmptyGroupPushedByMistakeIsHeldUntilAnAdministratorDecides(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let key = try await harness.registerAndActivate(harness.accessKey(users: 100, components: ["DOC", "WF"]), idNumber: "Docs")
                try await harness.withAPI { api in
                    let scim = try await SCIMClient(api)
                    var ids: [String] = []
                    for n in 0..<20 { ids.append(try await scim.createUser("staff\(n)")) }
                    for name in ["Engineering", "Support"] {
                        let made = try await api.call(
                            .post, "/api/v1/access-groups",
                            body: AccessGroupInput(idNumber: name, name: name, keySerial: key.serial, component: "DOC", menus: ["DC021"]))
                        #expect(made.status == .created)
                        let group = try await scim.createGroup(name, members: name == "Support" ? Array(ids[10...]) : ids)
                        #expect(
                            try await api.call(.put, "/api/v1/access-groups/\(name)/directory-groups", json: #"{"directoryGroups":["\#(group)"]}"#)
                                .status == .ok)
                    }
                    let groups = try await scim.call(.get, "/Groups?excludedAttributes=members")
                    let engineering = try #require(groups.resources.first { $0["displayName"] as? String == "Engineering" }?["id"] as? String)
                    let support = try #require(groups.resources.first { $0["displayName"] as? String == "Support" }?["id"] as? String)
                    #expect(groups.resources.allSatisfy { $0["members"] == nil }, "members left out as asked")

                    // A few leave: below the guard (3 of 20, 15%), applied at once.
                    let few = try await scim.patch(
                        "/Groups/\(engineering)", ids.prefix(3).map { ["op": "remove", "path": "members[value eq \"\($0)\"]"] })
                    #expect(few.status == .ok)
                    #expect(try await harness.store.group("Engineering")?.users.count == 17)

                    // The classic accident: the identity provider pushes the group empty. Stored as sent, not applied.
                    let empty = try await scim.call(
                        .put, "/Groups/\(engineering)", object: ["schemas": [SCIMSchema.groupURI], "displayName": "Engineering", "members": []])
                    #expect(empty.status == .ok, "the provider is not refused")
                    #expect((empty.json["members"] as? [Any])?.isEmpty == true, "the directory's data is stored as sent")
                    #expect(try await harness.store.group("Engineering")?.users.count == 17, "nobody lost access")
                    func allowed(_ login: String) -> Bool {
                        harness.registry.access.snapshot.check(login: login, component: "DOC", menu: "DC021", at: harness.clock.now).allowed
                    }
                    #expect(allowed("staff10"))
                    let held = try await api.call(.get, "/api/v1/directory/held-changes")
                    let change = try #require(held.items.first)
                    #expect(held.items.count == 1 && change["accessGroup"] as? String == "Engineering" && change["removed"] as? Int == 17)
                    #expect(change["groupSize"] as? Int == 17 && change["status"] as? String == "held")
                    let id = try #require(change["id"] as? Int)

                    // Confirmed: they lose the access the directory took from them, once.
                    let confirmed = try await api.call(.post, "/api/v1/directory/held-changes/\(id)/confirm")
                    #expect(confirmed.status == .ok && confirmed.json["status"] as? String == "confirmed")
                    #expect(try await harness.store.group("Engineering")?.users == [])
                    #expect(!allowed("staff5") && allowed("staff10"), "staff10 keeps access through Support")
                    let again = try await api.call(.post, "/api/v1/directory/held-changes/\(id)/confirm")
                    #expect(again.status == .conflict && again.errorCode == "HELD_CHANGE_DECIDED")
                    #expect(try await api.call(.post, "/api/v1/directory/held-changes/999/discard").status == .notFound)

                    // The directory group deleted by mistake: held too; discarded, the users stay, as added by hand.
                    #expect(try await scim.call(.delete, "/Groups/\(support)").status == .noContent)
                    #expect(try await harness.store.group("Support")?.users.count == 10)
                    let second = try #require(try await api.call(.get, "/api/v1/directory/held-changes").items.first?["id"] as? Int)
                    let discarded = try await api.call(.post, "/api/v1/directory/held-changes/\(second)/discard")
                    #expect(discarded.status == .ok && discarded.json["status"] as? String == "discarded")
                    #expect(try await harness.store.group("Support")?.users.count == 10)
                    #expect(try await harness.store.directoryOnlyMembers(ofAccessGroup: "Support").isEmpty, "kept as users added by hand")
                    #expect(try await api.call(.get, "/api/v1/directory/held-changes").items.isEmpty)
                    #expect(try await api.call(.get, "/api/v1/directory/held-changes?all=true").items.count == 2)
                    let badQuery = try await api.call(.get, "/api/v1/directory/held-changes?all=yes")
                    #expect(badQuery.status == .unprocessableContent && badQuery.errorCode == "INVALID_QUERY")
                    _ = try await AccessEngineTests.expectAgreement(
                        harness.registry, logins: (0..<20).map { "staff\($0)" }, serials: [key.serial], step: "held changes")
                    let audit = try await api.call(.get, "/api/v1/audit-events?limit=200")
                    #expect(audit.text.contains("directory.change-held") && audit.text.contains("directory.change-confirmed"))
                    #expect(audit.text.contains("directory.change-discarded"))
                }
            }
        }

        /// A group of 10,000 members, replaced by one PUT, read back, and changed by a member filter: the members are
        /// stored in bulk (the users too, so the test stays quick) and every one reaches the linked access group.
        @Test func aGroupHoldsTenThousandMembers() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let users = (0..<10_000).map { number in
                    DirectorySnapshot.User(
                        id: "user-\(number)", login: "member\(number)", name: "Member \(number)", email: "", externalId: nil, attributes: "{}")
                }
                _ = try await harness.store.applyDirectorySnapshot(
                    DirectorySnapshot(users: users, groups: []), source: .scim, actor: "test", now: harness.clock.now, guard: nil,
                    notice: { _ in nil })
                let key = try await harness.registerAndActivate(harness.accessKey(users: 10_000, components: ["DOC"]), idNumber: "Docs")
                try await harness.withAPI { api in
                    let scim = try await SCIMClient(api)
                    let group = try await scim.createGroup("Everyone")
                    #expect(
                        try await api.call(
                            .post, "/api/v1/access-groups",
                            body: AccessGroupInput(idNumber: "All", name: "All", keySerial: key.serial, component: "DOC", menus: ["DC021"])
                        ).status == .created)
                    #expect(
                        try await api.call(.put, "/api/v1/access-groups/All/directory-groups", json: #"{"directoryGroups":["\#(group)"]}"#).status
                            == .ok)
                    let replaced = try await scim.call(
                        .put, "/Groups/\(group)",
                        object: [
                            "schemas": [SCIMSchema.groupURI], "displayName": "Everyone", "members": users.map { ["value": $0.id] },
                        ])
                    #expect(replaced.status == .ok, "\(replaced.text.prefix(300))")
                    let read = try await scim.call(.get, "/Groups/\(group)")
                    #expect((read.json["members"] as? [[String: Any]])?.count == 10_000)
                    let light = try await scim.call(.get, "/Groups/\(group)?excludedAttributes=members")
                    #expect(light.json["members"] == nil && light.json["displayName"] as? String == "Everyone")
                    #expect(try await harness.store.directoryOnlyMembers(ofAccessGroup: "All").count == 10_000)
                    let removed = try await scim.patch("/Groups/\(group)", [["op": "remove", "path": #"members[value eq "user-9999"]"#]])
                    #expect(removed.status == .ok || removed.status == .noContent, "\(removed.text.prefix(300))")
                    let members = try await harness.store.directoryOnlyMembers(ofAccessGroup: "All")
                    #expect(members.count == 9_999 && !members.contains("member9999"))
                }
            }
        }

        @Test(arguments: Backend.available)
        func concurrentProvisioningNeverOverAllocatesSeats(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let key = try await harness.registerAndActivate(harness.accessKey(users: 10, components: ["DOC", "WF"]), idNumber: "Docs")
                try await harness.withAPI { api in
                    let scim = try await SCIMClient(api)
                    var groups: [String] = []
                    for (n, component, menu) in [(1, "DOC", "DC021"), (2, "WF", "WF001")] {
                        let made = try await api.call(
                            .post, "/api/v1/access-groups",
                            body: AccessGroupInput(idNumber: "G\(n)", name: "G\(n)", keySerial: key.serial, component: component, menus: [menu]))
                        #expect(made.status == .created)
                        let directory = try await scim.createGroup("Directory \(n)")
                        #expect(
                            try await api.call(.put, "/api/v1/access-groups/G\(n)/directory-groups", json: #"{"directoryGroups":["\#(directory)"]}"#)
                                .status == .ok)
                        groups.append(directory)
                    }
                    var ids: [String] = []
                    for n in 0..<24 { ids.append(try await scim.createUser("u\(n)")) }
                    // Twelve different users pushed into each group, one request per member, all at once.
                    try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { tasks in
                        for (index, id) in ids.enumerated() {
                            let group = groups[index % 2]
                            tasks.addTask {
                                try await scim.patch("/Groups/\(group)", [["op": "add", "path": "members", "value": [["value": id]]]]).status
                            }
                        }
                        for try await status in tasks { #expect(status == .ok) }
                    }
                    let holders = try await harness.store.database.read { sql in
                        try await sql.raw(
                            "SELECT COUNT(DISTINCT m.login_folded) AS n FROM group_members m JOIN access_groups g ON g.id = m.group_id WHERE g.key_serial = \(bind: key.serial)"
                        ).first()?.decode(column: "n", as: Int.self)
                    }
                    #expect(holders == 10, "exactly the key's seats are taken")
                    #expect(try await harness.store.assignmentErrors().count == 14)
                    _ = try await AccessEngineTests.expectAgreement(
                        harness.registry, logins: (0..<24).map { "u\($0)" }, serials: [key.serial], step: "concurrent")
                }
            }
        }
    }
}

extension RegistryTests {
    /// The web UI's directory pieces: a group's directory groups, the members who wait for a seat, Reprocess, and a
    /// directory user's page, which offers no edit.
    @Suite struct DirectoryWebTests {
        typealias Browser = WebUITests.Browser

        @Test func anAdministratorLinksDirectoryGroupsAndSeesWhoWaitsForASeat() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let registry = harness.registry
                let key = try await harness.registerAndActivate(harness.accessKey(users: 2, components: ["DOC"]), idNumber: "Docs")
                _ = try await registry.createGroup(
                    AccessGroupInput(idNumber: "Doc readers", name: "Readers", keySerial: key.serial, component: "DOC", menus: ["DC021"]),
                    actor: "test")
                let scim = SCIMProvisioning(registry: registry, base: "http://registry.test/scim/v2")
                var ids: [String] = []
                for login in ["dir.ann", "dir.bob", "dir.cyd"] {
                    let made = try await scim.createUser([
                        "schemas": [.string(SCIMSchema.userURI)], "userName": .string(login), "displayName": "Directory User",
                    ])
                    ids.append(try #require(made.resource.member("id")?.string))
                }
                let group = try await scim.createGroup(
                    ["schemas": [.string(SCIMSchema.groupURI)], "displayName": "Quality team", "members": .array(ids.map { ["value": .string($0)] })])
                let groupID = try #require(group.resource.member("id")?.string)
                let first = ids[0]
                try await WebUITests().withBrowser(harness) { browser in
                    _ = try await browser.logIn()
                    let page = try await browser.request(.get, "/access-groups/Doc%20readers")
                    let csrf = try #require(Browser.csrf(in: page))
                    #expect(String(buffer: page.body).contains(#"id="dg-\#(groupID)""#) && String(buffer: page.body).contains("Quality team"))

                    let linked = try await AccessWebTests.post(
                        &browser, "/access-groups/Doc%20readers/directory-groups", [("_csrf", csrf), ("directoryGroups", groupID)])
                    #expect(linked.headers[.location] == "/access-groups/Doc%20readers?flash=directory-linked-short")
                    let after = String(buffer: try await browser.request(.get, "/access-groups/Doc%20readers?flash=directory-linked-short").body)
                    #expect(after.contains("too few seats") && after.contains(#"id="waiting""#) && after.contains("dir.cyd"))
                    #expect(after.contains("badge-directory"), "members from the directory are marked")

                    let dashboard = String(buffer: try await browser.request(.get, "/dashboard").body)
                    #expect(dashboard.contains(#"id="waiting-count">1<"#) && dashboard.contains("has 2 seats"))
                    #expect(dashboard.contains("dir.cyd"))

                    // A seat frees (Ann disabled by the directory) and Reprocess gives it to Cyd.
                    _ = try await scim.patchUser(
                        id: first,
                        ["schemas": [.string(SCIMPatch.messageSchema)], "Operations": [["op": "replace", "path": "active", "value": "False"]]],
                        ifVersion: nil)
                    #expect(try await harness.store.assignmentErrors().isEmpty, "retried by itself when the seat freed")
                    let reprocessed = try await AccessWebTests.post(
                        &browser, "/assignment-errors/reprocess", [("_csrf", csrf), ("back", "//evil.example")])
                    #expect(reprocessed.headers[.location] == "/?flash=reprocessed", "never sent to another site")

                    let user = String(buffer: try await browser.request(.get, "/users/dir.bob").body)
                    #expect(user.contains("from the directory (SCIM)") && !user.contains(#"id="save""#))
                    let edit = try await AccessWebTests.post(
                        &browser, "/users/dir.bob", [("_csrf", csrf), ("name", "Changed"), ("email", "x@example.com")])
                    #expect(String(buffer: edit.body).contains("DIRECTORY_USER"))
                    #expect(try await harness.store.user("dir.bob")?.name == "Directory User")
                }
            }
        }
    }
}

extension JSONValue {
    func member(_ name: String) -> JSONValue? {
        if case .object(let members) = self { return members[name] }
        return nil
    }
}
