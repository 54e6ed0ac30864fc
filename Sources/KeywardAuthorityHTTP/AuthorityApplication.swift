import AsyncHTTPClient
import Configuration
import Foundation
import Hummingbird
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardOIDC
import KeywardStore
import KeywardWeb
import Logging
import Prometheus

/// Everything the authority's HTTP service runs on, made once at start.
public struct AuthorityDependencies: Sendable {
    public let authority: Authority
    public let metrics: PrometheusCollectorRegistry
    /// The bearer token `/metrics` asks for; `nil` leaves it open (for a scraper on a private network).
    public let metricsToken: String?
    /// The vendor's console under `/`; without it the root answers the API's 404.
    public let console: AuthorityConsole?

    public init(authority: Authority, metrics: PrometheusCollectorRegistry, metricsToken: String? = nil, console: AuthorityConsole? = nil) {
        self.authority = authority
        self.metrics = metrics
        self.metricsToken = metricsToken
        self.console = console
    }
}

/// The authority's application: the router on `host:port`, with the database closed after the server on shutdown.
public func buildAuthorityApplication(
    _ dependencies: AuthorityDependencies, host: String, port: Int, limits: ConnectionLimits = .init(), logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    buildKeywardApplication(
        router: buildAuthorityRouter(dependencies), database: dependencies.authority.store.database,
        serverName: "keyward-authority", host: host, port: port, limits: limits, logger: logger, onServerRunning: onServerRunning)
}

/// Where the authority's data is (`dataDir`, `database`): its store and its signing keys. `keyward authority serve`
/// and the authority's other commands open it through this.
public struct AuthoritySetup: Sendable {
    public let directory: URL
    public let database: String?

    public init(directory: URL, database: String?) {
        self.directory = directory
        self.database = database
    }

    public init(settings: Settings) {
        self.init(
            directory: URL(fileURLWithPath: settings.string("dataDir") ?? "./keyward-authority-data", isDirectory: true),
            database: settings.string("database"))
    }

    private var databaseSetting: String { database ?? directory.appendingPathComponent("authority.sqlite").path }

    /// The store, opened and migrated for a command; its files readable by this account only (they hold token hashes
    /// and every key issued).
    public func openStore(logger: Logger) async throws -> AuthorityStore {
        AuthorityStore(database: try await KeywardDatabase.open(setting: databaseSetting, migrating: Schema.authority, logger: logger))
    }

    /// The store for `authority serve`, migrated, its database run by the application as its first service.
    public func openServiceStore(logger: Logger) async throws -> AuthorityStore {
        let opened = try await KeywardDatabase.openForService(setting: databaseSetting, migrating: Schema.authority, logger: logger) { _ in }
        return AuthorityStore(database: opened.database)
    }

    /// The signing keys in the data directory.
    public func loadKeyring() throws -> AuthorityKeyring {
        do {
            return try AuthorityKeyring.load(from: directory)
        } catch {
            throw StartupFailure(error.message)
        }
    }

    /// The authority's operations over the store and the keyring, with the shipped catalog.
    public func openAuthority(logger: Logger) async throws -> Authority {
        let keyring = try loadKeyring()
        let catalog = try Catalog.shipped()
        return Authority(store: try await openStore(logger: logger), keyring: keyring, catalog: catalog)
    }
}

/// The authority, made from its settings: the composition root `keyward authority serve` and the tests share.
///
/// Checks the settings before anything is written (limits, the metrics token, a port in use), opens and migrates the
/// store, loads the signing keys, and runs the database first and the server last. Settings: `host`, `port` (default
/// 8081), `dataDir`, `database`, `http.*`, `metrics.token(File)`, `secureCookies`, and `oidc.*` for operators signing in
/// to the console with an identity provider. `onServerRunning` gets the port and the line to show.
public func buildAuthorityApplication(
    reader: ConfigReader, logger: Logger, metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
    onServerRunning: @escaping @Sendable (_ port: Int, _ line: String) async -> Void = { _, _ in }
) async throws -> some ApplicationProtocol {
    let settings = Settings(reader: reader)
    let limits = try settings.connectionLimits()
    let metricsToken = try settings.metricsToken()
    let secureCookies = try settings.secureCookies()
    let configuredSignIn = try settings.oidc()
    let signInRedirect = try settings.signInRedirectURI(site: "authority")
    let listening = try settings.listening(serverName: "keyward-authority", defaultPort: 8081, limits: limits)
    try ListeningAddress.checkFree(host: listening.host, port: listening.port, flag: "--port")
    let setup = AuthoritySetup(settings: settings)
    let keyring = try setup.loadKeyring()
    let catalog = try Catalog.shipped()
    let authority = Authority(store: try await setup.openServiceStore(logger: logger), keyring: keyring, catalog: catalog)
    let host = listening.host
    let signIn = configuredSignIn.map {
        OperatorSignIn(settings: $0.settings, secret: $0.secret, relyingParty: OIDCRelyingParty(http: HTTPClient.shared))
    }
    let console = try await AuthorityConsole.load(
        authority: authority, signIn: signIn, secureCookies: secureCookies, signInRedirect: signInRedirect)
    let dependencies = AuthorityDependencies(authority: authority, metrics: metrics, metricsToken: metricsToken, console: console)
    return buildKeywardApplication(
        router: buildAuthorityRouter(dependencies), database: authority.store.database, configuration: listening.configuration,
        limits: limits, logger: logger
    ) { port in
        await onServerRunning(
            port, "Keyward authority listening on http://\(host):\(port) (console at /, API under /v1; database \(authority.store.database.location))"
        )
    }
}
