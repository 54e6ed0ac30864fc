import Foundation
import KeywardDomain
import KeywardStore

/// The registry's operations, shared by its API, its web UI and its CLI: checks first, then one store transaction.
public struct Registry: Sendable {
    public let store: RegistryStore
    public let installation: RegistryInstallation
    public let trust: TrustStore
    /// Users, access groups and the entitlement snapshot; it also holds the catalog, which synchronization may replace.
    public let access: AccessControl
    /// The licensing authority, which the settings page may change while the registry runs.
    public let connection: AuthorityConnection
    /// Authenticated API tokens, emptied whenever this process revokes tokens.
    public let tokenCache = TokenCache()
    /// Heartbeats waiting for the next group commit.
    let renewals = SessionRenewals()
    /// bcrypt for logins and new passwords, on a thread of its own.
    public let passwords: PasswordHasher
    public let now: @Sendable () -> Date
    /// The mass-removal guard's share (`directory.maxRemovalShare`): a directory change that would take access from
    /// more of an access group's users than this (and from at least 10) is held for an administrator.
    public let maxRemovalShare: Double
    /// The LDAP server the directory synchronization reads, which the settings page may change while the registry runs.
    public let ldap: LDAPConnection
    /// The identity provider people may sign in with (OpenID Connect), which the settings page may change while it runs.
    public let signIn: SignInConnection

    public init(
        store: RegistryStore, installation: RegistryInstallation, trust: TrustStore, catalog: Catalog,
        connection: AuthorityConnection, passwords: PasswordHasher = PasswordHasher(), maxRemovalShare: Double = 0.2,
        ldap: LDAPConnection = LDAPConnection(client: nil), signIn: SignInConnection = SignInConnection(relyingParty: nil),
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.maxRemovalShare = maxRemovalShare
        self.ldap = ldap
        self.signIn = signIn
        self.store = store
        self.passwords = passwords
        self.installation = installation
        self.trust = trust
        self.connection = connection
        self.now = now
        self.access = AccessControl(store: store, catalog: catalog, now: now)
    }

    /// The solutions catalog in use: the shipped one until the authority sends its own.
    public var catalog: Catalog { access.catalog }

    /// The authority in use now, if any.
    public var authority: AuthorityClient? { connection.client }

    // MARK: Keys

    /// Registers a pasted access key under an ID #: the on-premise way to add a key.
    @discardableResult
    public func register(idNumber text: String, accessKey: String, actor: String) async throws -> RegisteredKey {
        let idNumber = try Self.validIDNumber(text)
        let time = now()
        let verification = AccessKeyVerifier(trustStore: trust).verify(accessKey, organization: installation.organization.id, now: time)
        guard verification.isValid, let license = verification.license, let kid = verification.kid else {
            throw RegistryError.accessKey(verification.code)
        }
        // Stored in canonical form: the pasted text may carry line breaks and lack padding.
        let canonical = AccessKey.split(accessKey).map { $0.signedText + "." + Base64URL.encode($0.signature) } ?? accessKey
        let key = RegisteredKey(
            license: license, accessKey: canonical, kid: kid, idNumber: idNumber, source: .manual,
            registeredAt: time, registeredBy: actor)
        try await access.changing(.keys) { try await store.register(key, actor: actor, now: time) }
        return key
    }

    public func rename(_ serial: String, to text: String, actor: String) async throws -> RegisteredKey {
        try await store.rename(serial, to: try Self.validIDNumber(text), actor: actor, now: now())
    }

    static func validIDNumber(_ text: String) throws(RegistryError) -> String {
        do {
            return try IDNumber.validate(text)
        } catch {
            throw .invalid(error)
        }
    }

    public func remove(_ serial: String, actor: String) async throws -> RegisteredKey {
        try await access.changing(.keys) { try await store.remove(serial, actor: actor, now: now()) }
    }

    /// The components of a key, with their names from the catalog.
    public func components(of key: RegisteredKey) -> [Catalog.Component] {
        key.license.components.map { code in
            catalog.component(code) ?? Catalog.Component(code: code, name: code, menus: [])
        }
    }

    // MARK: Activation

    /// Whether the installation was never activated, is active, or must be activated again.
    public enum ActivationStatus: String, Codable, Sendable {
        case never
        case active
        case required
    }

    /// The activation as the License key menu shows it.
    public struct ActivationState: Sendable {
        public let status: ActivationStatus
        public let current: StoredActivation?
        /// What activating now would change.
        public let change: ActivationChange
        /// The serials an activation now would cover: every key neither revoked nor expired.
        public let serials: [String]
    }

    public func activationState() async throws -> ActivationState {
        let time = now()
        let keys = try await store.keys()
        let current = try await store.activation()
        let eligible = keys.filter { [.valid, .notYetValid].contains($0.status(at: time)) }
        let change = ActivationChange.between(certified: current?.covered ?? [], current: eligible.map { CoveredKey($0.license) })
        let status: ActivationStatus =
            if current == nil {
                .never
            } else if !current!.certificate.isExpired(at: time), Set(current!.certificate.serials) == Set(eligible.map(\.serial)) {
                .active
            } else {
                .required
            }
        return ActivationState(status: status, current: current, change: change, serials: eligible.map(\.serial).sorted())
    }

    /// The offline activation request for the current keys.
    public func activationRequest(promote: Bool = false, reason: String? = nil) async throws -> ActivationRequestFile {
        if let reason, reason.unicodeScalars.count > 500 || reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw RegistryError.invalid(
                FieldError(field: "reason", code: "INVALID_REASON", message: "The reason must be at most 500 characters, without control characters.")
            )
        }
        return ActivationRequestFile(
            organizationId: installation.organization.id, installationId: installation.installationId,
            environment: installation.environment, serials: try await activationState().serials, promote: promote,
            reason: reason.flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 })
    }

    /// Installs a certificate after checking it is signed by a trusted authority, made for this installation, not
    /// expired, and not issued before the one in force.
    @discardableResult
    public func install(_ document: SignedDocument, method: StoredActivation.Method, force: Bool = false, actor: String) async throws
        -> StoredActivation
    {
        let payload: Data
        do {
            payload = try document.verifiedPayload(for: .certificate, trust: trust)
        } catch {
            let message =
                switch error {
                case .unknownSigningKey: "This certificate is signed by an authority key this installation does not trust."
                case .badSignature: "This certificate's signature does not match its contents: it was altered or damaged."
                case .malformed: "This is not an activation certificate."
                }
            throw RegistryError.certificate(code: error == .malformed ? "MALFORMED_CERTIFICATE" : "UNTRUSTED_CERTIFICATE", message: message)
        }
        guard let certificate = try? SignedDocument.decode(ActivationCertificate.self, payload: payload) else {
            throw RegistryError.certificate(
                code: "MALFORMED_CERTIFICATE",
                message:
                    "This is not an activation certificate: it cannot be read, or names a member twice. Ask the vendor for the certificate file again."
            )
        }
        guard certificate.installationId == installation.installationId, certificate.organization.id == installation.organization.id else {
            throw RegistryError.certificate(
                code: "WRONG_INSTALLATION",
                message:
                    "This certificate was made for installation \(certificate.installationId) of \(certificate.organization.id), not for this one (\(installation.installationId))."
            )
        }
        guard certificate.environment == installation.environment else {
            throw RegistryError.certificate(
                code: "WRONG_INSTALLATION",
                message:
                    "This certificate is for a \(certificate.environment.rawValue) installation; this one is \(installation.environment.rawValue).")
        }
        guard Timestamp.parse(certificate.issuedAt) != nil, certificate.expiresAt.map({ Timestamp.parse($0) != nil }) ?? true else {
            throw RegistryError.certificate(
                code: "MALFORMED_CERTIFICATE",
                message: "This certificate's issue or expiry time is not a time. Ask the vendor for the certificate file again.")
        }
        let time = now()
        if certificate.isExpired(at: time), let expiresAt = certificate.expiresAt {
            throw RegistryError.certificate(
                code: "CERTIFICATE_EXPIRED",
                message: "This certificate expired at \(expiresAt). Activate again, online or with a new activation request, for a current one.")
        }
        let keys = try await store.keys()
        let certified = Set(certificate.serials)
        let covered = keys.filter { certified.contains($0.serial) }.map { CoveredKey($0.license) }
        try await requireAllocationFits(serials: certificate.serials, force: force)
        let activation = StoredActivation(document: document, certificate: certificate, covered: covered, installedAt: time, method: method)
        do {
            try await access.changing(.keys) { try await store.install(activation, actor: actor) }
        } catch let error as StoreError where error.code == "CERTIFICATE_OUTDATED" {
            throw RegistryError.certificate(code: error.code, message: error.message)
        }
        return activation
    }

    /// Activates online through the configured authority.
    @discardableResult
    public func activateOnline(promote: Bool = false, reason: String? = nil, force: Bool = false, actor: String) async throws -> StoredActivation {
        guard let authority else { throw RegistryError.noAuthority }
        let request = try await activationRequest(promote: promote, reason: reason)
        // Refused before asking the authority, so a refusal never spends one of the month's environment changes.
        try await requireAllocationFits(serials: request.serials, force: force)
        let document = try await authority.activate(request)
        do {
            return try await install(document, method: .online, force: true, actor: actor)
        } catch RegistryError.certificate(_, let message) {
            // The authority answered, but not with a certificate this installation can use: its fault, not the caller's.
            throw RegistryError.authority(
                code: "AUTHORITY_BAD_CERTIFICATE", message: "The licensing authority sent a certificate this installation refuses: \(message)")
        }
    }
}
