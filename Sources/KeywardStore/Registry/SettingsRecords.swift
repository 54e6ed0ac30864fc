import Foundation
import KeywardDomain
import SQLKit

/// A setting's name, as stored in `registry_settings`.
public enum RegistrySetting: String, Sendable, CaseIterable {
    case authorityURL = "authority.url"
    case syncToken = "sync.token"
    /// The solutions catalog the authority sent (JSON).
    case catalog = "catalog"
    /// The LDAP synchronization's settings (JSON, without the password).
    case ldap = "directory.ldap"
    case ldapPassword = "directory.ldap.password"
    /// OpenID Connect sign-in's settings (JSON, without the client secret).
    case signIn = "sign-in.oidc"
    case signInSecret = "sign-in.oidc.clientSecret"
    /// The organization's production installation as the authority's feed last named it.
    case productionInstallation = "authority.productionInstallation"

    /// Secret and bulky values are never written to the audit log.
    var isSecret: Bool { ![.authorityURL, .ldap, .signIn, .productionInstallation].contains(self) }
}

extension RegistryStore {
    /// Every saved setting, by name.
    public func settings() async throws -> [RegistrySetting: String] {
        try await database.read { sql in
            var result: [RegistrySetting: String] = [:]
            for row in try await sql.select().columns("name", "value", "updated_at", "updated_by").from("registry_settings")
                .all(decoding: SettingRow.self, with: .columns)
            {
                if let name = RegistrySetting(rawValue: row.name) { result[name] = row.value }
            }
            return result
        }
    }

    /// Saves (a value) or clears (`nil`) the given settings in one transaction, with one audit event that names them
    /// but never shows a secret.
    public func saveSettings(_ changes: [RegistrySetting: String?], actor: String, now: Date) async throws {
        guard !changes.isEmpty else { return }
        try await database.write { sql in
            for (name, value) in changes.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                try await sql.delete(from: "registry_settings").where("name", .equal, name.rawValue).run()
                if let value {
                    let row = SettingRow(name: name.rawValue, value: value, updatedAt: now.storedMilliseconds, updatedBy: actor)
                    try await sql.insert(into: "registry_settings").model(row, with: .columns).run()
                }
            }
            var details: [String: JSONValue] = [:]
            for (name, value) in changes {
                switch value {
                case nil: details[name.rawValue] = .string("cleared")
                case .some(let value): details[name.rawValue] = .string(name.isSecret ? "saved" : value)
                }
            }
            try await AuditLog.append(.init(actor: actor, action: "settings.changed", target: "settings", details: details), at: now, on: sql)
        }
    }
}

/// A `registry_settings` row.
private struct SettingRow: Codable {
    var name: String
    var value: String
    var updatedAt: Int64
    var updatedBy: String
}
