import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import KeywardWeb
import Testing

@testable import KeywardRegistry
@testable import KeywardRegistryHTTP

extension RegistryTests {
    /// What a new administrator trips over: lists that fit and page, keys named by their ID #, forms driven by the key,
    /// readable times, and refusals that say what happened and what to do.
    @Suite struct WebUsabilityTests {
        typealias Browser = WebUITests.Browser

        static func post(_ browser: inout Browser, _ path: String, _ pairs: [(String, String)]) async throws -> TestResponse {
            try await AccessWebTests.post(&browser, path, pairs)
        }

        static func html(_ response: TestResponse) -> String { String(buffer: response.body) }

        // MARK: Formatting

        @Test(arguments: [
            ("2026-12-02T02:14:18Z", "2 Dec 2026, 02:14 UTC"), ("2026-01-01T00:00:00Z", "1 Jan 2026, 00:00 UTC"),
            ("2027-07-31T23:59:59Z", "31 Jul 2027, 23:59 UTC"),
        ])
        func timesReadWithTheirZone(iso: String, text: String) throws {
            #expect(WebFormatting.readable(try #require(Timestamp.parse(iso))) == text)
        }

        @Test func loginsSortNaturallyWithDigitsByValue() {
            let sorted = ["user10", "user2", "User1", "user1a", "admin", "user100", "user9"].sorted(by: WebFormatting.naturallyOrdered)
            #expect(sorted == ["admin", "User1", "user1a", "user2", "user9", "user10", "user100"])
        }

        // MARK: Point 5 and 8: the key list fits and keys are named by ID #

        @Test func theKeyListShowsTheSerialOnceAndMarksWhatAPhoneLeavesOut() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let named = try await harness.registerAndActivate(
                    harness.accessKey(serial: "KW-NAME-0001"), idNumber: "Engineering and quality, Curitiba plant 2026 (SOX)")
                try await harness.registerAndActivate(harness.accessKey(serial: "KW-SYNC-0002"), idNumber: "KW-SYNC-0002")
                try await WebUITests().withBrowser(harness) { browser in
                    _ = try await browser.logIn()
                    let list = Self.html(try await browser.request(.get, "/license-keys"))
                    #expect(
                        list.contains(#"<small class="mono serial">KW-NAME-0001</small>"#),
                        "a key with its own ID # shows its serial beside it, smaller")
                    #expect(!list.contains(#"<small class="mono serial">KW-SYNC-0002</small>"#), "a key named by its serial shows it once")
                    #expect(!list.contains(#"<td class="mono">"#), "no serial column repeats the ID #")
                    #expect(list.contains(#"<td class="col-id">"#))
                    #expect(list.contains(#"<th class="opt">Source</th>"#), "Source is left out on a phone, Status is not")
                    #expect(list.contains("<th>Status</th>"))
                    #expect(named.idNumber.count == 50)
                    let css = Self.html(try await browser.request(.get, "/static/keyward.css"))
                    #expect(css.contains(".records .opt { display: none; }"))
                    #expect(css.contains("overflow-wrap: anywhere"))
                }
            }
        }

        @Test func keysAreNamedByTheirIDNumberOnGroupsActivationAndSessions() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let floating = try await harness.registerAndActivate(
                    harness.accessKey(serial: "KW-FXAT-0001", users: 3, useType: .floating, components: ["WF"]), idNumber: "Floaters key")
                _ = try await harness.registry.createUser(UserInput(login: "cyd", name: "Cyd", email: "cyd@example.com"), actor: "test")
                _ = try await harness.registry.createGroup(
                    AccessGroupInput(idNumber: "Flow", name: "Flow", keySerial: floating.serial, component: "WF", menus: ["WF001"], users: ["cyd"]),
                    actor: "test")
                let session = try await harness.registry.openSession(login: "cyd", ip: "192.0.2.7", actor: "test")
                try await harness.registry.register(
                    idNumber: "Audit 2027", accessKey: harness.accessKey(serial: "KW-NEWK-0003", components: ["AUD"]), actor: "test")
                try await WebUITests().withBrowser(harness) { browser in
                    _ = try await browser.logIn()
                    let groups = Self.html(try await browser.request(.get, "/access-groups"))
                    #expect(groups.contains("Floaters key<br><small class=\"mono serial\">KW-FXAT-0001</small>"))
                    let activation = Self.html(try await browser.request(.get, "/activation"))
                    #expect(activation.contains("+ key Audit 2027 <small class=\"mono serial\">KW-NEWK-0003</small>"))
                    for path in ["/sessions", "/dashboard"] {
                        #expect(
                            Self.html(try await browser.request(.get, path)).contains(
                                "Floaters key <small class=\"mono serial\">KW-FXAT-0001</small>"),
                            "\(path)")
                    }
                    _ = try await harness.registry.endSession(session.id, reason: .logout, actor: "test")
                    let history = Self.html(try await browser.request(.get, "/sessions/history"))
                    #expect(history.contains("Floaters key <small class=\"mono serial\">KW-FXAT-0001</small>"))
                    #expect(
                        history.contains("<time datetime=\"2026-06-01T09:00:00Z\">1 Jun 2026, 09:00 UTC</time>"),
                        "times are readable, ISO in datetime")
                    let key = Self.html(try await browser.request(.get, "/license-keys/\(floating.serial)"))
                    #expect(key.contains("<time datetime=\"2027-01-01T00:00:00Z\">1 Jan 2027, 00:00 UTC</time>"))
                    #expect(!key.contains(">2027-01-01T00:00:00Z<"), "no raw ISO time on the page")
                }
                try await harness.withAPI { api in
                    // Raw JSON on purpose: this pins the text of the time on the wire, which decoding to a Date would hide.
                    let listed = try await api.call(.get, "/api/v1/license-keys").items.first { $0["serial"] as? String == floating.serial }
                    #expect(listed?["expiresAt"] as? String == "2027-01-01T00:00:00Z", "the API keeps ISO times")
                }
            }
        }

        // MARK: Point 6: the access group form is driven by the key

        @Test func theGroupFormOffersOnlyTheKeysComponentsAndTheMenusItsProfileAllows() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let staff = try await harness.registerAndActivate(
                    harness.accessKey(serial: "KW-STAF-0001", profile: .staff, components: ["DOC"]), idNumber: "Staff docs")
                try await WebUITests().withBrowser(harness) { browser in
                    _ = try await browser.logIn()
                    let first = Self.html(try await browser.request(.get, "/access-groups/new"))
                    #expect(first.contains(#"<option value="">Choose a key…</option>"#))
                    #expect(first.contains(#"<div id="group-step-2" hidden>"#), "without a key, the component and menus wait for the next step")
                    #expect(first.contains(#"id="choose-key""#))
                    #expect(first.contains(#"<script src="/static/keyward.js"></script>"#))
                    #expect(first.contains(#"data-components="DOC" data-profile="staff""#), "the script learns each key's choices from the page")

                    // Step 2 without JavaScript: the key chosen, what was typed kept, nothing written.
                    let csrf = try #require(Browser.csrf(in: try await browser.request(.get, "/access-groups/new")))
                    let before = try await harness.fingerprint()
                    let second = Self.html(
                        try await Self.post(
                            &browser, "/access-groups",
                            [
                                ("_csrf", csrf), ("idNumber", "Writers"), ("name", "The writers"),
                                ("keySerial", staff.serial), ("step", "key"),
                            ]))
                    #expect(try await harness.fingerprint() == before)
                    #expect(second.contains(#"value="Writers""#) && second.contains(#"value="The writers""#))
                    #expect(second.contains(#"<div id="group-step-2" >"#))
                    #expect(second.contains(#"<option value="DOC"  selected>"#), "the key's component is offered and chosen")
                    #expect(second.contains(#"<option value="WF" hidden disabled >"#), "a component the key lacks is not offered")
                    #expect(second.contains(#"<fieldset data-component="WF" hidden disabled>"#))
                    #expect(second.contains(#"<label for="menu-DC023" data-profile="staff" >"#), "a staff menu is offered to a staff key")
                    #expect(second.contains(#"<label for="menu-DC030" data-profile="manager" hidden>"#), "a manager menu is not")
                    #expect(second.contains(#"value="DC030"  disabled>"#))

                    // The same through GET (the edit form's key change, a bookmarked step) and the script itself.
                    #expect(
                        Self.html(try await browser.request(.get, "/access-groups/new?keySerial=\(staff.serial)")).contains(
                            #"<div id="group-step-2" >"#))
                    let script = try await browser.request(.get, "/static/keyward.js")
                    #expect(script.status == .ok)
                    #expect(script.headers[.contentType]?.hasPrefix("text/javascript") == true)
                    #expect(Self.html(script).contains("group-form"))

                    // The server still refuses what the page no longer offers.
                    let forged = Self.html(
                        try await Self.post(
                            &browser, "/access-groups",
                            [
                                ("_csrf", csrf), ("idNumber", "Writers"), ("name", "Writers"),
                                ("keySerial", staff.serial), ("component", "DOC"), ("menus", "DC030"),
                            ]))
                    #expect(forged.contains("MENU_NOT_ALLOWED_FOR_PROFILE"))
                    #expect(try await harness.store.group("Writers") == nil)
                }
            }
        }

        // MARK: Point 7: adding users scales

        @Test(arguments: Backend.services)
        func findingUsersPagesWithTheTotalAndAddsAllMatchingWithinTheSeats(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                let small = try await harness.registerAndActivate(
                    harness.accessKey(serial: "KW-SMAX-0001", users: 100, profile: .staff, components: ["DOC"]), idNumber: "Small")
                let large = try await harness.registerAndActivate(
                    harness.accessKey(serial: "KW-BRGE-0001", users: 500, profile: .staff, components: ["DOC"]), idNumber: "Large")
                _ = try await harness.registry.importUsers(
                    csv: "login,name,email\n" + (1...120).map { "clerk\($0),Clerk \($0),clerk\($0)@example.com" }.joined(separator: "\n")
                        + "\nann,Ann,ann@example.com", dryRun: false, actor: "test")
                _ = try await harness.registry.createGroup(
                    AccessGroupInput(idNumber: "Clerks", name: "Clerks", keySerial: small.serial, component: "DOC", menus: ["DC021"]),
                    actor: "test")
                try await WebUITests().withBrowser(harness) { browser in
                    _ = try await browser.logIn()
                    let page1 = Self.html(try await browser.request(.get, "/access-groups/Clerks?search=clerk"))
                    #expect(page1.contains("1–50 of 120 users"))
                    #expect(page1.contains(#"id="add-clerk1""#) && page1.contains(#"id="add-clerk50""#) && !page1.contains(#"id="add-clerk51""#))
                    #expect(page1.range(of: #"id="add-clerk2""#)!.lowerBound < page1.range(of: #"id="add-clerk10""#)!.lowerBound, "natural order")
                    #expect(page1.contains(#"href="/access-groups/Clerks?search=clerk&amp;page=2""#))
                    #expect(page1.contains("Add all 120 matching users"))
                    let page3 = Self.html(try await browser.request(.get, "/access-groups/Clerks?search=clerk&page=3"))
                    #expect(page3.contains("101–120 of 120 users") && page3.contains(#"id="add-clerk120""#) && page3.contains("Previous page"))
                    let csrf = try #require(Browser.csrf(in: try await browser.request(.get, "/access-groups/Clerks")))

                    // Nothing ticked: said, not a silent reload.
                    let nothing = Self.html(
                        try await Self.post(&browser, "/access-groups/Clerks/users/add", [("_csrf", csrf), ("search", "clerk"), ("page", "1")]))
                    #expect(nothing.contains("No user was ticked, so nothing was added."))

                    // All 120 matching on 100 seats: refused as a whole, with the figures, nothing written.
                    let before = try await harness.fingerprint()
                    let refused = Self.html(
                        try await Self.post(
                            &browser, "/access-groups/Clerks/users/add",
                            [
                                ("_csrf", csrf), ("search", "clerk"), ("page", "2"),
                                ("logins", "clerk60"), ("logins", "clerk61"), ("scope", "all"),
                            ]))
                    #expect(refused.contains("SEAT_LIMIT_EXCEEDED") && refused.contains("100 seats"))
                    #expect(try await harness.fingerprint() == before)
                    // The refusal keeps the search, the page and the ticks.
                    #expect(refused.contains("51–100 of 120 users"))
                    #expect(refused.contains(#"id="add-clerk60" name="logins" value="clerk60" checked>"#))
                    #expect(refused.contains(#"id="add-clerk61" name="logins" value="clerk61" checked>"#))
                    #expect(refused.contains(#"id="add-clerk62" name="logins" value="clerk62" >"#))

                    // On a key with the seats, all matching users are added at once.
                    _ = try await harness.registry.updateGroup(
                        "Clerks",
                        AccessGroupInput(
                            idNumber: "Clerks", name: "Clerks", keySerial: large.serial, component: "DOC",
                            menus: ["DC021"], active: true), actor: "test")
                    let added = try await Self.post(
                        &browser, "/access-groups/Clerks/users/add", [("_csrf", csrf), ("search", "clerk"), ("scope", "all")])
                    #expect(added.headers[.location] == "/access-groups/Clerks?flash=users-added")
                    #expect(try await harness.store.group("Clerks")?.users.count == 120)
                    let none = Self.html(try await browser.request(.get, "/access-groups/Clerks?search=clerk"))
                    #expect(none.contains("No user outside the group matches “clerk”."))
                }
            }
        }

        @Test(arguments: Backend.services)
        func theUsersListPagesBothWaysWithTheTotalInNaturalOrder(backend: Backend) async throws {
            try await RegistryHarness.run(backend) { harness in
                _ = try await harness.registry.importUsers(
                    csv: "login,name,email\n" + (1...60).map { "user\($0),User \($0),user\($0)@example.com" }.joined(separator: "\n"),
                    dryRun: false, actor: "test")
                try await WebUITests().withBrowser(harness) { browser in
                    _ = try await browser.logIn()
                    let first = Self.html(try await browser.request(.get, "/users"))
                    #expect(first.contains("1–50 of 60 users"))
                    #expect(first.range(of: "/users/user2\"")!.lowerBound < first.range(of: "/users/user10\"")!.lowerBound, "user2 before user10")
                    #expect(first.contains(#"href="/users?page=2""#) && !first.contains("previous-page"))
                    let second = Self.html(try await browser.request(.get, "/users?page=2"))
                    #expect(second.contains("51–60 of 60 users") && second.contains(#"id="previous-page""#) && !second.contains(#"id="next-page""#))
                    #expect(second.contains("/users/user60\"") && !second.contains("/users/user9\""))
                    let search = Self.html(try await browser.request(.get, "/users?search=user1"))
                    #expect(search.contains("1–11 of 11 users matching “user1”"))
                    let empty = Self.html(try await browser.request(.get, "/users?search="))
                    #expect(!empty.contains("matches “”"), "an empty search is no search")
                    let nobody = Self.html(try await browser.request(.get, "/users?search=zzz"))
                    #expect(nobody.contains("No user matches “zzz”."))
                }
            }
        }

        // MARK: Point 10: messages that say what happened and what to do

        @Test func migratingWithNoGroupTickedSaysSoAndACertificateFileIsToldFromNoFile() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let key = try await harness.registerAndActivate(harness.accessKey(users: 5, profile: .staff, components: ["DOC"]), idNumber: "Docs")
                let target = try await harness.registerAndActivate(
                    harness.accessKey(users: 5, profile: .staff, components: ["DOC"]), idNumber: "Docs 2")
                for name in ["One", "Two"] {
                    _ = try await harness.registry.createGroup(
                        AccessGroupInput(idNumber: name, name: name, keySerial: key.serial, component: "DOC", menus: ["DC021"]), actor: "test")
                }
                try await WebUITests().withBrowser(harness) { browser in
                    _ = try await browser.logIn()
                    let csrf = try #require(Browser.csrf(in: try await browser.request(.get, "/license-keys/\(key.serial)/migrate")))
                    let preview = Self.html(
                        try await Self.post(
                            &browser, "/license-keys/\(key.serial)/migrate", [("_csrf", csrf), ("to", target.serial), ("action", "preview")]))
                    #expect(preview.contains("no access group was chosen; tick at least one of the 2 groups bound to"))
                    #expect(!preview.contains("no access group is bound to"))

                    func upload(_ part: String) -> ByteBuffer {
                        ByteBuffer(
                            string: "--XyZ\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n\(csrf)\r\n--XyZ\r\n" + part + "--XyZ--\r\n")
                    }
                    let none = Self.html(
                        try await browser.request(
                            .post, "/activation/certificate",
                            body: upload(
                                "Content-Disposition: form-data; name=\"certificate\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n"
                            ),
                            contentType: "multipart/form-data; boundary=XyZ"))
                    #expect(none.contains("No file was chosen"))
                    let notCertificate = Self.html(
                        try await browser.request(
                            .post, "/activation/certificate",
                            body: upload(
                                "Content-Disposition: form-data; name=\"certificate\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
                            ),
                            contentType: "multipart/form-data; boundary=XyZ"))
                    #expect(notCertificate.contains("This file is not an activation certificate"))
                    #expect(try await harness.store.activation()?.certificate.serials.count == 2)
                }
            }
        }

        @Test func theConnectionTestKeepsTheTypedTokenAndNamesTheWrongOrganizationAndTheDeadPort() async throws {
            try await SynchronizationTests.withAuthority { authority, url, token in
                _ = try await authority.createOrganization(id: "globex", legalName: "Globex", actor: "test")
                let globex = try await authority.store.createToken(
                    kind: TokenKind.organization, name: "globex", subject: "globex", actor: "test", now: Date()
                ).token.text
                try await RegistryHarness.run(.sqliteFile, trusting: authority.keyring.publicKeys) { harness in
                    harness.clock.set(Date())
                    let other = try await harness.registry.testConnection(url: url, token: globex)
                    #expect(other.code == "AUTHORITY_UNKNOWN_ORGANIZATION")
                    #expect(other.message.contains("belongs to another organization") && other.message.contains("acme"))
                    #expect(!other.message.contains("nothing at this address"))
                    let dead = try await harness.registry.testConnection(url: "http://127.0.0.1:9", token: token, timeout: .seconds(5))
                    #expect(dead.code == "AUTHORITY_UNREACHABLE")
                    #expect(dead.message.contains("Nothing answers at 127.0.0.1 port 9"), "\(dead.message)")
                    #expect(!dead.message.contains("errno"))
                    try await WebUITests().withBrowser(harness) { browser in
                        _ = try await browser.logIn()
                        let csrf = try #require(Browser.csrf(in: try await browser.request(.get, "/settings")))
                        let tested = Self.html(
                            try await browser.request(
                                .post, "/settings/authority", form: ["_csrf": csrf, "action": "test", "url": url, "token": token]))
                        #expect(tested.contains("<strong>CONNECTED</strong> · "))
                        #expect(!tested.contains("Connected:"), "the code is not repeated as a word")
                        #expect(tested.contains(#"value="\#(token)""#), "the typed token is kept for the Save that follows")
                        let saved = try await browser.request(
                            .post, "/settings/authority", form: ["_csrf": csrf, "action": "save", "url": url, "token": token])
                        #expect(saved.headers[.location] == "/settings?flash=settings-saved")
                        #expect(!Self.html(try await browser.request(.get, "/settings")).contains(token), "a saved token is never shown")
                    }
                }
            }
        }

        // MARK: Point 12: a browser gets the site's error page

        @Test func aBrowserGetsTheErrorPageAndAnAPIClientKeepsJSON() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                try await WebUITests().withBrowser(harness) { browser in
                    _ = try await browser.logIn()
                    let html = try await browser.client.executeRequest(
                        uri: "/no-such-page", method: .get, headers: [.accept: "text/html,application/xhtml+xml,*/*;q=0.8"],
                        body: nil)
                    #expect(html.status == .notFound)
                    #expect(html.headers[.contentType]?.hasPrefix("text/html") == true)
                    #expect(Self.html(html).contains(#"id="error-page""#) && Self.html(html).contains("There is nothing at this address."))
                    let json = try await browser.client.executeRequest(uri: "/no-such-page", method: .get, headers: [:], body: nil)
                    #expect(json.headers[.contentType]?.hasPrefix("application/json") == true)
                    let api = try await browser.client.executeRequest(
                        uri: "/api/v1/no-such-thing", method: .get, headers: [.accept: "text/html"], body: nil)
                    #expect(api.headers[.contentType]?.hasPrefix("application/json") == true, "an /api/ path answers JSON whatever it accepts")

                    let csrf = try #require(Browser.csrf(in: try await browser.request(.get, "/license-keys/new")))
                    let huge = "_csrf=\(csrf)&idNumber=Big&accessKey=" + String(repeating: "A", count: 1_100_000)
                    let cookie = browser.cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
                    let tooLarge = try await browser.client.executeRequest(
                        uri: "/license-keys", method: .post,
                        headers: [.accept: "text/html", .contentType: "application/x-www-form-urlencoded", .cookie: cookie],
                        body: ByteBuffer(string: huge))
                    #expect(tooLarge.status == .contentTooLarge)
                    #expect(tooLarge.headers[.contentType]?.hasPrefix("text/html") == true)
                    #expect(Self.html(tooLarge).contains(#"id="error-page""#))
                    #expect(try await harness.store.keys().isEmpty)
                }
            }
        }

        // MARK: Point 13: the smaller ones

        @Test func disconnectingAsksFirstAndSaysWhoWasDisconnected() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let key = try await harness.registerAndActivate(
                    harness.accessKey(users: 5, useType: .floating, components: ["WF"]), idNumber: "Float")
                for login in ["cyd", "dan", "eve"] {
                    _ = try await harness.registry.createUser(UserInput(login: login, name: login, email: "\(login)@example.com"), actor: "test")
                }
                _ = try await harness.registry.createGroup(
                    AccessGroupInput(
                        idNumber: "Flow", name: "Flow", keySerial: key.serial, component: "WF", menus: ["WF001"],
                        users: ["cyd", "dan", "eve"]), actor: "test")
                for login in ["cyd", "dan", "eve"] { _ = try await harness.registry.openSession(login: login, ip: nil, actor: "test") }
                try await WebUITests().withBrowser(harness) { browser in
                    _ = try await browser.logIn()
                    let list = Self.html(try await browser.request(.get, "/sessions"))
                    #expect(list.contains(#"href="/sessions/disconnect?login=cyd""#), "Disconnect opens a confirmation first")
                    let confirm = try await browser.request(.get, "/sessions/disconnect?login=cyd")
                    #expect(Self.html(confirm).contains("Disconnect user cyd?"))
                    #expect(try await harness.store.sessions(open: true, now: harness.clock.now).count == 3, "asking writes nothing")
                    let csrf = try #require(Browser.csrf(in: confirm))
                    let one = try await browser.request(.post, "/sessions/disconnect", form: ["_csrf": csrf, "login": "cyd"])
                    #expect(one.headers[.location] == "/sessions?flash=disconnected")
                    #expect(Self.html(try await browser.request(.get, "/sessions?flash=disconnected")).contains("User cyd was disconnected."))
                    #expect(Self.html(try await browser.request(.get, "/sessions/disconnect")).contains("Disconnect all 2 open sessions?"))
                    _ = try await browser.request(.post, "/sessions/disconnect", form: ["_csrf": csrf])
                    #expect(Self.html(try await browser.request(.get, "/sessions?flash=disconnected")).contains("2 sessions were disconnected."))
                }
            }
        }

        @Test func aStaleCreateKeyFormComesBackWithThePastedKey() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let key = harness.accessKey(serial: "KW-STAX-0001")
                try await WebUITests().withBrowser(harness) { browser in
                    _ = try await browser.logIn()
                    let stale = try await browser.request(
                        .post, "/license-keys", form: ["_csrf": "from-an-old-page", "idNumber": "Engineering", "accessKey": key])
                    #expect(stale.status == .forbidden)
                    let html = Self.html(stale)
                    #expect(html.contains(key) && html.contains(#"value="Engineering""#))
                    #expect(html.contains("press Save again"))
                    #expect(try await harness.store.keys().isEmpty)
                    // The page carries a fresh token: submitting it again works.
                    let again = try await browser.request(
                        .post, "/license-keys", form: ["_csrf": try #require(Browser.csrf(in: stale)), "idNumber": "Engineering", "accessKey": key])
                    #expect(again.headers[.location] == "/license-keys?flash=registered")
                }
            }
        }

        @Test func theLoginFieldsSayWhatTheyHoldForPasswordManagers() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                try await WebUITests().withBrowser(harness) { browser in
                    let login = Self.html(try await browser.request(.get, "/login"))
                    #expect(login.contains(#"id="login" name="login" autocomplete="username""#))
                    #expect(login.contains(#"type="password" autocomplete="current-password""#))
                }
            }
        }
    }
}
