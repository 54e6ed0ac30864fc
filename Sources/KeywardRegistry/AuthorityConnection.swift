import AsyncHTTPClient
import Foundation
import KeywardDomain
import KeywardStore
import NIOConcurrencyHelpers
import NIOCore

/// The licensing authority this registry talks to, which an administrator may change while it runs (the settings
/// page); every activation and synchronization reads the current one.
public final class AuthorityConnection: Sendable {
    /// Where the URL and token came from.
    public enum Source: String, Sendable, Codable {
        /// `--authority-url`, `KEYWARD_AUTHORITY_URL` or the config file: the settings page cannot change them.
        case configuration
        /// Saved on the settings page.
        case settings
        /// Nothing configured.
        case none
    }

    public struct State: Sendable {
        public let client: AuthorityClient?
        public let source: Source
    }

    private let state: NIOLockedValueBox<State>
    /// The HTTP client of every authority client, including one set later on the settings page.
    public let http: HTTPClient

    public init(client: AuthorityClient?, source: Source? = nil, http: HTTPClient) {
        state = NIOLockedValueBox(State(client: client, source: source ?? (client == nil ? .none : .configuration)))
        self.http = http
    }

    public var current: State { state.withLockedValue { $0 } }
    public var client: AuthorityClient? { current.client }

    /// Replaces the client after the settings changed; refused when the configuration fixed it.
    func replace(with client: AuthorityClient?) throws {
        try state.withLockedValue { state in
            guard state.source != .configuration else { throw RegistryError.settingsLocked }
            state = State(client: client, source: client == nil ? .none : .settings)
        }
    }
}

/// What the settings page shows of the authority connection: never the token.
public struct AuthoritySettings: Codable, Sendable, Hashable {
    public let url: String?
    public let tokenSaved: Bool
    public let source: AuthorityConnection.Source
    /// `false` when the server's configuration sets them.
    public let editable: Bool
}

/// The outcome of "Test connection".
public struct ConnectionTest: Codable, Sendable, Hashable {
    public let ok: Bool
    public let code: String
    public let message: String
    /// The feed's revision and key count, when the authority sent a feed this installation accepts.
    public let revision: Int64?
    public let keys: Int?

    public init(ok: Bool, code: String, message: String, revision: Int64?, keys: Int?) {
        self.ok = ok
        self.code = code
        self.message = message
        self.revision = revision
        self.keys = keys
    }
}

extension Registry {
    /// The authority connection as the settings page shows it.
    public func authoritySettings() -> AuthoritySettings {
        let state = connection.current
        return AuthoritySettings(
            url: state.client?.baseURL, tokenSaved: state.client != nil, source: state.source,
            editable: state.source != .configuration)
    }

    /// Saves the authority URL and organization token and uses them from now on. A blank token keeps the saved one;
    /// a blank URL clears both.
    @discardableResult
    public func saveAuthoritySettings(url text: String, token tokenText: String?, actor: String) async throws -> AuthoritySettings {
        let state = connection.current
        guard state.source != .configuration else { throw RegistryError.settingsLocked }
        let url = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if url.isEmpty {
            try await store.saveSettings([.authorityURL: nil, .syncToken: nil], actor: actor, now: now())
            try connection.replace(with: nil)
            return authoritySettings()
        }
        let client = try Self.client(url: url, token: tokenText, saved: state.client, http: connection.http)
        var changes: [RegistrySetting: String?] = [.authorityURL: client.baseURL]
        if client.token != state.client?.token { changes[.syncToken] = client.token }
        try await store.saveSettings(changes, actor: actor, now: now())
        try connection.replace(with: client)
        return authoritySettings()
    }

    /// A client for a URL and token typed on the settings page, checked; a blank token means the saved one.
    public static func client(url: String, token tokenText: String?, saved: AuthorityClient?, http: HTTPClient) throws -> AuthorityClient {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = parsed.host, !host.isEmpty, parsed.query == nil, parsed.user == nil, url.count <= 2048
        else {
            throw RegistryError.invalid(
                FieldError(
                    field: "url", code: "INVALID_URL",
                    message: "The authority URL must be an http:// or https:// address, such as https://licensing.example.com."))
        }
        let token: String
        if let typed = try typedToken(tokenText) {
            token = typed
        } else {
            guard let saved else {
                throw RegistryError.invalid(
                    FieldError(
                        field: "token", code: "TOKEN_REQUIRED",
                        message: "Enter the organization token the vendor gave you (it starts with kw_)."))
            }
            // The saved token goes only to the saved URL, whether saving or testing: another URL needs its own token.
            guard AuthorityClient.normalized(url) == saved.baseURL else {
                throw RegistryError.invalid(
                    FieldError(
                        field: "token", code: "TOKEN_REQUIRED",
                        message: "Type the organization token to use another URL: the saved token is sent only to the saved URL."))
            }
            token = saved.token
        }
        return AuthorityClient(baseURL: url, token: token, http: http)
    }

    /// A token typed on the settings page, trimmed: `nil` when blank (the saved one), `INVALID_TOKEN` when it is not shaped
    /// like an organization token.
    static func typedToken(_ text: String?) throws -> String? {
        let typed = text?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard !typed.isEmpty else { return nil }
        guard APIToken(typed) != nil else {
            throw RegistryError.invalid(
                FieldError(
                    field: "token", code: "INVALID_TOKEN",
                    message: "This is not an organization token: it looks like kw_ followed by 12 and 32 letters and digits."))
        }
        return typed
    }

    /// Tries the authority: the given URL and token, or the saved ones. It fetches the organization's feed and checks
    /// its signature and organization, so a wrong URL, token or trusted key all show up, and applies nothing.
    /// The test waits at most `timeout`: an administrator is waiting for the page.
    public func testConnection(url: String? = nil, token: String? = nil, timeout: TimeAmount = .seconds(10)) async throws -> ConnectionTest {
        let state = connection.current
        let saved = state.client
        let typedURL = url?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let typedToken = try Self.typedToken(token)
        // The configuration fixes the connection: only it may be tried, so nothing typed can point the token elsewhere.
        if state.source == .configuration, !typedURL.isEmpty || typedToken != nil { throw RegistryError.settingsLocked }
        var client: AuthorityClient
        if !typedURL.isEmpty {
            client = try Self.client(url: typedURL, token: token, saved: saved, http: connection.http)
        } else if let typed = typedToken {
            // A token without a URL: the URL in use, with this token (it used to be ignored).
            guard let saved else { throw RegistryError.noAuthority }
            client = AuthorityClient(baseURL: saved.baseURL, token: typed, http: saved.http)
        } else if let saved {
            client = saved
        } else {
            throw RegistryError.noAuthority
        }
        client = AuthorityClient(baseURL: client.baseURL, token: client.token, http: client.http, timeout: min(timeout, client.timeout))
        do {
            guard let answer = try await client.feed(organizationId: installation.organization.id, etag: nil) else {
                throw RegistryError.feed(code: "FEED_MALFORMED", message: "The authority answered 304 to a request without an entity tag.")
            }
            let envelope = try verifiedEnvelope(answer.body)
            return ConnectionTest(
                ok: true, code: "CONNECTED",
                message:
                    "\(client.baseURL) accepted the token and sent organization \(envelope.organization.id)'s feed, revision \(envelope.revision), with \(envelope.keys.count) keys, signed by a trusted key.",
                revision: envelope.revision, keys: envelope.keys.count)
        } catch let error as RegistryError {
            return ConnectionTest(ok: false, code: error.code, message: error.message, revision: nil, keys: nil)
        }
    }

    /// The saved settings applied over what the configuration left unset, at start-up.
    public static func connection(configured: AuthorityClient?, saved: [RegistrySetting: String], http: HTTPClient) -> AuthorityConnection {
        if let configured { return AuthorityConnection(client: configured, source: .configuration, http: http) }
        if let url = saved[.authorityURL], let token = saved[.syncToken] {
            return AuthorityConnection(client: AuthorityClient(baseURL: url, token: token, http: http), source: .settings, http: http)
        }
        return AuthorityConnection(client: nil, http: http)
    }
}
