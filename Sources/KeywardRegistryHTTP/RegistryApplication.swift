import AsyncHTTPClient
import Configuration
import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardLDAP
import KeywardOIDC
import KeywardRegistry
import KeywardStore
import KeywardWeb
import Logging
import Prometheus
import ServiceLifecycle

/// Everything the registry's HTTP service runs on, made once at start.
public struct RegistryDependencies: Sendable {
    public let registry: Registry
    public let metrics: PrometheusCollectorRegistry
    public let throttle: LoginThrottle
    public let synchronizer: Synchronizer
    /// The daily synchronization, when an authority is configured and it runs.
    public let scheduler: SyncScheduler?
    /// The LDAP directory's synchronization, and its daily run.
    public let ldapSynchronizer: LDAPSynchronizer
    public let ldapScheduler: SyncScheduler?
    public let web: WebUI
    /// The bearer token `/metrics` asks for; `nil` leaves it open (for a scraper on a private network).
    public let metricsToken: String?

    public init(
        registry: Registry, metrics: PrometheusCollectorRegistry, throttle: LoginThrottle = LoginThrottle(),
        synchronizer: Synchronizer? = nil, scheduler: SyncScheduler? = nil, ldapScheduler: SyncScheduler? = nil, metricsToken: String? = nil,
        secureCookies: SecureCookies = .auto, signInRedirect: String? = nil, loadingAccess: Bool = true
    ) async throws {
        self.registry = registry
        self.ldapSynchronizer = (ldapScheduler?.job as? LDAPSynchronizer) ?? LDAPSynchronizer(registry: registry)
        self.ldapScheduler = ldapScheduler
        self.metrics = metrics
        self.throttle = throttle
        self.metricsToken = metricsToken
        let synchronizer = synchronizer ?? Synchronizer(registry: registry)
        self.synchronizer = synchronizer
        self.scheduler = scheduler
        self.web = try await WebUI.load(
            registry: registry, throttle: throttle, synchronizer: synchronizer, scheduler: scheduler,
            ldapSynchronizer: ldapSynchronizer, ldapScheduler: ldapScheduler, secureCookies: secureCookies, signInRedirect: signInRedirect)
        if loadingAccess { try await registry.loadAccess() }
    }
}

/// The registry's application on `host:port`, with the database closed after the server on shutdown.
public func buildRegistryApplication(
    _ dependencies: RegistryDependencies, host: String, port: Int, limits: ConnectionLimits = .init(), logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    buildKeywardApplication(
        router: buildRegistryRouter(dependencies), database: dependencies.registry.store.database,
        serverName: "keyward", host: host, port: port, limits: limits, logger: logger, onServerRunning: onServerRunning)
}

/// Where a registry's data is and which authority keys it trusts, read from its settings (`dataDir`, `database`,
/// `trust.keys`, `trust.files`, `authority.url`, `organizationToken`, `organizationTokenFile`). `keyward serve` and the CLI's other
/// commands open the registry through it.
public struct RegistrySetup: Sendable {
    public let settings: Settings
    public let directory: URL
    public let database: String?
    public let trustKeys: [String]
    public let trustFiles: [String]

    public init(settings: Settings, trustKeys: [String] = [], trustFiles: [String] = []) {
        self.settings = settings
        self.directory = URL(fileURLWithPath: settings.string("dataDir") ?? "./keyward-data", isDirectory: true)
        self.database = settings.string("database")
        self.trustKeys = trustKeys + settings.strings("trust.keys")
        self.trustFiles = trustFiles + settings.strings("trust.files")
    }

    private var databasePath: String { database ?? directory.appendingPathComponent("registry.sqlite").path }

    /// Whether the database is SQLite and its file does not exist yet: a first start, told before anything is written.
    public var isFirstStartOnSQLite: Bool {
        guard case .sqliteFile(let path)? = try? DatabaseLocation.parse(databasePath) else { return false }
        return !FileManager.default.fileExists(atPath: path)
    }

    /// Trusted keys given once are kept here, so later starts need no flags.
    public var trustFileInDirectory: URL { directory.appendingPathComponent("trusted-keys.txt") }

    /// The store, opened and migrated for a command, in a data directory only this account may read.
    public func openStore(logger: Logger) async throws -> RegistryStore {
        try makeDirectory(logger: logger)
        return RegistryStore(database: try await KeywardDatabase.open(setting: databasePath, migrating: Schema.registry, logger: logger))
    }

    /// The store for `keyward serve`, migrated, with `setup` run on it before any service (``KeywardDatabase/beforeServing(_:)``);
    /// its database is run by the application as its first service.
    public func openServiceStore<T>(logger: Logger, setup: (RegistryStore) async throws -> T) async throws -> (store: RegistryStore, setup: T) {
        try makeDirectory(logger: logger)
        let opened = try await KeywardDatabase.openForService(setting: databasePath, migrating: Schema.registry, logger: logger) {
            try await setup(RegistryStore(database: $0))
        }
        return (RegistryStore(database: opened.database), opened.setup)
    }

    /// The data directory, only this account may read; a bad database name is refused before it is made.
    private func makeDirectory(logger: Logger) throws {
        DataDirectoryPermissions.restrictNewFiles()
        do {
            _ = try DatabaseLocation.parse(databasePath)
        } catch {
            throw SettingError("--database", error.message)
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for warning in DataDirectoryPermissions.tighten(directory) { logger.warning("\(warning)") }
    }

    /// The trusted keys: the settings' keys and files, and the data directory's trust file, which new keys are added to.
    public func loadTrust(extra: [AuthorityPublicKey] = []) throws -> TrustStore {
        var files = trustFiles
        if FileManager.default.fileExists(atPath: trustFileInDirectory.path) { files.append(trustFileInDirectory.path) }
        var trust: TrustStore
        do {
            trust = try TrustConfiguration.load(keys: trustKeys, files: files)
        } catch {
            throw SettingError("--trust-key", error.message)
        }
        for key in extra { trust.trust(key) }
        let known = (try? TrustStore.parse(String(contentsOf: trustFileInDirectory, encoding: .utf8))) ?? []
        let new = trust.all.filter { !known.contains($0) }
        if !new.isEmpty {
            let lines = new.map { "\($0.hex)  # kid \($0.kid)" }.joined(separator: "\n") + "\n"
            if let handle = FileHandle(forWritingAtPath: trustFileInDirectory.path) {
                handle.seekToEndOfFile()
                handle.write(Data(lines.utf8))
                try? handle.close()
            } else {
                try ("# Authority public keys this registry trusts, one per line.\n" + lines).write(
                    to: trustFileInDirectory, atomically: true, encoding: .utf8)
            }
        }
        return trust
    }

    /// The authority from the settings (`authority.url` with `organizationTokenFile` or `organizationToken`), if they
    /// name one. `sync.tokenFile` and `sync.token` (`--sync-token-file`, `KEYWARD_SYNC_TOKEN`) are the old names,
    /// accepted until the next release.
    public func configuredAuthority(http: HTTPClient) throws -> AuthorityClient? {
        guard let url = settings.string("authority.url") else { return nil }
        let given = try settings.secret(file: "organizationTokenFile", flag: "--organization-token-file", value: "organizationToken")
        guard let token = try given ?? settings.secret(file: "sync.tokenFile", flag: "--sync-token-file", value: "sync.token") else {
            throw SettingError(
                "--organization-token-file",
                "the authority URL \(url) is set, but no organization token: give --organization-token-file FILE or KEYWARD_ORGANIZATION_TOKEN.")
        }
        return AuthorityClient(baseURL: url, token: token, http: http)
    }

    /// The registry of an existing installation, for the CLI's commands; refuses a data directory that holds none.
    public func openRegistry(
        http: HTTPClient, ldap client: (any LDAPDirectory)? = OpenLDAPDirectory(), logger: Logger = Logger(label: "keyward")
    ) async throws -> Registry {
        let configuredLDAP = try settings.ldap()
        let configuredSignIn = try settings.oidc()
        let store = try await openStore(logger: logger)
        guard let installation = try await store.installation() else {
            await store.database.close()
            throw StartupFailure(
                "\(directory.path) holds no installation yet. Start it once with: keyward serve --data-dir \(directory.path) --organization ID --legal-name NAME"
            )
        }
        do {
            let saved = try await store.settings()
            let connection = Registry.connection(configured: try configuredAuthority(http: http), saved: saved, http: http)
            return Registry(
                store: store, installation: installation, trust: try loadTrust(), catalog: try Catalog.shipped(), connection: connection,
                maxRemovalShare: try settings.share("directory.maxRemovalShare", name: "directory.maxRemovalShare") ?? 0.2,
                ldap: Registry.ldapConnection(configured: configuredLDAP, saved: saved, client: client),
                signIn: SignInConnection.make(configured: configuredSignIn, saved: saved, relyingParty: OIDCRelyingParty(http: http)))
        } catch {
            await store.database.close()
            throw error
        }
    }
}

/// What the caller of ``buildRegistryApplication(reader:context:)`` gives beside the settings: the process's
/// pieces (HTTP client, logger, metrics) and, for `keyward serve --demo`, a demo authority to run and trust.
public struct RegistryApplicationContext: Sendable {
    /// A demo authority running beside the registry.
    public struct Demo: Sendable {
        public var service: any Service
        public var url: String
        public var organizationToken: String
        public var organization: Organization
        public var publicKeys: [AuthorityPublicKey]
        /// Where the demo keeps the administrator's password, shown on every start.
        public var directory: URL
        public var notes: [String]

        public init(
            service: any Service, url: String, organizationToken: String, organization: Organization, publicKeys: [AuthorityPublicKey],
            directory: URL, notes: [String]
        ) {
            self.service = service
            self.url = url
            self.organizationToken = organizationToken
            self.organization = organization
            self.publicKeys = publicKeys
            self.directory = directory
            self.notes = notes
        }
    }

    public var http: HTTPClient
    public var logger: Logger
    public var metrics: PrometheusCollectorRegistry
    /// Trusted keys given on the command line, added to the settings' `trust.keys` and `trust.files`.
    public var trustKeys: [String]
    public var trustFiles: [String]
    public var demo: Demo?
    /// The registry's clock, and how its daily synchronization waits: the wall clock unless a test moves its own.
    public var now: @Sendable () -> Date = Date.init
    public var sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    /// The LDAP client the directory synchronization uses: OpenLDAP's.
    public var ldap: (any LDAPDirectory)? = OpenLDAPDirectory()
    /// Called once the server listens, with its port and the lines to show (address, first password, demo notes).
    public var onServerRunning: @Sendable (_ port: Int, _ lines: [String]) async -> Void

    public init(
        http: HTTPClient, logger: Logger, metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), trustKeys: [String] = [],
        trustFiles: [String] = [], demo: Demo? = nil,
        onServerRunning: @escaping @Sendable (_ port: Int, _ lines: [String]) async -> Void = { _, _ in }
    ) {
        self.http = http
        self.logger = logger
        self.metrics = metrics
        self.trustKeys = trustKeys
        self.trustFiles = trustFiles
        self.demo = demo
        self.onServerRunning = onServerRunning
    }
}

/// The registry, made from its settings: the composition root `keyward serve` and the tests share.
///
/// Checks every setting before anything is written (a bad value, a port in use, a first start without its
/// organization), then opens and migrates the store, makes the installation and the built-in administrator at first
/// start, loads the trusted keys and the authority connection, and wires the services: the database first, the demo
/// authority, the daily synchronization, the session sweeper and (on PostgreSQL) the access listener and watcher, then
/// the server.
/// Settings: `host`, `port`, `dataDir`, `database`, `trust.*`, `organization`, `legalName`, `environment`,
/// `authority.url`, `organizationToken(File)`, `sync.autoActivate`, `sync.at`, `secureCookies`, `http.*`, `metrics.token(File)`,
/// `admin.password`.
public func buildRegistryApplication(reader: ConfigReader, context: RegistryApplicationContext) async throws -> some ApplicationProtocol {
    let settings = Settings(reader: reader)
    let setup = RegistrySetup(settings: settings, trustKeys: context.trustKeys, trustFiles: context.trustFiles)
    let logger = context.logger
    let limits = try settings.connectionLimits()
    let metricsToken = try settings.metricsToken()
    let cookies = try settings.secureCookies()
    let listening = try settings.listening(serverName: "keyward", defaultPort: 8080, limits: limits)
    // Before anything is written: a port in use refuses the start with one sentence, and leaves no database behind.
    try ListeningAddress.checkFree(host: listening.host, port: listening.port, flag: "--port (KEYWARD_PORT)")
    var firstStart = FirstStart.Organization(id: settings.string("organization"), legalName: settings.string("legalName"), environment: nil)
    if let text = settings.string("environment") {
        guard let value = InstallationEnvironment(rawValue: text) else {
            throw SettingError("--environment", "\"\(text)\" is not an environment: use production or test.")
        }
        firstStart.environment = value
    }
    var configured = try setup.configuredAuthority(http: context.http)
    if let demo = context.demo {
        firstStart.id = firstStart.id ?? demo.organization.id
        firstStart.legalName = firstStart.legalName ?? demo.organization.legalName
        configured = AuthorityClient(baseURL: demo.url, token: demo.organizationToken, http: context.http)
    }
    let syncAt = settings.string("sync.at") ?? "02:00"
    guard let minute = SyncSchedule.minuteOfDay(syncAt) else {
        throw SettingError("--sync-at", "\"\(syncAt)\" is not a time: use HH:MM, 24-hour, UTC, e.g. 02:00.")
    }
    let autoActivate = try settings.bool("sync.autoActivate", name: "--sync-auto-activate") ?? true
    let maxRemovalShare = try settings.share("directory.maxRemovalShare", name: "directory.maxRemovalShare") ?? 0.2
    let ldapSyncAt = settings.string("directory.syncAt") ?? "03:00"
    guard let ldapMinute = SyncSchedule.minuteOfDay(ldapSyncAt) else {
        throw SettingError("--directory-sync-at", "\"\(ldapSyncAt)\" is not a time: use HH:MM, 24-hour, UTC, e.g. 03:00.")
    }
    let configuredLDAP = try settings.ldap()
    let configuredSignIn = try settings.oidc()
    let signInRedirect = try settings.signInRedirectURI(site: "registry")
    // Checked before anything is written: a refused password leaves no installation behind.
    let givenAdminPassword = settings.string("admin.password", secret: true)
    if let givenAdminPassword, (try? UserRules.password(givenAdminPassword)) == nil {
        throw SettingError("KEYWARD_ADMIN_PASSWORD", "use at least 12 characters and at most 72 bytes (72 letters without accents, fewer with).")
    }
    // A first start on SQLite (no database file yet) needs the organization: refused before the file is made.
    if setup.isFirstStartOnSQLite { try checkFirstStart(firstStart) }

    // The start's own reads and writes, before any service runs: the installation and the built-in administrator at
    // first start, the saved settings.
    let opened = try await setup.openServiceStore(logger: logger) { store in
        let installation: RegistryInstallation
        do {
            installation = try await FirstStart.installation(store: store, organization: firstStart)
        } catch let error as RegistryError {
            try checkFirstStart(firstStart)
            throw error
        }
        let adminPassword = try await FirstStart.administrator(store: store, password: givenAdminPassword, demoDirectory: context.demo?.directory)
        return (installation: installation, adminPassword: adminPassword, saved: try await store.settings())
    }
    let store = opened.store
    let (installation, adminPassword) = (opened.setup.installation, opened.setup.adminPassword)
    let trust: TrustStore
    let connection: AuthorityConnection
    let ldap = Registry.ldapConnection(configured: configuredLDAP, saved: opened.setup.saved, client: context.ldap)
    let signIn = SignInConnection.make(
        configured: configuredSignIn, saved: opened.setup.saved, relyingParty: OIDCRelyingParty(http: context.http, now: context.now))
    do {
        trust = try setup.loadTrust(extra: context.demo?.publicKeys ?? [])
        connection = Registry.connection(configured: configured, saved: opened.setup.saved, http: context.http)
    } catch {
        await store.database.close()
        throw error
    }
    if trust.isEmpty {
        logger.warning("no trusted authority key: every key will be refused as UNKNOWN_SIGNING_KEY; pass --trust-key or --trust-file")
    }
    let registry = Registry(
        store: store, installation: installation, trust: trust, catalog: try Catalog.shipped(), connection: connection,
        maxRemovalShare: maxRemovalShare, ldap: ldap, signIn: signIn, now: context.now)
    let synchronizer = Synchronizer(registry: registry, autoActivate: autoActivate)
    // Always planned: an authority set later on the settings page is synchronized with from the next run.
    let scheduler = SyncScheduler(synchronizer: synchronizer, schedule: SyncSchedule(minuteOfDay: minute), logger: logger, sleep: context.sleep)
    // Also always planned: LDAP settings saved later are synchronized from the next run.
    let ldapScheduler = SyncScheduler(
        synchronizer: LDAPSynchronizer(registry: registry), schedule: SyncSchedule(minuteOfDay: ldapMinute), logger: logger, sleep: context.sleep)
    let dependencies: RegistryDependencies
    do {
        dependencies = try await RegistryDependencies(
            registry: registry, metrics: context.metrics, synchronizer: synchronizer, scheduler: scheduler, ldapScheduler: ldapScheduler,
            metricsToken: metricsToken, secureCookies: cookies, signInRedirect: signInRedirect, loadingAccess: false)
    } catch {
        await store.database.close()
        throw error
    }
    var services: [any Service] = []
    if let demo = context.demo { services.append(demo.service) }
    services.append(scheduler)
    services.append(ldapScheduler)
    services.append(SessionSweeper(registry: registry, logger: logger))
    if store.database.kind == .postgres {
        // Other instances' changes arrive as notifications at once; the audit poll is the slow fallback for any missed.
        let listener = AccessListener(registry: registry, logger: logger)
        services.append(listener)
        services.append(AccessWatcher(registry: registry, listener: listener, interval: .seconds(15), logger: logger))
    }
    let host = listening.host
    let notes = context.demo?.notes ?? []
    let onServerRunning = context.onServerRunning
    let announce: @Sendable (Int) async -> Void = { port in
        var lines = [
            "Keyward registry listening on http://\(host):\(port) (installation \(installation.installationId), \(installation.organization.id), \(installation.environment.rawValue))"
        ]
        if let adminPassword { lines.append("Administrator: login admin, password \(adminPassword)") }
        lines += notes
        await onServerRunning(port, lines)
    }
    return buildKeywardApplication(
        router: buildRegistryRouter(dependencies), database: store.database, configuration: listening.configuration,
        limits: limits, services: services, logger: logger,
        // The access model is loaded once the database runs, before the server takes its first request.
        beforeServerStarts: { try await registry.loadAccess() }, onServerRunning: announce)
}

/// A first start's organization, refused with the flag to give.
private func checkFirstStart(_ organization: FirstStart.Organization) throws {
    do {
        try organization.check()
    } catch {
        if case .invalid(let problem) = error {
            throw SettingError(problem.field == "organization" ? "--organization" : "--legal-name", problem.message)
        }
        throw error
    }
}

extension Settings {
    /// The LDAP synchronization set by the configuration (`directory.ldap.*`), checked; `nil` when no URL is set, and
    /// then the settings page may set it.
    public func ldap() throws -> (settings: LDAPSyncSettings, password: String)? {
        guard let url = string("directory.ldap.url") else { return nil }
        func key(_ name: String) -> ConfigKey { ConfigKey("directory.ldap.\(name)") }
        let form = LDAPSettingsForm(
            url: url, startTLS: try bool(key("startTLS"), name: "directory.ldap.startTLS"), caFile: string(key("caFile")),
            bindDN: string(key("bindDN")), baseDN: string(key("baseDN")), userFilter: string(key("userFilter")),
            groupFilter: string(key("groupFilter")), loginAttribute: string(key("loginAttribute")), nameAttribute: string(key("nameAttribute")),
            emailAttribute: string(key("emailAttribute")), externalIdAttribute: string(key("externalIdAttribute")),
            memberAttribute: string(key("memberAttribute")), groupNameAttribute: string(key("groupNameAttribute")))
        let settings: LDAPSyncSettings
        do {
            settings = try LDAPSyncSettings.checked(form)
        } catch {
            if case .invalid(let problem) = error { throw SettingError("directory.ldap.\(problem.field)", problem.message) }
            throw error
        }
        guard
            let password = try secret(
                file: key("passwordFile"), flag: "directory.ldap.passwordFile", value: key("password"))
        else {
            throw SettingError(
                "directory.ldap.passwordFile",
                "the LDAP bind DN needs its password: a file (directory.ldap.passwordFile) or KEYWARD_DIRECTORY_LDAP_PASSWORD.")
        }
        return (settings, password)
    }
}
