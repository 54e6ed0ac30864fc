import ArgumentParser
import Configuration
import Foundation
import KeywardHTTP
import KeywardStore
import NIOCore

/// What both `serve` commands share about their HTTP server: connection limits and the metrics token.
struct ServerOptions: ParsableArguments {
    @Option(
        help:
            "Seconds a connection has to send a whole request head, after opening or after its last answer; default 10 (KEYWARD_HTTP_HEADER_TIMEOUT, http.headerTimeout)."
    )
    var headerTimeout: Int?

    @Option(
        help:
            "Connections served at once; default: what the open-files limit (ulimit -n) allows less 64, at most 10,000 (KEYWARD_HTTP_MAX_CONNECTIONS, http.maxConnections)."
    )
    var maxConnections: Int?

    @Option(
        help:
            "A file holding the bearer token /metrics asks for (metrics.tokenFile); or KEYWARD_METRICS_TOKEN holds it. Without one, /metrics is open."
    )
    var metricsTokenFile: String?

    /// The flags given, under their configuration keys.
    var flags: [(AbsoluteConfigKey, String?)] {
        [
            ("http.headerTimeout", headerTimeout.map(String.init)), ("http.maxConnections", maxConnections.map(String.init)),
            ("metrics.tokenFile", metricsTokenFile),
        ]
    }
}
