import ArgumentParser
import AsyncHTTPClient
import Configuration
import Foundation
import Hummingbird
import HummingbirdBcrypt
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardRegistryHTTP
import KeywardStore
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// The registry's config file, data directory, database and trust options, shared by its commands.
struct RegistryOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "A JSON config file (also KEYWARD_CONFIG). Flags, then KEYWARD_* variables, override it.")
    var configFile: String?

    @Option(name: .customLong("data-dir"), help: "The registry's data directory (default ./keyward-data; KEYWARD_DATA_DIR, dataDir).")
    var dataDirectory: String?

    @Option(help: "The database: a file path for SQLite, or a postgres:// URL (KEYWARD_DATABASE, database). Default: registry.sqlite in the data directory.")
    var database: String?

    @Option(name: .customLong("trust-key"), help: "A trusted authority public key, 64 hex characters (repeatable); also KEYWARD_TRUST_KEYS, comma separated, or trust.keys.")
    var trustKeys: [String] = []

    @Option(name: .customLong("trust-file"), help: "A file of trusted authority public keys (repeatable); also trust.files.")
    var trustFiles: [String] = []

    /// Reads the configuration: these flags and `flags`, the environment, the config file.
    func load(flags: [AbsoluteConfigKey: String] = [:]) async throws -> RegistrySetup {
        var given = flags
        if let dataDirectory { given["dataDir"] = dataDirectory }
        if let database { given["database"] = database }
        let config = try await KeywardConfiguration.load(flags: given, file: configFile)
        return RegistrySetup(config: config, directory: URL(fileURLWithPath: config.string("dataDir") ?? "./keyward-data", isDirectory: true),
                             database: config.string("database"), trustKeys: trustKeys + config.strings("trust.keys"),
                             trustFiles: trustFiles + config.strings("trust.files"))
    }

    func openRegistry(http: HTTPClient) async throws -> Registry { try await load().openRegistry(http: http) }
}

/// The registry's resolved start-up settings: where its data is and which authority keys it trusts.
struct RegistrySetup {
    let config: KeywardConfiguration
    let directory: URL
    let database: String?
    let trustKeys: [String]
    let trustFiles: [String]

    /// Whether the database is SQLite and its file does not exist yet: a first start, told before anything is written.
    var isFirstStartOnSQLite: Bool {
        guard case .sqliteFile(let path)? = try? DatabaseLocation.parse(database ?? directory.appendingPathComponent("registry.sqlite").path) else { return false }
        return !FileManager.default.fileExists(atPath: path)
    }

    /// Trusted keys given once are kept here, so later starts need no flags.
    var trustFileInDirectory: URL { directory.appendingPathComponent("trusted-keys.txt") }

    func openStore(logger: Logger) async throws -> RegistryStore {
        DataDirectoryPermissions.restrictNewFiles()
        let location: DatabaseLocation
        do {
            location = try DatabaseLocation.parse(database ?? directory.appendingPathComponent("registry.sqlite").path)
        } catch {
            throw CommandFailure.badInput("--database", error.message)
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for warning in DataDirectoryPermissions.tighten(directory) { logger.warning("\(warning)") }
        let database = try await KeywardDatabase.open(location, logger: logger)
        do {
            try await Migrator(Schema.registry).migrate(database, logger: logger)
        } catch let error as StoreError {
            await database.close()
            throw CommandFailure.failed(error.message)
        }
        return RegistryStore(database: database)
    }

    /// The trusted keys: flags, `KEYWARD_TRUST_KEYS`, trust files, and the data directory's trust file, which the
    /// flags' keys are added to.
    func loadTrust(extra: [AuthorityPublicKey] = []) throws -> TrustStore {
        var files = trustFiles
        if FileManager.default.fileExists(atPath: trustFileInDirectory.path) { files.append(trustFileInDirectory.path) }
        var trust: TrustStore
        do {
            trust = try TrustConfiguration.load(keys: trustKeys, files: files)
        } catch {
            throw CommandFailure.badInput("--trust-key", error.message)
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
                try ("# Authority public keys this registry trusts, one per line.\n" + lines).write(to: trustFileInDirectory, atomically: true, encoding: .utf8)
            }
        }
        return trust
    }

    /// The authority from the configuration (`authority.url` with `sync.token` or `sync.tokenFile`), if it names one.
    func configuredAuthority(http: HTTPClient) throws -> AuthorityClient? {
        guard let url = config.string("authority.url") else { return nil }
        let token: String
        if let file = config.string("sync.tokenFile") {
            token = try RegistryServeCommand.readSecret(file, field: "--sync-token-file")
        } else if let value = config.string("sync.token", secret: true) {
            token = value
        } else {
            throw CommandFailure.badInput("--sync-token-file", "the authority URL \(url) is set, but no organization token: give --sync-token-file FILE or KEYWARD_SYNC_TOKEN.")
        }
        return AuthorityClient(baseURL: url, token: token, http: http)
    }
}

/// `keyward serve`: the registry, the suite's "Configuration > License key" menu.
struct RegistryServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the registry: its API (and, with --demo, a demo authority beside it).",
        discussion: """
        First start: creates the installation (an id, plus --organization, --legal-name and --environment, or
        KEYWARD_ORGANIZATION, KEYWARD_LEGAL_NAME, KEYWARD_ENVIRONMENT) and the built-in administrator, login admin,
        whose password is KEYWARD_ADMIN_PASSWORD or generated and printed once. Every start runs migrations.
        SIGTERM or SIGINT shuts it down gracefully.
        """
    )

    @OptionGroup var options: RegistryOptions

    @Option(help: "The address to listen on (default 127.0.0.1; KEYWARD_HOST, host).")
    var host: String?

    @Option(help: "The port to listen on, 0 picks a free one (default 8080; KEYWARD_PORT, port).")
    var port: Int?

    @Option(help: "First start: the organization id, a lowercase slug (KEYWARD_ORGANIZATION, organization).")
    var organization: String?

    @Option(help: "First start: the organization's legal name (KEYWARD_LEGAL_NAME, legalName).")
    var legalName: String?

    @Option(help: "First start: production or test (KEYWARD_ENVIRONMENT, environment).")
    var environment: InstallationEnvironment?

    @Option(help: "The licensing authority's URL, for online activation and synchronization (KEYWARD_AUTHORITY_URL, authority.url).")
    var authorityURL: String?

    @Option(help: "A file holding the organization token for the authority (sync.tokenFile); or KEYWARD_SYNC_TOKEN holds the token itself.")
    var syncTokenFile: String?

    @Flag(inversion: .prefixedNo, help: "Activate online right after a synchronization that changed keys; default on (KEYWARD_SYNC_AUTO_ACTIVATE, sync.autoActivate).")
    var syncAutoActivate: Bool?

    @Option(help: "The daily synchronization time, HH:MM UTC, plus up to 30 minutes of random delay; default 02:00 (KEYWARD_SYNC_AT, sync.at).")
    var syncAt: String?

    @Flag(help: "Also run a demo authority in this process, with a sample organization and keys, and synchronize with it.")
    var demo = false

    @Option(help: "With --demo: the demo authority's port.")
    var demoAuthorityPort = 8081

    @OptionGroup var server: ServerOptions

    @Option(help: "Secure on the web UI's cookies: auto (when a proxy says the request came over HTTPS), always or never (KEYWARD_SECURE_COOKIES, secureCookies).")
    var secureCookies: SecureCookies?

    /// The flags given, under their configuration keys.
    var flags: [AbsoluteConfigKey: String] {
        let given: [(AbsoluteConfigKey, String?)] = [
            ("host", host), ("port", port.map(String.init)), ("organization", organization), ("legalName", legalName),
            ("environment", environment?.rawValue), ("authority.url", authorityURL), ("sync.tokenFile", syncTokenFile),
            ("sync.autoActivate", syncAutoActivate.map(String.init)), ("sync.at", syncAt), ("secureCookies", secureCookies?.rawValue),
        ] + server.flags
        return .init(flags: given)
    }

    func run() async throws {
        try await withAuthorityHTTP { http in try await serve(http: http) }
    }

    func serve(http: HTTPClient) async throws {
        let setup = try await options.load(flags: flags)
        let config = setup.config
        var logger = Logger(label: "keyward")
        logger.logLevel = config.string("log.level").flatMap(Logger.Level.init(rawValue:)) ?? .info
        let metrics = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics))

        let host = config.string("host") ?? "127.0.0.1"
        let port = try config.int("port", name: "--port") ?? 8080
        let limits = try ServerOptions.limits(config)
        let metricsToken = try ServerOptions.metricsToken(config)
        let cookieText = config.string("secureCookies") ?? SecureCookies.auto.rawValue
        guard let cookies = SecureCookies(rawValue: cookieText) else {
            throw CommandFailure.badInput("--secure-cookies", "\"\(cookieText)\" is not auto, always or never.")
        }
        // Before anything is written: a port in use refuses the start with one sentence, and leaves no database behind.
        try ServerOptions.checkFree(host: host, port: port, flag: "--port (KEYWARD_PORT)")
        if demo { try ServerOptions.checkFree(host: host, port: demoAuthorityPort, flag: "--demo-authority-port") }
        var services: [any Service] = []
        var organization = config.string("organization")
        var legalName = config.string("legalName")
        var environment: InstallationEnvironment?
        if let text = config.string("environment") {
            guard let value = InstallationEnvironment(rawValue: text) else {
                throw CommandFailure.badInput("--environment", "\"\(text)\" is not an environment: use production or test.")
            }
            environment = value
        }
        var configured = try setup.configuredAuthority(http: http)
        var extraTrust: [AuthorityPublicKey] = []
        var demoNotes: [String] = []

        if demo {
            let demoAuthority = try await DemoAuthority.start(in: setup.directory.appendingPathComponent("demo-authority"), host: host, port: demoAuthorityPort,
                                                          logger: logger, metrics: metrics)
            services.append(demoAuthority.service)
            organization = organization ?? DemoAuthority.organization.id
            legalName = legalName ?? DemoAuthority.organization.legalName
            configured = AuthorityClient(baseURL: demoAuthority.url, token: demoAuthority.organizationToken, http: http)
            extraTrust = demoAuthority.publicKeys
            demoNotes = demoAuthority.notes
        }
        let text = config.string("sync.at") ?? "02:00"
        guard let minute = SyncSchedule.minuteOfDay(text) else {
            throw CommandFailure.badInput("--sync-at", "\"\(text)\" is not a time: use HH:MM, 24-hour, UTC, e.g. 02:00.")
        }
        let autoActivate = try config.bool("sync.autoActivate", name: "--sync-auto-activate") ?? true
        // Checked before anything is written: a refused password leaves no installation behind.
        let givenAdminPassword = config.string("admin.password", secret: true)
        if let givenAdminPassword { try checkAdministratorPassword(givenAdminPassword, field: "KEYWARD_ADMIN_PASSWORD") }
        // A first start on SQLite (no database file yet) needs the organization: refused before the file is made.
        if setup.isFirstStartOnSQLite { try Self.checkFirstStart(organization: organization, legalName: legalName) }

        let store = try await setup.openStore(logger: logger)
        let installation: RegistryInstallation
        let adminPassword: String?
        let trust: TrustStore
        let connection: AuthorityConnection
        do {
            installation = try await Self.installation(store: store, organization: organization, legalName: legalName, environment: environment)
            adminPassword = try await Self.administrator(store: store, password: givenAdminPassword,
                                                         demoDirectory: demo ? setup.directory : nil)
            trust = try setup.loadTrust(extra: extraTrust)
            connection = Registry.connection(configured: configured, saved: try await store.settings(), http: http)
        } catch {
            await store.database.close()
            throw error
        }
        if trust.isEmpty {
            logger.warning("no trusted authority key: every key will be refused as UNKNOWN_SIGNING_KEY; pass --trust-key or --trust-file")
        }
        let registry = Registry(store: store, installation: installation, trust: trust, catalog: try Catalog.shipped(), connection: connection)
        let synchronizer = Synchronizer(registry: registry, autoActivate: autoActivate)
        // Always planned: an authority set later on the settings page is synchronized with from the next run.
        let scheduler = SyncScheduler(synchronizer: synchronizer, schedule: SyncSchedule(minuteOfDay: minute), logger: logger)
        let notes = demoNotes
        let dependencies = try await RegistryDependencies(registry: registry, metrics: metrics, synchronizer: synchronizer, scheduler: scheduler,
                                                          metricsToken: metricsToken, secureCookies: cookies)
        services.append(scheduler)
        services.append(SessionSweeper(registry: registry, logger: logger))
        if store.database.kind == .postgres { services.append(AccessWatcher(registry: registry, logger: logger)) }
        let app = buildRegistryApplication(dependencies, host: host, port: port, limits: limits, logger: logger) { port in
            var lines = ["Keyward registry listening on http://\(host):\(port) (installation \(installation.installationId), \(installation.organization.id), \(installation.environment.rawValue))"]
            if let adminPassword { lines.append("Administrator: login admin, password \(adminPassword)") }
            lines += notes
            FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        }
        services.append(app)
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            // The server could not start (the port was taken between the check and the bind): one sentence, and the
            // database closed instead of left to its deinitializer.
            await store.database.close()
            throw CommandFailure.failed("the registry stopped: \(error). If the address \(host):\(port) is in use, choose another with --port.")
        }
    }

    /// Refuses a first start without a valid organization id and legal name.
    static func checkFirstStart(organization: String?, legalName: String?) throws {
        guard let organization, Organization.isValidID(organization) else {
            throw CommandFailure.badInput("--organization", "the first start needs the organization id, a lowercase slug such as acme (or KEYWARD_ORGANIZATION).")
        }
        guard let legalName, Organization.isValidLegalName(legalName) else {
            throw CommandFailure.badInput("--legal-name", "the first start needs the organization's legal name, 1 to 200 characters (or KEYWARD_LEGAL_NAME).")
        }
    }

    /// The installation, made at first start from the options.
    static func installation(store: RegistryStore, organization: String?, legalName: String?, environment: InstallationEnvironment?) async throws -> RegistryInstallation {
        if let existing = try await store.installation() { return existing }
        try checkFirstStart(organization: organization, legalName: legalName)
        guard let organization, let legalName else { preconditionFailure("checked by checkFirstStart") }
        let installation = RegistryInstallation(installationId: "inst-" + UUID().uuidString.lowercased(), organization: Organization(id: organization, legalName: legalName),
                                                environment: environment ?? .production, createdAt: Date())
        return try await store.createInstallation(installation).installation
    }

    /// Creates the built-in administrator at first start; returns the password to print, if there is one to print.
    static func administrator(store: RegistryStore, password given: String?, demoDirectory: URL?) async throws -> String? {
        let demoPasswordFile = demoDirectory?.appendingPathComponent("demo-admin-password")
        if try await store.user("admin") != nil {
            // The demo shows its password on every start; a real installation never again.
            return demoPasswordFile.flatMap { try? String(contentsOf: $0, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        let password = given ?? APIToken.generate().secret
        _ = try await store.createAdministrator(login: "admin", passwordHash: Bcrypt.hash(password, cost: PasswordHasher.cost), now: Date())
        if let demoPasswordFile { try password.write(to: demoPasswordFile, atomically: true, encoding: .utf8) }
        return given == nil || demoPasswordFile != nil ? password : nil
    }

    static func readSecret(_ path: String, field: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw CommandFailure.badInput(field, "cannot read \(path).")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

extension InstallationEnvironment: ExpressibleByArgument {}
extension SecureCookies: ExpressibleByArgument {}
