import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardRegistryHTTP
import KeywardStore
import KeywardTestSupport
import Testing

/// Users, access groups, seats, sessions and entitlement checks through the API, on every store backend.
@Suite struct AccessAPITests {
    static func json(_ object: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    @Test(arguments: Backend.services)
    func usersAreCreatedSearchedChangedAndRefusedInWords(backend: Backend) async throws {
        try await RegistryHarness.run(backend) { harness in
            try await harness.withAPI { api in
                let created = try await api.call(
                    .post, "/api/v1/users", json: Self.json(["login": "j.smith", "name": "Jane Smith", "email": "jane@example.com"]))
                #expect(created.status == .created)
                #expect(created.json["active"] as? Bool == true)
                #expect(created.json["hasPassword"] as? Bool == false)
                _ = try await api.call(.post, "/api/v1/users", json: Self.json(["login": "bob", "name": "Bob Stone", "email": "bob@example.com"]))

                let before = try await harness.fingerprint()
                let refusals: [([String: Any], HTTPResponse.Status, String)] = [
                    (["login": "J.Smith", "name": "Other", "email": "o@example.com"], .conflict, "DUPLICATE_LOGIN"),
                    (["login": "ADMIN", "name": "Sneaky", "email": "s@example.com"], .conflict, "LOGIN_RESERVED"),
                    (["login": "x", "name": "X", "email": "not-an-email"], .unprocessableContent, "INVALID_EMAIL"),
                    (["login": String(repeating: "a", count: 65), "name": "X", "email": "x@example.com"], .unprocessableContent, "INVALID_LOGIN"),
                    (
                        ["login": "robert'); DROP TABLE registry_users;--", "name": "X", "email": "x@example.com"], .unprocessableContent,
                        "INVALID_LOGIN"
                    ),
                    (["login": "x", "name": "", "email": "x@example.com"], .unprocessableContent, "INVALID_NAME"),
                    (["login": "x", "name": "X", "email": "x@example.com", "password": "short"], .unprocessableContent, "INVALID_PASSWORD"),
                    // 8 characters in 13 bytes: the minimum counts characters (found by scripts/verify_api.py).
                    (
                        ["login": "x", "name": "X", "email": "x@example.com", "password": "\u{ed}\u{9a}\u{c7}{\u{f9}\u{5bc46}(\u{c3}"],
                        .unprocessableContent, "INVALID_PASSWORD"
                    ),
                    // 20 characters in 80 bytes: the maximum counts bytes, bcrypt's limit.
                    (
                        ["login": "x", "name": "X", "email": "x@example.com", "password": String(repeating: "\u{1F512}", count: 20)],
                        .unprocessableContent, "INVALID_PASSWORD"
                    ),
                    (["login": "x", "name": "X"], .unprocessableContent, "INVALID_FIELD"),
                ]
                for (body, status, code) in refusals {
                    let reply = try await api.call(.post, "/api/v1/users", json: Self.json(body))
                    #expect(reply.status == status, "\(code)")
                    #expect(reply.errorCode == code)
                }
                #expect(try await harness.fingerprint() == before, "no refusal wrote anything")

                #expect(try await api.call(.get, "/api/v1/users?search=SMI").items.map { $0["login"] as? String } == ["j.smith"])
                #expect(try await api.call(.get, "/api/v1/users?search=%25").items.isEmpty, "a % in the search matches itself")
                #expect(try await api.call(.get, "/api/v1/users?limit=1").items.map { $0["login"] as? String } == ["bob"])
                #expect(try await api.call(.get, "/api/v1/users?limit=1&after=bob").items.map { $0["login"] as? String } == ["j.smith"])
                #expect(try await api.call(.get, "/api/v1/users/admin").status == .notFound, "the built-in administrator is not a suite user")

                let changed = try await api.call(
                    .patch, "/api/v1/users/J.SMITH", json: Self.json(["name": "Jane Smith-Jones", "password": "a long enough password"]))
                #expect(changed.json["name"] as? String == "Jane Smith-Jones")
                #expect(changed.json["hasPassword"] as? Bool == true)
                #expect(try await api.call(.post, "/api/v1/users/j.smith/disable").json["active"] as? Bool == false)
                #expect(
                    try await api.call(
                        .post, "/api/v1/auth/token", token: .some(nil), json: #"{"login":"j.smith","password":"a long enough password"}"#
                    ).status == .unauthorized,
                    "a disabled user cannot log in")
                #expect(try await api.call(.post, "/api/v1/users/j.smith/enable").json["active"] as? Bool == true)
                #expect(
                    try await api.call(.post, "/api/v1/auth/token", token: .some(nil), json: #"{"login":"bob","password":""}"#).status
                        == .unauthorized,
                    "a user without a password cannot log in")
                // 12 characters in 20 bytes: long enough, and the user logs in with it.
                let accented = String(repeating: "\u{c9}t\u{e9}", count: 4)
                #expect(
                    try await api.call(
                        .post, "/api/v1/users", json: Self.json(["login": "ana", "name": "Ana", "email": "ana@example.com", "password": accented])
                    ).status == .created)
                #expect(
                    try await api.call(.post, "/api/v1/auth/token", token: .some(nil), json: Self.json(["login": "ana", "password": accented])).status
                        == .created)
            }
        }
    }

    @Test(arguments: Backend.services)
    func groupsFollowTheKeyAndNeverOverAllocateItsSeats(backend: Backend) async throws {
        try await RegistryHarness.run(backend) { harness in
            let key = try await harness.registerAndActivate(harness.accessKey(users: 2, profile: .staff, components: ["DOC"]), idNumber: "Docs")
            for login in ["ann", "bob", "cyd"] {
                _ = try await harness.registry.createUser(
                    UserInput(login: login, name: login.capitalized, email: "\(login)@example.com"), actor: "test")
            }
            try await harness.withAPI { api in
                func group(_ fields: [String: Any]) -> String {
                    Self.json(
                        ["idNumber": "Writers", "name": "Writers", "keySerial": key.serial, "component": "DOC", "menus": ["DC021"]].merging(fields) {
                            $1
                        })
                }
                let before = try await harness.fingerprint()
                let refused: [(String, String)] = [
                    (group(["component": "WF"]), "COMPONENT_NOT_IN_KEY"),
                    (group(["menus": ["DC021", "DC030"]]), "MENU_NOT_ALLOWED_FOR_PROFILE"),
                    (group(["menus": ["XX999"]]), "UNKNOWN_MENU"),
                    (group(["menus": []]), "INVALID_MENUS"),
                    (group(["keySerial": "KW-NONE-0000"]), "UNKNOWN_KEY"),
                    (group(["users": ["ann", "zed", "yan"]]), "UNKNOWN_USER"),
                    (group(["users": ["ann", "bob", "cyd"]]), "SEAT_LIMIT_EXCEEDED"),
                ]
                for (body, code) in refused {
                    let reply = try await api.call(.post, "/api/v1/access-groups", json: body)
                    #expect(reply.errorCode == code, "\(reply.status) \(String(decoding: reply.body, as: UTF8.self))")
                }
                let profileRefusal = try await api.call(.post, "/api/v1/access-groups", json: group(["menus": ["DC021", "DC030"]]))
                #expect(
                    (profileRefusal.json["error"] as? [String: Any]).flatMap { $0["details"] as? [String: Any] }?["menus"] as? [String] == ["DC030"],
                    "only the menu above the profile is named")
                let unknown = try await api.call(.post, "/api/v1/access-groups", json: group(["users": ["ann", "zed", "yan"]]))
                #expect(
                    (unknown.json["error"] as? [String: Any]).flatMap { $0["details"] as? [String: Any] }?["logins"] as? [String] == ["zed", "yan"])
                #expect(try await harness.fingerprint() == before)

                let created = try await api.call(.post, "/api/v1/access-groups", json: group(["users": ["ann", "bob"]]))
                #expect(created.status == .created)
                #expect(created.json["users"] as? [String] == ["ann", "bob"])
                #expect(try await api.call(.post, "/api/v1/access-groups", json: group(["idNumber": "WRITERS"])).errorCode == "DUPLICATE_GROUP")

                let full = try await api.call(.post, "/api/v1/access-groups/writers/users", json: Self.json(["logins": ["cyd"]]))
                #expect(full.status == .conflict)
                #expect(full.errorCode == "SEAT_LIMIT_EXCEEDED")
                let figures = try #require((full.json["error"] as? [String: Any])?["details"] as? [String: Any])
                #expect(figures["keySerial"] as? String == key.serial)
                #expect(figures["limit"] as? Int == 2)
                #expect(figures["inUse"] as? Int == 2)
                #expect(figures["requested"] as? Int == 1)

                // A user in two groups on one key holds one seat.
                let second = try await api.call(
                    .post, "/api/v1/access-groups", json: group(["idNumber": "Readers", "name": "Readers", "users": ["ann"]]))
                #expect(second.status == .created)

                func check(_ login: String) async throws -> [String: Any] {
                    try await api.call(.get, "/api/v1/entitlements/check?login=\(login)&component=DOC&menu=DC021").json
                }
                #expect(try await check("ann")["allowed"] as? Bool == true)
                #expect(try await check("ann")["keySerial"] as? String == key.serial)
                #expect(try await check("cyd")["code"] as? String == "NO_ACCESS")

                #expect(try await api.call(.delete, "/api/v1/license-keys/\(key.serial)").errorCode == "KEY_IN_USE")

                // Read your writes: the change is in the very next answer.
                #expect(try await api.call(.delete, "/api/v1/access-groups/Writers/users", json: Self.json(["logins": ["bob"]])).status == .ok)
                #expect(try await check("bob")["code"] as? String == "NO_ACCESS")
                #expect(try await api.call(.post, "/api/v1/access-groups/Writers/users", json: Self.json(["logins": ["CYD"]])).status == .ok)
                #expect(try await check("cyd")["allowed"] as? Bool == true)
                // A disabled user frees the seat; enabling them again needs one.
                #expect(try await api.call(.post, "/api/v1/users/cyd/disable").status == .ok)
                #expect(try await check("cyd")["code"] as? String == "USER_DISABLED")
                #expect(try await api.call(.post, "/api/v1/access-groups/Writers/users", json: Self.json(["logins": ["bob"]])).status == .ok)
                #expect(try await api.call(.post, "/api/v1/users/cyd/enable").errorCode == "SEAT_LIMIT_EXCEEDED")

                let batch = try await api.call(
                    .post, "/api/v1/entitlements/check",
                    json: Self.json([
                        "checks": [
                            ["login": "ann", "component": "DOC", "menu": "DC021"], ["login": "bob", "component": "DOC", "menu": "DC022"],
                            ["login": "nobody", "component": "DOC", "menu": "DC021"],
                        ]
                    ]))
                #expect((batch.json["results"] as? [[String: Any]])?.map { $0["code"] as? String } == ["ALLOWED", "NO_ACCESS", "UNKNOWN_USER"])
                let entitlements = try await api.call(.get, "/api/v1/users/ann/entitlements").json
                #expect((entitlements["components"] as? [[String: Any]])?.first?["menus"] as? [String] == ["DC021"])

                #expect(try await api.call(.delete, "/api/v1/access-groups/Readers").status == .noContent)
                #expect(try await api.call(.delete, "/api/v1/access-groups/Writers").status == .noContent)
                #expect(try await api.call(.delete, "/api/v1/license-keys/\(key.serial)").status == .noContent, "a key no group uses can go")
            }
        }
    }

    @Test(arguments: Backend.services)
    func floatingSeatsAreHeldBySessionsWhileTheirLeaseLasts(backend: Backend) async throws {
        try await RegistryHarness.run(backend) { harness in
            let floating = try await harness.registerAndActivate(
                harness.accessKey(users: 1, useType: .floating, components: ["WF"]), idNumber: "Workflow")
            let nominative = try await harness.registerAndActivate(harness.accessKey(users: 5, components: ["WF"]), idNumber: "Named")
            for login in ["ann", "bob", "cyd"] {
                _ = try await harness.registry.createUser(
                    UserInput(login: login, name: login.capitalized, email: "\(login)@example.com"), actor: "test")
            }
            _ = try await harness.registry.createGroup(
                AccessGroupInput(
                    idNumber: "Floaters", name: "Floaters", keySerial: floating.serial, component: "WF", menus: ["WF001"],
                    users: ["ann", "bob", "cyd"]), actor: "test")
            _ = try await harness.registry.createGroup(
                AccessGroupInput(
                    idNumber: "Named", name: "Named", keySerial: nominative.serial, component: "WF", menus: ["WF002"],
                    users: ["cyd"]), actor: "test")
            let service = try await harness.serviceToken()
            try await harness.withAPI { admin in
                var api = admin
                api.token = service
                let ann = try await api.call(.post, "/api/v1/sessions", json: Self.json(["login": "ann", "ip": "192.0.2.10"]))
                #expect(ann.status == .created)
                #expect(ann.json["keySerial"] as? String == floating.serial)
                let annID = try #require(ann.json["sessionId"] as? String)
                #expect(try await api.call(.post, "/api/v1/sessions", json: Self.json(["login": "bob"])).errorCode == "NO_SEAT_AVAILABLE")
                #expect(try await api.call(.get, "/api/v1/entitlements/check?login=ann&component=WF&menu=WF001").json["allowed"] as? Bool == true)
                #expect(
                    try await api.call(.get, "/api/v1/entitlements/check?login=bob&component=WF&menu=WF001").json["code"] as? String == "NO_SESSION")
                // A nominative seat the user holds comes first, and leaves the floating seat alone.
                let cyd = try await api.call(.post, "/api/v1/sessions", json: Self.json(["login": "cyd"]))
                #expect(cyd.json["keySerial"] as? String == nominative.serial)
                #expect(try await api.call(.post, "/api/v1/sessions", json: Self.json(["login": "nobody"])).errorCode == "UNKNOWN_USER")
                #expect(try await api.call(.get, "/api/v1/users").status == .forbidden, "a service token administers nothing")

                #expect(try await api.call(.post, "/api/v1/sessions/\(annID)/heartbeat").status == .ok)
                harness.clock.advance(by: 16 * 60)
                // The lease ran out: the seat is free, and the old session cannot be renewed.
                #expect(try await api.call(.post, "/api/v1/sessions/\(annID)/heartbeat").errorCode == "SESSION_ENDED")
                let bob = try await api.call(.post, "/api/v1/sessions", json: Self.json(["login": "bob"]))
                #expect(bob.json["keySerial"] as? String == floating.serial)
                let bobID = try #require(bob.json["sessionId"] as? String)
                #expect(try await api.call(.delete, "/api/v1/sessions/\(bobID)").json["endReason"] as? String == "logout")
                let again = try await api.call(.post, "/api/v1/sessions", json: Self.json(["login": "bob"]))
                #expect(again.status == .created)

                // cyd's lease ran out with ann's: only bob is logged in now.
                let open = try await admin.call(.get, "/api/v1/sessions").items
                #expect(open.compactMap { $0["login"] as? String } == ["bob"])
                #expect(
                    try await admin.call(.post, "/api/v1/sessions/disconnect", json: Self.json(["login": "bob"])).json["disconnected"] as? Int == 1)
                #expect(
                    try await api.call(.post, "/api/v1/sessions", json: Self.json(["login": "ann"])).status == .created,
                    "the disconnection freed the seat")
                #expect(try await admin.call(.post, "/api/v1/sessions/disconnect", json: "{}").json["disconnected"] as? Int == 1)
                #expect(try await admin.call(.get, "/api/v1/sessions").items.isEmpty)
                let history = try await admin.call(.get, "/api/v1/sessions?state=all").items
                #expect(history.count == 5)
                #expect(Set(history.compactMap { $0["endReason"] as? String }) == ["expired", "logout", "disconnected"])
                #expect(history.contains { $0["ip"] as? String == "192.0.2.10" })
            }
        }
    }

    @Test(arguments: Backend.services)
    func onlyManagersAdministerAndEveryoneElseGets403(backend: Backend) async throws {
        try await RegistryHarness.run(backend) { harness in
            let manager = try await harness.registerAndActivate(
                harness.accessKey(users: 5, profile: .manager, components: ["CFG"]), idNumber: "Admins")
            let staff = try await harness.registerAndActivate(harness.accessKey(users: 5, profile: .staff, components: ["CFG"]), idNumber: "Staff")
            for login in ["mia", "sam"] {
                _ = try await harness.registry.createUser(
                    UserInput(login: login, name: login.capitalized, email: "\(login)@example.com", password: "a long enough password"), actor: "test"
                )
            }
            _ = try await harness.registry.createGroup(
                AccessGroupInput(
                    idNumber: "Admins", name: "Admins", keySerial: manager.serial, component: "CFG", menus: ["CM009", "CM010", "CM011"],
                    users: ["mia"]), actor: "test")
            _ = try await harness.registry.createGroup(
                AccessGroupInput(
                    idNumber: "Helpdesk", name: "Helpdesk", keySerial: staff.serial, component: "CFG", menus: ["CM012", "CM013"], users: ["sam"]),
                actor: "test")
            try await harness.withAPI { admin in
                func token(_ login: String) async throws -> String {
                    try #require(
                        try await admin.call(
                            .post, "/api/v1/auth/token", token: .some(nil), json: Self.json(["login": login, "password": "a long enough password"])
                        ).json["token"] as? String)
                }
                let mia = try await token("mia")
                let sam = try await token("sam")
                let user = Self.json(["login": "new", "name": "New", "email": "new@example.com"])
                #expect(try await admin.call(.post, "/api/v1/users", token: .some(sam), json: user).status == .forbidden)
                #expect(try await admin.call(.get, "/api/v1/license-keys", token: .some(sam)).status == .forbidden)
                #expect(try await admin.call(.post, "/api/v1/users", token: .some(mia), json: user).status == .created)
                #expect(try await admin.call(.get, "/api/v1/license-keys", token: .some(mia)).status == .ok)
                // Losing the manager group takes the right away at once.
                #expect(try await admin.call(.delete, "/api/v1/access-groups/Admins/users", json: Self.json(["logins": ["mia"]])).status == .ok)
                #expect(try await admin.call(.get, "/api/v1/license-keys", token: .some(mia)).status == .forbidden)
                #expect(try await admin.call(.get, "/api/v1/license-keys", token: .some(nil)).status == .unauthorized)
            }
        }
    }
}

/// The Authorization header as clients write it: the scheme in any case, spaces around the token.
@Suite struct BearerHeaderTests {
    @Test func theSchemeIgnoresCaseAndSpacesAroundTheTokenAreIgnored() async throws {
        try await RegistryHarness.run(.sqliteMemory) { harness in
            let token = try await harness.serviceToken()
            let app = Application(router: buildRegistryRouter(try await RegistryDependencies(registry: harness.registry, metrics: .init())))
            try await app.test(.router) { client async throws in
                func status(_ header: String) async throws -> HTTPResponse.Status {
                    try await client.executeRequest(
                        uri: "/api/v1/entitlements/check?login=a&component=DOC&menu=DC021", method: .get,
                        headers: [.authorization: header], body: nil
                    ).status
                }
                for header in ["Bearer \(token)", "bearer \(token)", "BEARER   \(token)  "] {
                    #expect(try await status(header) == .ok, "\(header)")
                }
                // Twice: the second answer comes from the token cache and must agree.
                #expect(try await status("Bearer \(token)x") == .unauthorized)
                #expect(try await status("Bearer \(token)x") == .unauthorized)
                // RFC 7235: the scheme, then a space (a tab is not one).
                for header in ["Basic \(token)", "Bearer", "Bearer    ", "Bearers \(token)", "Bearer\t\(token)"] {
                    #expect(try await status(header) == .unauthorized, "\(header)")
                }
            }
        }
    }
}
