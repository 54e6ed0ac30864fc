import Foundation
import KeywardDomain
import KeywardStore
import NIOConcurrencyHelpers

/// What the LDAP synchronization reads, and how (DESIGN.md section 10): the server, the account it binds with, where
/// the users and groups are, and which attributes hold a user's login, name, e-mail and stable id and a group's
/// members. The password is kept apart (``LDAPConnection``) and never shown again.
public struct LDAPSyncSettings: Codable, Sendable, Hashable {
    public var url: String
    public var startTLS: Bool
    public var caFile: String?
    public var bindDN: String
    public var baseDN: String
    public var userFilter: String
    public var groupFilter: String
    public var loginAttribute: String
    public var nameAttribute: String
    public var emailAttribute: String
    /// Stable across renames and moves: OpenLDAP's `entryUUID`, Active Directory's `objectGUID`.
    public var externalIdAttribute: String
    /// On a group: its members' DNs (`member`, `uniqueMember`) or logins (`memberUid`).
    public var memberAttribute: String
    public var groupNameAttribute: String

    public init(
        url: String, startTLS: Bool = false, caFile: String? = nil, bindDN: String, baseDN: String,
        userFilter: String = Self.defaults.userFilter, groupFilter: String = Self.defaults.groupFilter,
        loginAttribute: String = Self.defaults.loginAttribute, nameAttribute: String = Self.defaults.nameAttribute,
        emailAttribute: String = Self.defaults.emailAttribute, externalIdAttribute: String = Self.defaults.externalIdAttribute,
        memberAttribute: String = Self.defaults.memberAttribute, groupNameAttribute: String = Self.defaults.groupNameAttribute
    ) {
        self.url = url
        self.startTLS = startTLS
        self.caFile = caFile
        self.bindDN = bindDN
        self.baseDN = baseDN
        self.userFilter = userFilter
        self.groupFilter = groupFilter
        self.loginAttribute = loginAttribute
        self.nameAttribute = nameAttribute
        self.emailAttribute = emailAttribute
        self.externalIdAttribute = externalIdAttribute
        self.memberAttribute = memberAttribute
        self.groupNameAttribute = groupNameAttribute
    }

    /// OpenLDAP's usual schema (inetOrgPerson, groupOfNames).
    public static let defaults = (
        userFilter: "(objectClass=inetOrgPerson)", groupFilter: "(objectClass=groupOfNames)", loginAttribute: "uid", nameAttribute: "cn",
        emailAttribute: "mail", externalIdAttribute: "entryUUID", memberAttribute: "member", groupNameAttribute: "cn"
    )

    /// The connection for `password`.
    public func connection(password: String, timeout: Duration = .seconds(30)) -> LDAPConnectionSettings {
        LDAPConnectionSettings(url: url, startTLS: startTLS, caFile: caFile, bindDN: bindDN, password: password, timeout: timeout)
    }

    /// Settings as typed (the page, the API, the config file), checked; each refusal names its field.
    public static func checked(_ form: LDAPSettingsForm) throws(RegistryError) -> LDAPSyncSettings {
        func text(_ value: String?) -> String { value?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "" }
        func invalid(_ field: String, _ code: String, _ message: String) -> RegistryError {
            .invalid(FieldError(field: field, code: code, message: message))
        }
        let url = text(form.url)
        let lower = url.lowercased()
        guard url.count <= 2048, lower.hasPrefix("ldap://") || lower.hasPrefix("ldaps://"), url.count > (lower.hasPrefix("ldaps") ? 8 : 7),
            !url.contains(where: \.isWhitespace)
        else {
            throw invalid("url", "INVALID_LDAP_URL", "The server URL must be ldaps://host:636, or ldap://host:389 with StartTLS.")
        }
        let startTLS = form.startTLS ?? false
        if startTLS && lower.hasPrefix("ldaps://") {
            throw invalid("startTLS", "INVALID_LDAP_URL", "StartTLS upgrades an ldap:// connection; an ldaps:// one is encrypted already.")
        }
        let caFile = text(form.caFile)
        if !caFile.isEmpty && !FileManager.default.isReadableFile(atPath: caFile) {
            throw invalid("caFile", "INVALID_CA_FILE", "The registry cannot read the CA file \(caFile): give the path of a PEM file on the server.")
        }
        let bindDN = text(form.bindDN)
        guard (1...1024).contains(bindDN.count), bindDN.contains("=") else {
            throw invalid(
                "bindDN", "INVALID_DN",
                "The bind DN is the account the registry reads the directory as, e.g. cn=keyward,ou=services,dc=example,dc=com.")
        }
        let baseDN = text(form.baseDN)
        guard (1...1024).contains(baseDN.count), baseDN.contains("=") else {
            throw invalid("baseDN", "INVALID_DN", "The base DN is where the users and groups are searched, e.g. dc=example,dc=com.")
        }
        let userFilter = text(form.userFilter).isEmpty ? defaults.userFilter : text(form.userFilter)
        let groupFilter = text(form.groupFilter).isEmpty ? defaults.groupFilter : text(form.groupFilter)
        for (field, filter) in [("userFilter", userFilter), ("groupFilter", groupFilter)] where !isFilter(filter) {
            throw invalid(field, "INVALID_LDAP_FILTER", "\(filter) is not an LDAP filter: one in parentheses, e.g. (objectClass=inetOrgPerson).")
        }
        func attribute(_ field: String, _ value: String?, _ fallback: String) throws(RegistryError) -> String {
            let name = text(value).isEmpty ? fallback : text(value)
            guard isAttributeName(name) else {
                throw invalid(
                    field, "INVALID_ATTRIBUTE", "\(name) is not an LDAP attribute name: a letter, then letters, digits or hyphens (e.g. mail).")
            }
            return name
        }
        return LDAPSyncSettings(
            url: url, startTLS: startTLS, caFile: caFile.isEmpty ? nil : caFile, bindDN: bindDN, baseDN: baseDN, userFilter: userFilter,
            groupFilter: groupFilter, loginAttribute: try attribute("loginAttribute", form.loginAttribute, defaults.loginAttribute),
            nameAttribute: try attribute("nameAttribute", form.nameAttribute, defaults.nameAttribute),
            emailAttribute: try attribute("emailAttribute", form.emailAttribute, defaults.emailAttribute),
            externalIdAttribute: try attribute("externalIdAttribute", form.externalIdAttribute, defaults.externalIdAttribute),
            memberAttribute: try attribute("memberAttribute", form.memberAttribute, defaults.memberAttribute),
            groupNameAttribute: try attribute("groupNameAttribute", form.groupNameAttribute, defaults.groupNameAttribute))
    }

    /// In parentheses that balance, at most 4,096 characters, without control characters: the server reads the rest.
    static func isFilter(_ text: String) -> Bool {
        guard (3...4096).contains(text.count), text.first == "(", text.last == ")", !text.unicodeScalars.contains(where: { $0.value < 0x20 })
        else { return false }
        var depth = 0
        for character in text {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            if depth < 0 { return false }
        }
        return depth == 0
    }

    static func isAttributeName(_ text: String) -> Bool {
        guard (1...64).contains(text.count), let first = text.unicodeScalars.first, first.isASCII, CharacterSet.letters.contains(first) else {
            return false
        }
        return text.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-") }
    }
}

/// The LDAP settings as typed: every field optional, so the page and the API say which one is missing. A blank
/// password keeps the saved one.
public struct LDAPSettingsForm: Codable, Sendable, Hashable {
    public var url: String?
    public var startTLS: Bool?
    public var caFile: String?
    public var bindDN: String?
    public var password: String?
    public var baseDN: String?
    public var userFilter: String?
    public var groupFilter: String?
    public var loginAttribute: String?
    public var nameAttribute: String?
    public var emailAttribute: String?
    public var externalIdAttribute: String?
    public var memberAttribute: String?
    public var groupNameAttribute: String?

    public init(
        url: String? = nil, startTLS: Bool? = nil, caFile: String? = nil, bindDN: String? = nil, password: String? = nil, baseDN: String? = nil,
        userFilter: String? = nil, groupFilter: String? = nil, loginAttribute: String? = nil, nameAttribute: String? = nil,
        emailAttribute: String? = nil, externalIdAttribute: String? = nil, memberAttribute: String? = nil, groupNameAttribute: String? = nil
    ) {
        self.url = url
        self.startTLS = startTLS
        self.caFile = caFile
        self.bindDN = bindDN
        self.password = password
        self.baseDN = baseDN
        self.userFilter = userFilter
        self.groupFilter = groupFilter
        self.loginAttribute = loginAttribute
        self.nameAttribute = nameAttribute
        self.emailAttribute = emailAttribute
        self.externalIdAttribute = externalIdAttribute
        self.memberAttribute = memberAttribute
        self.groupNameAttribute = groupNameAttribute
    }

    /// The form showing `settings` (without the password).
    public init(_ settings: LDAPSyncSettings) {
        self.init(
            url: settings.url, startTLS: settings.startTLS, caFile: settings.caFile, bindDN: settings.bindDN, baseDN: settings.baseDN,
            userFilter: settings.userFilter, groupFilter: settings.groupFilter, loginAttribute: settings.loginAttribute,
            nameAttribute: settings.nameAttribute, emailAttribute: settings.emailAttribute, externalIdAttribute: settings.externalIdAttribute,
            memberAttribute: settings.memberAttribute, groupNameAttribute: settings.groupNameAttribute)
    }
}

/// The LDAP server this registry synchronizes with, which an administrator may change while it runs (the settings
/// page), and the client that talks to it.
public final class LDAPConnection: Sendable {
    public struct State: Sendable {
        public let settings: LDAPSyncSettings?
        let password: String?
        public let source: AuthorityConnection.Source
    }

    private let state: NIOLockedValueBox<State>
    /// The LDAP client; `nil` where none is built in (then synchronization says so).
    public let client: (any LDAPDirectory)?
    /// How long a synchronization waits for the server to connect and to answer each page.
    public let timeout: Duration

    public init(
        settings: LDAPSyncSettings? = nil, password: String? = nil, source: AuthorityConnection.Source? = nil, client: (any LDAPDirectory)?,
        timeout: Duration = .seconds(30)
    ) {
        state = NIOLockedValueBox(State(settings: settings, password: password, source: source ?? (settings == nil ? .none : .configuration)))
        self.client = client
        self.timeout = timeout
    }

    public var current: State { state.withLockedValue { $0 } }

    /// The settings and password to connect with, when both are there.
    var configured: (settings: LDAPSyncSettings, password: String)? {
        let state = current
        guard let settings = state.settings, let password = state.password else { return nil }
        return (settings, password)
    }

    func replace(settings: LDAPSyncSettings?, password: String?) throws(RegistryError) {
        let replaced = state.withLockedValue { state in
            guard state.source != .configuration else { return false }
            state = State(settings: settings, password: settings == nil ? nil : password, source: settings == nil ? .none : .settings)
            return true
        }
        guard replaced else { throw RegistryError.settingsLocked }
    }
}

/// What the settings page and `GET /api/v1/settings/directory` show: never the password.
public struct LDAPSettingsView: Sendable, Hashable {
    public let settings: LDAPSyncSettings?
    public let passwordSaved: Bool
    public let source: AuthorityConnection.Source
    public let editable: Bool
}

/// The outcome of the directory's "Test connection".
public struct LDAPTestResult: Sendable, Hashable {
    public let ok: Bool
    public let code: String
    public let message: String
    public let users: Int?
    public let groups: Int?

    public init(ok: Bool, code: String, message: String, users: Int?, groups: Int?) {
        self.ok = ok
        self.code = code
        self.message = message
        self.users = users
        self.groups = groups
    }
}

extension Registry {
    /// The LDAP settings as the page shows them.
    public func ldapSettings() -> LDAPSettingsView {
        let state = ldap.current
        return LDAPSettingsView(
            settings: state.settings, passwordSaved: state.password != nil, source: state.source, editable: state.source != .configuration)
    }

    /// Settings typed on the page, checked, with the password to use: the typed one, or the saved one when the
    /// server and the bind DN are the saved ones (the saved password goes nowhere else).
    func ldapSettings(from form: LDAPSettingsForm) throws(RegistryError) -> (settings: LDAPSyncSettings, password: String) {
        let settings = try LDAPSyncSettings.checked(form)
        if let typed = form.password, !typed.isEmpty {
            guard typed.utf8.count <= 1024 else {
                throw .invalid(FieldError(field: "password", code: "INVALID_PASSWORD", message: "The password is at most 1,024 bytes."))
            }
            return (settings, typed)
        }
        let saved = ldap.current
        guard let password = saved.password, let old = saved.settings else {
            throw .invalid(FieldError(field: "password", code: "PASSWORD_REQUIRED", message: "Enter the bind DN's password."))
        }
        guard old.url.lowercased() == settings.url.lowercased(), old.bindDN.lowercased() == settings.bindDN.lowercased() else {
            throw .invalid(
                FieldError(
                    field: "password", code: "PASSWORD_REQUIRED",
                    message:
                        "Type the password to use another server or bind DN: the saved one is sent only to the saved server, as the saved bind DN."))
        }
        return (settings, password)
    }

    /// Saves the LDAP settings and uses them from the next synchronization; a blank URL removes them.
    @discardableResult
    public func saveLDAPSettings(_ form: LDAPSettingsForm, actor: String) async throws -> LDAPSettingsView {
        guard ldap.current.source != .configuration else { throw RegistryError.settingsLocked }
        if (form.url ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            try await store.saveSettings([.ldap: nil, .ldapPassword: nil], actor: actor, now: now())
            try ldap.replace(settings: nil, password: nil)
            return ldapSettings()
        }
        let (settings, password) = try ldapSettings(from: form)
        let text = String(decoding: try JSONEncoder().encode(settings), as: UTF8.self)
        var changes: [RegistrySetting: String?] = [.ldap: text]
        if password != ldap.current.password { changes[.ldapPassword] = password }
        try await store.saveSettings(changes, actor: actor, now: now())
        try ldap.replace(settings: settings, password: password)
        return ldapSettings()
    }

    /// Tries the typed settings (or the saved ones): binds, and counts the users and groups the filters find. Changes
    /// nothing.
    public func testLDAP(_ form: LDAPSettingsForm? = nil) async throws -> LDAPTestResult {
        let (settings, password): (LDAPSyncSettings, String)
        if let form, !(form.url ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            if ldap.current.source == .configuration { throw RegistryError.settingsLocked }
            (settings, password) = try ldapSettings(from: form)
        } else if let configured = ldap.configured {
            (settings, password) = configured
        } else {
            throw RegistryError.ldapNotConfigured
        }
        guard let client = ldap.client else { throw RegistryError.ldapUnavailable }
        let connection = settings.connection(password: password, timeout: min(ldap.timeout, .seconds(10)))
        do throws(LDAPFailure) {
            try await client.bind(connection)
            let users = try await client.search(
                connection, base: settings.baseDN, filter: settings.userFilter, attributes: ["1.1"], pageSize: LDAPSynchronizer.pageSize)
            let groups = try await client.search(
                connection, base: settings.baseDN, filter: settings.groupFilter, attributes: ["1.1"], pageSize: LDAPSynchronizer.pageSize)
            return LDAPTestResult(
                ok: true, code: "CONNECTED",
                message:
                    "\(settings.url) accepted the bind as \(settings.bindDN) and finds \(users.count) user\(users.count == 1 ? "" : "s") and \(groups.count) group\(groups.count == 1 ? "" : "s") under \(settings.baseDN).",
                users: users.count, groups: groups.count)
        } catch {
            return LDAPTestResult(ok: false, code: error.code, message: error.message, users: nil, groups: nil)
        }
    }

    /// The configured LDAP settings, else the saved ones, at start-up.
    public static func ldapConnection(
        configured: (settings: LDAPSyncSettings, password: String)?, saved: [RegistrySetting: String], client: (any LDAPDirectory)?
    ) -> LDAPConnection {
        if let configured {
            return LDAPConnection(settings: configured.settings, password: configured.password, source: .configuration, client: client)
        }
        if let text = saved[.ldap], let settings = try? JSONDecoder().decode(LDAPSyncSettings.self, from: Data(text.utf8)),
            let password = saved[.ldapPassword]
        {
            return LDAPConnection(settings: settings, password: password, source: .settings, client: client)
        }
        return LDAPConnection(client: client)
    }
}

extension RegistryError {
    static let ldapNotConfigured = RegistryError.refused(
        code: "LDAP_NOT_CONFIGURED", message: "No LDAP server is set: fill in Settings > Directory (or PUT /api/v1/settings/directory) first.",
        kind: .conflict)
    static let ldapUnavailable = RegistryError.refused(
        code: "LDAP_UNAVAILABLE", message: "This registry was built without an LDAP client.", kind: .conflict)
}
