import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore

/// A browser for the web UIs' tests: keeps the cookies it is given, sends forms, reads a page's CSRF token.
public struct TestBrowser {
    public let client: any TestClientProtocol
    public var cookies: [String: String] = [:]

    public init(client: any TestClientProtocol) { self.client = client }

    public mutating func request(
        _ method: HTTPRequest.Method, _ path: String, form: [String: String]? = nil, body: ByteBuffer? = nil, contentType: String? = nil
    ) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        var payload = body
        if let form {
            headers[.contentType] = "application/x-www-form-urlencoded"
            payload = ByteBuffer(
                string: form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
            )
        }
        if let contentType { headers[.contentType] = contentType }
        let response = try await client.executeRequest(uri: path, method: method, headers: headers, body: payload)
        for line in response.headers[values: .setCookie] {
            let pair = line.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            if pair.count == 2 { cookies[String(pair[0])] = String(pair[1]) }
        }
        return response
    }

    /// The first form's CSRF token on the page.
    public static func csrf(in response: TestResponse) -> String? {
        let html = String(buffer: response.body)
        guard let range = html.range(of: #"name="_csrf" value=""#) else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }

    /// Logs in through the site's login form.
    public mutating func logIn(login: String, password: String) async throws -> TestResponse {
        let page = try await request(.get, "/login")
        return try await request(.post, "/login", form: ["_csrf": Self.csrf(in: page) ?? "", "login": login, "password": password])
    }
}
