import ArgumentParser
import Configuration
import Foundation
import KeywardHTTP
import SystemPackage

/// Where a setting comes from, first match wins: the command's flags, then `KEYWARD_*` environment variables, then
/// the JSON config file (`--config FILE` or `KEYWARD_CONFIG`). A key such as `sync.autoActivate` is the environment
/// variable `KEYWARD_SYNC_AUTO_ACTIVATE` and, in the file, `{"sync": {"autoActivate": false}}`.
struct KeywardConfiguration: Sendable {
    let reader: ConfigReader

    /// Environment variables whose values are secrets: never printed by the configuration's access reports.
    static let secretVariables: Set<String> = [
        "KEYWARD_ORGANIZATION_TOKEN", "KEYWARD_SYNC_TOKEN", "KEYWARD_ADMIN_PASSWORD", "KEYWARD_METRICS_TOKEN", "KEYWARD_DIRECTORY_LDAP_PASSWORD",
        "KEYWARD_OIDC_CLIENT_SECRET",
    ]

    static func load(
        flags: [AbsoluteConfigKey: String], file: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> KeywardConfiguration {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in flags { values[key] = ConfigValue(.string(value), isSecret: false) }
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: values),
            EnvironmentVariablesProvider(environmentVariables: environment, secretsSpecifier: .specific(secretVariables))
                .prefixKeys(with: ["keyward"]),
        ]
        if let path = file ?? environment["KEYWARD_CONFIG"] {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw CommandFailure.badInput("--config", "cannot read the config file \(path).")
            }
            do {
                providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(path)))
            } catch {
                throw CommandFailure.badInput("--config", "\(path) is not a JSON object of settings (\(error)).")
            }
        }
        return KeywardConfiguration(reader: ConfigReader(providers: providers))
    }

    /// The same settings, with their checked accessors.
    var settings: Settings { Settings(reader: reader) }

    func string(_ key: ConfigKey, secret: Bool = false) -> String? { settings.string(key, secret: secret) }
    func strings(_ key: ConfigKey) -> [String] { settings.strings(key) }
    func bool(_ key: ConfigKey, name: String) throws -> Bool? { try settings.bool(key, name: name) }
    func int(_ key: ConfigKey, name: String) throws -> Int? { try settings.int(key, name: name) }
}

extension Dictionary where Key == AbsoluteConfigKey, Value == String {
    /// The flags that were given, by configuration key.
    init(flags: [(AbsoluteConfigKey, String?)]) {
        self.init(uniqueKeysWithValues: flags.compactMap { key, value in value.map { (key, $0) } })
    }
}
