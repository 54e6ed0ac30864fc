import ArgumentParser
import Configuration
import Foundation
import SystemPackage

/// Where a setting comes from, first match wins: the command's flags, then `KEYWARD_*` environment variables, then
/// the JSON config file (`--config FILE` or `KEYWARD_CONFIG`). A key such as `sync.autoActivate` is the environment
/// variable `KEYWARD_SYNC_AUTO_ACTIVATE` and, in the file, `{"sync": {"autoActivate": false}}`.
struct KeywardConfiguration: Sendable {
    let reader: ConfigReader

    /// Environment variables whose values are secrets: never printed by the configuration's access reports.
    static let secretVariables: Set<String> = ["KEYWARD_SYNC_TOKEN", "KEYWARD_ADMIN_PASSWORD", "KEYWARD_METRICS_TOKEN"]

    static func load(flags: [AbsoluteConfigKey: String], file: String?,
                     environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> KeywardConfiguration {
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

    /// A text setting; blank counts as unset.
    func string(_ key: ConfigKey, secret: Bool = false) -> String? {
        guard let value = reader.string(forKey: key, isSecret: secret)?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
            return nil
        }
        return value
    }

    /// A list: a JSON array in the file, comma separated in the environment.
    func strings(_ key: ConfigKey) -> [String] {
        (reader.stringArray(forKey: key) ?? []).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A yes/no setting: `true`/`false` (also `1`/`0`, `yes`/`no`) in the environment, a boolean in the file.
    func bool(_ key: ConfigKey, name: String) throws -> Bool? {
        if let value = reader.bool(forKey: key) { return value }
        guard let text = string(key) else { return nil }
        switch text.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw CommandFailure.badInput(name, "\"\(text)\" is not true or false.")
        }
    }

    /// A whole number: a number in the file, digits in the flags and the environment.
    func int(_ key: ConfigKey, name: String) throws -> Int? {
        if let value = reader.int(forKey: key) { return value }
        guard let text = string(key) else { return nil }
        guard let value = Int(text) else { throw CommandFailure.badInput(name, "\"\(text)\" is not a whole number.") }
        return value
    }
}

extension Dictionary where Key == AbsoluteConfigKey, Value == String {
    /// The flags that were given, by configuration key.
    init(flags: [(AbsoluteConfigKey, String?)]) {
        self.init(uniqueKeysWithValues: flags.compactMap { key, value in value.map { (key, $0) } })
    }
}
