import Foundation
import Hummingbird
import HummingbirdTesting
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import KeywardTestSupport
import KeywardWeb
import NIOCore
import Prometheus
import Testing

@testable import KeywardAuthorityHTTP

/// The vendor's console through its HTTP surface: sign-in, roles, CSRF, every page's forms and their refusals; the
/// clerk's browser walk (`scripts/console-browser-test.py`) clicks through the same pages in Chromium.
@Suite struct ConsoleTests {
    static let password = "a long enough password"

    /// Runs `body` with a browser on the console, and operators `ada` (admin), `clara` (clerk) and `otto` (auditor).
    func withConsole(_ backend: Backend = .sqliteFile, _ body: @escaping @Sendable (AuthorityHarness, inout TestBrowser) async throws -> Void)
        async throws
    {
        try await AuthorityHarness.run(backend) { harness in
            for (login, role) in [("ada", "admin"), ("clara", "clerk"), ("otto", "auditor")] {
                _ = try await harness.authority.createOperator(
                    login: login, name: "Operator \(login)", role: role, password: Self.password, actor: "system:test", cost: 4)
            }
            let console = try await AuthorityConsole.load(authority: harness.authority, passwords: PasswordHasher(cost: 4))
            let router = buildAuthorityRouter(
                AuthorityDependencies(authority: harness.authority, metrics: PrometheusCollectorRegistry(), console: console))
            try await Application(router: router).test(.router) { client in
                var browser = TestBrowser(client: client)
                try await body(harness, &browser)
            }
        }
    }

    static func html(_ response: TestResponse) -> String { String(buffer: response.body) }

    /// POSTs `form` with the CSRF token of the page at `page`.
    static func post(_ browser: inout TestBrowser, _ path: String, from page: String, _ form: [String: String]) async throws -> TestResponse {
        let csrf = try #require(TestBrowser.csrf(in: try await browser.request(.get, page)), "a form on \(page)")
        return try await browser.request(.post, path, form: form.merging(["_csrf": csrf]) { $1 })
    }

    static let line = ["profile": "manager", "useType": "nominative", "users": "25", "purchaseType": "sale", "components": "DOC"]

    @Test func operatorsLogInWithTheirPasswordAndOutAgain() async throws {
        try await withConsole { harness, browser in
            #expect(try await browser.request(.get, "/").headers[.location] == "/login")
            #expect(try await browser.request(.get, "/organizations").headers[.location] == "/login?next=%2Forganizations")
            let wrong = try await browser.logIn(login: "clara", password: "not the password")
            #expect(wrong.status == .ok && Self.html(wrong).contains("The login or password is wrong."))
            let disabled = try await browser.logIn(login: "nobody", password: Self.password)
            #expect(Self.html(disabled).contains("The login or password is wrong."), "an unknown login is told the same")
            let login = try await browser.logIn(login: "clara", password: Self.password)
            #expect(login.status == .seeOther && login.headers[.location] == "/")
            let cookie = try #require(login.headers[values: .setCookie].first { $0.hasPrefix("keyward_session=") })
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"))
            let dashboard = try await browser.request(.get, "/")
            #expect(dashboard.status == .ok)
            #expect(Self.html(dashboard).contains("Licensing at a glance") && Self.html(dashboard).contains(#"<span class="who">clara</span>"#))
            let events = try await AuditLog(database: harness.store.database).list(AuditQuery(action: "operator.signed-in"))
            #expect(events.map(\.actor) == ["operator:clara"])
            let csrf = try #require(TestBrowser.csrf(in: dashboard))
            #expect(try await browser.request(.post, "/logout", form: ["_csrf": csrf]).headers[.location] == "/login?flash=logged-out")
            #expect(try await browser.request(.get, "/").headers[.location] == "/login")
        }
    }

    @Test func afterLoggingInTheOperatorGoesBackToThePageThatAskedButNeverOffTheSite() async throws {
        try await withConsole { _, browser in
            for (next, expected) in [
                ("%2Forganizations", "/organizations"), ("https%3A%2F%2Fevil.example", "/"), ("%2F%2Fevil.example", "/"),
                ("%2F%09%2Fevil.example", "/"), ("%2F%5Cevil.example", "/"), ("%2Flogin", "/"),
            ] {
                browser.cookies = [:]
                let page = try await browser.request(.get, "/login?next=\(next)")
                let csrf = try #require(TestBrowser.csrf(in: page))
                let answer = try await browser.request(
                    .post, "/login?next=\(next)", form: ["_csrf": csrf, "login": "clara", "password": Self.password])
                #expect(answer.headers[.location] == expected, "next=\(next)")
            }
        }
    }

    @Test func theRootOfAnAuthorityWithoutTheConsoleStaysTheAPIs404AndAPIClientsKeepJSON() async throws {
        try await withConsole { harness, browser in
            // An API path stays JSON for a client that accepts HTML too.
            var headers: HTTPFields = [.accept: "text/html,application/json"]
            headers[.authorization] = "Bearer \(harness.operatorToken)"
            let api = try await browser.client.executeRequest(uri: "/v1/organizations/ghost", method: .get, headers: headers, body: nil)
            #expect(api.status == .notFound && api.headers[.contentType]?.contains("json") == true)
            _ = try await browser.logIn(login: "clara", password: Self.password)
            let page = try await browser.request(.get, "/keys/KW-NONE-0000")
            #expect(page.status == .notFound && Self.html(page).contains("There is no key KW-NONE-0000"))
            #expect(Self.html(page).contains(#"href="/">Back to the dashboard"#))
        }
    }

    @Test func aFormWithoutItsCSRFTokenIsRefusedAndWritesNothing() async throws {
        try await withConsole { harness, browser in
            _ = try await browser.logIn(login: "clara", password: Self.password)
            let before = try await harness.fingerprint()
            for (path, form) in [("/organizations", ["id": "acme", "legalName": "ACME"]), ("/logout", [:])] {
                #expect(try await browser.request(.post, path, form: form).status == .forbidden, "\(path)")
                #expect(try await browser.request(.post, path, form: form.merging(["_csrf": "forged"]) { $1 }).status == .forbidden)
            }
            #expect(try await harness.fingerprint() == before)
        }
    }

    @Test func anAuditorReadsEverythingAndChangesNothing() async throws {
        try await withConsole { harness, browser in
            try await harness.withAPI { api in try await api.createOrganization("acme") }
            _ = try await browser.logIn(login: "otto", password: Self.password)
            let organization = try await browser.request(.get, "/organizations/acme")
            #expect(organization.status == .ok && !Self.html(organization).contains("Create token"), "an auditor is offered no change")
            let before = try await harness.fingerprint()
            let refused = try await Self.post(&browser, "/organizations", from: "/organizations", ["id": "beta", "legalName": "Beta"])
            #expect(refused.status == .forbidden && Self.html(refused).contains("Your role (auditor) may not do this"))
            var after = try await harness.fingerprint()
            #expect(after["audit_events"] == (before["audit_events"] ?? 0) + 1)
            after["audit_events"] = before["audit_events"]
            #expect(after == before, "nothing but the audit line")
            let line = try #require(try await AuditLog(database: harness.store.database).list(AuditQuery(limit: 1)).first)
            #expect(line.action == "operator.refused" && line.actor == "operator:otto" && line.target == "POST /organizations")
        }
    }

    @Test func aClerkCreatesAnOrganizationRefusedBesideTheFieldFirst() async throws {
        try await withConsole { harness, browser in
            _ = try await browser.logIn(login: "clara", password: Self.password)
            let before = try await harness.fingerprint()
            let bad = try await Self.post(&browser, "/organizations", from: "/organizations", ["id": "Bad Id!", "legalName": ""])
            #expect(bad.status == .ok)
            #expect(Self.html(bad).contains(#"id="id-error""#) && Self.html(bad).contains(#"id="legal-name-error""#), "both problems at once")
            #expect(Self.html(bad).contains(#"value="Bad Id!""#), "what was typed is kept")
            #expect(try await harness.fingerprint() == before)
            let made = try await Self.post(&browser, "/organizations", from: "/organizations", ["id": "acme", "legalName": "ACME Industries"])
            #expect(made.headers[.location] == "/organizations/acme?flash=organization-created")
            let taken = try await Self.post(&browser, "/organizations", from: "/organizations", ["id": "acme", "legalName": "Other"])
            #expect(taken.status == .ok && Self.html(taken).contains(#"id="id-error""#))
            let renamed = try await Self.post(&browser, "/organizations/acme", from: "/organizations/acme", ["legalName": "ACME Industries Ltd."])
            #expect(renamed.headers[.location] == "/organizations/acme?flash=organization-saved")
            #expect(try await harness.store.organization("acme")?.legalName == "ACME Industries Ltd.")
            let events = try await AuditLog(database: harness.store.database).list(AuditQuery(target: "organization:acme"))
            #expect(events.map(\.actor) == ["operator:clara", "operator:clara"])
        }
    }

    @Test(arguments: Backend.services)
    func theOrganizationSearchFindsByIdOrLegalNameAPageAtATime(backend: Backend) async throws {
        try await withConsole(backend) { harness, browser in
            for index in 0..<120 {
                _ = try await harness.authority.createOrganization(id: "org-\(index)", legalName: "Company \(index) 100%_Ltd", actor: "test")
            }
            _ = try await harness.authority.createOrganization(id: "acme", legalName: "ACME Industries", actor: "test")
            _ = try await browser.logIn(login: "otto", password: Self.password)
            let all = Self.html(try await browser.request(.get, "/organizations"))
            #expect(all.contains("1–50 of 121 organizations") && all.contains(#"id="next-page""#))
            #expect(!all.contains("matching"), "no search, no “matching” line")
            let second = Self.html(try await browser.request(.get, "/organizations?offset=50"))
            #expect(second.contains("51–100 of 121") && second.contains(#"id="previous-page""#))
            let byName = Self.html(try await browser.request(.get, "/organizations?q=acme%20ind"))
            #expect(byName.contains("1–1 of 1 organizations") && byName.contains("/organizations/acme"))
            // LIKE's wildcards are the text typed, not patterns.
            let literal = Self.html(try await browser.request(.get, "/organizations?q=%25_"))
            #expect(literal.contains("of 120 organizations"), "only the names holding %_ match")
            let none = Self.html(try await browser.request(.get, "/organizations?q=zzz"))
            #expect(none.contains("No organization matches"))
        }
    }

    @Test func anAgreementOfThreeLinesShowsEveryProblemOfEveryLineAtOnceThenIssuesItsKeys() async throws {
        try await withConsole { harness, browser in
            _ = try await harness.authority.createOrganization(id: "acme", legalName: "ACME Industries", actor: "test")
            _ = try await browser.logIn(login: "clara", password: Self.password)
            let page = "/organizations/acme/agreements/new"
            let grown = try await Self.post(&browser, page, from: page, ["action": "add-line", "lineCount": "1", "reference": "2026-ACME-001"])
            #expect(Self.html(grown).contains("Line 2") && Self.html(grown).contains(#"value="2026-ACME-001""#), "a line is added, nothing lost")
            var form = ["reference": "", "lineCount": "3", "action": "save"]
            for (index, line) in [
                Self.line, Self.line.merging(["useType": "floating", "purchaseType": "trial"]) { $1 }, Self.line.merging(["users": "many"]) { $1 },
            ].enumerated() {
                for (name, value) in line { form["lines[\(index)].\(name)"] = value }
            }
            let before = try await harness.fingerprint()
            let refused = try await Self.post(&browser, page, from: page, form)
            let html = Self.html(refused)
            #expect(refused.status == .ok)
            #expect(html.contains(#"id="reference-error""#), "the reference")
            #expect(html.contains(#"id="line-2""#) && html.contains("card card-warning\" id=\"line-2\""), "line 2's expiry")
            #expect(html.contains("card card-warning\" id=\"line-3\"") && html.contains("Type the number of users"), "line 3's users")
            #expect(!html.contains("card card-warning\" id=\"line-1\""), "line 1 is fine")
            #expect(html.contains("Nothing was saved: 3 problem(s)"))
            #expect(try await harness.fingerprint() == before)
            form["reference"] = "2026-ACME-001"
            form["lines[1].expiresAt"] = "2027-06-30"
            form["lines[2].users"] = "5"
            let made = try await Self.post(&browser, page, from: page, form)
            let location = try #require(made.headers[.location])
            #expect(location.hasPrefix("/organizations/acme/agreements/AG-") && location.hasSuffix("?flash=agreement-created"))
            let agreement = Self.html(try await browser.request(.get, location))
            #expect(agreement.components(separatedBy: "/keys/KW-").count - 1 == 3, "the three keys it made")
            #expect(try await harness.store.keys(of: "acme").count == 3)
            let issued = try await AuditLog(database: harness.store.database).list(AuditQuery(action: "license-key.issued"))
            #expect(issued.count == 3 && issued.allSatisfy { $0.actor == "operator:clara" })
        }
    }

    @Test func renewSwitchAndRevokeAreEachConfirmedAndAudited() async throws {
        try await withConsole { harness, browser in
            _ = try await harness.authority.createOrganization(id: "acme", legalName: "ACME Industries", actor: "test")
            let spec = LicenseKeySpecification(profile: .manager, useType: .nominative, users: 25, purchaseType: .sale, components: ["DOC"])
            let first = try await harness.authority.issue(spec, organizationId: "acme", actor: "test").serial
            let second = try await harness.authority.issue(spec, organizationId: "acme", actor: "test").serial
            _ = try await browser.logIn(login: "clara", password: Self.password)
            let keyPage = Self.html(try await browser.request(.get, "/keys/\(first)"))
            let accessKey = try #require(try await harness.store.key(first)).accessKey
            #expect(keyPage.contains(#"id="access-key""#) && keyPage.contains(accessKey))
            let file = try await browser.request(.get, "/keys/\(first)/access-key.txt")
            #expect(file.headers[.contentDisposition] == "attachment; filename=\"\(first).txt\"")
            #expect(String(buffer: file.body).hasPrefix("key/"))

            let before = try await harness.fingerprint()
            let unconfirmed = try await Self.post(&browser, "/keys/\(first)/renew", from: "/keys/\(first)", ["expiresAt": "2028-12-31"])
            #expect(unconfirmed.status == .ok && Self.html(unconfirmed).contains("Tick the box to confirm that you mean to renew"))
            let badDate = try await Self.post(&browser, "/keys/\(first)/renew", from: "/keys/\(first)", ["expiresAt": "next year", "confirm": "yes"])
            #expect(Self.html(badDate).contains(#"id="renew-error""#))
            let noReason = try await Self.post(&browser, "/keys/\(second)/revoke", from: "/keys/\(second)", ["reason": " ", "confirm": "yes"])
            #expect(noReason.status == .ok && Self.html(noReason).contains(#"id="revoke-error""#))
            let badSwitch = try await Self.post(
                &browser, "/keys/\(second)/switch", from: "/keys/\(second)", Self.line.merging(["users": "0", "confirm": "yes"]) { $1 })
            #expect(
                badSwitch.status == .ok && Self.html(badSwitch).contains("<details open>"), "the switch form opens with its problem"
            )
            #expect(try await harness.fingerprint() == before, "no refused form wrote anything")

            let renewed = try await Self.post(
                &browser, "/keys/\(first)/renew", from: "/keys/\(first)", ["expiresAt": "2028-12-31", "confirm": "yes"])
            #expect(renewed.headers[.location] == "/keys/\(first)?flash=renewed")
            #expect(try await harness.store.key(first)?.license.expiresAt == Timestamp.parseDayOrTimestamp("2028-12-31"))
            let switched = try await Self.post(
                &browser, "/keys/\(second)/switch", from: "/keys/\(second)", Self.line.merging(["users": "40", "confirm": "yes"]) { $1 })
            let replacement = try #require(switched.headers[.location]?.split(separator: "?").first.map { String($0.dropFirst("/keys/".count)) })
            #expect(try await harness.store.key(second)?.replacedBy == replacement)
            #expect(try await harness.store.key(replacement)?.license.users == 40)
            let old = Self.html(try await browser.request(.get, "/keys/\(second)"))
            #expect(old.contains(#"id="replaced-by""#) && !old.contains(#"id="renew""#), "a revoked key offers no change")
            let revoked = try await Self.post(
                &browser, "/keys/\(replacement)/revoke", from: "/keys/\(replacement)", ["reason": "Agreement ended", "confirm": "yes"])
            #expect(revoked.headers[.location] == "/keys/\(replacement)?flash=revoked")
            let actions = try await AuditLog(database: harness.store.database).list(AuditQuery(actor: "operator:clara")).map(\.action)
            #expect(Set(actions).isSuperset(of: ["license-key.renewed", "license-key.switched", "license-key.revoked"]))
        }
    }

    @Test(arguments: Backend.services)
    func offlineActivationReadsTheRequestNamesRevokedAndUnknownKeysAndSignsTheCertificate(backend: Backend) async throws {
        try await withConsole(backend) { harness, browser in
            _ = try await harness.authority.createOrganization(id: "acme", legalName: "ACME Industries", actor: "test")
            let spec = LicenseKeySpecification(profile: .manager, useType: .nominative, users: 25, purchaseType: .sale, components: ["DOC"])
            let kept = try await harness.authority.issue(spec, organizationId: "acme", actor: "test").serial
            let gone = try await harness.authority.issue(spec, organizationId: "acme", actor: "test").serial
            _ = try await harness.authority.revoke(gone, reason: "Contract ended", actor: "test")
            _ = try await browser.logIn(login: "clara", password: Self.password)
            let file = ActivationRequestFile(
                organizationId: "acme", installationId: "inst-offline", environment: .test, serials: [kept, gone, "KW-GHST-0000"], promote: false)
            let json = String(decoding: try KeywardJSON.encoder.encode(file), as: UTF8.self)
            let csrf = try #require(TestBrowser.csrf(in: try await browser.request(.get, "/activation")))
            let boundary = "kwboundary"
            func upload(_ content: String) async throws -> TestResponse {
                let body =
                    "--\(boundary)\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n\(csrf)\r\n--\(boundary)\r\nContent-Disposition: form-data; name=\"request\"; filename=\"request.json\"\r\nContent-Type: application/json\r\n\r\n\(content)\r\n--\(boundary)--\r\n"
                return try await browser.request(
                    .post, "/activation/request", body: ByteBuffer(string: body), contentType: "multipart/form-data; boundary=\(boundary)")
            }
            let before = try await harness.fingerprint()
            let notARequest = try await upload("{\"hello\": 1}")
            #expect(notARequest.status == .ok && Self.html(notARequest).contains("This file is not an activation request"))
            let preview = Self.html(try await upload(json))
            #expect(preview.contains("1 revoked") && preview.contains("1 unknown") && preview.contains("Unknown: not issued to acme"))
            #expect(preview.contains("Contract ended"))
            #expect(try await harness.fingerprint() == before, "reading a request writes nothing")

            let requestText = try #require(
                preview.range(of: #"name="request" value=""#).map { range in
                    String(preview[range.upperBound...].prefix { $0 != "\"" })
                })
            let unescaped = requestText.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#34;", with: "\"")
                .replacingOccurrences(of: "&amp;", with: "&")
            // A key the authority never issued to the organization refuses the activation, shown on the same page.
            let refused = try await browser.request(.post, "/activation/activate", form: ["_csrf": csrf, "request": unescaped])
            #expect(refused.status == .ok && Self.html(refused).contains("KW-GHST-0000"), "\(refused.status)")
            #expect(try await harness.fingerprint() == before, "a refused activation writes nothing")
            var known = file
            known.serials = [kept, gone]
            let knownText = String(decoding: try KeywardJSON.encoder.encode(known), as: UTF8.self)
            let activated = try await browser.request(.post, "/activation/activate", form: ["_csrf": csrf, "request": knownText])
            let done = Self.html(activated)
            #expect(
                activated.status == .ok && done.contains("The certificate covers 1 key(s)"),
                "\(done.components(separatedBy: "<main>").last!.prefix(600))")
            #expect(done.contains("\(gone) is revoked (Contract ended)"), "the revoked key is named, so the registry learns it")
            #expect(try await harness.store.installations(of: "acme").map(\.installationId) == ["inst-offline"])
            let certificate = try #require(
                done.range(of: #"name="certificate" value=""#).map { range in
                    String(done[range.upperBound...].prefix { $0 != "\"" })
                }
            ).replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#34;", with: "\"").replacingOccurrences(
                of: "&amp;", with: "&")
            let download = try await browser.request(.post, "/activation/certificate", form: ["_csrf": csrf, "certificate": certificate])
            #expect(download.headers[.contentDisposition] == "attachment; filename=\"activation-inst-offline.json\"")
            let signed = try KeywardJSON.decoder.decode(SignedDocument.self, from: Data(buffer: download.body))
            let payload = try signed.verifiedPayload(for: .certificate, trust: harness.trust)
            #expect(try KeywardJSON.decoder.decode(ActivationCertificate.self, from: payload).serials == [kept])
            let forged = try await browser.request(
                .post, "/activation/certificate",
                form: ["_csrf": csrf, "certificate": certificate.replacingOccurrences(of: "\"kid\"", with: "\"kid2\"")])
            #expect(forged.status == .unprocessableContent, "only what this authority signed is answered")
        }
    }

    @Test(arguments: Backend.services)
    func theAuditLogFiltersByOrganizationOperatorActionAndPeriodAndExportsCSV(backend: Backend) async throws {
        try await withConsole(backend) { harness, browser in
            _ = try await harness.authority.createOrganization(id: "acme", legalName: "=HYPERLINK(\"x\")", actor: "operator:clara")
            _ = try await harness.authority.createOrganization(id: "beta", legalName: "Beta", actor: "operator:ada")
            let spec = LicenseKeySpecification(profile: .manager, useType: .nominative, users: 25, purchaseType: .sale, components: ["DOC"])
            let serial = try await harness.authority.issue(spec, organizationId: "acme", actor: "operator:clara").serial
            _ = try await browser.logIn(login: "otto", password: Self.password)
            let acme = Self.html(try await browser.request(.get, "/audit?organization=acme"))
            #expect(acme.contains("organization:acme") && acme.contains("license-key:\(serial)") && !acme.contains("organization:beta"))
            let byOperator = Self.html(try await browser.request(.get, "/audit?operator=ada"))
            #expect(byOperator.contains("organization:beta") && !byOperator.contains("organization:acme"))
            let byAction = Self.html(try await browser.request(.get, "/audit?action=license-key.issued"))
            #expect(byAction.contains("license-key:\(serial)") && !byAction.contains("organization:beta"))
            let future = Self.html(try await browser.request(.get, "/audit?from=2030-01-01"))
            #expect(future.contains("No event matches"))
            let badDate = try await browser.request(.get, "/audit?until=soon")
            #expect(badDate.status == .ok && Self.html(badDate).contains("Type a date as YYYY-MM-DD"))
            let unknown = Self.html(try await browser.request(.get, "/audit?organization=ghost"))
            #expect(unknown.contains("There is no organization ghost"))
            let csv = try await browser.request(.get, "/audit/export.csv?organization=acme")
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            let lines = String(buffer: csv.body).split(separator: "\r\n")
            #expect(lines.first == "id,occurred_at,actor,action,target,details")
            #expect(lines.count == 3, "organization.created and license-key.issued: \(lines)")
            // The legal name is inside the details' JSON, whose cell starts with `{`: no cell starts with `=`.
            #expect(!String(buffer: csv.body).contains(",=") && !String(buffer: csv.body).contains(",\"="))
        }
    }

    @Test func csvFieldsAreQuotedAndNeverFormulas() {
        #expect(AuditPages.csvField("plain") == "plain")
        #expect(AuditPages.csvField("a,b") == "\"a,b\"")
        #expect(AuditPages.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(AuditPages.csvField("=1+1") == "'=1+1")
        #expect(AuditPages.csvField("@SUM(A1),x") == "\"'@SUM(A1),x\"")
        #expect(AuditPages.csvField("-2") == "'-2")
    }

    @Test func tokensAreShownOnceAndRevokedAndOperatorsAreAnAdminsToManage() async throws {
        try await withConsole { harness, browser in
            _ = try await harness.authority.createOrganization(id: "acme", legalName: "ACME Industries", actor: "test")
            _ = try await browser.logIn(login: "clara", password: Self.password)
            let made = Self.html(
                try await Self.post(&browser, "/organizations/acme/tokens", from: "/organizations/acme", ["name": "production registry"]))
            let shown = try #require(made.range(of: #"id="new-token-value">"#).map { String(made[$0.upperBound...].prefix { $0 != "<" }) })
            #expect(shown.hasPrefix("kw_"))
            let again = Self.html(try await browser.request(.get, "/organizations/acme"))
            #expect(!again.contains(shown) && again.contains("production registry"), "shown once, listed by name")
            let token = try #require(try await TokenStore(database: harness.store.database).list(kinds: ["organization"], subject: "acme").first)
            let revoked = try await Self.post(&browser, "/organizations/acme/tokens/\(token.id)/revoke", from: "/organizations/acme", [:])
            #expect(revoked.headers[.location] == "/organizations/acme?flash=token-revoked")
            #expect(try await TokenStore(database: harness.store.database).record(id: token.id)?.revokedAt != nil)
            // A clerk reads the operators and cannot make one.
            #expect(try await browser.request(.get, "/operators").status == .ok)
            let clerkTries = try await Self.post(&browser, "/operators", from: "/operators", ["login": "bo", "name": "Bo", "role": "clerk"])
            #expect(clerkTries.status == .forbidden && Self.html(clerkTries).contains("it is for an admin"))
            browser.cookies = [:]
            _ = try await browser.logIn(login: "ada", password: Self.password)
            let badRole = try await Self.post(&browser, "/operators", from: "/operators", ["login": "bo", "name": "Bo", "role": "boss"])
            #expect(badRole.status == .ok && Self.html(badRole).contains("The role is admin"))
            let created = Self.html(try await Self.post(&browser, "/operators", from: "/operators", ["login": "bo", "name": "Bo", "role": "clerk"]))
            #expect(created.contains(#"id="new-operator-password""#))
            let disabled = try await Self.post(&browser, "/operators/clara/disable", from: "/operators", [:])
            #expect(disabled.headers[.location] == "/operators?flash=operator-disabled")
            let own = try await Self.post(&browser, "/operators/ada/disable", from: "/operators", [:])
            #expect(own.status == .conflict && Self.html(own).contains("You cannot disable your own account"))
        }
    }

    @Test func aDisabledOperatorsSessionEndsAtOnce() async throws {
        try await withConsole { harness, browser in
            _ = try await browser.logIn(login: "clara", password: Self.password)
            #expect(try await browser.request(.get, "/").status == .ok)
            _ = try await harness.store.setOperatorActive("clara", false, actor: "operator:ada", now: harness.clock.now)
            #expect(try await browser.request(.get, "/").headers[.location] == "/login")
            #expect(Self.html(try await browser.logIn(login: "clara", password: Self.password)).contains("The login or password is wrong."))
        }
    }

    @Test func theSigningKeysPageOffersThePublicKeysAsPEMAndHex() async throws {
        try await withConsole { harness, browser in
            _ = try await browser.logIn(login: "otto", password: Self.password)
            let kid = harness.authority.keyring.activeKey.kid
            #expect(Self.html(try await browser.request(.get, "/signing-keys")).contains(kid))
            let pem = try await browser.request(.get, "/signing-keys/public-keys.pem")
            #expect(String(buffer: pem.body).hasPrefix("-----BEGIN PUBLIC KEY-----"))
            let hex = String(buffer: try await browser.request(.get, "/signing-keys/public-keys.txt").body)
            #expect(hex == "\(kid) \(harness.authority.keyring.activeKey.publicKey.hex)\n")
        }
    }
}

extension ConsoleTests {
    @Test func aClerkPromotesAnInstallationWithAReasonAndTheFourthChangeOfTheMonthIsRefused() async throws {
        try await withConsole { harness, browser in
            _ = try await harness.authority.createOrganization(id: "acme", legalName: "ACME Industries", actor: "test")
            let spec = LicenseKeySpecification(profile: .manager, useType: .nominative, users: 25, purchaseType: .sale, components: ["DOC"])
            let serial = try await harness.authority.issue(spec, organizationId: "acme", actor: "test").serial
            for installation in ["inst-a", "inst-b"] {
                _ = try await harness.authority.activate(
                    ActivationRequestFile(
                        organizationId: "acme", installationId: installation, environment: .test, serials: [serial], promote: false),
                    actor: "test")
            }
            _ = try await browser.logIn(login: "clara", password: Self.password)
            let page = "/organizations/acme"
            let before = try await harness.fingerprint()
            let unconfirmed = try await Self.post(&browser, "\(page)/installations/inst-a/promote", from: page, ["reason": "Go-live"])
            #expect(Self.html(unconfirmed).contains(#"id="promote-error-inst-a""#))
            let noReason = try await Self.post(&browser, "\(page)/installations/inst-a/promote", from: page, ["reason": " ", "confirm": "yes"])
            #expect(Self.html(noReason).contains("Give a reason"))
            #expect(try await harness.fingerprint() == before)
            // inst-a becomes production (one change), then inst-b (two: inst-a back to test, inst-b to production).
            for (installation, reason) in [("inst-a", "Go-live"), ("inst-b", "Moved")] {
                let done = try await Self.post(
                    &browser, "\(page)/installations/\(installation)/promote", from: page, ["reason": reason, "confirm": "yes"])
                #expect(done.headers[.location] == "\(page)?flash=promoted", "\(installation)")
            }
            #expect(Self.html(try await browser.request(.get, page)).contains("0 of 3 environment changes left this month."))
            let after = try await harness.fingerprint()
            let fourth = try await Self.post(&browser, "\(page)/installations/inst-a/promote", from: page, ["reason": "Back", "confirm": "yes"])
            let refusal = Self.html(fourth)
            #expect(fourth.status == .ok && refusal.contains(#"id="promote-error-inst-a""#))
            #expect(
                refusal.contains("2026-04") || refusal.contains("April") || refusal.contains("Apr"),
                "the refusal says when the next change is possible")
            #expect(try await harness.fingerprint() == after, "a refused promotion writes nothing")
            let production = try await harness.store.installations(of: "acme").filter { $0.environment == .production }.map(\.installationId)
            #expect(production == ["inst-b"], "one production installation, the last promoted")
        }
    }

    @Test func anAdminRotatesTheSigningKeyAndAKeyInUseIsNotRetiredWithoutForce() async throws {
        try await withConsole { harness, browser in
            _ = try await harness.authority.createOrganization(id: "acme", legalName: "ACME Industries", actor: "test")
            let spec = LicenseKeySpecification(profile: .manager, useType: .nominative, users: 25, purchaseType: .sale, components: ["DOC"])
            _ = try await harness.authority.issue(spec, organizationId: "acme", actor: "test")
            let old = harness.authority.keyring.activeKey.kid
            _ = try await browser.logIn(login: "clara", password: Self.password)
            let clerk = try await Self.post(&browser, "/signing-keys/rotate", from: "/signing-keys", ["confirm": "yes"])
            #expect(clerk.status == .forbidden, "the signing keys are an admin's")
            browser.cookies = [:]
            _ = try await browser.logIn(login: "ada", password: Self.password)
            let rotated = try await Self.post(&browser, "/signing-keys/rotate", from: "/signing-keys", ["confirm": "yes"])
            #expect(rotated.headers[.location] == "/signing-keys?flash=rotated")
            #expect(harness.authority.keyring.activeKey.kid != old, "the running console signs with the new key at once")
            let inUse = try await Self.post(&browser, "/signing-keys/\(old)/retire", from: "/signing-keys", ["confirm": "yes"])
            #expect(inUse.status == .ok && Self.html(inUse).contains("still signs 1 live key"))
            #expect(harness.authority.keyring.retired.isEmpty)
            let forced = try await Self.post(&browser, "/signing-keys/\(old)/retire", from: "/signing-keys", ["confirm": "yes", "force": "yes"])
            #expect(forced.headers[.location] == "/signing-keys?flash=retired")
            #expect(harness.authority.keyring.retired.map(\.kid) == [old])
            let actions = try await AuditLog(database: harness.store.database).list(AuditQuery(actor: "operator:ada")).map(\.action)
            #expect(actions.contains("signing-key.rotated") && actions.contains("signing-key.retired"))
        }
    }
}

extension ConsoleTests {
    @Test(arguments: Backend.services)
    func anOrganizationWithManyKeysShowsThemAPageAtATimeAndItsAuditLogInOneQuery(backend: Backend) async throws {
        try await withConsole(backend) { harness, browser in
            _ = try await harness.authority.createOrganization(id: "acme", legalName: "ACME Industries", actor: "test")
            _ = try await harness.authority.createOrganization(id: "beta", legalName: "Beta", actor: "test")
            let spec = LicenseKeySpecification(profile: .basic, useType: .nominative, users: 1, purchaseType: .sale, components: ["DOC"])
            let organization = try #require(try await harness.store.organization("acme"))
            // 1,200 keys in one batch: more than one page, and more than a statement may bind in an IN list.
            let keys = try (0..<1_200).map { _ in try harness.authority.sign(spec, for: organization, field: nil) }
            _ = try await harness.store.storeIssuedKeys(keys, organizationId: "acme", actor: "operator:clara", now: harness.clock.now)
            _ = try await harness.authority.issue(spec, organizationId: "beta", actor: "operator:clara")
            _ = try await browser.logIn(login: "otto", password: Self.password)
            let first = Self.html(try await browser.request(.get, "/organizations/acme"))
            #expect(first.contains("1–100 of 1200 keys") && first.contains(#"id="next-keys""#) && !first.contains(#"id="previous-keys""#))
            #expect(first.components(separatedBy: #"<a class="row-link mono" href="/keys/"#).count - 1 == 100)
            let last = Self.html(try await browser.request(.get, "/organizations/acme?keys=1100"))
            #expect(last.contains("1101–1200 of 1200 keys") && !last.contains(#"id="next-keys""#) && last.contains(#"id="previous-keys""#))
            let audit = try await harness.store.auditEvents(ofOrganization: "acme", AuditQuery(action: "license-key.issued", limit: 500))
            #expect(audit.count == 500 && audit.allSatisfy { $0.target.hasPrefix("license-key:KW-") })
            let beta = try await harness.store.auditEvents(ofOrganization: "beta", AuditQuery(limit: 500))
            #expect(beta.map(\.action).sorted() == ["license-key.issued", "organization.created"], "only beta's own events")
        }
    }
}
