import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import KeywardWeb
import SQLKit
import Testing

@testable import KeywardRegistry
@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// What an attacker or a careless client might send: SQL meta-characters and over-long values in every string field,
    /// forms without their CSRF token, password guessing, and upload file names that climb out of a directory. Each is
    /// refused with the right status and a code, or (where the value is a legitimate one) stored exactly as sent; nothing
    /// else is written. Route-by-route token checks are in `RouteSecurityTests`.
    @Suite struct SecurityTests {

        /// Values that break queries built by pasting strings, or the parsers in front of them.
        static let hostile: [String] = [
            "' OR '1'='1", "'; DROP TABLE registry_users; --", "\" OR \"\"=\"", "Robert'); DELETE FROM access_groups;--",
            "' UNION SELECT token_hash FROM api_tokens --", "1; SELECT pg_sleep(5)", "%", "_", "!", "\\", "a'--", "$1", "?", "::text",
            "\u{0}", "nul\u{0}byte", "<script>alert(1)</script>", "ﬁ😀 ünïcödé", "../../etc/passwd", "",
        ]
        static let overLong = String(repeating: "A", count: 100_000)

        static func encoded(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        }

        /// One writing operation and the string fields of its body; `field.0` names an array's first element.
        struct Operation {
            let method: HTTPRequest.Method
            let path: String
            let fields: [String]
            let body: (Int) -> [String: Any]
        }

        /// Row counts plus the resources the updates below could change, to prove a refusal wrote nothing.
        static func state(_ harness: RegistryHarness, _ api: RegistryAPI, serial: String) async throws -> String {
            var parts = try await harness.fingerprint().sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            let settings = try await harness.store.database.read { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM registry_settings").first()!.decode(column: "n", as: Int.self)
            }
            parts.append("registry_settings=\(settings)")
            for path in ["/api/v1/users/ann", "/api/v1/access-groups/Writers", "/api/v1/license-keys/\(serial)", "/api/v1/settings/authority"] {
                parts.append(String(decoding: try await api.call(.get, path).body, as: UTF8.self))
            }
            return parts.joined(separator: "\n")
        }

        @Test(arguments: Backend.services)
        func hostileAndOverLongStringsInEveryFieldAreRefusedOrStoredVerbatim(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let main = try await harness.registerAndActivate(
                    harness.accessKey(users: 50, profile: .manager, components: ["DOC", "WF"]), idNumber: "Main")
                let spare = try await harness.registerAndActivate(
                    harness.accessKey(users: 50, profile: .manager, components: ["DOC", "WF"]), idNumber: "Spare")
                try await harness.withAPI { api in
                    #expect(
                        try await api.call(
                            .post, "/api/v1/users", json: jsonObject(["login": "ann", "name": "Ann", "email": "ann@example.com"])
                        ).status == .created)
                    let group: [String: Any] = [
                        "idNumber": "Writers", "name": "Writers", "keySerial": main.serial, "component": "DOC", "menus": ["DC021"], "users": ["ann"],
                    ]
                    #expect(try await api.call(.post, "/api/v1/access-groups", json: jsonObject(group)).status == .created)

                    let operations = [
                        Operation(method: .post, path: "/api/v1/users", fields: ["login", "name", "email", "password"]) { n in
                            ["login": "u\(n)", "name": "User \(n)", "email": "u\(n)@example.com", "password": "a long enough password"]
                        },
                        Operation(method: .patch, path: "/api/v1/users/ann", fields: ["name", "email", "password"]) { _ in
                            ["name": "Ann", "email": "ann@example.com", "password": "a long enough password"]
                        },
                        Operation(
                            method: .post, path: "/api/v1/access-groups",
                            fields: ["idNumber", "name", "keySerial", "component", "menus.0", "users.0"]
                        ) { n in
                            [
                                "idNumber": "G\(n)", "name": "Group \(n)", "keySerial": main.serial, "component": "DOC", "menus": ["DC021"],
                                "users": ["ann"],
                            ]
                        },
                        Operation(method: .put, path: "/api/v1/access-groups/Writers", fields: ["name", "keySerial", "component", "menus.0"]) { _ in
                            ["idNumber": "Writers", "name": "Writers", "keySerial": main.serial, "component": "DOC", "menus": ["DC021"]]
                        },
                        Operation(method: .post, path: "/api/v1/access-groups/Writers/users", fields: ["logins.0"]) { _ in ["logins": ["ann"]] },
                        Operation(method: .delete, path: "/api/v1/access-groups/Writers/users", fields: ["logins.0"]) { _ in ["logins": ["ann"]] },
                        Operation(method: .post, path: "/api/v1/license-keys", fields: ["idNumber", "accessKey"]) { n in
                            ["idNumber": "K\(n)", "accessKey": harness.accessKey()]
                        },
                        Operation(method: .patch, path: "/api/v1/license-keys/\(main.serial)", fields: ["idNumber"]) { _ in ["idNumber": "Main"] },
                        Operation(method: .post, path: "/api/v1/sessions", fields: ["login", "ip"]) { _ in ["login": "ann", "ip": "10.0.0.1"] },
                        Operation(method: .post, path: "/api/v1/sessions/disconnect", fields: ["login"]) { _ in ["login": "ann"] },
                        Operation(method: .post, path: "/api/v1/access-migrations", fields: ["from", "to", "groups.0"]) { _ in
                            ["from": main.serial, "to": spare.serial, "groups": ["Writers"], "dryRun": true]
                        },
                        Operation(method: .put, path: "/api/v1/settings/authority", fields: ["url", "token"]) { _ in
                            ["url": "https://authority.example.com", "token": APIToken.generate().text]
                        },
                        Operation(
                            method: .post, path: "/api/v1/entitlements/check", fields: ["checks.0.login", "checks.0.component", "checks.0.menu"]
                        ) {
                            _ in
                            ["checks": [["login": "ann", "component": "DOC", "menu": "DC021"]]]
                        },
                        // A login of its own per attempt: the throttle (3 failures per login) must not answer before the value is read.
                        Operation(method: .post, path: "/api/v1/auth/token", fields: ["login", "password"]) { n in
                            ["login": "nobody\(n)", "password": "wrong password"]
                        },
                    ]

                    var counter = 0
                    var accepted = 0
                    var refused = 0
                    for operation in operations {
                        for field in operation.fields {
                            for value in Self.hostile + [Self.overLong] {
                                counter += 1
                                let body = Self.setting(field, to: value, in: operation.body(counter))
                                let before = try await Self.state(harness, api, serial: main.serial)
                                let reply = try await api.call(operation.method, operation.path, json: jsonObject(body))
                                let what =
                                    "\(operation.method) \(operation.path) with \(field) = \(value.prefix(40).debugDescription) (\(value.count) characters)"
                                #expect(reply.status.code < 500, "\(what): \(reply.status)")
                                if (200..<300).contains(reply.status.code) {
                                    accepted += 1
                                    if operation.path == "/api/v1/entitlements/check" {
                                        // A check answers questions rather than storing values: an over-long code is one nobody holds.
                                        let results = (try? reply.decode(EntitlementsClient.Batch.self))?.results ?? []
                                        #expect(
                                            value.count < 1000 || (!results.isEmpty && results.allSatisfy { $0.allowed == false }),
                                            "\(what) was allowed")
                                    } else {
                                        #expect(value.count < 1000, "\(what) was accepted")
                                    }
                                } else {
                                    refused += 1
                                    #expect(reply.errorCode != nil, "\(what): no error code")
                                    let message = reply.error?.message ?? ""
                                    #expect(!message.isEmpty, "\(what): no message")
                                    #expect(
                                        try await Self.state(harness, api, serial: main.serial) == before, "\(what) was refused but wrote something")
                                }
                            }
                        }
                    }
                    #expect(
                        accepted > 0 && refused > 0, "the sweep saw both legitimate and refused values (\(accepted) accepted, \(refused) refused)")

                    // Free text is stored exactly as sent, quotes and all, and a search for it finds it literally.
                    for value in Self.hostile where !value.isEmpty && !value.contains("\u{0}") && value.trimmingCharacters(in: .whitespaces) == value
                    {
                        let saved = try await api.users.update("ann", json: jsonObject(["name": value]))
                        #expect(saved.status == .ok, "name \(value.debugDescription)")
                        #expect(try await api.users.show("ann").value.name == value)
                        let found = try await api.users.list("search=\(Self.encoded(value))").value.items
                        #expect(found.contains { $0.login == "ann" }, "search \(value.debugDescription) finds the name")
                        #expect(
                            found.allSatisfy { user in [user.login, user.name, user.email].contains { $0.lowercased().contains(value.lowercased()) }
                            },
                            "search \(value.debugDescription) matches literally: \(found.map(\.login))")
                    }

                    // Hostile path segments and query values read nothing they should not and write nothing.
                    let before = try await Self.state(harness, api, serial: main.serial)
                    // A hostile value that is a valid login ("_") was stored as a user above: its path, percent-encoded,
                    // rightly finds that user (checked below), so it is left out of the "finds nothing" sweep.
                    for value in Self.hostile + [Self.overLong] where !value.isEmpty && (try? UserRules.login(value)) == nil {
                        let segment = Self.encoded(value)
                        // Likewise a hostile value stored above as a group's ID #: its percent-encoded path finds that
                        // group (checked here), so the group routes are left out of the sweep for it.
                        let storedGroup = value.count <= 50 && !value.contains("\u{0}") ? try await harness.store.groupIDNumber(value) : nil
                        if let storedGroup {
                            let found = try await api.call(.get, "/api/v1/access-groups/\(segment)")
                            #expect(
                                found.status == .ok && found.json["idNumber"] as? String == storedGroup, "\(value.debugDescription) finds its group")
                        }
                        for (method, path) in [
                            (HTTPRequest.Method.get, "/api/v1/users/\(segment)"), (.get, "/api/v1/access-groups/\(segment)"),
                            (.get, "/api/v1/license-keys/\(segment)"), (.delete, "/api/v1/access-groups/\(segment)"),
                            (.delete, "/api/v1/license-keys/\(segment)"), (.post, "/api/v1/users/\(segment)/disable"),
                            (.get, "/api/v1/users/\(segment)/entitlements"), (.delete, "/api/v1/sessions/\(segment)"),
                            (.get, "/api/v1/entitlements/check?login=\(segment)&component=DOC&menu=DC021"),
                            (.get, "/api/v1/entitlements/check?login=ann&component=\(segment)&menu=\(segment)"),
                            (.get, "/api/v1/users?search=\(segment)&after=\(segment)"), (.get, "/api/v1/audit-events?after=\(segment)"),
                        ] where storedGroup == nil || !path.hasPrefix("/api/v1/access-groups/") {
                            let reply = try await api.call(method, path)
                            #expect(reply.status.code < 500, "\(method) \(path.prefix(80)): \(reply.status)")
                            if path.hasPrefix("/api/v1/entitlements/check"), reply.status == .ok, value.count > 1000 {
                                #expect(
                                    (try? reply.decode(EntitlementAnswer.self))?.allowed == false, "\(path.prefix(80)) allowed an over-long value")
                            }
                            if method != .get || path.contains("/api/v1/users/") && method == .get && !path.hasSuffix("entitlements") {
                                #expect(reply.status.code >= 400, "\(method) \(path.prefix(80)) found something")
                            }
                        }
                    }
                    #expect(try await Self.state(harness, api, serial: main.serial) == before, "hostile paths and queries wrote nothing")
                    #expect(try await api.users.show("%5F").value.login == "_", "a percent-encoded login finds its user")

                    // A body over the upload limit is refused before it is read in full.
                    let huge = try await api.call(
                        .post, "/api/v1/users",
                        json: jsonObject(["login": "big", "name": String(repeating: "B", count: 2 << 20), "email": "b@example.com"]))
                    #expect(huge.status == .contentTooLarge)
                    #expect(huge.errorCode == "PAYLOAD_TOO_LARGE")

                    // Every table is still there and whole, and the administrator's token still works.
                    #expect(try await api.call(.get, "/api/v1/users").status == .ok)
                    if backend == .sqliteFile {
                        let check = try await harness.store.database.read { sql in
                            try await sql.raw("PRAGMA integrity_check").first()!.decode(column: "integrity_check", as: String.self)
                        }
                        #expect(check == "ok")
                    }
                }
            }
        }

        /// Found by the sweep above on PostgreSQL, which cannot store U+0000: a NUL in a key serial, an IP, a migration's
        /// serials, a login to authenticate or a search gave 500. It is now refused at the edge, the same on every store.
        @Test(arguments: Backend.services)
        func theNULCharacterIsRefusedAtTheEdgeOnEveryStore(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let key = try await harness.registerAndActivate(harness.accessKey(users: 5, components: ["DOC"]), idNumber: "Main")
                try await harness.withAPI { api in
                    #expect(
                        try await api.call(
                            .post, "/api/v1/users", json: jsonObject(["login": "ann", "name": "Ann", "email": "ann@example.com"])
                        ).status == .created)
                    let before = try await harness.fingerprint()
                    let attempts: [(HTTPRequest.Method, String, String?)] = [
                        (
                            .post, "/api/v1/access-groups",
                            jsonObject(["idNumber": "G", "name": "G", "keySerial": "KW\u{0}", "component": "DOC", "menus": ["DC021"]])
                        ),
                        (.post, "/api/v1/sessions", jsonObject(["login": "ann", "ip": "10.0.0.1\u{0}"])),
                        (.post, "/api/v1/access-migrations", jsonObject(["from": key.serial, "to": "\u{0}", "dryRun": true])),
                        (.post, "/api/v1/auth/token", jsonObject(["login": "admin\u{0}", "password": "whatever it is"])),
                        (.get, "/api/v1/users?search=%00", nil), (.get, "/api/v1/users/ann%00", nil),
                        (.get, "/api/v1/entitlements/check?login=ann%00&component=DOC&menu=DC021", nil),
                    ]
                    for (method, path, body) in attempts {
                        let reply = try await api.call(method, path, json: body)
                        #expect(reply.status == .badRequest, "\(method) \(path)")
                        #expect(reply.errorCode == "NUL_IN_TEXT", "\(method) \(path)")
                    }
                    #expect(try await harness.fingerprint() == before)
                    // The six characters \u0000 typed as text are not a NUL: a backslash, then u0000.
                    let literal = try await api.users.update("ann", json: #"{"name":"Ann \\u0000 Smith"}"#)
                    #expect(literal.status == .ok)
                    #expect(try literal.value.name == #"Ann \u0000 Smith"#)
                }
            }
        }

        @Test func aJSONTextHoldsANULOnlyWhenTheEscapeIsReal() {
            #expect(NULGuard.jsonContainsNUL(Array(#"{"a":"x\u0000"}"#.utf8)))
            #expect(NULGuard.jsonContainsNUL(Array(#"{"a":"\\\u0000"}"#.utf8)), "an escaped backslash, then the escape")
            #expect(!NULGuard.jsonContainsNUL(Array(#"{"a":"\\u0000"}"#.utf8)), "an escaped backslash, then the letters u0000")
            #expect(NULGuard.jsonContainsNUL(Array(#"{"a":"\u00001"}"#.utf8)), "the escape followed by a digit is still a NUL")
            #expect(!NULGuard.jsonContainsNUL(Array(#"{"a":"\u0001 u0000"}"#.utf8)))
            #expect(NULGuard.jsonContainsNUL([0x7B, 0x00, 0x7D]))
        }

        @Test(arguments: Backend.services)
        func aWebFormWithANULIsRefusedAndWritesNothing(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                try await WebUITests().withBrowser(harness) { browser in
                    _ = try await browser.logIn()
                    let csrf = try #require(WebUITests.Browser.csrf(in: try await browser.request(.get, "/users/new")))
                    let before = try await harness.fingerprint()
                    let reply = try await browser.request(
                        .post, "/users", body: ByteBuffer(string: "_csrf=\(csrf)&login=ann&name=A%00nn&email=ann%40example.com"),
                        contentType: "application/x-www-form-urlencoded")
                    #expect(reply.status == .badRequest)
                    #expect(String(buffer: reply.body).contains("NUL character"))
                    #expect(try await harness.fingerprint() == before)
                }
            }
        }

        /// `body` with `path` ("name", or "menus.0", or "checks.0.login") set to `value`. Request bodies stay Foundation
        /// values: the sweep writes values of any type into any field, which no request type of the API allows.
        static func setting(_ path: String, to value: Any, in body: [String: Any]) -> [String: Any] {
            let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
            var body = body
            if parts.count == 1 {
                body[parts[0]] = value
            } else if var array = body[parts[0]] as? [Any] {
                let rest = parts[1].split(separator: ".", maxSplits: 1).map(String.init)
                let index = Int(rest[0])!
                array[index] = rest.count == 1 ? value : setting(rest[1], to: value, in: array[index] as! [String: Any])
                body[parts[0]] = array
            }
            return body
        }

        // MARK: CSRF

        static func concrete(_ path: String, serial: String) -> String {
            path.replacingOccurrences(of: ":serial", with: serial).replacingOccurrences(of: ":login", with: "ann")
                .replacingOccurrences(of: ":idNumber", with: "Writers").replacingOccurrences(of: ":id", with: "1")
        }

        @Test func everyFormWithoutItsCSRFTokenIsRefusedAndWritesNothing() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let key = try await harness.registerAndActivate(harness.accessKey(users: 10, components: ["DOC", "WF"]), idNumber: "Main")
                _ = try await harness.registry.createUser(UserInput(login: "ann", name: "Ann", email: "ann@example.com"), actor: "test")
                _ = try await harness.registry.createGroup(
                    AccessGroupInput(idNumber: "Writers", name: "Writers", keySerial: key.serial, component: "DOC", menus: ["DC021"]), actor: "test")
                let router = buildRegistryRouter(
                    try await RegistryDependencies(registry: harness.registry, metrics: .init(), throttle: harness.throttle))
                let forms = router.routes.filter { $0.method == .post }.map { "/" + $0.path.description.split(separator: "/").joined(separator: "/") }
                    .filter { !$0.hasPrefix("/api/") && !$0.hasPrefix("/scim/") && $0 != "/login" }.map { Self.concrete($0, serial: key.serial) }
                #expect(forms.count >= 18, "every form of the web UI: \(forms)")
                try await Application(router: router).test(.router) { client in
                    var browser = WebUITests.Browser(client: client)
                    _ = try await browser.logIn()
                    let before = try await harness.fingerprint()
                    // The fields each form would take, so a refusal can only come from the missing or wrong token.
                    let fields = [
                        "idNumber": "X", "name": "Ann Other", "email": "x@example.com", "login": "ann", "logins": "ann", "keySerial": key.serial,
                        "component": "DOC", "menus": "DC021", "accessKey": harness.accessKey(), "action": "disable", "to": key.serial,
                        "groups": "Writers",
                        "url": "https://evil.example.com", "token": APIToken.generate().text,
                    ]
                    for path in forms {
                        for token in [nil, "", "not-the-token"] as [String?] {
                            var form = fields
                            form["_csrf"] = token
                            let reply = try await browser.request(.post, path, form: form)
                            #expect(
                                reply.status == .forbidden,
                                "\(path) with _csrf \(token.debugDescription): \(String(buffer: reply.body).prefix(300)) \(reply.headers)")
                            // The uploads read multipart bodies: the same refusal there.
                            let multipart = try await browser.request(
                                .post, path, body: ByteBuffer(string: Self.multipart(csrf: token, file: "login,name,email\nmal,Mal,m@example.com\n")),
                                contentType: "multipart/form-data; boundary=XyZ")
                            #expect(multipart.status == .forbidden, "\(path) as multipart with _csrf \(token.debugDescription)")
                        }
                    }
                    #expect(try await harness.fingerprint() == before, "no refused form wrote anything")
                    // Another session's token is no better than none.
                    var other = WebUITests.Browser(client: client)
                    _ = try await other.logIn()
                    let stolen = try #require(WebUITests.Browser.csrf(in: try await other.request(.get, "/users/new")))
                    let reply = try await browser.request(.post, "/users", form: fields.merging(["_csrf": stolen, "login": "mal"]) { $1 })
                    #expect(reply.status == .forbidden, "a token from another session")
                    #expect(try await harness.fingerprint() == before)
                }
            }
        }

        static func multipart(csrf: String?, file: String, filename: String = "users.csv", fileField: String = "file") -> String {
            var body = ""
            if let csrf { body += "--XyZ\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n\(csrf)\r\n" }
            body +=
                "--XyZ\r\nContent-Disposition: form-data; name=\"\(fileField)\"; filename=\"\(filename)\"\r\nContent-Type: text/csv\r\n\r\n\(file)\r\n--XyZ--\r\n"
            return body
        }

        // MARK: Password guessing

        @Test func guessingPasswordsHitsTheLimitPerLoginAndAddress() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let router = buildRegistryRouter(
                    try await RegistryDependencies(registry: harness.registry, metrics: .init(), throttle: harness.throttle))
                // Live, so requests come from an address (127.0.0.1) and the per-address limit applies.
                try await Application(router: router).test(.live) { client in
                    let api = RegistryAPI(client: client, token: nil)
                    let before = try await harness.fingerprint()
                    // Per login and address (3 in the harness): the right password no longer helps from this address.
                    for _ in 0..<3 {
                        #expect(
                            try await api.call(.post, "/api/v1/auth/token", json: #"{"login":"admin","password":"guess"}"#).status == .unauthorized)
                    }
                    let blocked = try await api.call(
                        .post, "/api/v1/auth/token", json: #"{"login":"admin","password":"\#(RegistryHarness.password)"}"#)
                    #expect(blocked.status == .tooManyRequests)
                    #expect(blocked.errorCode == "TOO_MANY_ATTEMPTS")
                    #expect(Int(blocked.headers[.retryAfter] ?? "") ?? 0 > 0)
                    // Spreading guesses over many logins from one address slows them down (LoginThrottleTests) but locks
                    // nobody out: everyone behind one address would share the lock.
                    for number in 0..<12 {
                        #expect(
                            try await api.call(.post, "/api/v1/auth/token", json: #"{"login":"user\#(number)","password":"guess"}"#).status
                                == .unauthorized)
                    }
                    #expect(try await api.call(.post, "/api/v1/auth/token", json: #"{"login":"fresh","password":"guess"}"#).status == .unauthorized)
                    // The web login form is throttled by the same counter, and says so with the real status.
                    var browser = WebUITests.Browser(client: client)
                    let page = try await browser.request(.get, "/login")
                    let web = try await browser.request(
                        .post, "/login",
                        form: ["_csrf": WebUITests.Browser.csrf(in: page) ?? "", "login": "admin", "password": RegistryHarness.password])
                    #expect(web.status == .tooManyRequests)
                    #expect(String(buffer: web.body).contains("Too many failed logins"))
                    #expect(web.headers[values: .setCookie].allSatisfy { !$0.hasPrefix("keyward_session=") }, "no session was started")
                    #expect(try await harness.fingerprint() == before, "guessing wrote nothing (no token, no session)")
                }
            }
        }

        // MARK: Upload file names

        /// The uploads (users CSV, activation certificate) read the file's bytes and never its name: a name that climbs
        /// out of a directory, holds a NUL or markup is read like any other, nothing is written where it points, and it
        /// never reaches the page. (The name is not even kept: `MultipartForm.Part` has none.)
        @Test func uploadFileNamesThatClimbOutOfADirectoryAreNeverUsedAsPaths() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                try await WebUITests().withBrowser(harness) { browser in
                    _ = try await browser.logIn()
                    let csrf = try #require(WebUITests.Browser.csrf(in: try await browser.request(.get, "/users/import")))
                    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-traversal-\(UUID().uuidString)")
                    let names = [
                        "../../../../../../tmp/keyward-traversal.csv", "..\\..\\..\\windows\\keyward.csv", "/etc/passwd", "users.csv\u{0}.png",
                        "%2e%2e%2f%2e%2e%2fkeyward.csv", "<img src=x onerror=alert(1)>.csv", directory.path + "/planted.csv",
                    ]
                    for (number, name) in names.enumerated() {
                        let body = Self.multipart(
                            csrf: csrf, file: "login,name,email\nup\(number),Up \(number),up\(number)@example.com\n", filename: name)
                        let reply = try await browser.request(
                            .post, "/users/import", body: ByteBuffer(string: body), contentType: "multipart/form-data; boundary=XyZ")
                        #expect(reply.status == .ok, "\(name)")
                        let html = String(buffer: reply.body)
                        #expect(html.contains("1 users imported, 0 lines refused"), "the file was read as any other: \(name)")
                        #expect(!html.contains("<img src=x"), "a file name is never put into the page unescaped")
                    }
                    #expect(try await harness.store.users(search: "up", limit: 100).count == names.count)
                    for path in ["/tmp/keyward-traversal.csv", directory.path + "/planted.csv", "/tmp/keyward.csv"] {
                        #expect(!FileManager.default.fileExists(atPath: path), "nothing was written at \(path)")
                    }
                    // The activation certificate upload reads its file the same way: a climbing name changes nothing.
                    let page = try await browser.request(.get, "/activation")
                    let token = try #require(WebUITests.Browser.csrf(in: page))
                    let before = try await harness.fingerprint()
                    let certificate = Self.multipart(
                        csrf: token, file: "{\"not\":\"a certificate\"}", filename: "../../../../tmp/keyward-traversal.json", fileField: "certificate"
                    )
                    let refused = try await browser.request(
                        .post, "/activation/certificate", body: ByteBuffer(string: certificate), contentType: "multipart/form-data; boundary=XyZ")
                    #expect(refused.status == .ok)
                    #expect(String(buffer: refused.body).contains("Choose the certificate file"))
                    #expect(!FileManager.default.fileExists(atPath: "/tmp/keyward-traversal.json"))
                    #expect(try await harness.fingerprint() == before)
                }
            }
        }

        @Test func multipartPartsAreNamedByTheirNameParameterWhereverItStands() {
            let body =
                "--b\r\nContent-Disposition: form-data; filename=\"name=\\\"x.csv\"; name=\"file\"\r\n\r\nDATA\r\n--b\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\nT\r\n--b--\r\n"
            let parts = MultipartForm.parse(Array(body.utf8), contentType: "multipart/form-data; boundary=b")
            #expect(parts?["file"].map { String(decoding: $0.data, as: UTF8.self) } == "DATA")
            #expect(parts?["_csrf"].map { String(decoding: $0.data, as: UTF8.self) } == "T")
        }
    }
}
