import Configuration
import Foundation
import Hummingbird
import HummingbirdCore
import KeywardStore
import Logging
import NIOCore

/// A setting that cannot be used: the flag (or variable) to fix, and why. The CLI prints it as `error: FLAG: MESSAGE`
/// and exits 2.
public struct SettingError: Error, Sendable, CustomStringConvertible {
    public let flag: String
    public let message: String

    public init(_ flag: String, _ message: String) {
        self.flag = flag
        self.message = message
    }

    public var description: String { "\(flag): \(message)" }
}

/// A start that cannot go on for a reason other than a setting's shape (the port is taken, the database refuses its
/// migrations): one sentence to act on. The CLI prints it as `error: MESSAGE` and exits 1.
public struct StartupFailure: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// The settings a service starts from, read through swift-configuration: a key such as `sync.autoActivate` comes from
/// a flag, the variable `KEYWARD_SYNC_AUTO_ACTIVATE` or the config file, whichever providers the reader was made with.
/// Each accessor checks its value and names the flag to fix.
public struct Settings: Sendable {
    public let reader: ConfigReader

    public init(reader: ConfigReader) {
        self.reader = reader
    }

    /// A text setting; blank counts as unset.
    public func string(_ key: ConfigKey, secret: Bool = false) -> String? {
        guard let value = reader.string(forKey: key, isSecret: secret)?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
            return nil
        }
        return value
    }

    /// A list: a JSON array in the file, comma separated in the environment.
    public func strings(_ key: ConfigKey) -> [String] {
        (reader.stringArray(forKey: key) ?? []).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A yes/no setting: `true`/`false` (also `1`/`0`, `yes`/`no`) in the environment, a boolean in the file.
    public func bool(_ key: ConfigKey, name: String) throws(SettingError) -> Bool? {
        if let value = reader.bool(forKey: key) { return value }
        guard let text = string(key) else { return nil }
        switch text.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw SettingError(name, "\"\(text)\" is not true or false.")
        }
    }

    /// A whole number: a number in the file, digits in the flags and the environment.
    public func int(_ key: ConfigKey, name: String) throws(SettingError) -> Int? {
        if let value = reader.int(forKey: key) { return value }
        guard let text = string(key) else { return nil }
        guard let value = Int(text) else { throw SettingError(name, "\"\(text)\" is not a whole number.") }
        return value
    }

    /// A share from 0 (exclusive) to 1: a number in the file, digits in the flags and the environment (`0.2`).
    public func share(_ key: ConfigKey, name: String) throws(SettingError) -> Double? {
        let value: Double
        if let number = reader.double(forKey: key) {
            value = number
        } else if let text = string(key) {
            guard let number = Double(text) else { throw SettingError(name, "\"\(text)\" is not a number such as 0.2.") }
            value = number
        } else {
            return nil
        }
        guard value > 0, value <= 1 else { throw SettingError(name, "\(value) is not a share from 0 to 1, such as 0.2 for 20%.") }
        return value
    }

    /// A secret given as a file (`fileKey`, preferred) or as the value itself (`valueKey`, from an environment
    /// variable): `nil` when neither is set.
    public func secret(file fileKey: ConfigKey, flag: String, value valueKey: ConfigKey) throws(SettingError) -> String? {
        if let file = string(fileKey) { return try Self.readSecret(file, flag: flag) }
        return string(valueKey, secret: true)
    }

    /// The first line of a secret file, trimmed.
    public static func readSecret(_ path: String, flag: String) throws(SettingError) -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw SettingError(flag, "cannot read \(path).")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The connection limits (`http.headerTimeout`, `http.maxConnections`), checked.
    public func connectionLimits() throws(SettingError) -> ConnectionLimits {
        let timeout = try int("http.headerTimeout", name: "--header-timeout") ?? 10
        guard (1...600).contains(timeout) else { throw SettingError("--header-timeout", "\(timeout) is not a number of seconds from 1 to 600.") }
        let maximum = try int("http.maxConnections", name: "--max-connections")
        if let maximum, !(1...1_000_000).contains(maximum) {
            throw SettingError("--max-connections", "\(maximum) is not a number of connections from 1 to 1,000,000.")
        }
        return ConnectionLimits(headerTimeout: .seconds(Int64(timeout)), maximumConnections: maximum)
    }

    /// The bearer token `/metrics` asks for: from `metrics.tokenFile`, or `KEYWARD_METRICS_TOKEN`; `nil` when neither is set.
    public func metricsToken() throws(SettingError) -> String? {
        try secret(file: "metrics.tokenFile", flag: "--metrics-token-file", value: "metrics.token")
    }

    /// Where to listen: Hummingbird's `host` and `port` keys (`ApplicationConfiguration(reader:)`), with this service's
    /// default port, the server's name and its connection limit. The port is checked first, naming `portFlag`.
    public func listening(
        serverName: String, defaultPort: Int, limits: ConnectionLimits,
        portFlag: String = "--port"
    ) throws(SettingError) -> (configuration: ApplicationConfiguration, host: String, port: Int) {
        let port = try int("port", name: portFlag) ?? defaultPort
        guard (0...65_535).contains(port) else { throw SettingError(portFlag, "\(port) is not a port number from 0 to 65535.") }
        let host = string("host") ?? "127.0.0.1"
        var configuration = ApplicationConfiguration(reader: reader)
        configuration.address = .hostname(host, port: port)
        configuration.serverName = serverName
        configuration.availableConnectionsDelegate = MaximumAvailableConnections(limits.maximumConnections)
        return (configuration, host, port)
    }
}

extension KeywardDatabase {
    /// The database named by a `database` setting (a file path or a postgres:// URL), opened and migrated for a
    /// command, with its files readable by this account only. A malformed name is a `SettingError` for `--database`;
    /// a database that refuses its migrations, a `StartupFailure`.
    public static func open(setting: String, migrating migrations: [Migration], logger: Logger) async throws -> KeywardDatabase {
        let location = try serviceLocation(setting)
        do {
            return try await KeywardDatabase.open(location, migrating: migrations, logger: logger)
        } catch let error as StoreError {
            throw StartupFailure(error.message)
        }
    }

    /// The database a service starts on, named by its `database` setting, as ``open(setting:migrating:logger:)``
    /// opens it, but for the service's own group (``openForService(_:logger:)``): migrated, then `setup` runs on it
    /// before any service does (``beforeServing(_:)``). A failed `setup` closes it again and throws its error.
    public static func openForService<T>(
        setting: String, migrating migrations: [Migration], logger: Logger, setup: (KeywardDatabase) async throws -> T
    ) async throws -> (database: KeywardDatabase, setup: T) {
        let location = try serviceLocation(setting)
        let database: KeywardDatabase
        do {
            database = try await KeywardDatabase.openForService(location, logger: logger)
        } catch let error as StoreError {
            throw StartupFailure(error.message)
        }
        do {
            let value = try await database.beforeServing { opened in
                do {
                    _ = try await Migrator(migrations).migrate(opened, logger: logger)
                } catch let error as StoreError {
                    throw StartupFailure(error.message)
                }
                return try await setup(opened)
            }
            return (database, value)
        } catch {
            await database.close()
            throw error
        }
    }

    /// A `database` setting's location, with new files readable by this account only.
    private static func serviceLocation(_ setting: String) throws -> DatabaseLocation {
        DataDirectoryPermissions.restrictNewFiles()
        do {
            return try DatabaseLocation.parse(setting)
        } catch {
            throw SettingError("--database", error.message)
        }
    }
}

/// Checks for a listening address before anything is written.
public enum ListeningAddress {
    /// Refuses at once when something already listens on `host:port` (port 0 picks a free one, so it is never
    /// taken). Binding later would fail too, but deep inside the server's start and after the database was made.
    public static func checkFree(host: String, port: Int, flag: String) throws {
        guard port != 0 else { return }
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        } catch {
            throw SettingError("--host", "cannot listen on \(host): \(error).")
        }
        let descriptor = socket(Int32(address.protocol.rawValue), Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        var on: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        let bound = address.withSockAddr { pointer, length in bind(descriptor, pointer, socklen_t(length)) }
        guard bound != 0 else { return }
        let reason = errno == EADDRINUSE ? "is already in use by another program" : String(cString: strerror(errno))
        throw StartupFailure("cannot listen on \(host):\(port): the address \(reason). Stop that program, or choose another port with \(flag).")
    }
}
