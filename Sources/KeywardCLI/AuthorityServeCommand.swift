import ArgumentParser
import Foundation
import Hummingbird
import KeywardStore
import KeywardAuthority
import KeywardAuthorityHTTP
import Logging
import Metrics
import Prometheus

/// `keyward authority serve`: the authority's HTTP API.
struct AuthorityServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the authority's HTTP API (organizations, keys, feeds, activations).",
        discussion: "Migrations run at start. SIGTERM or SIGINT shuts it down gracefully. Rotating the signing key needs a restart."
    )

    @OptionGroup var dataDirectory: AuthorityDataDirectory

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0 picks a free one).")
    var port = 8081

    @OptionGroup var server: ServerOptions

    func run() async throws {
        var logger = Logger(label: "keyward.authority")
        logger.logLevel = ProcessInfo.processInfo.environment["KEYWARD_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let metrics = PrometheusCollectorRegistry()
        // Process-wide by design of swift-metrics: bootstrapped once, here at the edge.
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics))
        let config = try await KeywardConfiguration.load(flags: .init(flags: server.flags), file: nil)
        let limits = try ServerOptions.limits(config)
        let metricsToken = try ServerOptions.metricsToken(config)
        try ServerOptions.checkFree(host: host, port: port, flag: "--port")
        DataDirectoryPermissions.restrictNewFiles()
        let authority = try await dataDirectory.openAuthority(logger: logger)
        let host = host
        let dependencies = AuthorityDependencies(authority: authority, metrics: metrics, metricsToken: metricsToken)
        let app = buildAuthorityApplication(dependencies, host: host, port: port, limits: limits, logger: logger) { port in
            // Written unbuffered: when standard output is a pipe, scripts and supervisors wait for this line.
            FileHandle.standardOutput.write(Data("Keyward authority listening on http://\(host):\(port) (database \(authority.store.database.location))\n".utf8))
        }
        do {
            try await app.runService()
        } catch {
            await authority.store.database.close()
            throw CommandFailure.failed("the authority stopped: \(error). If the address \(host):\(port) is in use, choose another with --port.")
        }
    }
}
