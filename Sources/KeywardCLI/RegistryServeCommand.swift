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

    @Option(
        help:
            "The database: a file path for SQLite, or a postgres:// URL (KEYWARD_DATABASE, database). Default: registry.sqlite in the data directory."
    )
    var database: String?

    @Option(
        name: .customLong("trust-key"),
        help: "A trusted authority public key, 64 hex characters (repeatable); also KEYWARD_TRUST_KEYS, comma separated, or trust.keys.")
    var trustKeys: [String] = []

    @Option(name: .customLong("trust-file"), help: "A file of trusted authority public keys (repeatable); also trust.files.")
    var trustFiles: [String] = []

    /// The settings: these flags and `flags`, then the environment, then the config file.
    func settings(flags: [AbsoluteConfigKey: String] = [:]) async throws -> Settings {
        var given = flags
        if let dataDirectory { given["dataDir"] = dataDirectory }
        if let database { given["database"] = database }
        return try await KeywardConfiguration.load(flags: given, file: configFile).settings
    }

    /// Where the registry's data is and which keys it trusts.
    func load(flags: [AbsoluteConfigKey: String] = [:]) async throws -> RegistrySetup {
        RegistrySetup(settings: try await settings(flags: flags), trustKeys: trustKeys, trustFiles: trustFiles)
    }

    func openRegistry(http: HTTPClient) async throws -> Registry { try await load().openRegistry(http: http) }
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

    @Option(
        name: [.customLong("organization-token-file"), .customLong("sync-token-file")],
        help:
            "A file holding the organization token for the authority (organizationTokenFile); or KEYWARD_ORGANIZATION_TOKEN holds the token itself. --sync-token-file and KEYWARD_SYNC_TOKEN are its old names, accepted until the next release."
    )
    var organizationTokenFile: String?

    @Flag(
        inversion: .prefixedNo,
        help: "Activate online right after a synchronization that changed keys; default on (KEYWARD_SYNC_AUTO_ACTIVATE, sync.autoActivate).")
    var syncAutoActivate: Bool?

    @Option(help: "The daily synchronization time, HH:MM UTC, plus up to 30 minutes of random delay; default 02:00 (KEYWARD_SYNC_AT, sync.at).")
    var syncAt: String?

    @Option(
        help:
            "The mass-removal guard: a directory change that takes access from more than this share of an access group's users (and at least 10) is held for an administrator; default 0.2 (KEYWARD_DIRECTORY_MAX_REMOVAL_SHARE, directory.maxRemovalShare)."
    )
    var directoryMaxRemovalShare: String?

    @Option(
        help:
            "The daily LDAP directory synchronization time, HH:MM UTC, when an LDAP server is set; default 03:00 (KEYWARD_DIRECTORY_SYNC_AT, directory.syncAt)."
    )
    var directorySyncAt: String?

    @Flag(help: "Also run a demo authority in this process, with a sample organization and keys, and synchronize with it.")
    var demo = false

    @Option(help: "With --demo: the demo authority's port.")
    var demoAuthorityPort = 8081

    @OptionGroup var server: ServerOptions

    @Option(
        help:
            "Secure on the web UI's cookies: auto (when a proxy says the request came over HTTPS), always or never (KEYWARD_SECURE_COOKIES, secureCookies)."
    )
    var secureCookies: SecureCookies?

    /// The flags given, under their configuration keys.
    var flags: [AbsoluteConfigKey: String] {
        let given: [(AbsoluteConfigKey, String?)] =
            [
                ("host", host), ("port", port.map(String.init)), ("organization", organization), ("legalName", legalName),
                ("environment", environment?.rawValue), ("authority.url", authorityURL), ("organizationTokenFile", organizationTokenFile),
                ("sync.autoActivate", syncAutoActivate.map(String.init)), ("sync.at", syncAt), ("secureCookies", secureCookies?.rawValue),
                ("directory.maxRemovalShare", directoryMaxRemovalShare), ("directory.syncAt", directorySyncAt),
            ] + server.flags
        return .init(flags: given)
    }

    func run() async throws {
        try await withAuthorityHTTP { http in try await serve(http: http) }
    }

    func serve(http: HTTPClient) async throws {
        let settings = try await options.settings(flags: flags)
        var logger = Logger(label: "keyward")
        logger.logLevel = settings.string("log.level").flatMap(Logger.Level.init(rawValue:)) ?? .info
        let metrics = PrometheusCollectorRegistry()
        // Process-wide by design of swift-metrics: bootstrapped once, here at the edge.
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics))
        let host = settings.string("host") ?? "127.0.0.1"
        let port = try settings.int("port", name: "--port") ?? 8080
        var demo: RegistryApplicationContext.Demo?
        if self.demo {
            // Both ports before the demo writes its files.
            try ListeningAddress.checkFree(host: host, port: port, flag: "--port (KEYWARD_PORT)")
            try ListeningAddress.checkFree(host: host, port: demoAuthorityPort, flag: "--demo-authority-port")
            let directory = URL(fileURLWithPath: settings.string("dataDir") ?? "./keyward-data", isDirectory: true)
            demo = try await DemoAuthority.start(
                in: directory.appendingPathComponent("demo-authority"), host: host, port: demoAuthorityPort,
                logger: logger, metrics: metrics
            ).context(registryDirectory: directory)
        }
        let context = RegistryApplicationContext(
            http: http, logger: logger, metrics: metrics, trustKeys: options.trustKeys,
            trustFiles: options.trustFiles, demo: demo
        ) { _, lines in
            // Written unbuffered: when standard output is a pipe, scripts and supervisors wait for these lines.
            FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        }
        let app = try await buildRegistryApplication(reader: settings.reader, context: context)
        do {
            try await app.runService()
        } catch {
            // The server could not start (the port was taken between the check and the bind): one sentence.
            throw CommandFailure.failed("the registry stopped: \(error). If the address \(host):\(port) is in use, choose another with --port.")
        }
    }
}

extension InstallationEnvironment: ExpressibleByArgument {}
extension SecureCookies: ExpressibleByArgument {}
