import ArgumentParser
import Configuration
import Foundation
import KeywardStore
import KeywardHTTP
import NIOCore

/// What both `serve` commands share about their HTTP server: connection limits and the metrics token.
struct ServerOptions: ParsableArguments {
    @Option(help: "Seconds a connection has to send a whole request head, after opening or after its last answer; default 10 (KEYWARD_HTTP_HEADER_TIMEOUT, http.headerTimeout).")
    var headerTimeout: Int?

    @Option(help: "Connections served at once; default: what the open-files limit (ulimit -n) allows less 64, at most 10,000 (KEYWARD_HTTP_MAX_CONNECTIONS, http.maxConnections).")
    var maxConnections: Int?

    @Option(help: "A file holding the bearer token /metrics asks for (metrics.tokenFile); or KEYWARD_METRICS_TOKEN holds it. Without one, /metrics is open.")
    var metricsTokenFile: String?

    /// The flags given, under their configuration keys.
    var flags: [(AbsoluteConfigKey, String?)] {
        [("http.headerTimeout", headerTimeout.map(String.init)), ("http.maxConnections", maxConnections.map(String.init)),
         ("metrics.tokenFile", metricsTokenFile)]
    }

    /// The connection limits from the configuration, checked.
    static func limits(_ config: KeywardConfiguration) throws -> ConnectionLimits {
        let timeout = try config.int("http.headerTimeout", name: "--header-timeout") ?? 10
        guard (1...600).contains(timeout) else { throw CommandFailure.badInput("--header-timeout", "\(timeout) is not a number of seconds from 1 to 600.") }
        let maximum = try config.int("http.maxConnections", name: "--max-connections")
        if let maximum, !(1...1_000_000).contains(maximum) {
            throw CommandFailure.badInput("--max-connections", "\(maximum) is not a number of connections from 1 to 1,000,000.")
        }
        return ConnectionLimits(headerTimeout: .seconds(Int64(timeout)), maximumConnections: maximum)
    }

    /// The metrics token: from `metrics.tokenFile`, or `KEYWARD_METRICS_TOKEN`; `nil` when neither is set.
    static func metricsToken(_ config: KeywardConfiguration) throws -> String? {
        if let file = config.string("metrics.tokenFile") { return try RegistryServeCommand.readSecret(file, field: "--metrics-token-file") }
        return config.string("metrics.token", secret: true)
    }

    /// Refuses at once, before anything is written, when something already listens on `host:port` (port 0 picks a
    /// free one, so it is never taken). Binding later would fail too, but deep inside the server's start.
    static func checkFree(host: String, port: Int, flag: String) throws {
        guard port != 0 else { return }
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        } catch {
            throw CommandFailure.badInput("--host", "cannot listen on \(host): \(error).")
        }
        let descriptor = socket(Int32(address.protocol.rawValue), Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        var on: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        let bound = address.withSockAddr { pointer, length in bind(descriptor, pointer, socklen_t(length)) }
        guard bound != 0 else { return }
        let reason = errno == EADDRINUSE ? "is already in use by another program" : String(cString: strerror(errno))
        throw CommandFailure.failed("cannot listen on \(host):\(port): the address \(reason). Stop that program, or choose another port with \(flag).")
    }
}

/// Files the registry and the authority write hold tokens' hashes, password hashes and the organization token: only
/// the service's own account may read them.
enum DataDirectoryPermissions {
    /// Makes every file this process creates from now on readable by its owner only (the SQLite files and their
    /// journals, the trust file, the demo's files).
    static func restrictNewFiles() {
        umask(0o077)
    }

    /// Tightens a data directory (and the database files in it) that others may read to owner-only, and says so.
    /// Returns the warnings to log.
    @discardableResult
    static func tighten(_ directory: URL) -> [String] {
        var warnings: [String] = []
        let manager = FileManager.default
        guard let attributes = try? manager.attributesOfItem(atPath: directory.path),
              let mode = (attributes[.posixPermissions] as? NSNumber)?.uint16Value else { return warnings }
        if mode & 0o077 != 0 {
            if (try? manager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)) != nil {
                warnings.append("the data directory \(directory.path) was readable by others (mode \(String(mode & 0o777, radix: 8))); it is now 700, readable by this account only")
            } else {
                warnings.append("the data directory \(directory.path) is readable by others (mode \(String(mode & 0o777, radix: 8))) and could not be changed: run chmod 700 on it")
            }
        }
        for name in (try? manager.contentsOfDirectory(atPath: directory.path)) ?? [] {
            let path = directory.appendingPathComponent(name).path
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  let fileMode = ((try? manager.attributesOfItem(atPath: path))?[.posixPermissions] as? NSNumber)?.uint16Value,
                  fileMode & 0o077 != 0 else { continue }
            try? manager.setAttributes([.posixPermissions: fileMode & 0o700], ofItemAtPath: path)
        }
        return warnings
    }
}
