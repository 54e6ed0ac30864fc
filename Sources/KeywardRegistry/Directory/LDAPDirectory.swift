import Foundation
import NIOConcurrencyHelpers

/// How to reach an LDAP server (Active Directory, OpenLDAP): `ldaps://` or `ldap://` with StartTLS, the CA that signs
/// its certificate, and the account to bind with. The password is never logged (see ``description``).
public struct LDAPConnectionSettings: Sendable, Hashable, CustomStringConvertible {
    public var url: String
    /// Upgrade an `ldap://` connection with StartTLS before binding.
    public var startTLS: Bool
    /// A PEM file of the CA certificates to trust; the system's when `nil`.
    public var caFile: String?
    public var bindDN: String
    public var password: String
    /// For connecting, and for each operation.
    public var timeout: Duration

    public init(url: String, startTLS: Bool = false, caFile: String? = nil, bindDN: String, password: String, timeout: Duration = .seconds(15)) {
        self.url = url
        self.startTLS = startTLS
        self.caFile = caFile
        self.bindDN = bindDN
        self.password = password
        self.timeout = timeout
    }

    public var description: String { "\(url)\(startTLS ? " (StartTLS)" : "") as \(bindDN)" }
}

/// One entry a search found: its DN and its attributes, names folded to lower case (LDAP's are case-insensitive).
public struct LDAPEntry: Sendable, Hashable {
    public var dn: String
    public var attributes: [String: [String]]

    public init(dn: String, attributes: [String: [String]]) {
        self.dn = dn
        self.attributes = Dictionary(attributes.map { ($0.key.lowercased(), $0.value) }) { a, b in a + b }
    }

    /// The first value of `name`, in any case.
    public func first(_ name: String) -> String? { attributes[name.lowercased()]?.first }

    public func values(_ name: String) -> [String] { attributes[name.lowercased()] ?? [] }
}

/// Why an LDAP operation failed, in words: the server is down, refused the bind, timed out, or refused the search.
public struct LDAPFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public let code: String
    public let message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// An LDAP client: binds and searches in pages (RFC 2696). The registry depends on this, not on a library; the
/// OpenLDAP one (`KeywardLDAP`) is given to it by the composition root.
public protocol LDAPDirectory: Sendable {
    /// Every entry under `base` matching `filter`, with `attributes`, read `pageSize` at a time and handed to `page`
    /// one page after the other, so a caller that keeps only what it needs of them never holds them all.
    func search(
        _ settings: LDAPConnectionSettings, base: String, filter: String, attributes: [String], pageSize: Int,
        page: @escaping @Sendable ([LDAPEntry]) -> Void
    ) async throws(LDAPFailure)

    /// Connects and binds, then closes: for a connection test.
    func bind(_ settings: LDAPConnectionSettings) async throws(LDAPFailure)
}

extension LDAPDirectory {
    /// Every entry under `base` matching `filter`, with `attributes`, read `pageSize` at a time.
    public func search(_ settings: LDAPConnectionSettings, base: String, filter: String, attributes: [String], pageSize: Int)
        async throws(LDAPFailure) -> [LDAPEntry]
    {
        let entries = NIOLockedValueBox<[LDAPEntry]>([])
        try await search(settings, base: base, filter: filter, attributes: attributes, pageSize: pageSize) { page in
            entries.withLockedValue { $0 += page }
        }
        return entries.withLockedValue { $0 }
    }
}
