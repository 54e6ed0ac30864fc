import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KeywardHTTP
import KeywardRegistry
import KeywardRegistryHTTP
import KeywardStore
import KeywardTestSupport
import KeywardWeb
import Prometheus
import Testing

extension RegistryTests {
    /// Every answer tells browsers not to sniff content types nor leak the URL; API answers and refusals are never
    /// cached; the session cookie is `Secure` behind HTTPS.
    @Suite struct SecurityHeadersTests {
        @Test func everyAnswerCarriesTheHardeningHeaders() async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                try await harness.withAPI { api in
                    for (path, token) in [
                        ("/api/v1/license-keys", api.token), ("/api/v1/license-keys", nil), ("/api/v1/nothing", api.token),
                        ("/health/live", nil), ("/login", nil), ("/static/keyward.css", nil),
                    ] {
                        let reply = try await api.call(.get, path, token: .some(token))
                        #expect(reply.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff", "\(path)")
                        #expect(reply.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer", "\(path)")
                        let caching = reply.headers[.cacheControl]
                        #expect(
                            path == "/static/keyward.css" ? caching?.hasPrefix("max-age") == true : caching == "no-store",
                            "\(path): \(caching ?? "none")"
                        )
                    }
                }
            }
        }

        @Test(arguments: [(SecureCookies.auto, false, false), (.auto, true, true), (.always, false, true), (.never, true, false)])
        func theSessionCookieIsSecureBehindHTTPS(policy: SecureCookies, forwardedHTTPS: Bool, secure: Bool) async throws {
            try await RegistryHarness.run(.sqliteFile) { harness in
                let dependencies = try await RegistryDependencies(
                    registry: harness.registry, metrics: PrometheusCollectorRegistry(), throttle: harness.throttle,
                    secureCookies: policy)
                try await Application(router: buildRegistryRouter(dependencies)).test(.router) { client in
                    var headers: HTTPFields = [:]
                    if forwardedHTTPS { headers[HTTPField.Name("X-Forwarded-Proto")!] = "https" }
                    let page = try await client.executeRequest(uri: "/login", method: .get, headers: headers, body: nil)
                    let csrfCookie = try #require(page.headers[values: .setCookie].first { $0.hasPrefix("keyward_login_csrf=") })
                    #expect(csrfCookie.contains("Secure") == secure)
                    let csrf = try #require(WebUITests.Browser.csrf(in: page))
                    headers[.cookie] = String(csrfCookie.split(separator: ";")[0])
                    headers[.contentType] = "application/x-www-form-urlencoded"
                    let form =
                        "_csrf=\(csrf)&login=admin&password=\(RegistryHarness.password.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
                    let login = try await client.executeRequest(uri: "/login", method: .post, headers: headers, body: ByteBuffer(string: form))
                    let session = try #require(login.headers[values: .setCookie].first { $0.hasPrefix("keyward_session=") })
                    #expect(session.contains("Secure") == secure, "\(session)")
                    #expect(session.contains("HttpOnly"))
                }
            }
        }
    }
}
