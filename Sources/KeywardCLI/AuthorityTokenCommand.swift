import ArgumentParser
import Foundation
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardStore
import Logging

/// `keyward authority token ...`: operator and organization tokens.
struct AuthorityTokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Make, list and revoke the authority's API tokens.",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a token; it is printed once and stored only as a hash.",
            discussion:
                "An operator token acts as its operator (--login, default admin), within their role. An organization token reads only its organization's feed and requests its activations."
        )

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Flag(help: "An operator token, of the operator --login names.")
        var `operator` = false

        @Option(help: "With --operator: whose token it is (every action it makes is audited under their name).")
        var login = "admin"

        @Option(help: "An organization token, for this organization id.")
        var organization: String?

        @Option(help: "A name for the token, shown in lists and the audit log.")
        var name: String?

        func validate() throws {
            guard `operator` != (organization != nil) else {
                throw ValidationError("Give exactly one of --operator or --organization ORG.")
            }
        }

        func run(console: Console) async throws {
            let store = try await dataDirectory.openStore(logger: Logger(label: "keyward.authority"))
            do {
                let made = try await store.createToken(
                    kind: `operator` ? TokenKind.operator : TokenKind.organization, name: name ?? (`operator` ? "operator" : "registry"),
                    subject: `operator` ? login : organization, actor: "system:cli", now: Date())
                console.print(made.token.text)
                console.error("Token \(made.record.id) (\(made.record.kind) for \(made.record.subject ?? "?")): shown once, keep it now.")
            } catch let error as StoreError {
                await store.database.close()
                throw CommandFailure(message: "error: \(error.message)", exitCode: error.kind == .invalid ? 2 : 1)
            }
            await store.database.close()
        }
    }

    struct List: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).")

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        func run(console: Console) async throws {
            let store = try await dataDirectory.openStore(logger: Logger(label: "keyward.authority"))
            for token in try await TokenStore(database: store.database).list() {
                let state = token.revokedAt == nil ? "active" : "revoked"
                console.print(
                    "\(token.id)  \(token.kind.padding(toLength: 12, withPad: " ", startingAt: 0))  \(state.padding(toLength: 7, withPad: " ", startingAt: 0))  \(token.subject ?? "-")  \(token.name)"
                )
            }
            await store.database.close()
        }
    }

    struct Revoke: ConsoleCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token for good, by its id.")

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Argument(help: "The token id (the part after kw_, before the second underscore).")
        var id: String

        func run(console: Console) async throws {
            let store = try await dataDirectory.openStore(logger: Logger(label: "keyward.authority"))
            do {
                _ = try await store.revokeToken(id, actor: "system:cli", now: Date())
            } catch let error as StoreError {
                await store.database.close()
                throw CommandFailure.failed(error.message)
            }
            await store.database.close()
            console.print("revoked \(id)")
        }
    }
}
