import ArgumentParser
import Configuration
import Foundation
import Hummingbird
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardStore
import Logging
import Metrics
import Prometheus

/// `keyward authority serve`: the authority's HTTP API.
struct AuthorityServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the authority: the licensing staff's console under / and the HTTP API under /v1.",
        discussion: "Migrations run at start. SIGTERM or SIGINT shuts it down gracefully. Rotating the signing key needs a restart."
    )

    @OptionGroup var dataDirectory: AuthorityDataDirectory

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0 picks a free one).")
    var port = 8081

    @OptionGroup var server: ServerOptions

    @Option(
        name: .customLong("config"),
        help: "A JSON config file (also KEYWARD_CONFIG), e.g. {\"oidc\": {\"issuer\": ...}} for operators signing in with an identity provider.")
    var configFile: String?

    func run() async throws {
        var logger = Logger(label: "keyward.authority")
        logger.logLevel = ProcessInfo.processInfo.environment["KEYWARD_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let metrics = PrometheusCollectorRegistry()
        // Process-wide by design of swift-metrics: bootstrapped once, here at the edge.
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics))
        // Always given as flags, so they win over the environment: KEYWARD_HOST, KEYWARD_PORT, KEYWARD_DATABASE are the registry's.
        let flags: [(AbsoluteConfigKey, String?)] =
            [
                ("host", host), ("port", String(port)), ("dataDir", dataDirectory.path),
                ("database", dataDirectory.database ?? dataDirectory.url.appendingPathComponent("authority.sqlite").path),
            ] + server.flags
        let config = try await KeywardConfiguration.load(flags: .init(flags: flags), file: configFile)
        let app = try await buildAuthorityApplication(reader: config.reader, logger: logger, metrics: metrics) { _, line in
            // Written unbuffered: when standard output is a pipe, scripts and supervisors wait for this line.
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
        do {
            try await app.runService()
        } catch {
            throw CommandFailure.failed("the authority stopped: \(error). If the address \(host):\(port) is in use, choose another with --port.")
        }
    }
}
