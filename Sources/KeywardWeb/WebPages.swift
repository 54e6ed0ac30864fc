import Foundation
import HTTPTypes
import Hummingbird
import KeywardHTTP
import Mustache
import NIOCore

/// What the registry's web UI and the authority's console share: the templates (the layout, the login form and the
/// error page here, each site's own pages beside them), the stylesheet, the one script and the icon, and how a page,
/// a redirect and a refusal are answered. Pages work without JavaScript.
public struct WebPages: Sendable {
    public let templates: MustacheLibrary
    public let stylesheet: String
    public let script: String
    /// The site's name in the header and the tab (`Keyward`, `Keyward authority`).
    public let site: String
    /// The site's first page, where the header's name and the error page lead.
    public let home: Link

    /// A link a template shows: `{{href}}`, `{{label}}`.
    public struct Link: Sendable {
        public let href: String
        public let label: String

        public init(href: String, label: String) {
            self.href = href
            self.label = label
        }
    }

    /// Loads the shared templates, then every `.mustache` file of `templatesDirectory` (a site's own pages; one named
    /// like a shared one replaces it).
    public static func load(templatesDirectory: URL, site: String, home: Link) async throws -> WebPages {
        guard let shared = Bundle.module.resourceURL else {
            throw APIError(.internalServerError, code: "RESOURCES_MISSING", message: "The web UI's templates are missing from this build.")
        }
        // Every template names this content type in its first line, so every value goes through `HTML.escape`.
        MustacheContentTypes.register(EscapedHTML(), named: EscapedHTML.name)
        var templates = try await MustacheLibrary(directory: shared.appendingPathComponent("templates").path)
        let files = try FileManager.default.contentsOfDirectory(atPath: templatesDirectory.path).filter { $0.hasSuffix(".mustache") }
        for file in files {
            let text = try String(contentsOf: templatesDirectory.appendingPathComponent(file), encoding: .utf8)
            try templates.register(text, named: String(file.dropLast(".mustache".count)))
        }
        return WebPages(
            templates: templates,
            stylesheet: try String(contentsOf: shared.appendingPathComponent("static/keyward.css"), encoding: .utf8),
            script: try String(contentsOf: shared.appendingPathComponent("static/keyward.js"), encoding: .utf8), site: site, home: home)
    }

    /// The values every page's layout needs whoever is signed in: the site's name and first page.
    public var layoutValues: [String: Any] { ["site": site, "home": home.href, "homeName": home.label] }

    /// A rendered page, never cached, never framed, under the sites' content security policy.
    public func page(_ template: String, _ values: [String: Any], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        let html = templates.render(values, withTemplate: template) ?? "Page \(template) is missing."
        var fields = headers
        fields[.contentType] = "text/html; charset=utf-8"
        fields[.cacheControl] = "no-store"
        fields[.init("X-Frame-Options")!] = "DENY"
        fields[.init("Content-Security-Policy")!] = HTML.contentSecurityPolicy
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// A `303 See Other` to `location`, setting `cookies`.
    public static func redirect(_ location: String, cookies: [Cookie] = []) -> Response {
        var response = Response.redirect(to: location, type: .normal)
        for cookie in cookies { response.setCookie(cookie) }
        return response
    }

    /// A file to save: `name` is offered as the download's name.
    public static func download(_ text: String, name: String, contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: contentType, .cacheControl: "no-store", .contentDisposition: "attachment; filename=\"\(name)\"",
                .init("X-Content-Type-Options")!: "nosniff",
            ],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// A refusal as the site's error page, with its status, sentence, headers (`Retry-After`, ...) and a way back;
    /// `layout` holds the signed-in person's values, if any.
    public func errorPage(_ refusal: APIError, layout: [String: Any] = [:]) -> Response {
        var values = layoutValues.merging(layout) { _, signedIn in signedIn }
        values["status"] = Int(refusal.status.code)
        values["code"] = refusal.code
        values["message"] = refusal.message
        switch refusal.status {
        case .contentTooLarge:
            values["hint"] = "Nothing was saved. Go back and send less: an access key is a few KiB, so check that only the key was pasted."
        case .notFound: values["hint"] = "Check the address, or start again from the menu above."
        default: break
        }
        var response = page("error", values, status: refusal.status)
        for field in refusal.headers where field.name != .contentType { response.headers.append(field) }
        return response
    }

    /// The stylesheet, the script and the icon, for any site's router.
    public func assets<Context: RequestContext>(context: Context.Type) -> RouteCollection<Context> {
        let stylesheet = self.stylesheet
        let script = self.script
        return RouteCollection(context: Context.self)
            .get("/static/keyward.css") { _, _ in Self.asset(stylesheet, type: "text/css; charset=utf-8", maxAge: 3600) }
            .get("/static/keyward.js") { _, _ in Self.asset(script, type: "text/javascript; charset=utf-8", maxAge: 3600) }
            .get("/favicon.ico") { _, _ in Self.asset(Self.favicon, type: "image/svg+xml", maxAge: 86400) }
    }

    static func asset(_ text: String, type: String, maxAge: Int) -> Response {
        Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "max-age=\(maxAge)"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// A key in a rounded square, as the tab icon.
    static let favicon =
        ##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0f2747"/><circle cx="12" cy="16" r="5" fill="none" stroke="#fff" stroke-width="3"/><path d="M17 16h10M23 16v4M27 16v3" stroke="#fff" stroke-width="3"/></svg>"##

    /// Whether an answer goes to a person's browser: it asks for HTML, and the path is not under one of `apiPrefixes`.
    public static func isBrowser(_ request: Request, apiPrefixes: [String]) -> Bool {
        let path = request.uri.path
        if apiPrefixes.contains(where: { path.hasPrefix($0 + "/") || path == $0 }) { return false }
        return request.headers[values: .accept].contains { $0.lowercased().contains("text/html") }
    }
}

/// The templates' content type: values escaped by `HTML.escape` (by byte), not by swift-mustache's own escaping, which
/// compares whole grapheme clusters and so misses a `<` joined to the letter before it.
public struct EscapedHTML: MustacheContentType {
    public static let name = "KEYWARD_HTML"

    public init() {}

    public func escapeText(_ text: String) -> String { HTML.escape(text) }
}

/// Thrown for pages that need a signed-in person; becomes a redirect to the login page.
public struct WebRedirect: Error {
    public let location: String

    public init(location: String) { self.location = location }
}

/// Turns `WebRedirect` into a `303 See Other`, and a page's refusal into the site's error page with its status and
/// sentence. `refusal` says which errors are refusals (the others go on to the JSON error middleware).
public struct WebPageErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let refusal: @Sendable (any Error) -> APIError?
    let errorPage: @Sendable (APIError, Request) async -> Response

    public init(refusal: @escaping @Sendable (any Error) -> APIError?, errorPage: @escaping @Sendable (APIError, Request) async -> Response) {
        self.refusal = refusal
        self.errorPage = errorPage
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let redirect as WebRedirect {
            return Response.redirect(to: redirect.location, type: .normal)
        } catch {
            guard let refusal = refusal(error) else { throw error }
            return await errorPage(refusal, request)
        }
    }
}

/// Answers a browser's refusals that no page handled (an unknown address, a body too large, a method not allowed)
/// with the site's error page instead of the API's JSON; API clients (paths under `apiPrefixes`) keep the JSON.
public struct BrowserErrorPageMiddleware<Context: RequestContext>: RouterMiddleware {
    let apiPrefixes: [String]
    let errorPage: @Sendable (APIError, Request) async -> Response

    public init(apiPrefixes: [String], errorPage: @escaping @Sendable (APIError, Request) async -> Response) {
        self.apiPrefixes = apiPrefixes
        self.errorPage = errorPage
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError where WebPages.isBrowser(request, apiPrefixes: apiPrefixes) {
            return await errorPage(error, request)
        }
    }
}
