import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import KeywardTestSupport
import Testing

@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// Users, access groups, seats, sessions and entitlement checks through the API, on every store backend.
    @Suite struct AccessAPITests {
        static func json(_ object: [String: Any]) -> String { jsonObject(object) }

        /// A user the API refuses: the body, the status and the code.
        static let userRefusals: [(body: [String: String], status: HTTPResponse.Status, code: String)] = [
            (["login": "J.Smith", "name": "Other", "email": "o@example.com"], .conflict, "DUPLICATE_LOGIN"),
            (["login": "ADMIN", "name": "Sneaky", "email": "s@example.com"], .conflict, "LOGIN_RESERVED"),
            (["login": "x", "name": "X", "email": "not-an-email"], .unprocessableContent, "INVALID_EMAIL"),
            (
                ["login": String(repeating: "a", count: 65), "name": "X", "email": "x@example.com"], .unprocessableContent,
                "INVALID_LOGIN"
            ),
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

        @Test(arguments: Backend.services, userRefusals)
        func aBadUserIsRefusedInWordsAndNothingIsWritten(
            backend: Backend, refusal: (body: [String: String], status: HTTPResponse.Status, code: String)
        ) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    _ = try await api.users.create(login: "j.smith", name: "Jane Smith", email: "jane@example.com")
                    _ = try await api.users.create(login: "bob", name: "Bob Stone", email: "bob@example.com")
                    let before = try await harness.fingerprint()
                    let reply = try await api.users.create(json: Self.json(refusal.body))
                    #expect(reply.status == refusal.status, "\(refusal.code)")
                    #expect(reply.errorCode == refusal.code)
                    #expect(try await harness.fingerprint() == before, "no refusal wrote anything")
                }
            }
        }

        @Test(arguments: Backend.services)
        func usersAreCreatedSearchedAndChanged(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await harness.withAPI { api in
                    let created = try await api.users.create(login: "j.smith", name: "Jane Smith", email: "jane@example.com")
                    #expect(created.status == .created)
                    #expect(try created.value.active == true)
                    #expect(try created.value.hasPassword == false)
                    _ = try await api.users.create(login: "bob", name: "Bob Stone", email: "bob@example.com")

                    #expect(try await api.users.list("search=SMI").value.items.map(\.login) == ["j.smith"])
                    #expect(try await api.users.list("search=%25").value.items.isEmpty, "a % in the search matches itself")
                    #expect(try await api.users.list("limit=1").value.items.map(\.login) == ["bob"])
                    #expect(try await api.users.list("limit=1&after=bob").value.items.map(\.login) == ["j.smith"])
                    #expect(try await api.users.show("admin").status == .notFound, "the built-in administrator is not a suite user")

                    let changed = try await api.users.update(
                        "J.SMITH", json: Self.json(["name": "Jane Smith-Jones", "password": "a long enough password"]))
                    #expect(try changed.value.name == "Jane Smith-Jones")
                    #expect(try changed.value.hasPassword == true)
                    #expect(try await api.users.disable("j.smith").value.active == false)
                    #expect(
                        try await api.call(
                            .post, "/api/v1/auth/token", token: .some(nil), json: #"{"login":"j.smith","password":"a long enough password"}"#
                        ).status == .unauthorized,
                        "a disabled user cannot log in")
                    #expect(try await api.users.enable("j.smith").value.active == true)
                    #expect(
                        try await api.call(.post, "/api/v1/auth/token", token: .some(nil), json: #"{"login":"bob","password":""}"#).status
                            == .unauthorized,
                        "a user without a password cannot log in")
                    // 12 characters in 20 bytes: long enough, and the user logs in with it.
                    let accented = String(repeating: "\u{c9}t\u{e9}", count: 4)
                    #expect(
                        try await api.call(
                            .post, "/api/v1/users",
                            json: Self.json(["login": "ana", "name": "Ana", "email": "ana@example.com", "password": accented])
                        ).status == .created)
                    #expect(
                        try await api.call(.post, "/api/v1/auth/token", token: .some(nil), json: Self.json(["login": "ana", "password": accented]))
                            .status
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
                            ["idNumber": "Writers", "name": "Writers", "keySerial": key.serial, "component": "DOC", "menus": ["DC021"]].merging(
                                fields
                            ) {
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
                    let profileRefusal = try await api.groups.create(json: group(["menus": ["DC021", "DC030"]]))
                    #expect(profileRefusal.error?.details["menus"]?.strings == ["DC030"], "only the menu above the profile is named")
                    let unknown = try await api.groups.create(json: group(["users": ["ann", "zed", "yan"]]))
                    #expect(unknown.error?.details["logins"]?.strings == ["zed", "yan"])
                    #expect(try await harness.fingerprint() == before)

                    let created = try await api.groups.create(json: group(["users": ["ann", "bob"]]))
                    #expect(created.status == .created)
                    #expect(try created.value.users == ["ann", "bob"])
                    #expect(try await api.call(.post, "/api/v1/access-groups", json: group(["idNumber": "WRITERS"])).errorCode == "DUPLICATE_GROUP")

                    let full = try await api.groups.addUsers("writers", ["cyd"])
                    #expect(full.status == .conflict)
                    #expect(full.errorCode == "SEAT_LIMIT_EXCEEDED")
                    let figures = try #require(full.error?.details)
                    #expect(figures["keySerial"]?.string == key.serial)
                    #expect(figures["limit"] == 2)
                    #expect(figures["inUse"] == 2)
                    #expect(figures["requested"] == 1)

                    // The members' routes find a group by its ID # in any case, answer with the ID # as written, and
                    // refuse an unknown group before its body is read, writing nothing.
                    let unchanged = try await harness.fingerprint()
                    for reply in [
                        try await api.groups.addUsers("Nobody", ["cyd"]).reply, try await api.groups.removeUsers("Nobody", ["ann"]).reply,
                        try await api.call(.post, "/api/v1/access-groups/Nobody/users", json: "not json"),
                    ] {
                        #expect(reply.status == .notFound)
                        #expect(reply.errorCode == "UNKNOWN_GROUP")
                    }
                    #expect(try await harness.fingerprint() == unchanged)
                    #expect(try await api.groups.removeUsers("WRITERS", ["cyd"]).value.idNumber == "Writers")

                    // A user in two groups on one key holds one seat.
                    let second = try await api.call(
                        .post, "/api/v1/access-groups", json: group(["idNumber": "Readers", "name": "Readers", "users": ["ann"]]))
                    #expect(second.status == .created)

                    func check(_ login: String) async throws -> EntitlementAnswer {
                        try await api.entitlements.check(login: login, component: "DOC", menu: "DC021").value
                    }
                    #expect(try await check("ann").allowed == true)
                    #expect(try await check("ann").keySerial == key.serial)
                    #expect(try await check("cyd").code == "NO_ACCESS")

                    #expect(try await api.call(.delete, "/api/v1/license-keys/\(key.serial)").errorCode == "KEY_IN_USE")

                    // Read your writes: the change is in the very next answer.
                    #expect(try await api.call(.delete, "/api/v1/access-groups/Writers/users", json: Self.json(["logins": ["bob"]])).status == .ok)
                    #expect(try await check("bob").code == "NO_ACCESS")
                    #expect(try await api.call(.post, "/api/v1/access-groups/Writers/users", json: Self.json(["logins": ["CYD"]])).status == .ok)
                    #expect(try await check("cyd").allowed == true)
                    // A disabled user frees the seat; enabling them again needs one.
                    #expect(try await api.call(.post, "/api/v1/users/cyd/disable").status == .ok)
                    #expect(try await check("cyd").code == "USER_DISABLED")
                    #expect(try await api.call(.post, "/api/v1/access-groups/Writers/users", json: Self.json(["logins": ["bob"]])).status == .ok)
                    #expect(try await api.call(.post, "/api/v1/users/cyd/enable").errorCode == "SEAT_LIMIT_EXCEEDED")

                    let batch = try await api.entitlements.check([("ann", "DOC", "DC021"), ("bob", "DOC", "DC022"), ("nobody", "DOC", "DC021")])
                    #expect(try batch.value.results.map(\.code) == ["ALLOWED", "NO_ACCESS", "UNKNOWN_USER"])
                    let entitlements = try await api.users.entitlements("ann").value
                    #expect(entitlements.components.first?.menus == ["DC021"])

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
                    let ann = try await api.sessions.open(login: "ann", ip: "192.0.2.10")
                    #expect(ann.status == .created)
                    #expect(try ann.value.keySerial == floating.serial)
                    let annID = try ann.value.sessionId
                    #expect(try await api.sessions.open(login: "bob").errorCode == "NO_SEAT_AVAILABLE")
                    #expect(try await api.entitlements.check(login: "ann", component: "WF", menu: "WF001").value.allowed == true)
                    #expect(try await api.entitlements.check(login: "bob", component: "WF", menu: "WF001").value.code == "NO_SESSION")
                    // A nominative seat the user holds comes first, and leaves the floating seat alone.
                    let cyd = try await api.sessions.open(login: "cyd")
                    #expect(try cyd.value.keySerial == nominative.serial)
                    #expect(try await api.sessions.open(login: "nobody").errorCode == "UNKNOWN_USER")
                    #expect(try await api.call(.get, "/api/v1/users").status == .forbidden, "a service token administers nothing")

                    #expect(try await api.sessions.heartbeat(annID).status == .ok)
                    harness.clock.advance(by: 16 * 60)
                    // The lease ran out: the seat is free, and the old session cannot be renewed.
                    #expect(try await api.sessions.heartbeat(annID).errorCode == "SESSION_ENDED")
                    let bob = try await api.sessions.open(login: "bob")
                    #expect(try bob.value.keySerial == floating.serial)
                    let bobID = try bob.value.sessionId
                    #expect(try await api.sessions.end(bobID).value.endReason == .logout)
                    let again = try await api.sessions.open(login: "bob")
                    #expect(again.status == .created)

                    // cyd's lease ran out with ann's: only bob is logged in now.
                    let open = try await admin.sessions.list().value.items
                    #expect(open.map(\.login) == ["bob"])
                    #expect(try await admin.sessions.disconnect(login: "bob").value.disconnected == 1)
                    #expect(try await api.sessions.open(login: "ann").status == .created, "the disconnection freed the seat")
                    #expect(try await admin.sessions.disconnect().value.disconnected == 1)
                    #expect(try await admin.sessions.list().value.items.isEmpty)
                    let history = try await admin.sessions.list(state: "all").value.items
                    #expect(history.count == 5)
                    #expect(Set(history.compactMap(\.endReason)) == [.expired, .logout, .disconnected])
                    #expect(history.contains { $0.ip == "192.0.2.10" })
                }
            }
        }

        @Test(arguments: Backend.services)
        func onlyManagersAdministerAndEveryoneElseGets403(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let manager = try await harness.registerAndActivate(
                    harness.accessKey(users: 5, profile: .manager, components: ["CFG"]), idNumber: "Admins")
                let staff = try await harness.registerAndActivate(
                    harness.accessKey(users: 5, profile: .staff, components: ["CFG"]), idNumber: "Staff")
                for login in ["mia", "sam"] {
                    _ = try await harness.registry.createUser(
                        UserInput(login: login, name: login.capitalized, email: "\(login)@example.com", password: "a long enough password"),
                        actor: "test"
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
                        try await admin.auth.logIn(login: login, password: "a long enough password").value.token
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
}

extension RegistryTests {
    /// The Authorization header as clients write it: the scheme in any case, spaces around the token.
    @Suite struct BearerHeaderTests {
        /// Expects an entitlement check sent with `header`, where `TOKEN` stands for a valid service token, to answer `expected`.
        static func expect(_ header: String, answers expected: HTTPResponse.Status) async throws {
            try await RegistryHarness.run(.sqliteMemory) { harness in
                let token = try await harness.serviceToken()
                let app = Application(router: buildRegistryRouter(try await RegistryDependencies(registry: harness.registry, metrics: .init())))
                try await app.test(.router) { client async throws in
                    let status = try await client.executeRequest(
                        uri: "/api/v1/entitlements/check?login=a&component=DOC&menu=DC021", method: .get,
                        headers: [.authorization: header.replacingOccurrences(of: "TOKEN", with: token)], body: nil
                    ).status
                    #expect(status == expected, "\(header)")
                }
            }
        }

        @Test(arguments: ["Bearer TOKEN", "bearer TOKEN", "BEARER   TOKEN  "])
        func theSchemeIgnoresCaseAndSpacesAroundTheTokenAreIgnored(header: String) async throws {
            try await Self.expect(header, answers: .ok)
        }

        /// RFC 7235: the scheme, then a space (a tab is not one).
        @Test(arguments: ["Basic TOKEN", "Bearer", "Bearer    ", "Bearers TOKEN", "Bearer\tTOKEN"])
        func anotherSchemeOrNoTokenIsRefused(header: String) async throws {
            try await Self.expect(header, answers: .unauthorized)
        }

        @Test func aWrongTokenIsRefusedAgainWhenTheCacheAnswers() async throws {
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
                    #expect(try await status("Bearer \(token)") == .ok)
                    // Twice: the second answer comes from the token cache and must agree.
                    #expect(try await status("Bearer \(token)x") == .unauthorized)
                    #expect(try await status("Bearer \(token)x") == .unauthorized)
                }
            }
        }
    }
}
