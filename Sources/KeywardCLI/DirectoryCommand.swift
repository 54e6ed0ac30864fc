import ArgumentParser
import Foundation
import KeywardRegistry
import KeywardRegistryHTTP
import KeywardStore

/// `keyward directory ...`: the LDAP synchronization from the command line (a cron job, a first run by hand).
struct DirectoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "directory",
        abstract: "Synchronize users and groups from the LDAP directory, or test the connection to it.",
        discussion: """
            The LDAP server comes from the config file (directory.ldap.*) or from Settings > Directory. A synchronization
            runs one at a time; a running server picks its changes up at its next access reload (at once on PostgreSQL).
            """,
        subcommands: [Sync.self, Test.self]
    )

    struct Sync: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "Synchronize now: exit 0 when it succeeded or nothing changed, 1 when it failed (nothing is changed then).")
        @OptionGroup var options: RegistryOptions
        @Flag(help: "Print the run as JSON.") var json = false

        func run(console: Console) async throws {
            try await withRegistry(options) { registry in
                let run = try await LDAPSynchronizer(registry: registry).run(trigger: .manual, actor: "cli")
                if json {
                    console.print(Console.json(run.counts))
                } else {
                    console.print(run.summary)
                }
                if run.outcome == .failed { throw CommandFailure.failed("\(run.errorCode ?? "LDAP_ERROR"): \(run.errorMessage ?? run.summary)") }
            }
        }
    }

    struct Test: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bind to the LDAP server and count the users and groups its filters find; changes nothing.")
        @OptionGroup var options: RegistryOptions

        func run(console: Console) async throws {
            try await withRegistry(options) { registry in
                let result = try await registry.testLDAP()
                guard result.ok else { throw CommandFailure.failed("\(result.code): \(result.message)") }
                console.print(result.message)
            }
        }
    }
}
