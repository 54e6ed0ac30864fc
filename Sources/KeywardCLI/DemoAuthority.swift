import Foundation
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardRegistryHTTP
import KeywardStore
import Logging
import Prometheus
import ServiceLifecycle

/// The authority `keyward serve --demo` runs beside the registry: its own data directory, a sample organization
/// whose legal name the installation takes, an agreement of five keys (every profile, both use types) and an
/// organization token. A second start reuses all of it and never issues the sample keys twice.
struct DemoAuthority {
    static let organization = Organization(id: "demo", legalName: "Demo Industries Ltd.")
    static let agreementReference = "DEMO-2026-001"

    let service: any Service
    let url: String
    let organizationToken: String
    let publicKeys: [AuthorityPublicKey]
    let notes: [String]

    static func start(in directory: URL, host: String, port: Int, logger: Logger, metrics: PrometheusCollectorRegistry) async throws -> DemoAuthority
    {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let keyring =
            AuthorityKeyring.exists(in: directory)
            ? try AuthorityKeyring.load(from: directory)
            : try AuthorityKeyring.create(in: directory, rotate: false, now: Date())
        let database = try await KeywardDatabase.open(
            .sqliteFile(path: directory.appendingPathComponent("authority.sqlite").path),
            migrating: Schema.authority, logger: logger)
        let authority = Authority(store: AuthorityStore(database: database), keyring: keyring, catalog: try Catalog.shipped())

        let operatorTokenFile = directory.appendingPathComponent("operator-token")
        if !FileManager.default.fileExists(atPath: operatorTokenFile.path) {
            let made = try await authority.store.createToken(kind: TokenKind.operator, name: "demo", subject: nil, actor: "system:demo", now: Date())
            try writeSecret(made.token.text, to: operatorTokenFile)
        }
        if try await authority.store.organization(organization.id) == nil {
            _ = try await authority.createOrganization(id: organization.id, legalName: organization.legalName, actor: "system:demo")
            let now = Date()
            let day: TimeInterval = 86_400
            let lines = [
                LicenseKeySpecification(
                    profile: .manager, useType: .nominative, users: 25, purchaseType: .sale, components: ["CFG", "DOC", "WF", "AUD"]),
                LicenseKeySpecification(
                    profile: .staff, useType: .nominative, users: 50, purchaseType: .rental, components: ["DOC", "WF", "TRN"],
                    expiresAt: now.addingTimeInterval(365 * day)),
                LicenseKeySpecification(
                    profile: .basic, useType: .floating, users: 20, purchaseType: .monthly, components: ["DOC", "RSK"],
                    expiresAt: now.addingTimeInterval(25 * day)),
                LicenseKeySpecification(profile: .view, useType: .floating, users: 100, purchaseType: .sale, components: ["DOC", "PRJ"]),
                LicenseKeySpecification(
                    profile: .staff, useType: .floating, users: 10, purchaseType: .trial, components: ["MNT"],
                    expiresAt: now.addingTimeInterval(14 * day)),
            ]
            let issued = try await authority.issueAgreement(
                reference: agreementReference, signedOn: now, lines: lines,
                organizationId: organization.id, actor: "system:demo")
            // Handy for trying the on-premise way: paste one of these into "Create".
            try
                (issued.keys.map { "# \($0.license.profile.rawValue) \($0.license.useType.rawValue) \($0.license.users) users\n\($0.accessKey)\n" }
                .joined(separator: "\n"))
                .write(to: directory.appendingPathComponent("sample-access-keys.txt"), atomically: true, encoding: .utf8)
        }
        let organizationTokenFile = directory.appendingPathComponent("organization-token")
        if !FileManager.default.fileExists(atPath: organizationTokenFile.path) {
            let made = try await authority.store.createToken(
                kind: TokenKind.organization, name: "demo registry", subject: organization.id,
                actor: "system:demo", now: Date())
            try writeSecret(made.token.text, to: organizationTokenFile)
        }
        let organizationToken = try String(contentsOf: organizationTokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let url = "http://\(host):\(port)"
        let service = buildAuthorityApplication(AuthorityDependencies(authority: authority, metrics: metrics), host: host, port: port, logger: logger)
        return DemoAuthority(
            service: service, url: url, organizationToken: organizationToken, publicKeys: keyring.publicKeys,
            notes: [
                "Demo authority on \(url): organization \(organization.id) (\(organization.legalName)), agreement \(agreementReference).",
                "  Its operator token is in \(operatorTokenFile.path); sample access keys in \(directory.appendingPathComponent("sample-access-keys.txt").path).",
            ]
        )
    }

    /// What the registry's composition root takes of it; the registry's demo files go in `registryDirectory`.
    func context(registryDirectory: URL) -> RegistryApplicationContext.Demo {
        RegistryApplicationContext.Demo(
            service: service, url: url, organizationToken: organizationToken, organization: Self.organization,
            publicKeys: publicKeys, directory: registryDirectory, notes: notes)
    }

    /// Writes a secret file readable by its owner only.
    static func writeSecret(_ text: String, to url: URL) throws {
        FileManager.default.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600])
        let handle = try FileHandle(forWritingTo: url)
        try handle.write(contentsOf: Data((text + "\n").utf8))
        try handle.close()
    }
}
