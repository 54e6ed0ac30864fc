import ArgumentParser
import Foundation
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardStore

/// `keyward authority signing-key ...`: the Ed25519 keys access keys, feeds and certificates are signed with.
struct AuthoritySigningKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signing-key",
        abstract: "List, rotate and retire the authority's signing keys.",
        subcommands: [List.self, Rotate.self, Retire.self]
    )

    /// `signing-key list`.
    struct List: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the signing keys: kid, created, active, trusted or retired, and how many live keys each signs.")

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Flag(help: "Print the list as JSON.")
        var json = false

        /// One key as `--json` prints it.
        struct Output: Codable {
            let kid: String
            let createdAt: Date
            /// `active` (signs new keys), `trusted` (kept after a rotation) or `retired`.
            let state: String
            let retiredAt: Date?
            /// Keys it signed that are neither revoked nor expired.
            let liveKeys: Int
            let publicKey: String?
        }

        func run(console: Console) async throws {
            let keys = try await dataDirectory.withAuthority { authority in
                let keyring = authority.keyring
                let live = try await authority.store.liveKeyCounts(now: authority.now())
                let trusted = keyring.entries.reversed().map { entry in
                    Output(
                        kid: entry.kid, createdAt: entry.createdAt, state: entry.active ? "active" : "trusted", retiredAt: nil,
                        liveKeys: live[entry.kid] ?? 0, publicKey: keyring.publicKeys.first { $0.kid == entry.kid }?.hex)
                }
                let retired = keyring.retired.reversed().map {
                    Output(
                        kid: $0.kid, createdAt: $0.createdAt, state: "retired", retiredAt: $0.retiredAt, liveKeys: live[$0.kid] ?? 0, publicKey: nil)
                }
                return trusted + retired
            }
            if json {
                console.print(Console.json(keys))
            } else {
                console.print(
                    Console.table(
                        ["KID", "CREATED", "STATE", "LIVE KEYS"],
                        keys.map {
                            [
                                $0.kid, Timestamp.format($0.createdAt), $0.retiredAt.map { "retired \(Timestamp.format($0))" } ?? $0.state,
                                String($0.liveKeys),
                            ]
                        }))
            }
        }
    }

    /// `signing-key rotate`.
    struct Rotate: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a new active signing key; the old ones stay trusted (the same as authority init --rotate, and audited).",
            discussion: """
                New keys, renewals, feeds, certificates and the catalog are signed with the new key from now on. A running
                `authority serve` on the same data directory keeps signing with the key it started with until it is
                restarted (its console's and API's rotation take effect at once). Registries should trust the new public key
                before they receive anything it signed: keyward authority public-key.
                """
        )

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Flag(help: "Print {\"kid\", \"publicKey\"} as JSON.")
        var json = false

        func run(console: Console) async throws {
            let (entry, publicKey) = try await dataDirectory.withAuthority { authority in
                let entry = try await authority.rotateSigningKey(actor: AuthorityDataDirectory.actor)
                return (entry, authority.keyring.activeKey.publicKey.hex)
            }
            if json {
                console.print(Console.json(["kid": entry.kid, "publicKey": publicKey]))
            } else {
                console.print("kid:        \(entry.kid)")
                console.print("public key: \(publicKey)")
                console.error("The new key is active; the old ones stay trusted. Registries trust it with --trust-key \(publicKey)")
            }
        }
    }

    /// `signing-key retire KID [--force]`.
    struct Retire: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "Retire an old signing key: no longer trusted; its PEM file moves to retired/ in the data directory.",
            discussion: """
                Refused, with nothing changed: the active key (rotate first), and a key that still signs live keys (neither
                revoked nor expired), which the refusal names: re-sign them with the active key first (key renew SERIAL
                --expires DATE, or key switch SERIAL), so no customer's key stops verifying. --force retires it anyway: for a
                compromised key, whose keys must stop verifying; then issue their replacements. The private key is kept
                under retired/, never deleted. Audited as the command line.
                """
        )

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Argument(help: "The kid of the key, as signing-key list shows it.")
        var kid: String

        @Flag(help: "Retire even though live keys are signed with it (a compromised key).")
        var force = false

        @Flag(help: "Print the retired key {\"kid\", \"createdAt\", \"retiredAt\"} as JSON.")
        var json = false

        func run(console: Console) async throws {
            let entry = try await dataDirectory.withAuthority { authority in
                try await authority.retireSigningKey(kid: kid, force: force, actor: AuthorityDataDirectory.actor)
            }
            if json {
                console.print(Console.json(entry))
                return
            }
            console.print(
                "Signing key \(entry.kid) is retired; its private key is kept in \(AuthorityKeyring.retiredDirectory(dataDirectory.url).appendingPathComponent("\(entry.kid).pem").path)."
            )
        }
    }
}
