import ArgumentParser
import Foundation
import KeywardAuthority
import KeywardDomain

/// `keyward authority ...`: the vendor's side.
struct AuthorityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authority",
        abstract: "The vendor's licensing authority: signing keys and issuing access keys.",
        subcommands: [AuthorityInitCommand.self, AuthorityPublicKeyCommand.self, AuthorityIssueCommand.self]
    )
}

/// The authority's data directory option, shared by its commands.
struct AuthorityDataDirectory: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "The authority's data directory.")
    var path: String = "./keyward-authority-data"

    var url: URL { URL(fileURLWithPath: path, isDirectory: true) }

    func loadKeyring() throws -> AuthorityKeyring {
        do {
            return try AuthorityKeyring.load(from: url)
        } catch {
            throw CommandFailure.failed(error.message)
        }
    }
}

/// `keyward authority init`: creates (or with --rotate adds) the Ed25519 signing key.
struct AuthorityInitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the authority's Ed25519 signing key (a PEM file, mode 0600, under the data directory).",
        discussion: "Refuses to overwrite an existing key. With --rotate, adds a new active key; the old ones keep verifying the keys they signed."
    )

    @OptionGroup var dataDirectory: AuthorityDataDirectory

    @Flag(help: "Add a new active signing key beside the existing ones.")
    var rotate = false

    @Flag(help: "Print {\"kid\", \"publicKey\"} as JSON.")
    var json = false

    func run() async throws {
        let keyring: AuthorityKeyring
        do {
            keyring = try AuthorityKeyring.create(in: dataDirectory.url, rotate: rotate, now: Date())
        } catch {
            throw CommandFailure.failed(error.message)
        }
        let key = keyring.activeKey.publicKey
        if json {
            print(Console.json(["kid": key.kid, "publicKey": key.hex]))
        } else {
            print("kid:        \(key.kid)")
            print("public key: \(key.hex)")
            Console.error("Signing key written under \(dataDirectory.url.appendingPathComponent("signing-keys").path). Registries trust it with --trust-key \(key.hex)")
        }
    }
}

/// `keyward authority public-key`: the public keys a registry should trust.
struct AuthorityPublicKeyCommand: AsyncParsableCommand {
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

    func run() async throws {
        let keyring = try dataDirectory.loadKeyring()
        let keys = activeOnly ? [keyring.activeKey.publicKey] : keyring.publicKeys
        for key in keys {
            print(pem ? key.pem : key.hex, terminator: pem ? "" : "\n")
        }
    }
}
