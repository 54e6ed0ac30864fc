import Foundation
import HummingbirdBcrypt
import KeywardDomain
import KeywardStore

/// What a registry's first start makes: the installation and the built-in administrator. Later starts find both and
/// change nothing.
public enum FirstStart {
    /// The organization a first start needs, checked before anything is written.
    public struct Organization: Sendable {
        public var id: String?
        public var legalName: String?
        public var environment: InstallationEnvironment?

        public init(id: String?, legalName: String?, environment: InstallationEnvironment?) {
            self.id = id
            self.legalName = legalName
            self.environment = environment
        }

        /// Refuses a missing or malformed organization id or legal name, naming the field (`organization`, `legalName`).
        public func check() throws(RegistryError) {
            guard let id, KeywardDomain.Organization.isValidID(id) else {
                throw .invalid(
                    FieldError(
                        field: "organization", code: "INVALID_ORGANIZATION_ID",
                        message: "the first start needs the organization id, a lowercase slug such as acme (or KEYWARD_ORGANIZATION)."))
            }
            guard let legalName, KeywardDomain.Organization.isValidLegalName(legalName) else {
                throw .invalid(
                    FieldError(
                        field: "legalName", code: "INVALID_LEGAL_NAME",
                        message: "the first start needs the organization's legal name, 1 to 200 characters (or KEYWARD_LEGAL_NAME)."))
            }
        }
    }

    /// The installation: the stored one, or one made now from `organization`.
    public static func installation(store: RegistryStore, organization: Organization) async throws -> RegistryInstallation {
        if let existing = try await store.installation() { return existing }
        try organization.check()
        guard let id = organization.id, let legalName = organization.legalName else { preconditionFailure("checked by check()") }
        let installation = RegistryInstallation(
            installationId: "inst-" + UUID().uuidString.lowercased(), organization: KeywardDomain.Organization(id: id, legalName: legalName),
            environment: organization.environment ?? .production, createdAt: Date())
        return try await store.createInstallation(installation).installation
    }

    /// Creates the built-in administrator, login `admin`, when there is none; returns the password to print, if there
    /// is one to print. Without `given`, a password is generated. The demo keeps its password in `demoDirectory` and
    /// shows it on every start; a real installation shows a generated one once, and a given one never.
    public static func administrator(store: RegistryStore, password given: String?, demoDirectory: URL?) async throws -> String? {
        let demoPasswordFile = demoDirectory?.appendingPathComponent("demo-admin-password")
        if try await store.user("admin") != nil {
            return demoPasswordFile.flatMap { try? String(contentsOf: $0, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        let password = given ?? APIToken.generate().secret
        _ = try await store.createAdministrator(login: "admin", passwordHash: Bcrypt.hash(password, cost: PasswordHasher.cost), now: Date())
        if let demoPasswordFile { try password.write(to: demoPasswordFile, atomically: true, encoding: .utf8) }
        return given == nil || demoPasswordFile != nil ? password : nil
    }
}
