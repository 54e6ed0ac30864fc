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
    /// The web UI through its HTTP surface: sessions, CSRF, forms; the browser test walks the pages themselves.
    @Suite struct WebUITests {
        typealias Browser = TestBrowser

        func withBrowser(_ harness: RegistryHarness, _ body: @escaping @Sendable (inout Browser) async throws -> Void) async throws {
            let app = Application(
                router: buildRegistryRouter(try await RegistryDependencies(registry: harness.registry, metrics: .init(), throttle: harness.throttle)))
            try await app.test(.router) { client in
                var browser = Browser(client: client)
                try await body(&browser)
            }
        }

        @Test func loggingInSetsAnHttpOnlySameSiteCookieAndLoggingOutEndsTheSession() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                try await withBrowser(harness) { browser in
                    #expect(try await browser.request(.get, "/license-keys").headers[.location] == "/login")
                    let login = try await browser.logIn()
                    #expect(login.status == .seeOther)
                    #expect(login.headers[.location] == "/license-keys")
                    let cookie = try #require(login.headers[values: .setCookie].first { $0.hasPrefix("keyward_session=") })
                    #expect(cookie.contains("HttpOnly"))
                    #expect(cookie.contains("SameSite=Lax"))
                    let page = try await browser.request(.get, "/license-keys")
                    #expect(page.status == .ok)
                    #expect(String(buffer: page.body).contains("License key"))
                    let csrf = try #require(Browser.csrf(in: page))
                    #expect(try await browser.request(.post, "/logout", form: ["_csrf": csrf]).headers[.location] == "/login?flash=logged-out")
                    #expect(try await browser.request(.get, "/license-keys").headers[.location] == "/login")
                }
            }
        }

        @Test func formsWithoutTheirCSRFTokenAreRefusedAndWriteNothing() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let key = harness.accessKey(serial: "KW-WEBB-0001")
                try await withBrowser(harness) { browser in
                    // The login form itself needs its token.
                    let forged = try await browser.request(
                        .post, "/login", form: ["_csrf": "forged", "login": "admin", "password": RegistryHarness.password])
                    #expect(forged.status == .forbidden)
                    _ = try await browser.logIn()
                    let before = try await harness.fingerprint()
                    for (path, form) in [
                        ("/license-keys", ["idNumber": "X", "accessKey": key]), ("/license-keys/synchronize", [:]), ("/activation", [:]),
                        ("/settings/authority", ["action": "save", "url": "https://evil.example.com", "token": APIToken.generate().text]),
                        ("/logout", [:]),
                    ] {
                        let missing = try await browser.request(.post, path, form: form)
                        #expect(missing.status == .forbidden, "\(path)")
                        let wrong = try await browser.request(.post, path, form: form.merging(["_csrf": "not-the-token"]) { $1 })
                        #expect(wrong.status == .forbidden, "\(path)")
                    }
                    #expect(try await harness.fingerprint() == before)
                    // With the token the same form works.
                    let page = try await browser.request(.get, "/license-keys/new")
                    let created = try await browser.request(
                        .post, "/license-keys", form: ["_csrf": Browser.csrf(in: page)!, "idNumber": "Web", "accessKey": key])
                    #expect(created.headers[.location] == "/license-keys?flash=registered")
                }
            }
        }

        @Test func refusalsAreShownBesideTheFieldInWords() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                try await withBrowser(harness) { browser in
                    _ = try await browser.logIn()
                    let page = try await browser.request(.get, "/license-keys/new")
                    let csrf = try #require(Browser.csrf(in: page))
                    let expired = try await browser.request(
                        .post, "/license-keys",
                        form: [
                            "_csrf": csrf, "idNumber": "Old", "accessKey": harness.accessKey(expiresAt: "2026-01-02T00:00:00Z"),
                        ])
                    let html = String(buffer: expired.body)
                    #expect(html.contains(#"id="accessKey-error""#))
                    #expect(html.contains("EXPIRED"))
                    #expect(html.contains("Ask the vendor to renew it"))
                    #expect(html.contains(#"value="Old""#))
                    let badName = try await browser.request(
                        .post, "/license-keys", form: ["_csrf": csrf, "idNumber": "", "accessKey": harness.accessKey()])
                    #expect(String(buffer: badName.body).contains(#"id="idNumber-error""#))
                    #expect(try await harness.store.keys().isEmpty)
                }
            }
        }

        @Test func aTestInstallationShowsItsBannerOnEveryPage() async throws {
            for environment in [InstallationEnvironment.test, .production] {
                try await RegistryHarness.run(.sqliteFile, environment: environment) { harness in
                    try await withBrowser(harness) { browser in
                        let login = String(buffer: try await browser.request(.get, "/login").body)
                        _ = try await browser.logIn()
                        let keys = String(buffer: try await browser.request(.get, "/license-keys").body)
                        let activation = String(buffer: try await browser.request(.get, "/activation").body)
                        for page in [login, keys, activation] {
                            #expect(page.contains("banner-test") == (environment == .test))
                        }
                    }
                }
            }
        }

        @Test func theListWarnsOfExpiryAt30And7And1Days() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                // The harness's clock is 2026-06-01T09:00Z.
                let expiries = [
                    "KW-EXPR-0020": "2026-06-21T12:00:00Z", "KW-EXPR-0005": "2026-06-06T12:00:00Z", "KW-EXPR-0001": "2026-06-02T12:00:00Z",
                    "KW-EXPR-0090": "2026-09-01T00:00:00Z",
                ]
                for (serial, expiry) in expiries {
                    try await harness.registry.register(
                        idNumber: serial, accessKey: harness.accessKey(serial: serial, expiresAt: expiry), actor: "test")
                }
                try await withBrowser(harness) { browser in
                    _ = try await browser.logIn()
                    let html = String(buffer: try await browser.request(.get, "/license-keys").body)
                    #expect(html.contains(#"<span class="warning warning-notice">20 days left</span>"#))
                    #expect(html.contains(#"<span class="warning warning-soon">5 days left</span>"#))
                    #expect(html.contains(#"<span class="warning warning-urgent">expires tomorrow</span>"#))
                    #expect(html.components(separatedBy: "class=\"warning ").count == 4, "the key expiring in 92 days carries no warning")
                }
            }
        }

        @Test func aCertificateIsUploadedAsAFile() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                try await harness.registry.register(idNumber: "One", accessKey: harness.accessKey(serial: "KW-WEBB-0002"), actor: "test")
                let certificate = String(decoding: try JSONEncoder().encode(harness.certificate(serials: ["KW-WEBB-0002"])), as: UTF8.self)
                try await withBrowser(harness) { browser in
                    _ = try await browser.logIn()
                    let page = try await browser.request(.get, "/activation")
                    #expect(String(buffer: page.body).contains("+ key"))
                    let csrf = try #require(Browser.csrf(in: page))
                    func upload(_ content: String, token: String) -> ByteBuffer {
                        ByteBuffer(
                            string: "--XyZ\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n\(token)\r\n--XyZ\r\n"
                                + "Content-Disposition: form-data; name=\"certificate\"; filename=\"certificate.json\"\r\nContent-Type: application/json\r\n\r\n"
                                + "\(content)\r\n--XyZ--\r\n")
                    }
                    let garbage = try await browser.request(
                        .post, "/activation/certificate", body: upload("{}", token: csrf), contentType: "multipart/form-data; boundary=XyZ")
                    #expect(String(buffer: garbage.body).contains(#"id="certificate-error""#))
                    let forged = try await browser.request(
                        .post, "/activation/certificate", body: upload(certificate, token: "nope"), contentType: "multipart/form-data; boundary=XyZ")
                    #expect(forged.status == .forbidden)
                    #expect(try await harness.store.activation() == nil)
                    let installed = try await browser.request(
                        .post, "/activation/certificate", body: upload(certificate, token: csrf), contentType: "multipart/form-data; boundary=XyZ")
                    #expect(installed.headers[.location] == "/activation?flash=activated")
                    #expect(try await harness.registry.activationState().status == .active)
                    let request = try await browser.request(.get, "/activation/request")
                    #expect(request.headers[.contentDisposition]?.contains("attachment") == true)
                }
            }
        }
    }
}

extension TestBrowser {
    /// Logs the registry's built-in administrator in through the login form.
    mutating func logIn(password: String = RegistryHarness.password) async throws -> TestResponse {
        try await logIn(login: "admin", password: password)
    }
}
