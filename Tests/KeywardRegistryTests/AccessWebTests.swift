import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardRegistryHTTP
import KeywardStore
import KeywardTestSupport
import KeywardWeb
import Testing

extension RegistryTests {
    /// The Users, Access groups, Sessions, Dashboard and Migrate accesses pages through their HTTP surface.
    @Suite struct AccessWebTests {
        typealias Browser = WebUITests.Browser

        /// A form body with repeated names (checkboxes), as a browser sends it.
        static func encoded(_ pairs: [(String, String)]) -> ByteBuffer {
            ByteBuffer(
                string: pairs.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&"))
        }

        static func post(_ browser: inout Browser, _ path: String, _ pairs: [(String, String)]) async throws -> TestResponse {
            try await browser.request(.post, path, body: encoded(pairs), contentType: "application/x-www-form-urlencoded")
        }

        @Test func anAdministratorManagesUsersGroupsAndSessionsInTheBrowser() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let key = try await harness.registerAndActivate(harness.accessKey(users: 2, profile: .staff, components: ["DOC"]), idNumber: "Docs")
                try await WebUITests().withBrowser(harness) { browser in
                    _ = try await browser.logIn()
                    let csrf = try #require(Browser.csrf(in: try await browser.request(.get, "/users/new")))

                    // Users: a refusal beside its field, then three users.
                    let bad = try await Self.post(&browser, "/users", [("_csrf", csrf), ("login", "ann"), ("name", "Ann"), ("email", "nope")])
                    #expect(String(buffer: bad.body).contains(#"id="email-error""#))
                    #expect(try await harness.store.user("ann") == nil)
                    for login in ["ann", "bob", "cyd"] {
                        let made = try await Self.post(
                            &browser, "/users", [("_csrf", csrf), ("login", login), ("name", login.capitalized), ("email", "\(login)@example.com")])
                        #expect(made.headers[.location] == "/users/\(login)?flash=user-created")
                    }
                    #expect(String(buffer: try await browser.request(.get, "/users?search=bo").body).contains("/users/bob"))

                    // Access groups: a refusal in words, a group of two, the picker finds the third, whose seat is refused with the figures.
                    let profile = try await Self.post(
                        &browser, "/access-groups",
                        [
                            ("_csrf", csrf), ("idNumber", "Writers"), ("name", "Writers"), ("keySerial", key.serial),
                            ("component", "DOC"), ("menus", "DC021"), ("menus", "DC030"), ("active", "on"),
                        ])
                    #expect(String(buffer: profile.body).contains("MENU_NOT_ALLOWED_FOR_PROFILE"))
                    let created = try await Self.post(
                        &browser, "/access-groups",
                        [
                            ("_csrf", csrf), ("idNumber", "Writers"), ("name", "Writers"), ("keySerial", key.serial),
                            ("component", "DOC"), ("menus", "DC021"), ("active", "on"),
                        ])
                    #expect(created.headers[.location] == "/access-groups/Writers?flash=group-created")
                    #expect(
                        try await Self.post(&browser, "/access-groups/Writers/users/add", [("_csrf", csrf), ("logins", "ann"), ("logins", "bob")])
                            .status
                            == .seeOther)
                    let picker = String(buffer: try await browser.request(.get, "/access-groups/Writers?search=cy").body)
                    #expect(picker.contains(#"id="add-cyd""#))
                    #expect(!picker.contains(#"id="add-ann""#), "members are not offered again")
                    let refused = String(
                        buffer: try await Self.post(&browser, "/access-groups/Writers/users/add", [("_csrf", csrf), ("logins", "cyd")]).body)
                    #expect(refused.contains("SEAT_LIMIT_EXCEEDED") && refused.contains("2 seats") && refused.contains("2 are in use"))
                    #expect(try await harness.store.group("Writers")?.users == ["ann", "bob"])

                    // Dashboard: the seat bars are drawn on the server.
                    let dashboard = String(buffer: try await browser.request(.get, "/dashboard").body)
                    #expect(dashboard.contains(#"<svg xmlns="http://www.w3.org/2000/svg""#))
                    #expect(dashboard.contains("2 / 2 assigned"))

                    // Sessions: disconnect one user.
                    _ = try await harness.registry.createGroup(
                        AccessGroupInput(
                            idNumber: "Floaters", name: "Floaters",
                            keySerial: try await harness.registerAndActivate(
                                harness.accessKey(users: 3, useType: .floating, components: ["WF"]), idNumber: "Float"
                            ).serial, component: "WF", menus: ["WF001"], users: ["cyd"]), actor: "test")
                    _ = try await harness.registry.openSession(login: "cyd", ip: "192.0.2.7", actor: "test")
                    #expect(String(buffer: try await browser.request(.get, "/sessions").body).contains("192.0.2.7"))
                    #expect(
                        try await Self.post(&browser, "/sessions/disconnect", [("_csrf", csrf), ("login", "cyd")]).headers[.location]
                            == "/sessions?flash=disconnected")
                    let history = String(buffer: try await browser.request(.get, "/sessions/history").body)
                    #expect(history.contains("disconnected"))

                    // Key deletion is refused while groups use the key, in words.
                    let delete = String(buffer: try await Self.post(&browser, "/license-keys/\(key.serial)/delete", [("_csrf", csrf)]).body)
                    #expect(delete.contains("Access groups are bound to this key"))

                    // Migrate accesses: a preview that refuses, with reasons.
                    let target = try await harness.registerAndActivate(
                        harness.accessKey(users: 1, profile: .staff, components: ["DOC"]), idNumber: "Small")
                    let preview = String(
                        buffer: try await Self.post(
                            &browser, "/license-keys/\(key.serial)/migrate",
                            [("_csrf", csrf), ("to", target.serial), ("groups", "Writers"), ("action", "preview")]
                        ).body)
                    #expect(preview.contains("The accesses cannot move") && preview.contains("SEAT_LIMIT_EXCEEDED"))
                    #expect(try await harness.store.group("Writers")?.keySerial == key.serial)
                }
            }
        }

        @Test func aUserWithoutManagerAccessCannotUseTheRegistryPages() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                _ = try await harness.registry.createUser(
                    UserInput(login: "sam", name: "Sam", email: "sam@example.com", password: "a long enough password"), actor: "test")
                try await WebUITests().withBrowser(harness) { browser in
                    let page = try await browser.request(.get, "/login")
                    let login = try await browser.request(
                        .post, "/login", form: ["_csrf": Browser.csrf(in: page) ?? "", "login": "sam", "password": "a long enough password"])
                    // The login form is shown again with the reason, and no session starts.
                    #expect(String(buffer: login.body).contains("may not administer the registry"))
                    #expect(!login.headers[values: .setCookie].contains { $0.hasPrefix("keyward_session=") })
                    #expect(try await browser.request(.get, "/users").headers[.location] == "/login")
                }
            }
        }
    }
}
