import ArgumentParser
import Foundation
import Hummingbird
import HummingbirdBcrypt
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// The registry's data directory, database and trust options, shared by its commands.
struct RegistryOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "The registry's data directory.")
    var dataDirectory = "./keyward-data"

    @Option(help: "The database: a file path for SQLite, or a postgres:// URL. Default: registry.sqlite in the data directory.")
    var database: String?

    @Option(name: .customLong("trust-key"), help: "A trusted authority public key, 64 hex characters (repeatable); also KEYWARD_TRUST_KEYS, comma separated.")
    var trustKeys: [String] = []

    @Option(name: .customLong("trust-file"), help: "A file of trusted authority public keys (repeatable).")
    var trustFiles: [String] = []

    var directory: URL { URL(fileURLWithPath: dataDirectory, isDirectory: true) }
    /// Trusted keys given once are kept here, so later starts need no flags.
    var trustFileInDirectory: URL { directory.appendingPathComponent("trusted-keys.txt") }

    func openStore(logger: Logger) async throws -> RegistryStore {
        let location: DatabaseLocation
        do {
            location = try DatabaseLocation.parse(database ?? directory.appendingPathComponent("registry.sqlite").path)
        } catch {
            throw CommandFailure.badInput("--database", error.message)
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
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
        let environment = ProcessInfo.processInfo.environment["KEYWARD_TRUST_KEYS"].map { $0.split(separator: ",").map(String.init) } ?? []
        var files = trustFiles
        if FileManager.default.fileExists(atPath: trustFileInDirectory.path) { files.append(trustFileInDirectory.path) }
        var trust: TrustStore
        do {
            trust = try TrustConfiguration.load(keys: trustKeys + environment, files: files)
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

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0 picks a free one).")
    var port = 8080

    @Option(help: "First start: the organization id (a lowercase slug).")
    var organization: String?

    @Option(help: "First start: the organization's legal name.")
    var legalName: String?

    @Option(help: "First start: production or test.")
    var environment: InstallationEnvironment?

    @Option(help: "The licensing authority's URL, for online activation (and synchronization); also KEYWARD_AUTHORITY_URL.")
    var authorityURL: String?

    @Option(help: "A file holding the organization token for the authority; also KEYWARD_SYNC_TOKEN.")
    var syncTokenFile: String?

    @Flag(inversion: .prefixedNo, help: "Activate online right after a synchronization that changed keys (sync.autoActivate); also KEYWARD_SYNC_AUTO_ACTIVATE=false.")
    var syncAutoActivate = true

    @Option(help: "The daily synchronization time, HH:MM UTC (random jitter of up to 30 minutes is added); also KEYWARD_SYNC_AT.")
    var syncAt: String?

    @Flag(help: "Also run a demo authority in this process, with a sample organization and keys, and synchronize with it.")
    var demo = false

    @Option(help: "With --demo: the demo authority's port.")
    var demoAuthorityPort = 8081

    func run() async throws {
        var logger = Logger(label: "keyward")
        logger.logLevel = ProcessInfo.processInfo.environment["KEYWARD_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let metrics = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics))
        let environmentVariables = ProcessInfo.processInfo.environment

        var services: [any Service] = []
        var organization = organization ?? environmentVariables["KEYWARD_ORGANIZATION"]
        var legalName = legalName ?? environmentVariables["KEYWARD_LEGAL_NAME"]
        var authorityURL = authorityURL ?? environmentVariables["KEYWARD_AUTHORITY_URL"]
        var syncToken = try syncTokenFile.map { try Self.readSecret($0, field: "--sync-token-file") } ?? environmentVariables["KEYWARD_SYNC_TOKEN"]
        var extraTrust: [AuthorityPublicKey] = []
        var demoNotes: [String] = []

        if demo {
            let demoAuthority = try await DemoAuthority.start(in: options.directory.appendingPathComponent("demo-authority"), host: host, port: demoAuthorityPort,
                                                          logger: logger, metrics: metrics)
            services.append(demoAuthority.service)
            organization = organization ?? DemoAuthority.organization.id
            legalName = legalName ?? DemoAuthority.organization.legalName
            authorityURL = demoAuthority.url
            syncToken = demoAuthority.organizationToken
            extraTrust = demoAuthority.publicKeys
            demoNotes = demoAuthority.notes
        }

        let store = try await options.openStore(logger: logger)
        let installation: RegistryInstallation
        let adminPassword: String?
        let trust: TrustStore
        do {
            installation = try await Self.installation(store: store, organization: organization, legalName: legalName,
                                                       environment: environment ?? environmentVariables["KEYWARD_ENVIRONMENT"].flatMap(InstallationEnvironment.init(rawValue:)))
            adminPassword = try await Self.administrator(store: store, demoDirectory: demo ? options.directory : nil)
            trust = try options.loadTrust(extra: extraTrust)
        } catch {
            await store.database.close()
            throw error
        }
        if trust.isEmpty {
            logger.warning("no trusted authority key: every key will be refused as UNKNOWN_SIGNING_KEY; pass --trust-key or --trust-file")
        }
        let client = authorityURL.flatMap { url in syncToken.map { AuthorityClient(baseURL: url, token: $0) } }
        let registry = Registry(store: store, installation: installation, trust: trust, catalog: try Authority.defaultCatalog(), authority: client)
        let autoActivate = syncAutoActivate && environmentVariables["KEYWARD_SYNC_AUTO_ACTIVATE"]?.lowercased() != "false"
        let synchronizer = Synchronizer(registry: registry, autoActivate: autoActivate)
        var scheduler: SyncScheduler?
        if client != nil {
            let text = syncAt ?? environmentVariables["KEYWARD_SYNC_AT"] ?? "02:00"
            guard let minute = SyncSchedule.minuteOfDay(text) else {
                await store.database.close()
                throw CommandFailure.badInput("--sync-at", "\"\(text)\" is not a time: use HH:MM, 24-hour, UTC, e.g. 02:00.")
            }
            scheduler = SyncScheduler(synchronizer: synchronizer, schedule: SyncSchedule(minuteOfDay: minute), logger: logger)
        }
        let host = host
        let notes = demoNotes
        let dependencies = try await RegistryDependencies(registry: registry, metrics: metrics, synchronizer: synchronizer, scheduler: scheduler)
        if let scheduler { services.append(scheduler) }
        let app = buildRegistryApplication(dependencies, host: host, port: port, logger: logger) { port in
            var lines = ["Keyward registry listening on http://\(host):\(port) (installation \(installation.installationId), \(installation.organization.id), \(installation.environment.rawValue))"]
            if let adminPassword { lines.append("Administrator: login admin, password \(adminPassword)") }
            lines += notes
            FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        }
        services.append(app)
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The installation, made at first start from the options.
    static func installation(store: RegistryStore, organization: String?, legalName: String?, environment: InstallationEnvironment?) async throws -> RegistryInstallation {
        if let existing = try await store.installation() { return existing }
        guard let organization, Organization.isValidID(organization) else {
            throw CommandFailure.badInput("--organization", "the first start needs the organization id, a lowercase slug such as acme (or KEYWARD_ORGANIZATION).")
        }
        guard let legalName, Organization.isValidLegalName(legalName) else {
            throw CommandFailure.badInput("--legal-name", "the first start needs the organization's legal name, 1 to 200 characters (or KEYWARD_LEGAL_NAME).")
        }
        let installation = RegistryInstallation(installationId: "inst-" + UUID().uuidString.lowercased(), organization: Organization(id: organization, legalName: legalName),
                                                environment: environment ?? .production, createdAt: Date())
        return try await store.createInstallation(installation).installation
    }

    /// Creates the built-in administrator at first start; returns the password to print, if there is one to print.
    static func administrator(store: RegistryStore, demoDirectory: URL?) async throws -> String? {
        let demoPasswordFile = demoDirectory?.appendingPathComponent("demo-admin-password")
        if try await store.user("admin") != nil {
            // The demo shows its password on every start; a real installation never again.
            return demoPasswordFile.flatMap { try? String(contentsOf: $0, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        let given = ProcessInfo.processInfo.environment["KEYWARD_ADMIN_PASSWORD"]
        let password = given ?? APIToken.generate().secret
        _ = try await store.createAdministrator(login: "admin", passwordHash: Bcrypt.hash(password, cost: 12), now: Date())
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
