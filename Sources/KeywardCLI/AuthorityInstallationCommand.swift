import ArgumentParser
import Foundation
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardStore

/// `keyward authority installation ...`: the registries an organization activated, and their environments.
struct AuthorityInstallationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "installation",
        abstract: "List an organization's installations and promote one to production.",
        subcommands: [List.self, Promote.self]
    )

    /// `installation list --organization ID`.
    struct List: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "List an organization's installations: environment, last activation, keys covered; and the month's environment changes.")

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Option(help: "The organization id.")
        var organization: String

        @Flag(help: "Print the installations as JSON, as the API answers.")
        var json = false

        func run(console: Console) async throws {
            let (records, changes) = try await dataDirectory.withAuthority { authority in
                (try await authority.store.installations(of: organization), try await authority.environmentChangesThisMonth(of: organization))
            }
            if json {
                console.print(Console.json(records.map(InstallationResponse.init)))
                return
            }
            if records.isEmpty {
                console.print("No installation of \(organization) is activated yet.")
            } else {
                console.print(
                    Console.table(
                        ["INSTALLATION", "ENVIRONMENT", "LAST ACTIVATION", "KEYS"],
                        records.map { [$0.installationId, $0.environment.rawValue, Timestamp.format($0.activatedAt), String($0.serials.count)] }))
            }
            console.print("Environment changes this month: \(changes.used) of \(changes.allowed).")
        }
    }

    /// `installation promote --organization ID --installation I --reason R`.
    struct Promote: ConsoleCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an installation the organization's production one; the current production installation becomes test.",
            discussion: """
                The activation's rules apply: one production installation an organization, at most 3 environment changes a
                calendar month (UTC), counted for each installation that changes (a promotion that demotes another counts
                2); a refusal says when the next change is possible. The reason is kept in the environment history and the
                audit log (as the command line). The installation's next activation certifies its new environment.
                """
        )

        @OptionGroup var dataDirectory: AuthorityDataDirectory

        @Option(help: "The organization id.")
        var organization: String

        @Option(help: "The installation id, as listed by installation list.")
        var installation: String

        @Option(help: "Why it becomes production, 1 to 500 characters.")
        var reason: String

        @Flag(help: "Print the result as JSON.")
        var json = false

        /// What `--json` prints.
        struct Output: Encodable {
            let installationId: String
            let environment: InstallationEnvironment
            let demoted: [String]
            let environmentChangesThisMonth: Int
            let environmentChangesAllowed: Int
        }

        func run(console: Console) async throws {
            let promotion = try await dataDirectory.withAuthority { authority in
                try await authority.promote(
                    organizationId: organization, installationId: installation, reason: reason, actor: AuthorityDataDirectory.actor)
            }
            let allowed = ActivationRules.monthlyEnvironmentChanges
            if json {
                console.print(
                    Console.json(
                        Output(
                            installationId: installation, environment: .production, demoted: promotion.demoted,
                            environmentChangesThisMonth: promotion.changesThisMonth, environmentChangesAllowed: allowed)))
                return
            }
            let demoted = promotion.demoted.isEmpty ? "" : "; \(promotion.demoted.joined(separator: ", ")) became test"
            console.print("Installation \(installation) is now the production installation of \(organization)\(demoted).")
            console.print("Environment changes this month: \(promotion.changesThisMonth) of \(allowed).")
        }
    }
}
