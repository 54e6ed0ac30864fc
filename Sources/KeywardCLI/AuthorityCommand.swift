import ArgumentParser
import Foundation
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardStore
import Logging

/// `keyward authority ...`: the vendor's side.
struct AuthorityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authority",
        abstract: "The vendor's licensing authority: signing keys, organizations, agreements, keys and installations.",
        subcommands: [
            AuthorityServeCommand.self, AuthorityInitCommand.self, AuthorityPublicKeyCommand.self, AuthorityOrganizationCommand.self,
            AuthorityAgreementCommand.self, AuthorityKeyCommand.self, AuthorityInstallationCommand.self, AuthoritySigningKeyCommand.self,
            AuthorityIssueAlias.self, AuthorityTokenCommand.self, AuthorityOperatorCommand.self, AuthorityActivateCommand.self,
        ]
    )
}

/// The authority's data directory and database options, shared by its commands.
struct AuthorityDataDirectory: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "The authority's data directory.")
    var path: String = "./keyward-authority-data"

    @Option(help: "The database: a file path for SQLite, or a postgres:// URL. Default: authority.sqlite in the data directory.")
    var database: String?

    var url: URL { URL(fileURLWithPath: path, isDirectory: true) }

    /// The library's view of it.
    var setup: AuthoritySetup { AuthoritySetup(directory: url, database: database) }

    /// The store, opened and migrated.
    func openStore(logger: Logger) async throws -> AuthorityStore { try await setup.openStore(logger: logger) }

    /// The authority's operations over the store and the keyring.
    func openAuthority(logger: Logger) async throws -> Authority { try await setup.openAuthority(logger: logger) }

    func loadKeyring() throws -> AuthorityKeyring { try setup.loadKeyring() }
}

/// `keyward authority init`: creates (or with --rotate adds) the Ed25519 signing key.
struct AuthorityInitCommand: ConsoleCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the authority's Ed25519 signing key (a PEM file, mode 0600, under the data directory).",
        discussion: "Refuses to overwrite an existing key. With --rotate, adds a new active key; the old ones keep verifying the keys they signed."
    )

    @OptionGroup var dataDirectory: AuthorityDataDirectory

    @Flag(help: "Add a new active signing key beside the existing ones.")
    var rotate = false

    @Flag(help: "Print {\"kid\", \"publicKey\", \"operatorToken\", \"adminPassword\"} as JSON (the password when it was generated).")
    var json = false

    func run(console: Console) async throws {
        let keyring: AuthorityKeyring
        do {
            keyring = try AuthorityKeyring.create(in: dataDirectory.url, rotate: rotate, now: Date())
        } catch {
            throw CommandFailure.failed(error.message)
        }
        // The first init also makes the first operator, admin, and their first token; a rotation only adds a signing key.
        var operatorToken: String?
        var adminPassword: String?
        if keyring.entries.count == 1 {
            let (password, generated) = AuthorityOperatorCommand.password()
            operatorToken = try await dataDirectory.withAuthority { authority in
                if try await authority.store.operatorRecord("admin") == nil {
                    _ = try await authority.createOperator(
                        login: "admin", name: "Administrator", role: OperatorRole.admin.rawValue, password: password, actor: "system:init")
                    if generated { adminPassword = password }
                }
                return try await authority.store.createToken(
                    kind: TokenKind.operator, name: "initial", subject: "admin", actor: "system:init", now: Date()
                )
                .token.text
            }
        }
        let key = keyring.activeKey.publicKey
        if json {
            var output = ["kid": key.kid, "publicKey": key.hex]
            output["operatorToken"] = operatorToken
            output["adminPassword"] = adminPassword
            console.print(Console.json(output))
        } else {
            console.print("kid:            \(key.kid)")
            console.print("public key:     \(key.hex)")
            if let operatorToken { console.print("operator token: \(operatorToken)") }
            if let adminPassword { console.print("admin password: \(adminPassword)") }
            console.error(
                "Signing key written under \(dataDirectory.url.appendingPathComponent("signing-keys").path). Registries trust it with --trust-key \(key.hex)"
            )
            if operatorToken != nil {
                console.error(
                    adminPassword == nil
                        ? "The operator token (of the operator admin, whose password is KEYWARD_OPERATOR_PASSWORD) is shown once and stored only as a hash: keep it now. Log in to the console (keyward authority serve, then /) as admin."
                        : "The operator token and the password of the operator admin are shown once and stored only as hashes: keep them now. Log in to the console (keyward authority serve, then /) as admin."
                )
            }
        }
    }
}

/// `keyward authority public-key`: the public keys a registry should trust.
struct AuthorityPublicKeyCommand: ConsoleCommand {
    static let configuration = CommandConfiguration(
        commandName: "public-key",
        abstract: "Print the authority's public keys, the active one first: 64 hex characters a line, or PEM.",
        discussion: "The output is a valid trust file for `keyward key inspect --trust-file` and the registry."
    )

    @OptionGroup var dataDirectory: AuthorityDataDirectory

    @Flag(help: "Print PEM \"PUBLIC KEY\" blocks instead of hex.")
    var pem = false

    @Flag(help: "Print only the active key, not the older ones kept after rotation.")
    var activeOnly = false

    func run(console: Console) async throws {
        let keyring = try dataDirectory.loadKeyring()
        let keys = activeOnly ? [keyring.activeKey.publicKey] : keyring.publicKeys
        for key in keys {
            console.print(pem ? key.pem : key.hex, terminator: pem ? "" : "\n")
        }
    }
}
